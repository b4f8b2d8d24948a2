"""What SkyPilot runs today, the baselines of the benchmark.

The algorithms of upstream ``sky/utils/common_utils.py`` (get_cpu_count,
get_mem_size_gb: see /work/shared/research/skypilot-reference.md section 2)
without their environment overrides, which the benchmark leaves unset: the
same files opened, the same psutil calls, in the same order, so the cost is
upstream's.  ``psutil_process_alive`` is the (pid, create_time) liveness
check of ``sky/jobs/utils.controller_process_alive``.
"""

import os
from typing import Optional

import psutil

_GIB = 1024**3


def _is_cgroup_v2() -> bool:
    return os.path.isfile('/sys/fs/cgroup/cgroup.controllers')


def _read(path: str) -> str:
    with open(path, 'r', encoding='utf-8') as f:
        return f.read().strip()


def _cgroup_cpu_limit() -> Optional[float]:
    """CPUs of the CFS quota at the fixed cgroup root paths, or None."""
    try:
        if _is_cgroup_v2():
            quota, period = _read('/sys/fs/cgroup/cpu.max').split()
            if quota == 'max':
                return None
            return float(quota) / float(period) if float(quota) > 0 else None
        quota = float(_read('/sys/fs/cgroup/cpu/cpu.cfs_quota_us'))
        period = float(_read('/sys/fs/cgroup/cpu/cpu.cfs_period_us'))
        return quota / period if quota > 0 and period > 0 else None
    except (OSError, ValueError):
        return None


def _cgroup_memory_limit() -> Optional[int]:
    try:
        value = _read('/sys/fs/cgroup/memory.max' if _is_cgroup_v2() else
                      '/sys/fs/cgroup/memory/memory.limit_in_bytes')
        if value in ('max', ''):
            return None
        limit = int(value)
        return limit if limit > 0 else None
    except (OSError, ValueError):
        return None


def get_cpu_count() -> int:
    """min(psutil.cpu_count(), affinity, int(cgroup quota))."""
    cpus = psutil.cpu_count()
    if hasattr(os, 'sched_getaffinity'):
        cpus = min(cpus, len(os.sched_getaffinity(0)))
    limit = _cgroup_cpu_limit()
    if limit is not None:
        cpus = min(cpus, int(limit))
    return cpus


def get_mem_size_gb() -> float:
    """min(psutil total memory, cgroup limit) in GiB."""
    mem = psutil.virtual_memory().total
    limit = _cgroup_memory_limit()
    if limit is not None:
        mem = min(mem, limit)
    return mem / _GIB


def psutil_process_alive(pid: int, create_time: float) -> bool:
    """Alive and the same process: psutil.Process, create_time equality, is_running()."""
    try:
        proc = psutil.Process(pid)
        return proc.create_time() == create_time and proc.is_running()
    except psutil.Error:
        return False
