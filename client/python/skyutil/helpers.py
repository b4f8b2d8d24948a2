"""Drop-in replacements for SkyPilot's utility helpers.

Same names, signatures, defaults, results and exceptions as upstream
``sky.utils.common_utils`` and ``sky.utils.subprocess_utils``; the
deliberate differences (upstream bugs, cgroup awareness) are listed in
client/python/README.md.  The resource helpers are served by skyutild's
cached facts when a daemon answers, else computed in process; the
process helpers add (pid, create_time) identity so a reused pid is never
mistaken for the original process.
"""

import logging
import operator
import os
import resource
from typing import Dict, List, Optional, Sequence, Union

from skyutil import _backend, errors
from skyutil._io_helpers import find_free_port, hash_file, read_last_n_lines
from skyutil._text import base36_encode, format_float, truncate_long_string

__all__ = [
    'get_cpu_count', 'get_mem_size_gb', 'get_parallel_threads',
    'get_max_workers_for_file_mounts', 'read_last_n_lines', 'hash_file',
    'find_free_port', 'base36_encode', 'format_float', 'truncate_long_string',
    'kill_children_processes', 'is_process_alive', 'are_processes_alive',
    'wait_for_exit',
]

logger = logging.getLogger('skyutil')

_GIB = 1024**3
_FD_RESERVE = 100
_FDS_PER_ENTRY = 5
_LOW_FD_LIMIT = 1024
KILL_GRACE_PERIOD = 10
_fd_limit_warning_shown = False


def _getenv(name: str) -> Optional[str]:
    """``os.getenv`` at a twentieth of the cost.

    ``os.environ.get`` spends ~0.5 µs encoding the key; three lookups
    would dominate a cached ``get_mem_size_gb()``.  ``os.environ._data``
    is the bytes dict behind it, updated by every ``os.environ`` write, so
    results are identical; a replaced ``os.environ`` (a plain mapping)
    takes the ordinary path.
    """
    try:
        value = os.environ._data.get(_ENCODED[name])  # pylint: disable=protected-access
    except AttributeError:
        return os.environ.get(name)
    return None if value is None else os.fsdecode(value)


_ENCODED = {
    name: os.fsencode(name) for name in (
        'SKYPILOT_POD_CPU_CORE_LIMIT', 'SKYPILOT_POD_MEMORY_GB_LIMIT',
        'SKYPILOT_POD_MEMORY_BYTES_LIMIT')
}


def get_cpu_count() -> int:
    """CPUs this process may use: cgroup quota, cpuset, affinity, online.

    A fractional quota is truncated as upstream does (2.5 CPUs give 2), but
    never below 1: upstream truncates a 0.5-CPU quota to 0.
    ``SKYPILOT_POD_CPU_CORE_LIMIT`` overrides, parsed as ``int(float(v))``
    (``ValueError`` if unparsable), also at least 1.
    """
    value = _getenv('SKYPILOT_POD_CPU_CORE_LIMIT')
    if value is not None:
        try:
            return max(1, int(float(value)))
        except ValueError as e:
            raise ValueError(
                f'Failed to parse the number of CPUs from {value}') from e
    return _backend.facts()['cpu_count_floor']


def get_mem_size_gb() -> float:
    """Memory this process may use, in GiB: min(cgroup limit, MemTotal).

    ``SKYPILOT_POD_MEMORY_GB_LIMIT`` (GiB), then
    ``SKYPILOT_POD_MEMORY_BYTES_LIMIT`` (bytes) override, as upstream.
    """
    value = _getenv('SKYPILOT_POD_MEMORY_GB_LIMIT')
    if value is not None:
        try:
            return float(value)
        except ValueError as e:
            raise ValueError(
                f'Failed to parse the memory size from {value} (GB)') from e
    value = _getenv('SKYPILOT_POD_MEMORY_BYTES_LIMIT')
    if value is not None:
        try:
            return float(value) / _GIB
        except ValueError as e:
            raise ValueError(
                f'Failed to parse the memory size from {value} (bytes)') from e
    return _backend.facts()['mem_effective_bytes'] / _GIB


def parallel_threads_for(cpu_count: int, cloud_str: Optional[str]) -> int:
    """``max(4, cpu_count - 1)``, times 4 on Kubernetes (any case)."""
    multiplier = 4 if cloud_str and cloud_str.lower() == 'kubernetes' else 1
    return max(4, cpu_count - 1) * multiplier


_bad_cpu_limit_warned = False


def _cpu_count_for_threads() -> int:
    """:func:`get_cpu_count`, but an unparsable ``SKYPILOT_POD_CPU_CORE_LIMIT``
    is ignored (with one warning) instead of raised.

    Upstream's thread helpers never read that variable, so they cannot fail
    on it, and SkyPilot calls them at import time: a typo in the variable
    must not break the import.
    """
    global _bad_cpu_limit_warned
    try:
        return get_cpu_count()
    except (ValueError, OverflowError):
        if not _bad_cpu_limit_warned:
            _bad_cpu_limit_warned = True
            logger.warning(
                'skyutil: ignoring SKYPILOT_POD_CPU_CORE_LIMIT=%r for the '
                'thread count: not a number of CPUs',
                _getenv('SKYPILOT_POD_CPU_CORE_LIMIT'))
        return _backend.facts()['cpu_count_floor']


def get_parallel_threads(cloud_str: Optional[str] = None) -> int:
    """Thread-pool size for parallel cloud operations.

    Upstream counts the host's CPUs (``os.cpu_count()``); this counts the
    CPUs of :func:`get_cpu_count`, so a 2-CPU pod on a 64-core node gets 4
    threads, not 63. Never raises for a bad ``SKYPILOT_POD_CPU_CORE_LIMIT``
    (upstream does not read it): the variable is then ignored.
    """
    return parallel_threads_for(_cpu_count_for_threads(), cloud_str)


def max_workers_for(nofile_soft: Optional[int], fds_per_source: int,
                    cpu_count: int, cloud_str: Optional[str]) -> int:
    """File-mount workers: fd budget over fds per rsync, capped by threads.

    ``nofile_soft=None`` means RLIM_INFINITY; upstream computes with -1
    there and returns 1 worker.
    """
    threads = parallel_threads_for(cpu_count, cloud_str)
    if nofile_soft is None:
        return threads
    return min(max((nofile_soft - _FD_RESERVE) // fds_per_source, 1), threads)


def fds_per_source(common_file_mounts: Dict[str, str]) -> int:
    """5 fds per entry of the largest source directory, at least 5."""
    fds = _FDS_PER_ENTRY
    for src in common_file_mounts.values():
        if os.path.isdir(src):
            fds = max(fds, len(os.listdir(src)) * _FDS_PER_ENTRY)
    return fds


def get_max_workers_for_file_mounts(common_file_mounts: Dict[str, str],
                                    cloud_str: Optional[str] = None) -> int:
    """How many file mounts to sync in parallel without running out of fds.

    Warns once per process when the soft ``RLIMIT_NOFILE`` is below 1024.
    """
    global _fd_limit_warning_shown
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    unlimited = soft == resource.RLIM_INFINITY
    if not unlimited and soft < _LOW_FD_LIMIT and not _fd_limit_warning_shown:
        logger.warning(
            f'Open file descriptor limit ({soft}) is low. File sync to '
            'remote clusters may be slow. Consider increasing the limit using '
            '`ulimit -n <number>` or modifying system limits.')
        _fd_limit_warning_shown = True
    workers = max_workers_for(None if unlimited else soft,
                              fds_per_source(common_file_mounts),
                              _cpu_count_for_threads(), cloud_str)
    logger.debug(f'Using {workers} workers for file mounts.')
    return workers


# pid_t is 32 bits: psutil answers a larger pid NoSuchProcess ("process PID
# out of range"), the daemon INVALID_ARGUMENT; both mean "not a process".
_PID_T_MAX = 2**31 - 1


def _parent_pid(pid: object) -> Optional[int]:
    """One entry of ``parent_pids`` as upstream's ``psutil.Process(pid)``.

    Returns the pid to kill, or None to skip it as upstream skips
    ``psutil.NoSuchProcess``: pid 0 (no such process on Linux), pids
    beyond ``pid_t`` and ``True``/``False`` (psutil looks up
    ``/proc/True``).  Raises like psutil: ``ValueError`` for a negative
    pid, ``TypeError`` for a float, a string or another non-integer.
    ``None`` is skipped (upstream would kill the calling process).
    """
    if pid is None or isinstance(pid, bool):
        return None
    try:
        value = operator.index(pid)  # int subclasses, numpy integers
    except TypeError:
        raise TypeError(f'pid must be an integer (got {pid!r})') from None
    if value < 0:
        raise ValueError(f'pid must be a positive integer (got {value})')
    if value == 0 or value > _PID_T_MAX:
        return None
    return value


def kill_children_processes(parent_pids: Optional[Union[
        int, List[Optional[int]]]] = None,
                            force: bool = False) -> None:
    """Kills process trees: SIGTERM (SIGKILL if ``force``), then SIGKILL.

    With ``parent_pids=None`` the children of this process are killed (not
    this process); otherwise each listed process and its descendants, in
    list order.  Processes that no longer exist are skipped, as are pid 0,
    pids beyond ``pid_t`` and ``None`` entries; a negative pid raises
    ``ValueError`` before anything is signalled.  Survivors of the 10 s
    grace period are SIGKILLed.

    Every process this caller may signal is killed; then, if some were
    not (another user's, or skyutild itself), ``PermissionError``
    (``skyutil.PermissionDenied``, with the pids in ``.pids``) is raised,
    where upstream raises ``psutil.AccessDenied`` at the first one and
    leaves the rest of the tree alive.  Both backends validate here, so
    they raise and skip alike.
    """
    if isinstance(parent_pids, int):
        parent_pids = [parent_pids]
    if parent_pids is None:
        targets = [(os.getpid(), False)]
    else:
        # All entries first, as upstream builds every psutil.Process before
        # killing: a bad entry raises before anything is signalled.
        pids = [_parent_pid(pid) for pid in parent_pids]
        targets = [(pid, True) for pid in pids if pid is not None]
    denied: List[int] = []
    for pid, include_root in targets:
        try:
            result = _backend.kill_tree(pid, force, KILL_GRACE_PERIOD,
                                        include_root)
        except errors.NoSuchProcess:
            continue
        except errors.PermissionDenied:
            denied.append(pid)
            continue
        denied.extend(result.get('denied', ()))
    if denied:
        denied = list(dict.fromkeys(denied))
        exc = errors.PermissionDenied(
            'not permitted to signal ' +
            ', '.join(f'pid {pid}' for pid in denied) +
            '; the tree of a refused root is left alone, the rest was killed')
        exc.pids = denied
        raise exc


def is_process_alive(pid: int, create_time: Optional[float] = None) -> bool:
    """True if ``pid`` runs, is not a zombie and started at ``create_time``.

    ``create_time`` is psutil's ``Process.create_time()`` (epoch seconds);
    values within one clock tick match.  A pid asked about before is
    answered from a cache the daemon keeps current, typically in ~1 µs.
    """
    if type(pid) is not int or pid <= 0:  # pylint: disable=unidiomatic-typecheck
        pid = _backend._checked_pid(pid)  # pylint: disable=protected-access
    return _backend.process_alive(pid, create_time)


def are_processes_alive(
        procs: Sequence[Union[int, 'tuple[int, Optional[float]]']]
) -> List[bool]:
    """:func:`is_process_alive` for many processes in one daemon request.

    Items are pids or ``(pid, create_time)`` pairs; results keep order.
    """
    return _backend.processes_alive(procs)


def wait_for_exit(pid: int, create_time: Optional[float] = None,
                  timeout: Optional[float] = None) -> Optional[int]:
    """Waits until the process exits and returns its returncode.

    The returncode is the exit status, or ``-signal`` if a signal killed
    it (like ``Popen.returncode``), or None when the kernel or permissions
    do not reveal it, or when the process (with that ``create_time``) was
    already gone.  Raises ``TimeoutError`` after ``timeout`` seconds.
    Never reaps: a ``Popen`` owning the child still gets its status.
    """
    pid = _backend._checked_pid(pid)  # pylint: disable=protected-access
    return _backend.wait_for_exit(pid, create_time, timeout)
