#!/usr/bin/python3
"""C helpers of libskyutil vs SkyPilot's upstream Python helpers, in one run.

Python side: the upstream implementations in bench/skypilot_baseline.py (hashlib with a
256 KiB buffer, the chunked read_last_n_lines, base36_encode, format_float,
truncate_long_string) run in this interpreter; C side: the bench-helpers binary calls libskyutil. Both time warm calls in a
loop and report the median per call. Ratio = Python / C.
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Callable, List


HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

# The Python side: upstream's helpers, from the benchmark's one copy of SkyPilot's code.
from skypilot_baseline import (  # noqa: E402  pylint: disable=wrong-import-position
    base36_encode, format_float, hash_file, read_last_n_lines, truncate_long_string)


# ---------------------------------------------------------------- harness
def time_python(fn: Callable[[], object], repeat: int, batch: int) -> List[float]:
    fn()
    samples = []
    for _ in range(repeat):
        t0 = time.perf_counter_ns()
        for _ in range(batch):
            fn()
        samples.append((time.perf_counter_ns() - t0) / batch)
    return samples


def time_c(binary: str, op: str, repeat: int, batch: int, *args: str) -> List[float]:
    out = subprocess.run([binary, op, str(repeat), str(batch), *args], check=True,
                         capture_output=True, text=True).stdout
    return [float(x) for x in out.split()]


def make_log(path: str, size: int) -> None:
    """size bytes of log lines (about 100 bytes each, some non-ASCII, CRLF now and then)."""
    lines = []
    for i in range(4096):
        end = '\r\n' if i % 7 == 0 else '\n'
        lines.append(f'2024-01-01 00:00:{i % 60:02d} INFO worker-{i % 13} step {i} '
                     f'loss=0.{i:04d} naïve → ok{"." * (i % 17)}{end}')
    block = ''.join(lines).encode()
    with open(path, 'wb') as f:
        written = 0
        while written < size:
            chunk = block[:size - written]
            f.write(chunk)
            written += len(chunk)


def fmt_time(ns: float) -> str:
    for unit, scale in (('s', 1e9), ('ms', 1e6), ('µs', 1e3)):
        if ns >= scale:
            return f'{ns / scale:.2f} {unit}'
    return f'{ns:.0f} ns'


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--quick', action='store_true', help='small sizes for CI')
    parser.add_argument('--bin', default=os.environ.get('BENCH_HELPERS_BIN'),
                        help='path to the bench-helpers binary')
    parser.add_argument('--dir', default=None, help='directory for the generated files')
    opts = parser.parse_args()
    if not opts.bin:
        build = os.environ.get('SKYUTIL_BUILDDIR', 'build')
        opts.bin = os.path.join(build, 'bench', 'helpers', 'bench-helpers')
    if not os.access(opts.bin, os.X_OK):
        print(f'bench-helpers not found at {opts.bin} (use --bin)', file=sys.stderr)
        return 2

    size = (16 << 20) if opts.quick else (1 << 30)
    big_repeat = 3 if opts.quick else 5
    small_repeat, small_batch = (5, 2000) if opts.quick else (15, 20000)
    tail_n = 1000
    hex_uuid = 'f' * 32
    hex_long = 'deadbeef' * 64
    text = 'the quick brown fox jumps over the lazy dog ' * 4

    rows = []
    with tempfile.TemporaryDirectory(dir=opts.dir) as tmp:
        log = os.path.join(tmp, 'bench.log')
        make_log(log, size)
        label = f'{size >> 20} MiB'
        # Sanity: both sides agree before they are timed.
        for algo in ('sha256', 'md5'):
            want = hash_file(log, algo).hexdigest()
            got = subprocess.run(['sha256sum' if algo == 'sha256' else 'md5sum', log],
                                 capture_output=True, text=True, check=True).stdout.split()[0]
            assert want == got, (algo, want, got)
        cases = [
            (f'hash_file sha256, {label}', lambda: hash_file(log, 'sha256').hexdigest(),
             ('hash', big_repeat, 1, log, 'sha256')),
            (f'hash_file md5, {label}', lambda: hash_file(log, 'md5').hexdigest(),
             ('hash', big_repeat, 1, log, 'md5')),
            (f'read_last_n_lines {tail_n}, {label}', lambda: read_last_n_lines(log, tail_n),
             ('tail', small_repeat, 20, log, str(tail_n))),
            ('base36_encode 32 hex digits', lambda: base36_encode(hex_uuid),
             ('base36', small_repeat, small_batch, hex_uuid)),
            ('base36_encode 512 hex digits', lambda: base36_encode(hex_long),
             ('base36', small_repeat, small_batch // 10, hex_long)),
            ('format_float 1234.5678, 2', lambda: format_float(1234.5678, 2),
             ('format_float', small_repeat, small_batch, '1234.5678', '2')),
            ('truncate_long_string 176 chars, 35', lambda: truncate_long_string(text, 35),
             ('truncate', small_repeat, small_batch, text, '35', '0')),
            ('truncate_long_string middle, 35',
             lambda: truncate_long_string(text, 35, True),
             ('truncate', small_repeat, small_batch, text, '35', '1')),
        ]
        for name, py_fn, (op, repeat, batch, *args) in cases:
            py = statistics.median(time_python(py_fn, repeat, batch))
            c = statistics.median(time_c(opts.bin, op, repeat, batch, *args))
            rows.append((name, py, c))

    width = max(len(r[0]) for r in rows)
    print(f'{"helper":<{width}}  {"Python median":>14}  {"C median":>12}  {"Python/C":>9}')
    for name, py, c in rows:
        print(f'{name:<{width}}  {fmt_time(py):>14}  {fmt_time(c):>12}  {py / c:>8.1f}x')
    print(f'\n{"quick" if opts.quick else "full"} mode; Python {sys.version.split()[0]} '
          f'(hashlib = OpenSSL, as the C side); medians of warm calls.')
    return 0


if __name__ == '__main__':
    sys.exit(main())
