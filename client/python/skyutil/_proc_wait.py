"""Waiting for a process to exit without the daemon.

A pidfd (Linux 5.3+) becomes readable when its process exits, for any
process, not only children, so waiting needs no polling loop.  The exit
status comes from one of two kernel sources:

* our own child: ``waitid(P_PIDFD, ..., WNOWAIT)`` reads the status
  without reaping, so a ``subprocess.Popen`` owning the child still gets
  it;
* anyone else's process: ``PIDFD_GET_INFO`` with ``PIDFD_INFO_EXIT``
  (Linux 6.15+) once the parent has reaped it.  We wait up to a second
  for that reap; a parent that never reaps leaves the code unknown (None).

Without pidfd support (old kernel, seccomp) we fall back to polling
/proc, which can only report exit codes of our own children.
"""

import errno
import fcntl
import os
import select
import struct
import time
from typing import Optional

from skyutil import _proc_py

# _IOWR(PIDFS_IOCTL_MAGIC 0xFF, 11, struct pidfd_info) for the first
# published 64-byte layout (PIDFD_INFO_SIZE_VER0); newer kernels accept it.
PIDFD_GET_INFO = (3 << 30) | (64 << 16) | (0xFF << 8) | 11
PIDFD_INFO_EXIT = 1 << 3
_INFO_SIZE = 64
_INFO_EXIT_CODE_OFFSET = 60
# How long to wait, after a non-child exited, for its parent to reap it so
# the kernel publishes the exit status.  Parents reap on SIGCHLD within
# microseconds when idle, but a loaded machine can delay the parent by
# hundreds of milliseconds; only a parent that never reaps pays the full
# wait.
REAP_GRACE = 1.0


def returncode_from_status(status: int) -> int:
    """A wait status as ``Popen.returncode``: exit code, or -signal."""
    return os.waitstatus_to_exitcode(status)


def may_see_exit(uid: Optional[int]) -> bool:
    """The daemon's rule, applied locally: root or the process's owner."""
    euid = os.geteuid()
    return euid == 0 or (uid is not None and uid in (euid, os.getuid()))


class PidfdUnavailable(Exception):
    """pidfd_open cannot be used here (old kernel, seccomp, fd limit)."""


def wait_pidfd(pid: int, create_time: Optional[float] = None,
               timeout: Optional[float] = None) -> Optional[int]:
    """Waits for ``pid`` to exit; returns its returncode or None.

    None means the process was already gone, ``create_time`` names another
    process, or the kernel/permissions do not reveal the status.  Raises
    ``TimeoutError`` if it is still running after ``timeout`` seconds, and
    ``PidfdUnavailable`` when pidfds cannot be used (see
    :func:`wait_polling`).
    """
    deadline = None if timeout is None else time.monotonic() + timeout
    try:
        pidfd = os.pidfd_open(pid)
    except ProcessLookupError:
        return None
    except OSError as exc:
        if exc.errno in (errno.ENOSYS, errno.EPERM, errno.EMFILE,
                         errno.ENFILE):
            raise PidfdUnavailable(str(exc)) from exc
        raise
    try:
        # The pidfd pins the process we opened; the stat read below can only
        # be of another process if ours exited and the pid was reused in
        # between, in which case the pidfd is already readable.
        stat = _proc_py.read_stat(pid)
        if (stat is not None and create_time is not None and
                not _exited(pidfd, 0) and not _proc_py.same_instant(
                    _proc_py.create_time_of(stat.start_time), create_time)):
            return None
        is_child = stat is not None and stat.ppid == os.getpid()
        uid = _proc_py.owner_uid(pid)
        if not _exited(pidfd, _remaining(deadline)):
            raise TimeoutError(f'pid {pid} still running after {timeout}s')
        if is_child:
            code = _child_returncode(pidfd)
            if code is not None:
                return code
        if not may_see_exit(uid):
            return None
        grace = REAP_GRACE if deadline is None else min(
            REAP_GRACE, max(0.0, deadline - time.monotonic()))
        _reaped(pidfd, grace)
        return exit_info(pidfd)
    finally:
        os.close(pidfd)


def exit_info(pidfd: int) -> Optional[int]:
    """The returncode published by ``PIDFD_GET_INFO``, if any yet."""
    buf = bytearray(_INFO_SIZE)
    struct.pack_into('=Q', buf, 0, PIDFD_INFO_EXIT)
    try:
        fcntl.ioctl(pidfd, PIDFD_GET_INFO, buf)
    except OSError:
        return None  # kernel before 6.15 (ENOTTY/EINVAL)
    mask, = struct.unpack_from('=Q', buf, 0)
    if not mask & PIDFD_INFO_EXIT:
        return None
    status, = struct.unpack_from('=i', buf, _INFO_EXIT_CODE_OFFSET)
    return returncode_from_status(status)


def _remaining(deadline: Optional[float]) -> Optional[float]:
    return None if deadline is None else max(0.0, deadline - time.monotonic())


def _poll_fd(pidfd: int, events: int, timeout: Optional[float]) -> int:
    poller = select.poll()
    poller.register(pidfd, events)
    ms = -1 if timeout is None else int(timeout * 1000 + 0.999)
    ready = poller.poll(ms)
    return ready[0][1] if ready else 0


def _exited(pidfd: int, timeout: Optional[float]) -> bool:
    """A pidfd is readable once its process exited (zombie or reaped)."""
    return bool(_poll_fd(pidfd, select.POLLIN, timeout))


def _reaped(pidfd: int, timeout: float) -> bool:
    """POLLHUP: the process was reaped and its pid released.

    Polls for no event at all: POLLIN is already (level-triggered) set
    once the process exited, while POLLHUP is always reported.
    """
    return bool(_poll_fd(pidfd, 0, timeout) & select.POLLHUP)


def _child_returncode(pidfd: int) -> Optional[int]:
    """Our child's status without reaping it (None if already reaped)."""
    try:
        result = os.waitid(os.P_PIDFD, pidfd,
                           os.WEXITED | os.WNOWAIT | os.WNOHANG)
    except ChildProcessError:
        return None
    return None if result is None else _returncode_from_waitid(result)


def _returncode_from_waitid(result: 'os.waitid_result') -> int:
    if result.si_code == os.CLD_EXITED:
        return result.si_status
    return -result.si_status


def wait_polling(pid: int, create_time: Optional[float] = None,
                 timeout: Optional[float] = None) -> Optional[int]:
    """The no-pidfd fallback: poll /proc with a growing interval.

    Only our own children's status can be read this way.
    """
    deadline = None if timeout is None else time.monotonic() + timeout
    stat = _proc_py.read_stat(pid)
    if stat is None or (create_time is not None and not _proc_py.same_instant(
            _proc_py.create_time_of(stat.start_time), create_time)):
        return None
    started = _proc_py.create_time_of(stat.start_time)
    interval = 0.001
    while _proc_py.is_alive(pid, started):
        remaining = _remaining(deadline)
        if remaining == 0.0:
            raise TimeoutError(f'pid {pid} still running after {timeout}s')
        time.sleep(interval if remaining is None else min(interval, remaining))
        interval = min(interval * 2, 0.05)
    if stat.ppid != os.getpid():
        return None
    try:
        result = os.waitid(os.P_PID, pid,
                           os.WEXITED | os.WNOWAIT | os.WNOHANG)
    except ChildProcessError:
        return None
    return None if result is None else _returncode_from_waitid(result)
