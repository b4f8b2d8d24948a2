"""Machine facts computed in Python, with the daemon's own cgroup algorithm.

This is the fallback used when skyutild does not answer, so it must give
the same map as ``facts.get`` (docs/protocol.md), value for value and
warning for warning.  It is a line-by-line port of the C gathering in
daemon/facts/ (file and number parsers of cgfile.c and cpulist.c,
mountinfo.c, cgroup_path.c, the walks of facts_linux.c, the per-process
reads of facts_proc_linux.c, the arithmetic of facts_calc.c and the packing
of facts_pack.c); tests/facts/fixtures/ holds the shared cases both are
checked against (client/python/tests/test_facts_fixtures.py).  In short:

* discovery from /proc/<pid>/cgroup and /proc/self/mountinfo, per
  controller: v1 when a v1 hierarchy carries it and the process is a
  member, else v2 when the cgroup2 root lists it (hybrid and "freezer on
  v1" setups mix both);
* mount-root translation (cgroup namespaces, bind mounts), with JDK's
  suffix search when the path lies outside the mount root;
* a walk from the leaf up to the mount point taking the minimum limit (and
  the smallest cpuset), so a parent tighter than the leaf is honoured;
* ``cpu_count = clamp(ceil(quota), 1, min(affinity, cpuset, online))``,
  ``cpu_quota`` the raw quota/period, ``mem_effective = min(limit,
  MemTotal)``; limits at or above v1's page-rounded LONG_MAX (any page size
  up to 64 KiB) or beyond 64 bits mean "unlimited".

Everything is handled as bytes, as the C code sees it, and every path goes
through ``root`` (a sysroot), so tests build fake trees.
"""

import errno
import os
import re
from typing import Any, Dict, List, NamedTuple, Optional, Tuple

from skyutil import errors

_CTRLS = ('cpu', 'cpuset', 'memory', 'pids')
_CPU, _CPUSET, _MEMORY, _PIDS = range(4)
_ALL_CTRLS = 0xFFFFFFFF
# v1 hierarchies with controllers we do not read still make a v1 system.
_OTHER_V1 = (b'cpuacct', b'freezer', b'devices', b'blkio', b'net_cls',
             b'net_prio', b'perf_event', b'hugetlb', b'rdma', b'misc')

_PATH_MAX = 4096
_VALUE_BUF = 128
_CPULIST_BUF = 65536
_CONTROLLERS_BUF = 1024
_HOST_BUF = 4096
_FILE_CAP = 1024 * 1024
_MOUNTINFO_CAP = 8 * 1024 * 1024
_MOUNTS_MAX = 4096
_MAX_WARNINGS = 8
_WARNING_LEN = 200
_SRC_LEN = 256
_MAX_DEPTH = 64
_CPU_MAX = 1048576
_INT64_MAX = 2**63 - 1
_UINT64_MAX = 2**64 - 1
_UNLIMITED_MIN = _INT64_MAX - 65535
_SPACE = b' \t\n\v\f\r'  # C isspace()
_TOKEN_SEP = re.compile(rb'[ \t\n]+')


# ------------------------------------------------------- files (cgfile.c)


def _open(path: bytes) -> int:
    return os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NOCTTY)


def _read_file(path: bytes, cap: int) -> Tuple[int, bytes]:
    """sku_read_file: (0, content), (-errno, b'') or (-EFBIG, b'')."""
    try:
        fd = _open(path)
    except OSError as exc:
        return -exc.errno, b''
    chunks = []
    total = 0
    try:
        while True:
            try:
                data = os.read(fd, 65536)
            except OSError as exc:
                return -exc.errno, b''
            if not data:
                break
            total += len(data)
            if total > cap:
                return -errno.EFBIG, b''
            chunks.append(data)
    finally:
        os.close(fd)
    return 0, b''.join(chunks)


def _cstr(data: bytes) -> bytes:
    """What C string functions see of a buffer: up to the first NUL."""
    nul = data.find(b'\0')
    return data if nul < 0 else data[:nul]


def _read_small(path: bytes, bufsize: int) -> Tuple[int, bytes]:
    """sku_read_small: the trimmed value, -EFBIG beyond bufsize - 1 bytes."""
    try:
        fd = _open(path)
    except OSError as exc:
        return -exc.errno, b''
    data = b''
    try:
        while True:
            try:
                chunk = os.read(fd, bufsize - 1 - len(data))
            except OSError as exc:
                return -exc.errno, b''
            if not chunk:
                break
            data += chunk
            if len(data) == bufsize - 1:
                try:
                    if os.read(fd, 1):
                        return -errno.EFBIG, b''
                except OSError as exc:
                    return -exc.errno, b''
                break
    finally:
        os.close(fd)
    return 0, _cstr(data.strip(_SPACE))


def _skip_space(s: bytes, i: int) -> int:
    while i < len(s) and s[i] in _SPACE:
        i += 1
    return i


def _digits(s: bytes, i: int) -> Tuple[int, int, int]:
    """parse_digits: (r, value, end); -EINVAL without digits, -ERANGE."""
    j = i
    while j < len(s) and 0x30 <= s[j] <= 0x39:
        j += 1
    if j == i:
        return -errno.EINVAL, 0, i
    value = int(s[i:j])
    if value > _UINT64_MAX:
        return -errno.ERANGE, 0, j
    return 0, value, j


def _parse_int(s: bytes, signed: bool) -> Tuple[int, int]:
    """A whole-field integer like proto's parsers: (0, value) or (-errno, 0).

    Unsigned fields take an optional '+' and fit 64 bits; signed ones also
    take '-' and fit int64.
    """
    i = _skip_space(s, 0)
    neg = False
    if i < len(s) and (s[i] == 0x2b or (signed and s[i] == 0x2d)):
        neg = s[i] == 0x2d
        i += 1
    r, value, i = _digits(s, i)
    if r < 0:
        return r, 0
    if _skip_space(s, i) != len(s):
        return -errno.EINVAL, 0
    if signed and value > (_INT64_MAX + 1 if neg else _INT64_MAX):
        return -errno.ERANGE, 0
    return 0, -value if neg else value


def _parse_u64(s: bytes) -> Tuple[int, int]:
    return _parse_int(s, signed=False)


def _parse_i64(s: bytes) -> Tuple[int, int]:
    return _parse_int(s, signed=True)


def _only_space_after(s: bytes, i: int) -> bool:
    return _skip_space(s, i) == len(s)


def _parse_limit(s: bytes) -> Tuple[int, int]:
    """sku_parse_limit: -1 for "max", "-1", >= INT64_MAX - 65535, > 64 bits."""
    i = _skip_space(s, 0)
    if s.startswith(b'max', i) and _only_space_after(s, i + 3):
        return 0, -1
    if s.startswith(b'-1', i) and _only_space_after(s, i + 2):
        return 0, -1
    r, value = _parse_u64(s[i:])
    if r == -errno.ERANGE:
        return 0, -1
    if r < 0:
        return r, 0
    return 0, -1 if value >= _UNLIMITED_MIN else value


def _parse_cpu_max(s: bytes) -> Tuple[int, int, int]:
    """sku_parse_cpu_max: (r, quota or -1, period)."""
    quota, period = -1, 100000
    i = _skip_space(s, 0)
    if s.startswith(b'max', i) and (i + 3 == len(s) or s[i + 3] in _SPACE):
        i += 3
    else:
        r, value, i = _digits(s, i)
        if r < 0 or value == 0 or value > _INT64_MAX:
            return -errno.EINVAL, 0, 0
        quota = value
    if i < len(s) and s[i] not in _SPACE:
        return -errno.EINVAL, 0, 0
    i = _skip_space(s, i)
    if i < len(s):
        r, value, i = _digits(s, i)
        if r < 0 or value == 0 or value > _INT64_MAX:
            return -errno.EINVAL, 0, 0
        period = value
        if not _only_space_after(s, i):
            return -errno.EINVAL, 0, 0
    return 0, quota, period


def _kv_find_u64(text: bytes, key: bytes) -> Tuple[int, int]:
    """sku_kv_find_u64: the number after "key" (then ' ', tab or ':')."""
    klen = len(key)
    for line in _cstr(text).split(b'\n'):
        if (len(line) > klen and line.startswith(key) and
                line[klen] in b' \t:'):
            i = klen + (line[klen] == 0x3a)
            while i < len(line) and line[i] in b' \t':
                i += 1
            r, value, i = _digits(line, i)
            if r < 0:
                return r, 0
            if i < len(line) and line[i] not in _SPACE:
                return -errno.EINVAL, 0
            return 0, value
    return -errno.ENOENT, 0


def _rlimit_field(line: bytes, i: int) -> Tuple[int, int, int]:
    while i < len(line) and line[i] in b' \t':
        i += 1
    if line.startswith(b'unlimited', i):
        return 0, -1, i + 9
    r, value, i = _digits(line, i)
    if r == -errno.ERANGE:
        return 0, -1, i
    if r < 0:
        return -errno.EINVAL, 0, i
    return 0, -1 if value > _INT64_MAX else value, i


def _limits_find(text: bytes, name: bytes) -> Tuple[int, int, int]:
    """sku_limits_find: (r, soft, hard) of a /proc/<pid>/limits line."""
    nlen = len(name)
    for line in _cstr(text).split(b'\n'):
        if (len(line) > nlen and line.startswith(name) and
                line[nlen] in b' \t'):
            r, soft, i = _rlimit_field(line, nlen)
            if r == 0:
                r, hard, i = _rlimit_field(line, i)
            if r < 0:
                return -errno.EINVAL, -1, -1
            return 0, soft, hard
    return -errno.ENOENT, -1, -1


# -------------------------------------------------- CPU lists (cpulist.c)


def _cpu_number(s: bytes, i: int) -> Tuple[int, int, int]:
    j = i
    value = 0
    while j < len(s) and 0x30 <= s[j] <= 0x39:
        value = value * 10 + s[j] - 0x30
        if value >= _CPU_MAX:
            return -errno.EINVAL, 0, j
        j += 1
    if j == i:
        return -errno.EINVAL, 0, i
    return 0, value, j


def _cpulist_count(s: bytes) -> Tuple[int, int]:
    """sku_cpulist_count: (0, n), -ENODATA for an empty list, -EINVAL."""
    i = _skip_space(s, 0)
    if i == len(s):
        return -errno.ENODATA, 0
    count = 0
    while True:
        r, low, i = _cpu_number(s, i)
        if r < 0:
            return -errno.EINVAL, 0
        high = low
        if i < len(s) and s[i] == 0x2d:  # '-'
            r, high, i = _cpu_number(s, i + 1)
            if r < 0 or high < low:
                return -errno.EINVAL, 0
        count += high - low + 1
        if count > _CPU_MAX:
            return -errno.EINVAL, 0
        if i >= len(s) or s[i] != 0x2c:  # ','
            break
        i += 1
    if not _only_space_after(s, i):
        return -errno.EINVAL, 0
    return 0, count


# ------------------------------------------------ mountinfo (mountinfo.c)


class Mount(NamedTuple):
    root: bytes   # unescaped mount root inside the hierarchy
    point: bytes  # unescaped mount point
    v2: bool
    ctrls: int    # v1: bits of _CTRLS in the super options


class Mounts(NamedTuple):
    mounts: List[Mount]
    have_v1: bool  # some v1 hierarchy with a controller (not only name=)
    have_v2: bool
    bad: int       # malformed cgroup lines


def _ctrl_bit(name: bytes) -> int:
    for c, ctrl in enumerate(_CTRLS):
        if name == ctrl.encode():
            return 1 << c
    return 0


def _unescape(field: bytes) -> bytes:
    """sku_unescape_octal: \\NNN with a value of 1 to 255 is one byte."""
    if b'\\' not in field:
        return field
    out = bytearray()
    i, n = 0, len(field)
    while i < n:
        if (field[i] == 0x5c and i + 3 < n and
                all(0x30 <= field[i + k] <= 0x37 for k in (1, 2, 3))):
            value = ((field[i + 1] - 0x30) * 64 + (field[i + 2] - 0x30) * 8 +
                     field[i + 3] - 0x30)
            if 0 < value < 256:
                out.append(value)
                i += 4
                continue
        out.append(field[i])
        i += 1
    return bytes(out)


def _has_dotdot(path: bytes) -> bool:
    return b'..' in path.split(b'/')


def parse_mountinfo(text: bytes) -> Mounts:
    """The cgroup and cgroup2 mounts of a mountinfo file, in order."""
    mounts: List[Mount] = []
    have_v1 = have_v2 = False
    bad = 0
    for line in text.split(b'\n'):
        if b' - cgroup' not in line:
            continue  # the C code's cheap filter: only these are split
        fields = [f for f in line.split(b' ') if f]
        if len(fields) < 5:
            bad += 1
            continue
        try:
            sep = fields.index(b'-', 5)
        except ValueError:
            bad += 1
            continue
        if len(fields) < sep + 3:  # FSTYPE SOURCE
            bad += 1
            continue
        fstype = fields[sep + 1]
        options = fields[sep + 3] if len(fields) > sep + 3 else b''
        if fstype == b'cgroup2':
            v2 = True
        elif fstype == b'cgroup':
            v2 = False
        else:
            continue
        ctrls = 0
        for option in options.split(b','):
            ctrls |= _ctrl_bit(option)
        if v2:
            have_v2 = True
        elif ctrls or any(o in _OTHER_V1 for o in options.split(b',')):
            have_v1 = True
        if len(mounts) >= _MOUNTS_MAX:
            bad += 1
            continue
        point = _unescape(fields[4])
        # Only a --sysroot fixture can hold a relative or ".." mount point;
        # it would let the joined paths escape the sysroot.
        if not point.startswith(b'/') or _has_dotdot(point):
            bad += 1
            continue
        mounts.append(Mount(_unescape(fields[3]), point, v2,
                            0 if v2 else ctrls))
    return Mounts(mounts, have_v1, have_v2, bad)


# ------------------------------- /proc/<pid>/cgroup and paths (cgroup_path.c)


class ProcCgroups(NamedTuple):
    v1: List[Optional[bytes]]  # the path per controller of _CTRLS
    v2: Optional[bytes]        # the "0::" path
    any_v1: bool               # some v1 line other than name=


def parse_proc_cgroup(text: bytes) -> ProcCgroups:
    """ID:CONTROLLERS:PATH per line, split at the first two colons only
    (paths may contain colons); the first line for a controller wins."""
    v1: List[Optional[bytes]] = [None] * len(_CTRLS)
    v2: Optional[bytes] = None
    any_v1 = False
    for line in text.split(b'\n'):
        c1 = line.find(b':')
        if c1 < 0:
            continue
        c2 = line.find(b':', c1 + 1)
        if c2 < 0:
            continue
        ctrls, path = line[c1 + 1:c2], line[c2 + 1:]
        if not path.startswith(b'/'):
            continue
        if not ctrls:
            if line[:c1] == b'0' and v2 is None:
                v2 = path
            continue
        for name in ctrls.split(b','):
            if name and not (len(name) > 5 and name.startswith(b'name=')):
                any_v1 = True
            bit = _ctrl_bit(name)
            if bit:
                c = bit.bit_length() - 1
                if v1[c] is None:
                    v1[c] = path
    return ProcCgroups(v1, v2, any_v1)


def _path_under(path: bytes, root: bytes) -> bool:
    if root == b'/':
        return True
    return path.startswith(root) and (len(path) == len(root) or
                                      path[len(root)] == 0x2f)


def _mount_score(mount: Mount, path: Optional[bytes]) -> int:
    score = 0
    if path is not None and _path_under(path, mount.root):
        score += 4
    point = mount.point
    if point.startswith(b'/sys/fs/cgroup') and (len(point) == 14 or
                                                 point[14] == 0x2f):
        score += 2
    return score


def _pick(mounts: Mounts, v2: bool, bit: int,
          path: Optional[bytes]) -> Optional[Mount]:
    """Root containing the path +4, under /sys/fs/cgroup +2; ties: first."""
    best, best_score = None, -1
    for mount in mounts.mounts:
        if mount.v2 != v2 or (not v2 and not mount.ctrls & bit):
            continue
        score = _mount_score(mount, path)
        if score > best_score:
            best, best_score = mount, score
    return best


class Location(NamedTuple):
    v2: bool
    uncertain: bool  # the path could not be translated exactly
    dir: bytes       # absolute leaf directory under the sysroot
    mount_len: int   # length of the mount point prefix of dir
    path: bytes      # the process's cgroup path in that hierarchy


def _join(sysroot: bytes, point: bytes,
          rel: Optional[bytes]) -> Tuple[int, bytes, int]:
    point = point.rstrip(b'/')
    directory = sysroot + point
    if len(directory) >= _PATH_MAX:
        return -errno.ENAMETOOLONG, b'', 0
    mount_len = len(directory)
    if rel and rel != b'/':
        rel = rel.rstrip(b'/')
        if mount_len + len(rel) >= _PATH_MAX:
            return -errno.ENAMETOOLONG, b'', 0
        directory += rel
    return 0, directory, mount_len


def _is_dir(path: bytes) -> bool:
    return os.path.isdir(path)


def _translate(sysroot: bytes, mount: Mount,
               path: bytes) -> Tuple[int, Optional[Location]]:
    if len(path) >= _PATH_MAX:
        return -errno.ENAMETOOLONG, None
    if not _has_dotdot(path) and _path_under(path, mount.root):
        rel = path if mount.root == b'/' else path[len(mount.root):]
        r, directory, mount_len = _join(sysroot, mount.point, rel)
        if r < 0:
            return r, None
        if _is_dir(directory):
            return 0, Location(mount.v2, False, directory, mount_len, path)
    # Outside the mount root (a cgroup namespace that does not match the
    # mount, a moved container): like the JDK, try ever shorter suffixes
    # of the path below the mount point, then the mount point itself.
    if not _has_dotdot(path):
        start = 0
        while start >= 0 and start < len(path):
            suffix = path[start:]
            if suffix == b'/':
                break
            r, directory, mount_len = _join(sysroot, mount.point, suffix)
            if r < 0:
                return r, None
            if _is_dir(directory):
                return 0, Location(mount.v2, True, directory, mount_len, path)
            start = path.find(b'/', start + 1)
    r, directory, mount_len = _join(sysroot, mount.point, None)
    if r < 0:
        return r, None
    return 0, Location(mount.v2, True, directory, mount_len, path)


def locate(sysroot: bytes, mounts: Mounts, pc: ProcCgroups, c: int,
           v2_ctrls: int) -> Tuple[int, Optional[Location]]:
    """sku_ctrl_locate: where controller c's files are for the process."""
    mount = path = None
    if pc.v1[c] is not None:
        path = pc.v1[c]
        mount = _pick(mounts, False, 1 << c, path)
    if mount is None and pc.v2 is not None and v2_ctrls & (1 << c):
        path = pc.v2
        mount = _pick(mounts, True, 0, path)
    if mount is None:
        return -errno.ENOENT, None
    return _translate(sysroot, mount, path)


# ------------------------------------------------ gathering (facts_linux.c)


class _Warnings:
    """At most 8, each cut to 199 bytes, then "more warnings were dropped"."""

    def __init__(self) -> None:
        self.text: List[str] = []
        self.truncated = False

    def add(self, message: str) -> None:
        if len(self.text) >= _MAX_WARNINGS:
            self.truncated = True
            return
        raw = os.fsencode(message)
        if len(raw) >= _WARNING_LEN:
            message = os.fsdecode(raw[:_WARNING_LEN - 1])
        self.text.append(message)


def _strerror(r: int) -> str:
    return os.strerror(-r)


def _unparsable_or(r: int) -> str:
    if r in (-errno.EINVAL, -errno.ENODATA):
        return 'unparsable value'
    return _strerror(r)


class _Group:
    """struct sku_group_facts: -1 (or 0 where C keeps 0) means nil."""

    def __init__(self, sysroot: bytes) -> None:
        self.sysroot = sysroot
        self.cgroup_version: Any = None
        self.cgroup_path: Optional[str] = None
        self.quota_us = self.period_us = -1
        self.quota_src = ''
        self.cpuset_cpus = -1
        self.cpuset_src = ''
        self.cpu_shares = -1
        self.cpu_online = 0
        self.mem_total = 0
        self.mem_limit = -1
        self.mem_src = ''
        self.mem_high = -1
        self.mem_used = -1
        self.mem_working_set = -1
        self.pids_limit = -1
        self.pids_src = ''
        self.pids_current = -1
        self.pid_max = self.threads_max = 0
        self.warnings = _Warnings()

    def shown(self, path: bytes) -> str:
        """The path as the process sees it: without the sysroot prefix."""
        n = len(self.sysroot)
        if path.startswith(self.sysroot) and len(path) > n:
            path = path[n:]
        return os.fsdecode(path)

    def source(self, kind: str, directory: bytes) -> str:
        raw = os.fsencode(f'{kind}:{self.shown(directory)}')
        if len(raw) >= _SRC_LEN:  # a very deep path: its start, and "..."
            raw = raw[:_SRC_LEN - 4] + b'...'
        return os.fsdecode(raw)

    def warn_bad(self, directory: bytes, name: str, r: int) -> None:
        if r != -errno.ENOENT:
            self.warnings.add(f'ignored {self.shown(directory)}/{name}: '
                              f'{_unparsable_or(r)}')


def _read_at(directory: bytes, name: str, bufsize: int) -> Tuple[int, bytes]:
    path = directory + b'/' + name.encode()
    if len(path) >= _PATH_MAX + 64:
        return -errno.ENAMETOOLONG, b''
    return _read_small(path, bufsize)


def _level_up(directory: bytes, mount_len: int) -> Optional[bytes]:
    """The parent directory; None once at the mount point."""
    n = len(directory)
    if n <= mount_len:
        return None
    while n > mount_len and directory[n - 1] != 0x2f:
        n -= 1
    n = n - 1 if n > mount_len else mount_len
    return directory[:max(n, mount_len)]


def _levels(loc: Location) -> List[bytes]:
    """The leaf, then each parent up to and including the mount point."""
    levels = []
    directory: Optional[bytes] = loc.dir
    while directory is not None and len(levels) < _MAX_DEPTH:
        levels.append(directory)
        directory = _level_up(directory, loc.mount_len)
    return levels


def _walk_cpu(g: _Group, loc: Location) -> None:
    kind = 'cgroup2' if loc.v2 else 'cgroup1'
    r, buf = _read_at(loc.dir, 'cpu.weight' if loc.v2 else 'cpu.shares',
                      _VALUE_BUF)
    if r == 0:
        r, value = _parse_i64(buf)
        if r == 0 and value > 0:
            g.cpu_shares = value
    for directory in _levels(loc):
        quota = period = -1
        if loc.v2:
            r, buf = _read_at(directory, 'cpu.max', _VALUE_BUF)
            if r == 0:
                r, quota, period = _parse_cpu_max(buf)
            if r < 0:
                g.warn_bad(directory, 'cpu.max', r)
        else:
            r, buf = _read_at(directory, 'cpu.cfs_quota_us', _VALUE_BUF)
            if r == 0:
                r, quota = _parse_i64(buf)
                if r == -errno.ERANGE and not buf.startswith(b'-'):
                    quota, r = -1, 0  # beyond 64 bits: no limit
                elif r == 0 and quota == 0:
                    r = -errno.EINVAL
                elif r == 0 and quota < 0:
                    quota = -1
            if r < 0:
                g.warn_bad(directory, 'cpu.cfs_quota_us', r)
            if r == 0 and quota > 0:
                r, buf = _read_at(directory, 'cpu.cfs_period_us', _VALUE_BUF)
                if r == 0:
                    r2, period = _parse_i64(buf)
                    if r2 < 0 or period <= 0:
                        r = -errno.EINVAL
                if r < 0:
                    g.warn_bad(directory, 'cpu.cfs_period_us',
                               -errno.EINVAL if r == -errno.ENOENT else r)
                    quota = -1
        # As the C code: compared as doubles.
        if r == 0 and quota > 0 and (
                g.quota_us < 0 or float(quota) / float(period) <
                float(g.quota_us) / float(g.period_us)):
            g.quota_us, g.period_us = quota, period
            g.quota_src = g.source(kind, directory)


def _walk_cpuset(g: _Group, loc: Location) -> None:
    names = (('cpuset.cpus.effective',) if loc.v2 else
             ('cpuset.effective_cpus', 'cpuset.cpus'))
    for directory in _levels(loc):
        for name in names:
            r, buf = _read_at(directory, name, _CPULIST_BUF)
            count = 0
            if r == 0:
                r, count = _cpulist_count(buf)
            if r in (-errno.ENOENT, -errno.ENODATA):
                continue  # a new v1 cpuset, or a level without the file
            if r < 0:
                g.warn_bad(directory, name, r)
                continue
            if g.cpuset_cpus < 0 or count < g.cpuset_cpus:
                g.cpuset_cpus = count
                g.cpuset_src = g.source('cpuset', directory)
            break


def _walk_min(g: _Group, loc: Location, name: str) -> Tuple[int, bytes]:
    """Smallest limit in file name over the walk, and the binding level."""
    best, binding = -1, loc.dir
    for directory in _levels(loc):
        r, buf = _read_at(directory, name, _VALUE_BUF)
        value = -1
        if r == 0:
            r, value = _parse_limit(buf)
        if r < 0:
            g.warn_bad(directory, name, r)
        elif value >= 0 and (best < 0 or value < best):
            best, binding = value, directory
    return best, binding


def _read_count_at(directory: bytes, name: str) -> int:
    r, buf = _read_at(directory, name, _VALUE_BUF)
    if r < 0:
        return -1
    r, value = _parse_u64(buf)
    return -1 if r < 0 or value > _INT64_MAX else value


def _walk_memory(g: _Group, loc: Location) -> None:
    kind = 'cgroup2' if loc.v2 else 'cgroup1'
    g.mem_limit, binding = _walk_min(
        g, loc, 'memory.max' if loc.v2 else 'memory.limit_in_bytes')
    if g.mem_limit >= 0:
        g.mem_src = g.source(kind, binding)
    if loc.v2:
        g.mem_high, _ = _walk_min(g, loc, 'memory.high')
    else:
        # v1 with use_hierarchy: ancestors above a namespaced mount root
        # still bind.
        r, text = _read_file(loc.dir + b'/memory.stat', _FILE_CAP)
        if r == 0:
            r, value = _kv_find_u64(text, b'hierarchical_memory_limit')
            if (r == 0 and value < _UNLIMITED_MIN and
                    (g.mem_limit < 0 or value < g.mem_limit)):
                g.mem_limit, binding = value, loc.dir
                g.mem_src = g.source('cgroup1-hierarchical', loc.dir)
    g.mem_used = _read_count_at(
        binding, 'memory.current' if loc.v2 else 'memory.usage_in_bytes')
    if g.mem_used < 0:
        return
    g.mem_working_set = g.mem_used
    r, text = _read_file(binding + b'/memory.stat', _FILE_CAP)
    if r == 0:
        r, value = _kv_find_u64(
            text, b'inactive_file' if loc.v2 else b'total_inactive_file')
        if r == 0:
            g.mem_working_set = (0 if value >= g.mem_used else
                                 g.mem_used - value)


def _walk_pids(g: _Group, loc: Location) -> None:
    g.pids_limit, binding = _walk_min(g, loc, 'pids.max')
    if g.pids_limit >= 0:
        g.pids_src = g.source('cgroup2' if loc.v2 else 'cgroup1', binding)
    g.pids_current = _read_count_at(binding, 'pids.current')


def _read_sysctl(g: _Group, name: str) -> int:
    r, buf = _read_small(g.sysroot + b'/proc/sys/kernel/' + name.encode(),
                         _VALUE_BUF)
    value = 0
    if r == 0:
        r2, value = _parse_i64(buf)
        if r2 < 0 or value <= 0:
            r = -errno.EINVAL
    if r < 0:
        g.warnings.add(f'cannot read kernel.{name}: '
                       f'{"unparsable value" if r == -errno.EINVAL else _strerror(r)}')
        return 0
    return value


def _read_host(g: _Group) -> None:
    r, buf = _read_small(g.sysroot + b'/sys/devices/system/cpu/online',
                         _HOST_BUF)
    if r == 0:
        r, count = _cpulist_count(buf)
    if r == 0:
        g.cpu_online = count
    else:
        online = os.sysconf('SC_NPROCESSORS_ONLN')
        g.cpu_online = online if online > 0 else 1
        g.warnings.add('cannot read online CPUs '
                       f'({"unparsable" if r == -errno.EINVAL else _strerror(r)})'
                       '; using sysconf')
    r, text = _read_file(g.sysroot + b'/proc/meminfo', _FILE_CAP)
    kb = 0
    if r == 0:
        r, kb = _kv_find_u64(text, b'MemTotal:')
        if r == -errno.ENOENT:
            r, kb = _kv_find_u64(text, b'MemTotal')
        if r == 0 and (kb == 0 or kb > _INT64_MAX // 1024):
            r = -errno.EINVAL
    if r == 0:
        g.mem_total = kb * 1024
    else:
        pages, size = os.sysconf('SC_PHYS_PAGES'), os.sysconf('SC_PAGE_SIZE')
        g.mem_total = pages * size if pages > 0 and size > 0 else 0
        why = ('unparsable' if r in (-errno.EINVAL, -errno.ENOENT) else
               _strerror(r))
        g.warnings.add(f'cannot read MemTotal ({why}); using sysconf')
    g.pid_max = _read_sysctl(g, 'pid_max')
    g.threads_max = _read_sysctl(g, 'threads-max')


def _v2_controllers(g: _Group, mounts: Mounts, mount: Optional[Mount]) -> int:
    """Controllers enabled at the cgroup2 mount (cgroup.controllers)."""
    if mount is None:
        return 0
    path = g.sysroot + mount.point + b'/cgroup.controllers'
    if len(path) >= _PATH_MAX:
        return 0
    r, buf = _read_small(path, _CONTROLLERS_BUF)
    if r < 0:
        # cgroup.controllers exists since 4.5; without it only a pure v2
        # tree is certain.
        return 0 if mounts.have_v1 else _ALL_CTRLS
    bits = 0
    for name in _TOKEN_SEP.split(buf):
        bits |= _ctrl_bit(name)
    return bits


def read_group(g: _Group, key: bytes) -> None:
    """sku_facts_read_group: the facts of the cgroups named by ``key``."""
    _read_host(g)
    if not key:
        g.warnings.add('no cgroup membership (/proc/PID/cgroup unreadable)')
        return
    r, text = _read_file(g.sysroot + b'/proc/self/mountinfo', _MOUNTINFO_CAP)
    if r < 0:
        g.warnings.add(f'cannot read /proc/self/mountinfo: {_strerror(r)}')
        mounts = Mounts([], False, False, 0)
    else:
        mounts = parse_mountinfo(text)
        if mounts.bad:
            g.warnings.add(f'skipped {mounts.bad} malformed cgroup lines in '
                           'mountinfo')
    pc = parse_proc_cgroup(key)
    v1side = pc.any_v1 and mounts.have_v1
    v2side = pc.v2 is not None and mounts.have_v2
    g.cgroup_version = ('hybrid' if v1side and v2side else
                        1 if v1side else 2 if v2side else None)
    if g.cgroup_version is None:
        g.warnings.add("none of the process's cgroup hierarchies is mounted")
    v2_ctrls = (_v2_controllers(g, mounts, _pick(mounts, True, 0, pc.v2))
                if pc.v2 is not None else 0)
    locs: List[Optional[Location]] = []
    for c, name in enumerate(_CTRLS):
        r, loc = locate(g.sysroot, mounts, pc, c, v2_ctrls)
        if r == -errno.ENAMETOOLONG:
            g.warnings.add(f'{name} cgroup path too long')
        if r == 0 and loc.uncertain:
            g.warnings.add(f'{name}: cgroup {os.fsdecode(loc.path)} is '
                           f'outside the mount; read at {g.shown(loc.dir)}')
        locs.append(loc if r == 0 else None)
    cpu, cpuset, memory, pids = locs
    path = (cpu.path if cpu else memory.path if memory else pc.v2)
    if path is not None:
        g.cgroup_path = os.fsdecode(path)
    if cpu:
        _walk_cpu(g, cpu)
    if cpuset:
        _walk_cpuset(g, cpuset)
    if memory:
        _walk_memory(g, memory)
    if pids:
        _walk_pids(g, pids)


# ------------------------------------ per process (facts_proc_linux.c)


class _Proc(NamedTuple):
    pid: int
    nofile_soft: int
    nofile_hard: int
    affinity: int
    warnings: _Warnings
    key: bytes  # /proc/<pid>/cgroup, the cgroup cache key


def _status_field(text: bytes, name: bytes) -> Optional[bytes]:
    for line in _cstr(text).split(b'\n'):
        if line.startswith(name) and line[len(name):len(name) + 1] == b':':
            return line[len(name) + 1:]
    return None


def _rlimit(value: int) -> int:
    return -1 if value < 0 or value > _INT64_MAX else value


def read_proc(sysroot: bytes, pid: int, pid_dir: bytes,
              affinity: Optional[int]) -> _Proc:
    """sku_facts_read_proc; raises ``NoSuchProcess`` without /proc/<pid>."""
    real = not sysroot
    warnings = _Warnings()
    r, key = _read_file(sysroot + pid_dir + b'/cgroup', _FILE_CAP)
    if r < 0:
        if not _is_dir(sysroot + pid_dir):
            raise errors.NoSuchProcess(f'no process {pid}')
        key = b''
    soft = hard = -1
    done = False
    if real:
        try:
            import resource  # pylint: disable=import-outside-toplevel
            if pid == os.getpid():
                limits = resource.getrlimit(resource.RLIMIT_NOFILE)
            else:
                limits = resource.prlimit(pid, resource.RLIMIT_NOFILE)
            soft, hard = (_rlimit(v) if v != resource.RLIM_INFINITY else -1
                          for v in limits)
            done = True
        except (OSError, ValueError):
            pass
    if not done:
        r, text = _read_file(sysroot + pid_dir + b'/limits', _FILE_CAP)
        if r == 0:
            r, soft, hard = _limits_find(text, b'Max open files')
        if r < 0:
            soft = hard = -1
            why = ('unparsable' if r in (-errno.EINVAL, -errno.ENOENT) else
                   _strerror(r))
            warnings.add(f'nofile unknown: /proc/{pid}/limits {why}')
    count = -1
    if affinity is not None:
        count = affinity
    else:
        done = False
        if real:
            try:
                count = len(os.sched_getaffinity(
                    0 if pid == os.getpid() else pid))
                done = True
            except OSError:
                pass
        if not done:
            r, text = _read_file(sysroot + pid_dir + b'/status', _FILE_CAP)
            if r == 0:
                cpus = _status_field(text, b'Cpus_allowed_list')
                r, n = (_cpulist_count(cpus) if cpus is not None else
                        (-errno.ENOENT, 0))
                if r == 0:
                    count = n
            if r < 0:
                why = ('unparsable' if r in (-errno.EINVAL, -errno.ENOENT,
                                              -errno.ENODATA) else
                       _strerror(r))
                warnings.add(f'affinity unknown: /proc/{pid}/status {why}')
    return _Proc(pid, soft, hard, count, warnings, key)


# ------------------------------------ derived values and map (facts_calc.c)


def _opt(value: int) -> Optional[int]:
    return None if value < 0 else value


def facts_map(g: _Group, p: _Proc, generation: int = 0) -> Dict[str, Any]:
    """sku_facts_derive + sku_facts_pack: the facts.get map."""
    base_src = 'online'
    base = g.cpu_online if g.cpu_online > 0 else 1
    if 0 < p.affinity < base:
        base, base_src = p.affinity, 'affinity'
    if 0 < g.cpuset_cpus < base:
        base, base_src = g.cpuset_cpus, g.cpuset_src
    cpu_count = cpu_count_floor = base
    cpu_src = base_src
    cpu_quota = None
    if g.quota_us > 0 and g.period_us > 0:
        floor = g.quota_us // g.period_us
        # an integer ceiling: a float quotient loses the remainder
        ceil = floor + (g.quota_us % g.period_us != 0)
        cpu_quota = float(g.quota_us) / float(g.period_us)
        if ceil <= base:
            cpu_count = max(1, ceil)
            cpu_src = g.quota_src
        if floor < base:
            cpu_count_floor = max(1, floor)
    mem_effective, mem_src = g.mem_total, 'meminfo'
    if g.mem_limit >= 0 and (g.mem_total <= 0 or g.mem_limit < g.mem_total):
        mem_effective, mem_src = g.mem_limit, g.mem_src
    warnings = g.warnings.text + p.warnings.text
    if g.warnings.truncated or p.warnings.truncated:
        warnings.append('more warnings were dropped')
    return {
        'pid': p.pid,
        'cpu_count': cpu_count,
        'cpu_count_floor': cpu_count_floor,
        'cpu_quota': cpu_quota,
        'cpu_online': g.cpu_online,
        # without a readable mask the process may run anywhere online
        'cpu_affinity': p.affinity if p.affinity > 0 else g.cpu_online,
        'cpuset_cpus': _opt(g.cpuset_cpus),
        'cpu_shares': _opt(g.cpu_shares),
        'mem_total_bytes': g.mem_total,
        'mem_limit_bytes': _opt(g.mem_limit),
        'mem_high_bytes': _opt(g.mem_high),
        'mem_effective_bytes': mem_effective,
        'mem_used_bytes': _opt(g.mem_used),
        'mem_working_set_bytes': _opt(g.mem_working_set),
        'pids_limit': _opt(g.pids_limit),
        'pids_current': _opt(g.pids_current),
        'pid_max': g.pid_max,
        'threads_max': g.threads_max,
        'nofile_soft': _opt(p.nofile_soft),
        'nofile_hard': _opt(p.nofile_hard),
        'cgroup_version': g.cgroup_version,
        'cgroup_path': g.cgroup_path,
        'generation': generation,
        'source': {'cpu': cpu_src, 'memory': mem_src,
                   'pids': g.pids_src if g.pids_limit >= 0 else 'kernel'},
        'warnings': warnings,
    }


def compute_facts(root: str = '/', affinity: Optional[int] = None,
                  pid: Optional[int] = None) -> Dict[str, Any]:
    """The ``facts.get`` map of a process, computed locally.

    ``root`` is a sysroot holding ``proc/<pid>/{cgroup,status,limits}``,
    ``proc/self/mountinfo`` (the reader's mount table, as for skyutild
    ``--sysroot``), ``proc/meminfo``, ``proc/sys/kernel/*``,
    ``sys/devices/system/cpu/online`` and the cgroup trees.  ``pid``
    defaults to this process (``proc/self`` under a fake root).  With the
    real root, affinity and rlimits come from the kernel; otherwise from
    the fake ``status`` and ``limits`` files, or ``affinity`` when given.
    Raises ``skyutil.errors.NoSuchProcess`` (NO_SUCH_PROCESS) when the
    process has no /proc directory.
    """
    sysroot = b'' if root in ('/', b'/', '') else os.fsencode(root)
    if pid is None:
        number = os.getpid()
        pid_dir = b'/proc/%d' % number if not sysroot else b'/proc/self'
    else:
        if pid <= 0:
            raise errors.NoSuchProcess(f'no process {pid}')
        number, pid_dir = pid, b'/proc/%d' % pid
    proc = read_proc(sysroot, number, pid_dir, affinity)
    group = _Group(sysroot)
    read_group(group, proc.key)
    return facts_map(group, proc)
