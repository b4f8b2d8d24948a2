"""Machine facts computed in Python, with the daemon's cgroup algorithm.

This is the fallback used when skyutild does not answer, so it must give
the same numbers (docs/protocol.md ``facts.get``;
shared/research/cgroup-anchors.md section 2):

* discovery from /proc/self/cgroup and /proc/self/mountinfo, per
  controller: v1 when a v1 hierarchy carries it and the process is a
  member, else v2 when the cgroup2 root lists it (hybrid and "freezer on
  v1" setups mix both);
* mount-root translation (cgroup namespaces, bind mounts), with JDK's
  suffix trimming when the path lies outside the mount root;
* a walk from the leaf up to the mount point taking the minimum limit, so
  a parent tighter than the leaf is honoured;
* ``cpu_count = clamp(ceil(quota), 1, min(affinity, cpuset, online))`` and
  ``mem_effective = min(limit, MemTotal)``, v1 sentinels near 2**63
  meaning "unlimited".

Every path goes through ``root`` (a sysroot), so tests build fake trees.
"""

import os
import posixpath
import re
import resource
from typing import Any, Dict, Iterable, List, NamedTuple, Optional, Set, Tuple

_CONTROLLERS = ('cpu', 'cpuset', 'memory', 'pids')
_INT64_MAX = 2**63 - 1
# v1 reports "no limit" as LONG_MAX rounded down to a page; allow for the
# largest common page size (64 KiB) so every architecture's sentinel reads
# as unlimited.
_UNLIMITED_FROM = 2**63 - 65536
_DEFAULT_PERIOD = 100000
_OCTAL_ESCAPE = re.compile(r'\\([0-7]{3})')


class Mount(NamedTuple):
    root: str
    mount_point: str
    fstype: str
    super_options: Set[str]


class Hierarchy(NamedTuple):
    """Where one controller's files are for this process."""
    version: int
    mount_point: str
    leaf: str
    membership: str


class _Reader:
    """Reads files under the sysroot, collecting warnings."""

    def __init__(self, root: str) -> None:
        self.root = root
        self.warnings: List[str] = []

    def path(self, path: str) -> str:
        return os.path.join(self.root, path.lstrip('/'))

    def text(self, path: str) -> Optional[str]:
        try:
            with open(self.path(path), 'r', encoding='utf-8',
                      errors='surrogateescape') as f:
                return f.read()
        except OSError:
            return None

    def isdir(self, path: str) -> bool:
        return os.path.isdir(self.path(path))

    def int_value(self, path: str) -> Optional[int]:
        text = self.text(path)
        if text is None:
            return None
        try:
            return int(text.strip())
        except ValueError:
            self.warnings.append(f'{path}: not an integer: {text.strip()!r}')
            return None


# ------------------------------------------------------------ discovery


def parse_proc_cgroup(text: str) -> Tuple[Optional[str], Dict[str, str]]:
    """Returns (v2 path, {v1 controller: path}).

    Split at the first two colons only: cgroup names may contain colons.
    """
    v2_path = None
    v1: Dict[str, str] = {}
    for line in text.splitlines():
        parts = line.split(':', 2)
        if len(parts) != 3:
            continue
        hid, controllers, path = parts
        if hid == '0' and controllers == '':
            v2_path = path
            continue
        for controller in controllers.split(','):
            if controller and not controller.startswith('name='):
                v1[controller] = path
    return v2_path, v1


def _unescape(field: str) -> str:
    return _OCTAL_ESCAPE.sub(lambda m: chr(int(m.group(1), 8)), field)


def parse_mountinfo(text: str) -> List[Mount]:
    """The cgroup and cgroup2 mounts of a mountinfo file, in order."""
    mounts = []
    for line in text.splitlines():
        fields = line.split(' ')
        try:
            sep = fields.index('-', 6)
        except ValueError:
            continue
        fstype = fields[sep + 1] if len(fields) > sep + 1 else ''
        if fstype not in ('cgroup', 'cgroup2'):
            continue
        options = fields[sep + 3] if len(fields) > sep + 3 else ''
        mounts.append(Mount(_unescape(fields[3]), _unescape(fields[4]),
                            fstype, set(options.split(','))))
    return mounts


def _is_ancestor(ancestor: str, path: str) -> bool:
    return (ancestor == '/' or path == ancestor or
            path.startswith(ancestor.rstrip('/') + '/'))


def _components(path: str) -> List[str]:
    return [c for c in path.split('/') if c and c != '.']


def _pick_mount(candidates: List[Mount], path: str) -> Mount:
    """Prefers mounts whose root contains the path, then /sys/fs/cgroup."""
    containing = [m for m in candidates if _is_ancestor(m.root, path)]
    pool = containing or candidates
    for mount in pool:
        if _is_ancestor('/sys/fs/cgroup', mount.mount_point):
            return mount
    return pool[0]


def _translate(reader: _Reader, version: int, mount: Mount,
               path: str) -> Hierarchy:
    """Maps a membership path to a directory under the mount point."""
    comps = _components(path)
    if '..' not in comps and _is_ancestor(mount.root, path):
        rest = comps[len(_components(mount.root)):]
        leaf = posixpath.join(mount.mount_point, *rest)
        if reader.isdir(leaf):
            return Hierarchy(version, mount.mount_point, leaf, path)
    if '..' not in comps:
        # JDK-8343191: the path lies outside the mount root (or its
        # directory is missing); try ever shorter suffixes of it.
        for start in range(1, len(comps)):
            leaf = posixpath.join(mount.mount_point, *comps[start:])
            if reader.isdir(leaf):
                return Hierarchy(version, mount.mount_point, leaf, path)
    reader.warnings.append(
        f'cgroup path {path} not found under {mount.mount_point}; '
        'reading the mount root (path_uncertain)')
    return Hierarchy(version, mount.mount_point, mount.mount_point, path)


def discover(reader: _Reader, cgroup_text: str,
             mounts: List[Mount]) -> Dict[str, Hierarchy]:
    """Chooses the hierarchy serving each controller of interest."""
    v2_path, v1_paths = parse_proc_cgroup(cgroup_text)
    v2_mounts = [m for m in mounts if m.fstype == 'cgroup2']
    v2_mount = _pick_mount(v2_mounts, v2_path) if (
        v2_mounts and v2_path is not None) else None
    v2_controllers: Optional[Set[str]] = None
    if v2_mount is not None:
        text = reader.text(
            posixpath.join(v2_mount.mount_point, 'cgroup.controllers'))
        v2_controllers = None if text is None else set(text.split())
    found = {}
    for controller in _CONTROLLERS:
        v1_mounts = [m for m in mounts if m.fstype == 'cgroup' and
                     controller in m.super_options]
        if controller in v1_paths and v1_mounts:
            path = v1_paths[controller]
            found[controller] = _translate(
                reader, 1, _pick_mount(v1_mounts, path), path)
        elif v2_mount is not None and (v2_controllers is None or
                                       controller in v2_controllers):
            found[controller] = _translate(reader, 2, v2_mount, v2_path)
    return found


def _levels(hierarchy: Hierarchy) -> List[str]:
    """Directories from the leaf up to and including the mount point."""
    levels = [hierarchy.leaf]
    current = hierarchy.leaf
    while current != hierarchy.mount_point and _is_ancestor(
            hierarchy.mount_point, current):
        current = posixpath.dirname(current)
        levels.append(current)
    return levels


# ------------------------------------------------------------------ CPU


def _quota_v2(reader: _Reader, level: str) -> Optional[Tuple[int, int]]:
    path = posixpath.join(level, 'cpu.max')
    text = reader.text(path)
    if text is None:
        return None
    fields = text.split()
    if fields and fields[0] == 'max':
        return None
    try:
        if len(fields) == 1:
            quota, period = int(fields[0]), _DEFAULT_PERIOD
        elif len(fields) == 2:
            quota, period = int(fields[0]), int(fields[1])
        else:
            raise ValueError
    except ValueError:
        reader.warnings.append(f'{path}: unparsable {text.strip()!r}')
        return None
    return _checked_quota(reader, path, quota, period)


def _quota_v1(reader: _Reader, level: str) -> Optional[Tuple[int, int]]:
    quota = reader.int_value(posixpath.join(level, 'cpu.cfs_quota_us'))
    if quota is None or quota < 0:
        return None
    period = reader.int_value(posixpath.join(level, 'cpu.cfs_period_us'))
    if period is None:
        return None
    return _checked_quota(reader, posixpath.join(level, 'cpu.cfs_quota_us'),
                          quota, period)


def _checked_quota(reader: _Reader, path: str, quota: int,
                   period: int) -> Optional[Tuple[int, int]]:
    if quota > _INT64_MAX or period > _INT64_MAX:
        return None  # overflowing values can only mean "unlimited"
    if quota <= 0 or period <= 0:
        reader.warnings.append(f'{path}: invalid quota {quota}/{period}')
        return None
    return quota, period


def _cpu_list_count(text: str) -> Optional[int]:
    """Counts a kernel CPU list such as ``0-3,8,10-11``; None if empty."""
    count = 0
    for part in text.strip().split(','):
        if not part:
            continue
        low, dash, high = part.partition('-')
        first = int(low)
        last = int(high) if dash else first
        if last < first:
            raise ValueError(part)
        count += last - first + 1
    return count or None


def _read_cpu_list(reader: _Reader, path: str) -> Optional[int]:
    text = reader.text(path)
    if text is None:
        return None
    try:
        return _cpu_list_count(text)
    except ValueError:
        reader.warnings.append(f'{path}: unparsable CPU list {text.strip()!r}')
        return None


def _cpuset_count(reader: _Reader,
                  hierarchy: Optional[Hierarchy]) -> Optional[int]:
    """CPUs of the nearest cpuset; ``effective`` already includes parents."""
    if hierarchy is None:
        return None
    names = (('cpuset.cpus.effective',) if hierarchy.version == 2 else
             ('cpuset.effective_cpus', 'cpuset.cpus'))
    for level in _levels(hierarchy):
        for name in names:
            count = _read_cpu_list(reader, posixpath.join(level, name))
            if count is not None:
                return count
    return None


def _affinity(reader: _Reader, pid_dir: str) -> Optional[int]:
    if reader.root == '/':
        return len(os.sched_getaffinity(0))
    status = reader.text(posixpath.join(pid_dir, 'status')) or ''
    for line in status.splitlines():
        if line.startswith('Cpus_allowed_list:'):
            return _cpu_list_count(line.split(':', 1)[1])
    return None


def cpu_facts(reader: _Reader, hierarchies: Dict[str, Hierarchy],
              affinity: Optional[int]) -> Dict[str, Any]:
    online = _read_cpu_list(reader, '/sys/devices/system/cpu/online')
    if online is None and reader.root == '/':
        online = os.cpu_count()
    cpuset = _cpuset_count(reader, hierarchies.get('cpuset'))
    bounds = {'affinity': affinity, 'cpuset': cpuset, 'online': online}
    present = {k: v for k, v in bounds.items() if v is not None}
    base_source = min(present, key=present.get) if present else 'none'
    base = present.get(base_source, 1)

    best: Optional[Tuple[int, int, str]] = None
    cpu = hierarchies.get('cpu')
    if cpu is not None:
        for level in _levels(cpu):
            limit = (_quota_v2 if cpu.version == 2 else _quota_v1)(reader, level)
            # Compare quota/period fractions exactly, in integers.
            if limit is not None and (best is None or
                                      limit[0] * best[1] < best[0] * limit[1]):
                best = (limit[0], limit[1], level)
    facts: Dict[str, Any] = {
        'cpu_online': online, 'cpu_affinity': affinity, 'cpuset_cpus': cpuset,
        'cpu_shares': _shares(reader, cpu),
    }
    if best is None:
        facts.update(cpu_count=base, cpu_count_floor=base, cpu_quota=None,
                     cpu_source=base_source)
        return facts
    quota, period, level = best
    ceil_cpus = (quota + period - 1) // period
    facts.update(
        cpu_count=max(1, min(base, ceil_cpus)),
        cpu_count_floor=max(1, min(base, quota // period)),
        cpu_quota=min(float(base), quota / period),
        cpu_source=f'cgroup{cpu.version}:{level}')
    return facts


def _shares(reader: _Reader, cpu: Optional[Hierarchy]) -> Optional[int]:
    """The leaf's raw weight (v2 cpu.weight) or shares (v1 cpu.shares)."""
    if cpu is None:
        return None
    name = 'cpu.weight' if cpu.version == 2 else 'cpu.shares'
    return reader.int_value(posixpath.join(cpu.leaf, name))


# --------------------------------------------------------------- memory


def _memory_value(reader: _Reader, path: str) -> Optional[int]:
    text = reader.text(path)
    if text is None or text.strip() in ('', 'max'):
        return None
    try:
        value = int(text.strip())
    except ValueError:
        reader.warnings.append(f'{path}: not an integer: {text.strip()!r}')
        return None
    return None if value >= _UNLIMITED_FROM or value < 0 else value


def _stat_field(reader: _Reader, path: str, key: str) -> Optional[int]:
    for line in (reader.text(path) or '').splitlines():
        name, _, value = line.partition(' ')
        if name == key:
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _minimum(reader: _Reader, hierarchy: Hierarchy,
             name: str) -> Tuple[Optional[int], str]:
    """Minimum of a limit file over the walk, and the level that binds."""
    best: Optional[int] = None
    binding = hierarchy.leaf
    for level in _levels(hierarchy):
        value = _memory_value(reader, posixpath.join(level, name))
        if value is not None and (best is None or value < best):
            best, binding = value, level
    return best, binding


def memory_facts(reader: _Reader, hierarchies: Dict[str, Hierarchy],
                 mem_total: int) -> Dict[str, Any]:
    memory = hierarchies.get('memory')
    facts: Dict[str, Any] = {
        'mem_total_bytes': mem_total, 'mem_limit_bytes': None,
        'mem_high_bytes': None, 'mem_effective_bytes': mem_total,
        'mem_used_bytes': None, 'mem_working_set_bytes': None,
        'memory_source': 'meminfo',
    }
    if memory is None:
        return facts
    v2 = memory.version == 2
    limit, binding = _minimum(reader, memory,
                              'memory.max' if v2 else 'memory.limit_in_bytes')
    if not v2 and reader.int_value(posixpath.join(
            memory.leaf, 'memory.use_hierarchy')) == 1:
        hierarchical = _stat_field(
            reader, posixpath.join(memory.leaf, 'memory.stat'),
            'hierarchical_memory_limit')
        if (hierarchical is not None and hierarchical < _UNLIMITED_FROM and
                (limit is None or hierarchical < limit)):
            limit, binding = hierarchical, memory.leaf
    used = reader.int_value(posixpath.join(
        binding, 'memory.current' if v2 else 'memory.usage_in_bytes'))
    inactive = _stat_field(reader, posixpath.join(binding, 'memory.stat'),
                           'inactive_file' if v2 else 'total_inactive_file')
    facts.update(
        mem_limit_bytes=limit,
        mem_high_bytes=_minimum(reader, memory, 'memory.high')[0] if v2 else None,
        mem_effective_bytes=mem_total if limit is None else min(limit, mem_total),
        mem_used_bytes=used,
        mem_working_set_bytes=(None if used is None else
                               max(0, used - (inactive or 0))),
        memory_source=(f'cgroup{memory.version}:{binding}'
                       if limit is not None else 'meminfo'))
    return facts


def _mem_total(reader: _Reader) -> int:
    for line in (reader.text('/proc/meminfo') or '').splitlines():
        if line.startswith('MemTotal:'):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f'no MemTotal in {reader.path("/proc/meminfo")}')


# ----------------------------------------------------------------- pids


def pids_facts(reader: _Reader,
               hierarchies: Dict[str, Hierarchy]) -> Dict[str, Any]:
    pids = hierarchies.get('pids')
    limit = binding = None
    if pids is not None:
        limit, binding = _minimum(reader, pids, 'pids.max')
    return {
        'pids_limit': limit,
        'pids_current': None if pids is None else reader.int_value(
            posixpath.join(binding, 'pids.current')),
        'pid_max': reader.int_value('/proc/sys/kernel/pid_max'),
        'threads_max': reader.int_value('/proc/sys/kernel/threads-max'),
        'pids_source': (f'cgroup{pids.version}:{binding}'
                        if limit is not None else 'kernel'),
    }


def _nofile(reader: _Reader, pid_dir: str) -> Tuple[Optional[int], Optional[int]]:
    """Soft and hard RLIMIT_NOFILE; None means unlimited."""
    if reader.root == '/':
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        return (None if soft == resource.RLIM_INFINITY else soft,
                None if hard == resource.RLIM_INFINITY else hard)
    for line in (reader.text(posixpath.join(pid_dir, 'limits')) or '').splitlines():
        if line.startswith('Max open files'):
            soft_text, hard_text = line.split()[3:5]
            return (None if soft_text == 'unlimited' else int(soft_text),
                    None if hard_text == 'unlimited' else int(hard_text))
    return None, None


# ----------------------------------------------------------------- all


def _cgroup_version(cgroup_text: str, mounts: Iterable[Mount]) -> Any:
    """2, 1, "hybrid" (the process is in both kinds) or None."""
    v2_path, v1_paths = parse_proc_cgroup(cgroup_text)
    kinds = {m.fstype for m in mounts}
    v2 = v2_path is not None and 'cgroup2' in kinds
    v1 = bool(v1_paths) and 'cgroup' in kinds
    if v1 and v2:
        return 'hybrid'
    return 2 if v2 else 1 if v1 else None


def compute_facts(root: str = '/', affinity: Optional[int] = None
                  ) -> Dict[str, Any]:
    """The ``facts.get`` map for this process, computed locally.

    ``root`` is a sysroot holding ``proc/self/{cgroup,mountinfo,status,
    limits}``, ``proc/meminfo``, ``proc/sys/kernel/*``, ``sys/devices/
    system/cpu/online`` and the cgroup trees.  With the real root, affinity
    and rlimits come from the kernel; otherwise from the fake ``status`` and
    ``limits`` files, or ``affinity`` when given.
    """
    reader = _Reader(root)
    pid_dir = '/proc/self'
    cgroup_text = reader.text(posixpath.join(pid_dir, 'cgroup')) or ''
    mounts = parse_mountinfo(
        reader.text(posixpath.join(pid_dir, 'mountinfo')) or '')
    if cgroup_text and not mounts:
        reader.warnings.append('no cgroup filesystem mounted (not_mounted)')
    hierarchies = discover(reader, cgroup_text, mounts)
    if affinity is None:
        affinity = _affinity(reader, pid_dir)

    cpu = cpu_facts(reader, hierarchies, affinity)
    memory = memory_facts(reader, hierarchies, _mem_total(reader))
    pids = pids_facts(reader, hierarchies)
    nofile_soft, nofile_hard = _nofile(reader, pid_dir)
    anchor = hierarchies.get('cpu') or hierarchies.get('memory')
    facts = {
        'pid': os.getpid(),
        **{k: v for k, v in cpu.items() if k != 'cpu_source'},
        **{k: v for k, v in memory.items() if k != 'memory_source'},
        **{k: v for k, v in pids.items() if k != 'pids_source'},
        'nofile_soft': nofile_soft,
        'nofile_hard': nofile_hard,
        'cgroup_version': _cgroup_version(cgroup_text, mounts),
        'cgroup_path': anchor.membership if anchor else None,
        'generation': 0,
        'source': {'cpu': cpu['cpu_source'], 'memory': memory['memory_source'],
                   'pids': pids['pids_source']},
        'warnings': reader.warnings,
    }
    return facts
