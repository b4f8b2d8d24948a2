"""Killing a process tree without the daemon: ``proc.kill_tree`` locally.

Each process is pinned with a pidfd right after the tree is listed and its
start time re-checked, so a signal can never hit a process that reused a
pid in the meantime, and waiting for the tree is one poll() over all the
pidfds instead of a sleep loop.  When pidfds are unavailable (old kernel,
seccomp, descriptor limit) that process falls back to kill() after
re-checking its start time, and the wait to polling /proc.
"""

import errno
import os
import select
import signal as signal_module
import time
from typing import Dict, List, Optional

from skyutil import _proc_py, errors

# After SIGKILL a process disappears as soon as the kernel tears it down;
# this bounds the wait for a process stuck in uninterruptible sleep.
KILL_WAIT = 5.0
_POLL_INTERVAL = 0.01


class _Target:
    """One process of the tree, identified by (pid, start_time)."""

    def __init__(self, pid: int, start_time: int) -> None:
        self.pid = pid
        self.start_time = start_time
        self.pidfd: Optional[int] = None
        try:
            pidfd = os.pidfd_open(pid)
        except OSError as exc:
            # ESRCH: already reaped, so gone() will say so; the others leave
            # this target on the kill()-after-recheck path.
            if exc.errno not in (errno.ESRCH, errno.ENOSYS, errno.EPERM,
                                 errno.EMFILE, errno.ENFILE):
                raise
            return
        stat = _proc_py.read_stat(pid)
        if stat is None or stat.start_time != start_time:
            os.close(pidfd)  # the pid was reused after the listing
            self.start_time = -1
            return
        self.pidfd = pidfd

    def send(self, sig: int) -> bool:
        """Signals the process; False if it was already gone.

        A zombie counts as gone: the signal could not change anything.
        """
        if self.gone():
            return False
        try:
            self._signal(sig)
        except ProcessLookupError:
            return False
        if sig not in (signal_module.SIGKILL, signal_module.SIGCONT,
                       signal_module.SIGSTOP):
            # A stopped process acts on no signal but SIGKILL until it is
            # continued (the daemon and systemd send SIGCONT too).
            try:
                self._signal(signal_module.SIGCONT)
            except OSError:
                pass
        return True

    def _signal(self, sig: int) -> None:
        if self.pidfd is not None:
            signal_module.pidfd_send_signal(self.pidfd, sig)
        else:
            os.kill(self.pid, sig)

    def gone(self) -> bool:
        """Exited (zombie counts) or replaced by another process."""
        if self.pidfd is not None:
            poller = select.poll()
            poller.register(self.pidfd, select.POLLIN)
            return bool(poller.poll(0))
        return not self._still_ours()

    def _still_ours(self) -> bool:
        stat = _proc_py.read_stat(self.pid)
        return (stat is not None and stat.start_time == self.start_time and
                stat.state not in 'ZXx')

    def close(self) -> None:
        if self.pidfd is not None:
            os.close(self.pidfd)
            self.pidfd = None


def _wait_gone(targets: List[_Target], timeout: float) -> List[_Target]:
    """Waits until every target is gone; returns those still alive."""
    deadline = time.monotonic() + timeout
    while True:
        alive = [t for t in targets if not t.gone()]
        remaining = deadline - time.monotonic()
        if not alive or remaining <= 0:
            return alive
        if all(t.pidfd is not None for t in alive):
            poller = select.poll()
            for target in alive:
                poller.register(target.pidfd, select.POLLIN)
            poller.poll(int(remaining * 1000) + 1)
        else:
            time.sleep(min(_POLL_INTERVAL, remaining))


def kill_tree(pid: int, start_time: Optional[int] = None,
              sig: int = signal_module.SIGTERM, grace_s: float = 10.0,
              include_root: bool = True) -> Dict[str, List[int]]:
    """Signals ``pid`` and all its descendants, then SIGKILLs survivors.

    Same contract and reply as the daemon's ``proc.kill_tree``: returns
    once every process is gone (or, for unkillable ones, after
    ``KILL_WAIT`` more seconds).  Raises ``NoSuchProcess`` if ``pid`` does
    not exist and ``PidReused`` if it has another ``start_time``.  A root
    we may not signal raises ``PermissionDenied`` before anything is
    signalled; a descendant we may not signal is left alone and listed in
    ``denied``, and the rest of the tree is still killed (as the daemon).
    pid 1 raises ``PermissionDenied`` unless this process is pid 1.
    """
    root = _proc_py.read_stat(pid)
    if root is None:
        raise errors.NoSuchProcess(f'no process {pid}')
    if pid == 1 and os.getpid() != 1:
        # As the daemon: init's tree is every process; only init may kill it.
        raise errors.PermissionDenied(
            'pid 1 (init) is never signalled: its tree is every process')
    if start_time is not None and root.start_time != start_time:
        raise errors.PidReused(f'pid {pid} has start_time '
                               f'{root.start_time}, not {start_time}')
    stats = _proc_py.all_stats()
    pids = _proc_py.descendants(pid, root.start_time, stats)
    if include_root:
        pids.insert(0, pid)
    targets = [_Target(p, root.start_time if p == pid else stats[p].start_time)
               for p in pids]
    result: Dict[str, List[int]] = {
        'signalled': [], 'killed': [], 'already_gone': [], 'denied': []}
    try:
        signalled = []
        for target in targets:
            try:
                sent = target.send(sig)
            except PermissionError as exc:
                if include_root and target.pid == pid:
                    # The root comes first: nothing was signalled yet.
                    raise errors.PermissionDenied(
                        f'not permitted to signal process {pid}') from exc
                result['denied'].append(target.pid)
                continue
            if sent:
                result['signalled'].append(target.pid)
                signalled.append(target)
            else:
                result['already_gone'].append(target.pid)
        survivors = _wait_gone(signalled, grace_s)
        if survivors and sig != signal_module.SIGKILL:
            killed = []
            for target in survivors:
                try:
                    if target.send(signal_module.SIGKILL):
                        result['killed'].append(target.pid)
                        killed.append(target)
                except PermissionError:  # its credentials changed (setuid exec)
                    result['denied'].append(target.pid)
            _wait_gone(killed, KILL_WAIT)
    finally:
        for target in targets:
            target.close()
    return result
