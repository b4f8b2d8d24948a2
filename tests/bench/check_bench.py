#!/usr/bin/python3
"""Run bench/run_bench.py --quick against the test build and check its report's shape.

Exit 0 when the run succeeded and results.json / results.md hold every row with sane values;
the figures themselves are not judged (benchmarks are not timed tests).
"""
import json
import math
import os
import subprocess
import sys
import tempfile

SRCDIR = os.environ['SKYUTIL_SRCDIR']
BUILDDIR = os.environ['SKYUTIL_BUILDDIR']
sys.path.insert(0, os.path.join(SRCDIR, 'bench'))

import report  # noqa: E402

UNITS = {'ns', 'req/s', 'bytes', 'instr', 'cpu'}


def fail(msg: str) -> None:
    print(f'not ok: {msg}')
    sys.exit(1)


def finite(v, what: str, allow_zero: bool = False) -> None:
    if not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0 or (
            v == 0 and not allow_zero):
        fail(f'{what} is {v!r}')


def check_row(r) -> None:
    rid = r.get('id')
    for key in ('group', 'name', 'unit', 'ours', 'baseline', 'ratio', 'target', 'note'):
        if key not in r:
            fail(f'row {rid} has no {key}')
    if r['unit'] not in UNITS:
        fail(f'row {rid}: unknown unit {r["unit"]!r}')
    finite(r['ours']['median'], f'row {rid} median', allow_zero=r['unit'] == 'cpu')
    if r['ours']['p99'] is not None:
        finite(r['ours']['p99'], f'row {rid} p99')
        if r['ours']['p99'] < r['ours']['median']:
            fail(f'row {rid}: p99 below the median')
    if r['baseline'] is not None:
        finite(r['baseline']['median'], f'row {rid} baseline')
        finite(r['ratio'], f'row {rid} ratio')
    if r['target'] is not None and not isinstance(r['target'].get('met'), bool):
        fail(f'row {rid}: target without a verdict')


def main() -> int:
    with tempfile.TemporaryDirectory(prefix='skyutil-bench-check-') as out:
        proc = subprocess.run(
            ['/usr/bin/python3', os.path.join(SRCDIR, 'bench', 'run_bench.py'), '--quick',
             '--build-dir', BUILDDIR, '--out', out],
            capture_output=True, text=True, timeout=280, check=False)
        if proc.returncode != 0:
            print(proc.stdout)
            print(proc.stderr)
            fail(f'run_bench.py --quick exited with {proc.returncode}')
        with open(os.path.join(out, 'results.json'), encoding='utf-8') as f:
            result = json.load(f)
        with open(os.path.join(out, 'results.md'), encoding='utf-8') as f:
            md = f.read()
    if result.get('version') != 1 or result.get('mode') != 'quick':
        fail('results.json: wrong version or mode')
    for key in ('nproc', 'kernel', 'cpu_model'):
        if not result['machine'].get(key):
            fail(f'results.json: machine has no {key}')
    rows = {r['id']: r for r in result['rows']}
    missing = [rid for rid in report.ROW_IDS if rid not in rows]
    # Instruction counts need valgrind, which cannot run sanitizer builds: then the report
    # must say so instead.
    if any(n.startswith('callgrind skipped') for n in result['notes']):
        missing = [rid for rid in missing if not rid.startswith('8')]
    if missing:
        fail(f'rows missing: {missing}')
    if not any(rid.startswith('7.') for rid in rows):
        fail('no helper rows (7.x)')
    for r in result['rows']:
        check_row(r)
        if f'| {r["id"]} | ' not in md:
            fail(f'results.md has no row {r["id"]}')
    # The table printed on stdout is the same report.
    if 'ratio: higher is better' not in proc.stdout:
        fail('no table on stdout')
    print(f'ok: {len(rows)} rows in {result["duration_s"]} s')
    return 0


if __name__ == '__main__':
    sys.exit(main())
