"""Process identity from /proc, without the daemon or psutil.

A process is identified by (pid, start_time): ``start_time`` is field 22
of ``/proc/<pid>/stat``, the kernel start time in clock ticks since boot,
which a reused pid cannot repeat.  ``create_time`` is the same instant in
epoch seconds, computed exactly as psutil does (``btime`` from /proc/stat
plus ticks / CLK_TCK), so values recorded with psutil compare equal.
"""

import os
from typing import Dict, List, NamedTuple, Optional

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


def read_stat(pid: int) -> Optional[Stat]:
    """Parses /proc/<pid>/stat; None if there is no such process.

    The command name may contain spaces and parentheses, so parsing starts
    after the last ')'.
    """
    try:
        with open(f'/proc/{pid}/stat', 'rb') as f:
            data = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return None
    except OSError:
        # EACCES/ESRCH races while the process is being torn down.
        return None
    fields = data[data.rfind(b')') + 2:].split()
    try:
        return Stat(fields[0].decode(), int(fields[1]), int(fields[19]))
    except (IndexError, ValueError):
        return None


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
            stat = read_stat(int(name))
            if stat is not None:
                stats[int(name)] = stat
    return stats


def descendants(pid: int, start_time: int,
                stats: Optional[Dict[int, Stat]] = None) -> List[int]:
    """All descendants of (pid, start_time), parents before children.

    A child that started before its parent cannot be its child: its ppid
    must point at an earlier process that had the same pid, so it is
    skipped (the PID-reuse guard of SkyPilot PR #9806).
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
        for child in sorted(children.get(parent, ())):
            stat = stats[child]
            if child in seen or stat.start_time < parent_start:
                continue
            seen.add(child)
            found.append(child)
            queue.append((child, stat.start_time))
    return found

