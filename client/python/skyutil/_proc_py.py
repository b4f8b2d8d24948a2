"""Process identity from /proc, without the daemon or psutil.

A process is identified by (pid, start_time): ``start_time`` is field 22
of ``/proc/<pid>/stat``, the kernel start time in clock ticks since boot,
which a reused pid cannot repeat.  ``create_time`` is the same instant in
epoch seconds, computed exactly as psutil does (``btime`` from /proc/stat
plus ticks / CLK_TCK), so values recorded with psutil compare equal.
"""

import errno
import os
from typing import Callable, Dict, List, NamedTuple, Optional

CLK_TCK = os.sysconf('SC_CLK_TCK')
# Two create_times name the same instant if they are within one tick; the
# float conversion of the same tick count can differ in the last bits.
CREATE_TIME_TOLERANCE = 1.0 / CLK_TCK

_boot_time: Optional[float] = None


class Stat(NamedTuple):
    """The fields of /proc/<pid>/stat this library uses."""
    state: str
    ppid: int
    start_time: int


def boot_time() -> float:
    """``btime`` from /proc/stat, read once per process like psutil."""
    global _boot_time
    if _boot_time is None:
        with open('/proc/stat', 'rb') as f:
            for line in f:
                if line.startswith(b'btime'):
                    _boot_time = float(line.split()[1])
                    break
            else:
                raise RuntimeError('/proc/stat has no btime line')
    return _boot_time


def create_time_of(start_time: int) -> float:
    """Converts kernel start ticks to psutil-compatible epoch seconds."""
    return boot_time() + start_time / CLK_TCK


def same_instant(a: float, b: float) -> bool:
    """True if two create_times denote the same process start."""
    return abs(a - b) <= CREATE_TIME_TOLERANCE


def _read_stat_fields(pid: int) -> Optional[List[bytes]]:
    """The fields of /proc/<pid>/stat after the command name, or None.

    The command name may contain spaces and parentheses, so parsing starts
    after the last ')'.  One ``read()`` is the whole line (the kernel
    generates it at once), as in the daemon; ``os.open`` costs half of
    ``open()``'s buffered file object.
    """
    try:
        fd = os.open(f'/proc/{pid}/stat', os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        # ENOENT: no such pid; EACCES/ESRCH: races while it is torn down.
        return None
    try:
        data = os.read(fd, 4096)
    except OSError:
        return None
    finally:
        os.close(fd)
    return data[data.rfind(b')') + 2:].split()


def _stat_of(fields: Optional[List[bytes]]) -> Optional[Stat]:
    """The Stat of a thread-group leader's fields (None if unparsable).

    A leader thread that exited while other threads run shows 'Z', but the
    process runs on, so it reads 'R' (skyutild answers ``running`` too); a
    real zombie has no other thread left.
    """
    try:
        stat = Stat(fields[0].decode(), int(fields[1]), int(fields[19]))
    except (TypeError, IndexError, ValueError):
        return None
    if stat.state == 'Z' and _threads(fields) > 1:
        stat = stat._replace(state='R')
    return stat


def _threads(fields: List[bytes]) -> int:
    """``num_threads`` (field 20): the threads not yet released."""
    try:
        return int(fields[17])
    except (IndexError, ValueError):
        return 1


def _is_group_leader(pid: int) -> Optional[bool]:
    """Whether ``pid`` is a thread-group leader (a process, not a thread).

    ``/proc/<tid>`` exists for every thread although only leaders are
    listed in /proc; psutil (``pid_exists``: ``Tgid`` == pid) and the
    daemon (pidfd_open refuses a non-leader) say a thread id is no
    process.  pidfd_open is the cheap check; where pidfds are unavailable
    the ``Tgid:`` line of /proc/<pid>/status answers.  None: the pid is
    gone.
    """
    try:
        os.close(os.pidfd_open(pid))
        return True
    except (AttributeError, OSError) as exc:
        code = getattr(exc, 'errno', None)
        if code in (errno.EINVAL, errno.ENOENT):
            return False  # a thread, not a thread-group leader
        if code == errno.ESRCH:
            return None
    try:
        with open(f'/proc/{pid}/status', 'rb') as f:
            for line in f:
                if line.startswith(b'Tgid:'):
                    return int(line.split()[1]) == pid
    except OSError:
        return None
    except ValueError:
        pass
    return True  # unparsable: trust the stat file, as before


def read_stat(pid: int) -> Optional[Stat]:
    """Parses /proc/<pid>/stat; None if there is no such process.

    A thread id that is not a thread-group leader is no process (None),
    as for psutil and skyutild, although /proc/<tid>/stat exists.  The
    check costs nothing for a single-threaded process: ``num_threads``
    counts every thread not yet released, a zombie leader included, so 1
    means ``pid`` is the leader itself.  ``state`` is the process's (see
    ``_stat_of``).
    """
    fields = _read_stat_fields(pid)
    stat = _stat_of(fields)
    if stat is None or (_threads(fields) > 1 and not _is_group_leader(pid)):
        return None
    return stat


def is_alive(pid: int, create_time: Optional[float] = None) -> bool:
    """Alive = exists, is not a zombie, and started at ``create_time``."""
    stat = read_stat(pid)
    if stat is None or stat.state in 'ZXx':
        return False
    return create_time is None or same_instant(
        create_time_of(stat.start_time), create_time)


def owner_uid(pid: int) -> Optional[int]:
    """The real uid owning the process (the /proc/<pid> directory owner)."""
    try:
        return os.stat(f'/proc/{pid}').st_uid
    except OSError:
        return None


def all_stats() -> Dict[int, Stat]:
    """A snapshot of every process readable in /proc."""
    stats = {}
    for name in os.listdir('/proc'):
        if name.isdigit():
            # Only thread-group leaders are listed: no leader check needed.
            pid = int(name)
            stat = _stat_of(_read_stat_fields(pid))
            if stat is not None:
                stats[pid] = stat
    return stats


def _start_time_now(pid: int) -> Optional[int]:
    """``pid``'s start time read afresh, or None if it is gone."""
    stat = _stat_of(_read_stat_fields(pid))
    return None if stat is None else stat.start_time


def descendants(pid: int, start_time: int,
                stats: Optional[Dict[int, Stat]] = None,
                start_time_of: Callable[[int], Optional[int]] = _start_time_now
                ) -> List[int]:
    """All descendants of (pid, start_time), parents before children.

    A child that started before its parent cannot be its child: its ppid
    must point at an earlier process that had the same pid, so it is
    skipped (the PID-reuse guard of SkyPilot PR #9806).

    That rule misses a parent that died while the snapshot was read and
    whose pid went to a newer process: the newcomer's children started
    after it, so after the parent too.  So each parent's start time is
    read again (``start_time_of``, after the snapshot) before its children
    are taken, at every level, as the daemon does: a parent that is gone
    or has another start time loses them (and their subtrees).
    """
    stats = all_stats() if stats is None else stats
    children: Dict[int, List[int]] = {}
    for child, stat in stats.items():
        children.setdefault(stat.ppid, []).append(child)
    found: List[int] = []
    queue = [(pid, start_time)]
    seen = {pid}
    while queue:
        parent, parent_start = queue.pop(0)
        kids = [child for child in sorted(children.get(parent, ()))
                if child not in seen and stats[child].start_time >= parent_start]
        if not kids or start_time_of(parent) != parent_start:
            continue
        for child in kids:
            seen.add(child)
            found.append(child)
            queue.append((child, stats[child].start_time))
    return found
