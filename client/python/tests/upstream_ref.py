"""SkyPilot's upstream helpers, as reference implementations for tests.

Transcribed from ``sky/utils/common_utils.py`` and
``sky/utils/subprocess_utils.py`` (see shared/research/
skypilot-reference.md section 2), minus logging and UX wrappers.  Tests and
the vector generator compare skyutil against these, so expectations are
correct by construction.  Do not "fix" them: their bugs are the point of
the comparison (``base36_encode`` loops forever on negative input, so it is
never called with one).

This is also the benchmark's copy: bench/skypilot_baseline.py imports the
helpers (and ``_get_thread_multiplier``) from here, by path, rather than keep
a second copy.  So keep this module stdlib-only and free of test machinery
(no pytest, no conftest fixtures, nothing done at import), and keep the
helpers verbatim: the benchmark times them as upstream's cost.
``get_parallel_threads`` here takes the CPU count as an argument; the
benchmark keeps upstream's own signature (``os.cpu_count()`` inside).
"""

import hashlib
import os
from typing import List, Optional, Union


def base36_encode(hex_str: str) -> str:
    int_value = int(hex_str, 16)

    def _base36_encode(num: int) -> str:
        if num == 0:
            return '0'
        alphabet = '0123456789abcdefghijklmnopqrstuvwxyz'
        base36 = ''
        while num != 0:
            num, i = divmod(num, 36)
            base36 = alphabet[i] + base36
        return base36

    return _base36_encode(int_value)


def format_float(num: Union[float, int], precision: int = 1) -> str:
    if isinstance(num, int):
        return str(num)
    return '{:.0f}'.format(num) if num.is_integer() else f'{num:.{precision}f}'


def truncate_long_string(s: str,
                         max_length: int = 35,
                         truncate_middle: bool = False) -> str:
    if len(s) <= max_length:
        return s

    if truncate_middle:
        if max_length <= 3:
            return '...'
        half_length = (max_length - 3) // 2
        remainder = (max_length - 3) % 2
        start_length = half_length + remainder
        end_length = half_length
        if end_length == 0:
            return s[:start_length] + '...'
        return s[:start_length] + '...' + s[-end_length:]

    splits = s.split(' ')
    if len(splits[0]) > max_length:
        return splits[0][:max_length] + '...'
    i = 0
    total = 0
    for i, part in enumerate(splits):
        total += len(part)
        if total >= max_length:
            break
    prefix = ' '.join(splits[:i])
    if len(prefix) < max_length:
        prefix += s[len(prefix):max_length]
    return prefix + '...'


def read_last_n_lines(file_path: str,
                      n: int,
                      chunk_size: int = 8192,
                      encoding: str = 'utf-8',
                      errors: str = 'replace') -> List[str]:
    assert n >= 0, f'n must be non-negative. Got {n}'
    assert chunk_size > 0, f'chunk_size must be positive. Got {chunk_size}'
    assert os.path.exists(file_path), f'File not found: {file_path}'

    if n == 0:
        return []

    try:
        with open(file_path, 'rb') as f:
            f.seek(0, os.SEEK_END)
            file_size = f.tell()
            if file_size == 0:
                return []

            pos = file_size
            lines_found = 0
            chunks = []

            while pos > 0 and lines_found <= n:
                read_size = min(chunk_size, pos)
                pos -= read_size
                f.seek(pos)
                chunk = f.read(read_size)
                chunks.append(chunk)
                lines_found += chunk.count(b'\n')

            full_bytes = b''.join(reversed(chunks))
            all_lines = full_bytes.split(b'\n')
            if all_lines and all_lines[-1] == b'':
                result_bytes = all_lines[-n - 1:-1]
            else:
                result_bytes = all_lines[-n:]

            decoded_lines = [
                line.decode(encoding, errors=errors).rstrip('\r') + '\n'
                for line in result_bytes[:-1]
            ]
            last_line = result_bytes[-1].decode(encoding,
                                                errors=errors).rstrip('\r')
            decoded_lines.append(last_line)
            return decoded_lines

    except OSError as e:
        raise RuntimeError(
            f'Failed to read last {n} lines from {file_path}: {e}') from e


def hash_file(path: str, hash_alg: str) -> 'hashlib._Hash':
    with open(path, 'rb') as f:
        file_hash = hashlib.new(hash_alg)
        buf = bytearray(2**18)
        view = memoryview(buf)
        while True:
            size = f.readinto(buf)
            if size == 0:
                break
            file_hash.update(view[:size])
        return file_hash


def _get_thread_multiplier(cloud_str: Optional[str] = None) -> int:
    if cloud_str and cloud_str.lower() == 'kubernetes':
        return 4
    return 1


def get_parallel_threads(cpu_count: int,
                         cloud_str: Optional[str] = None) -> int:
    """Upstream's formula with the CPU count as an argument."""
    return max(4, cpu_count - 1) * _get_thread_multiplier(cloud_str)


def get_max_workers_for_file_mounts(fd_limit: int, fd_per_rsync: int,
                                    cpu_count: int,
                                    cloud_str: Optional[str] = None) -> int:
    """Upstream's formula with its inputs as arguments."""
    fd_reserve = 100
    max_workers = (fd_limit - fd_reserve) // fd_per_rsync
    num_threads = get_parallel_threads(cpu_count, cloud_str)
    return min(max(max_workers, 1), num_threads)
