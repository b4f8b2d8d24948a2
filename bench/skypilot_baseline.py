"""What SkyPilot runs today: the benchmark's one copy of upstream's code.

Every Python baseline of the benchmark comes from here, so each comparison
runs upstream's code and not a paraphrase of it:

* ``get_cpu_count``/``get_mem_size_gb`` of ``sky/utils/common_utils.py``,
  cgroup-aware and with the ``SKYPILOT_POD_*`` overrides (run_bench.py
  unsets them, so the timed path is the cgroup one): the same files opened,
  the same psutil calls, in the same order, so the cost is upstream's;
* ``get_parallel_threads`` of ``sky/utils/subprocess_utils.py``
  (``os.cpu_count()``, not cgroup-aware);
* the helpers ``read_last_n_lines``, ``hash_file``, ``base36_encode``,
  ``format_float`` and ``truncate_long_string``, verbatim from the test
  oracle client/python/tests/upstream_ref.py (which the tests keep to
  themselves: they never import the benchmark);
* the psutil checks SkyPilot writes inline: the (pid, create_time) liveness
  test of ``sky/jobs/utils.controller_process_alive`` and psutil's polling
  wait for a process that is not our child.

See /work/shared/research/skypilot-reference.md sections 2 and 3.  Logging
and UX wrappers are left out; behaviour, including upstream's bugs, is not
"fixed" (``base36_encode`` loops forever on negative input).
"""

import hashlib
import os
from typing import List, Optional, Union

import psutil

# ------------------------------------------------ sky/utils/common_utils.py


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


def get_cpu_count() -> int:
    cpu_count = os.getenv('SKYPILOT_POD_CPU_CORE_LIMIT')
    if cpu_count is not None:
        try:
            return int(float(cpu_count))
        except ValueError as e:
            raise ValueError(
                f'Failed to parse the number of CPUs from {cpu_count}') from e
    return _cpu_count()


def get_mem_size_gb() -> float:
    mem_size = os.getenv('SKYPILOT_POD_MEMORY_GB_LIMIT')
    if mem_size is not None:
        try:
            return float(mem_size)
        except ValueError as e:
            raise ValueError(
                f'Failed to parse the memory size from {mem_size} (GB)') from e
    mem_size = os.getenv('SKYPILOT_POD_MEMORY_BYTES_LIMIT')
    if mem_size is not None:
        try:
            return float(mem_size) / (1024**3)
        except ValueError as e:
            raise ValueError(
                f'Failed to parse the memory size from {mem_size} (bytes)'
            ) from e
    return _mem_size_gb()


def _cpu_count() -> int:
    cpu = psutil.cpu_count()
    if hasattr(os, 'sched_getaffinity'):
        cpu = min(cpu, len(os.sched_getaffinity(0)))
    cgroup_cpu = _get_cgroup_cpu_limit()
    if cgroup_cpu is not None:
        cpu = min(cpu, int(cgroup_cpu))
    return cpu


def _mem_size_gb() -> float:
    mem = psutil.virtual_memory().total
    cgroup_mem = _get_cgroup_memory_limit()
    if cgroup_mem is not None:
        mem = min(mem, cgroup_mem)
    return mem / (1024**3)


def _get_cgroup_cpu_limit() -> Optional[float]:
    try:
        if _is_cgroup_v2():
            with open('/sys/fs/cgroup/cpu.max', 'r', encoding='utf-8') as f:
                quota_str, period_str = f.read().strip().split()
                if quota_str == 'max':
                    return None
                quota = float(quota_str)
                period = float(period_str)
                return quota / period if quota > 0 else None
        else:
            with open('/sys/fs/cgroup/cpu/cpu.cfs_quota_us',
                      'r',
                      encoding='utf-8') as f:
                quota = float(f.read().strip())
            with open('/sys/fs/cgroup/cpu/cpu.cfs_period_us',
                      'r',
                      encoding='utf-8') as f:
                period = float(f.read().strip())
            # cpu.shares is a relative weight, not a limit: ignored on purpose.
            return quota / period if (quota > 0 and period > 0) else None
    except (OSError, ValueError):
        return None


def _get_cgroup_memory_limit() -> Optional[int]:
    try:
        path = ('/sys/fs/cgroup/memory.max' if _is_cgroup_v2() else
                '/sys/fs/cgroup/memory/memory.limit_in_bytes')
        with open(path, 'r', encoding='utf-8') as f:
            value = f.read().strip()
            if value == 'max' or not value:
                return None
            limit = int(value)
            return limit if limit > 0 else None
    except (OSError, ValueError):
        return None


def _is_cgroup_v2() -> bool:
    return os.path.isfile('/sys/fs/cgroup/cgroup.controllers')


# --------------------------------------------- sky/utils/subprocess_utils.py


def _get_thread_multiplier(cloud_str: Optional[str] = None) -> int:
    if cloud_str and cloud_str.lower() == 'kubernetes':
        return 4
    return 1


def get_parallel_threads(cloud_str: Optional[str] = None) -> int:
    cpu_count = os.cpu_count()
    if cpu_count is None:
        cpu_count = 1
    return max(4, cpu_count - 1) * _get_thread_multiplier(cloud_str)


# ------------------------------------------------------------ psutil checks


def psutil_process_alive(pid: int, create_time: float) -> bool:
    """controller_process_alive: psutil.Process, create_time equality, is_running()."""
    try:
        proc = psutil.Process(pid)
        return proc.create_time() == create_time and proc.is_running()
    except psutil.Error:
        return False


def psutil_wait(pid: int, timeout: float = 10) -> None:
    """psutil.Process(pid).wait() on a process that is not our child.

    For a non-child psutil cannot wait in the kernel: it polls whether the
    pid still exists, sleeping 0.1 ms doubling up to 40 ms between checks.
    """
    try:
        psutil.Process(pid).wait(timeout=timeout)
    except psutil.NoSuchProcess:
        pass
