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
  ``format_float`` and ``truncate_long_string``, imported (not copied) from
  the test oracle client/python/tests/upstream_ref.py, the project's one
  copy of them (the tests never import the benchmark, so the benchmark
  imports the tests' module and re-exports the helpers);
* the psutil checks SkyPilot writes inline: the (pid, create_time) liveness
  test of ``sky/jobs/utils.controller_process_alive`` and psutil's polling
  wait for a process that is not our child.

See /work/shared/research/skypilot-reference.md sections 2 and 3.  Logging
and UX wrappers are left out; behaviour, including upstream's bugs, is not
"fixed" (``base36_encode`` loops forever on negative input).
"""

import os
import sys
from typing import Optional

import psutil

# The helpers' upstream code is kept once, in the tests' oracle
# client/python/tests/upstream_ref.py, and imported from there: the tests must
# never import the benchmark, so the benchmark imports the tests' copy.  That
# directory is no package and is not installed (only client/python/skyutil
# is), so it is found from this file's place in the source tree.  Appended,
# not prepended, so that no test module can shadow one of the benchmark's.
_TESTS_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                          'client', 'python', 'tests')
if _TESTS_DIR not in sys.path:
    sys.path.append(_TESTS_DIR)

from upstream_ref import (  # noqa: E402  pylint: disable=wrong-import-position
    _get_thread_multiplier, base36_encode, format_float, hash_file, read_last_n_lines,
    truncate_long_string)

# Re-exported: bench_helpers.py and bench_python.py take all of upstream's
# code from this module.
__all__ = [
    'base36_encode', 'format_float', 'truncate_long_string', 'read_last_n_lines',
    'hash_file', 'get_cpu_count', 'get_mem_size_gb', 'get_parallel_threads',
    'psutil_process_alive', 'psutil_wait',
]

# ------------------------------------------------ sky/utils/common_utils.py


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


# _get_thread_multiplier comes from upstream_ref.  get_parallel_threads does
# not: upstream_ref's takes the CPU count as an argument (the tests feed it
# skyutil's count), while the benchmark times upstream's own signature, which
# calls os.cpu_count() itself.
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
