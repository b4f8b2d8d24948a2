"""The pure-Python cgroup algorithm against fake sysroots.

Fixtures follow shared/research/cgroup-anchors.md section 3 (numbers kept):
host of 16 online CPUs, affinity 0-15, MemTotal 64 GiB.  Every tree is also
answered by the C gathering (facts-dump, when built), and the two maps must
be equal: the fallback is a port of daemon/facts, not a look-alike.
"""

import os
import shutil

import pytest

import facts_oracle
from skyutil import _facts_py

# facts-dump reads /proc/<pid>; the trees here are written for proc/self.
_ORACLE_PID = 100

GIB = 1024**3
MIB = 1024**2
MI2 = ('30 25 0:27 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime - '
       'cgroup2 cgroup2 rw,nsdelegate')


def mi1(controllers, mount_id=35, root='/'):
    return (f'{mount_id} 25 0:{mount_id} {root} /sys/fs/cgroup/{controllers} '
            f'rw,nosuid - cgroup cgroup rw,{controllers}')


class Tree:
    """A fake sysroot: /proc files plus cgroup directories."""

    def __init__(self, root, cgroup, mountinfo, affinity='0-15',
                 online='0-15', controllers='cpuset cpu io memory pids'):
        self.root = root
        if cgroup is not None:
            self.write('proc/self/cgroup', '\n'.join(cgroup) + '\n')
        self.write('proc/self/mountinfo', '\n'.join(mountinfo) + '\n')
        self.write('proc/self/status',
                   f'Name:\tpython3\nCpus_allowed_list:\t{affinity}\n')
        self.write('proc/self/limits',
                   'Limit                     Soft Limit           Hard Limit'
                   '           Units\nMax open files            1024       '
                   '          524288               files\n')
        self.write('proc/meminfo', 'MemTotal:       67108864 kB\n')
        self.write('proc/sys/kernel/pid_max', '4194304\n')
        self.write('proc/sys/kernel/threads-max', '511423\n')
        self.write('sys/devices/system/cpu/online', f'{online}\n')
        if any(' - cgroup2 ' in line for line in mountinfo) and controllers:
            for line in mountinfo:
                if ' - cgroup2 ' in line:
                    mount_point = line.split(' ')[4]
                    self.write(f'{mount_point}/cgroup.controllers',
                               controllers + '\n')

    def write(self, rel, text):
        path = os.path.join(self.root, rel.lstrip('/'))
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, 'w', encoding='utf-8') as f:
            f.write(text)

    def mkdir(self, rel):
        os.makedirs(os.path.join(self.root, rel.lstrip('/')), exist_ok=True)

    def facts(self):
        facts = _facts_py.compute_facts(str(self.root))
        self.check_against_c()
        return facts

    def check_against_c(self):
        """The same tree through the daemon's gathering: an equal map."""
        if facts_oracle.facts_dump() is None:
            return
        mine = os.path.join(self.root, 'proc', str(_ORACLE_PID))
        shutil.rmtree(mine, ignore_errors=True)
        os.makedirs(mine)
        for name in ('cgroup', 'status', 'limits'):
            src = os.path.join(self.root, 'proc', 'self', name)
            if os.path.exists(src):
                shutil.copyfile(src, os.path.join(mine, name))
        c_map = facts_oracle.c_facts(str(self.root), _ORACLE_PID)
        py_map = _facts_py.compute_facts(str(self.root), pid=_ORACLE_PID)
        assert facts_oracle.differences(c_map, py_map) == []


def v2(tmp_path, path='/', **kwargs):
    tree = Tree(tmp_path, [f'0::{path}'], [MI2], **kwargs)
    tree.mkdir(f'/sys/fs/cgroup{path}')
    return tree


# ------------------------------------------------------------------ v2


def test_v2_container(tmp_path):
    tree = v2(tmp_path)
    tree.write('/sys/fs/cgroup/cpu.max', '200000 100000\n')
    tree.write('/sys/fs/cgroup/memory.max', '536870912\n')
    facts = tree.facts()
    assert facts['cpu_quota'] == 2.0
    assert facts['cpu_count'] == 2 and facts['cpu_count_floor'] == 2
    assert facts['mem_limit_bytes'] == 512 * MIB
    assert facts['mem_effective_bytes'] == 512 * MIB
    assert facts['mem_total_bytes'] == 64 * GIB
    assert facts['cgroup_version'] == 2
    assert facts['cgroup_path'] == '/'
    assert facts['source']['cpu'] == 'cgroup2:/sys/fs/cgroup'
    assert facts['warnings'] == []


def test_v2_unlimited(tmp_path):
    tree = v2(tmp_path)
    tree.write('/sys/fs/cgroup/cpu.max', 'max 100000\n')
    tree.write('/sys/fs/cgroup/memory.max', 'max\n')
    facts = tree.facts()
    assert facts['cpu_count'] == 16 and facts['cpu_quota'] is None
    assert facts['mem_limit_bytes'] is None
    assert facts['mem_effective_bytes'] == 64 * GIB


def test_v2_root_cgroup_on_host_has_no_limit_files(tmp_path):
    facts = v2(tmp_path).facts()
    assert facts['cpu_count'] == 16
    assert facts['mem_limit_bytes'] is None
    assert facts['warnings'] == []


@pytest.mark.parametrize('cpu_max,quota', [('50000 100000', 0.5),
                                           ('1000 1000000', 0.001)])
def test_quota_below_one_cpu_counts_one(tmp_path, cpu_max, quota):
    tree = v2(tmp_path)
    tree.write('/sys/fs/cgroup/cpu.max', cpu_max)
    facts = tree.facts()
    assert facts['cpu_quota'] == pytest.approx(quota)
    assert facts['cpu_count'] == 1 and facts['cpu_count_floor'] == 1


def test_fractional_quota_rounds_up(tmp_path):
    tree = v2(tmp_path)
    tree.write('/sys/fs/cgroup/cpu.max', '250000 100000')
    facts = tree.facts()
    assert facts['cpu_quota'] == 2.5
    assert facts['cpu_count'] == 3 and facts['cpu_count_floor'] == 2


def test_parent_tighter_than_leaf(tmp_path):
    tree = v2(tmp_path, '/app/w')
    tree.write('/sys/fs/cgroup/app/cpu.max', '100000 100000')
    tree.write('/sys/fs/cgroup/app/w/cpu.max', 'max 100000')
    tree.write('/sys/fs/cgroup/app/memory.max', str(GIB))
    tree.write('/sys/fs/cgroup/app/w/memory.max', 'max')
    facts = tree.facts()
    assert facts['cpu_count'] == 1
    assert facts['mem_limit_bytes'] == GIB
    assert facts['source']['memory'] == 'cgroup2:/sys/fs/cgroup/app'


def test_leaf_tighter_than_parent(tmp_path):
    tree = v2(tmp_path, '/app/w')
    tree.write('/sys/fs/cgroup/app/cpu.max', '800000 100000')
    tree.write('/sys/fs/cgroup/app/w/cpu.max', '100000 100000')
    assert tree.facts()['cpu_count'] == 1


def test_middle_level_binds_and_usage_is_read_there(tmp_path):
    tree = v2(tmp_path, '/a/b/c')
    tree.write('/sys/fs/cgroup/a/memory.max', str(4 * GIB))
    tree.write('/sys/fs/cgroup/a/b/memory.max', str(GIB))
    tree.write('/sys/fs/cgroup/a/b/c/memory.max', 'max')
    tree.write('/sys/fs/cgroup/a/b/memory.current', str(300 * MIB))
    tree.write('/sys/fs/cgroup/a/b/c/memory.current', str(5 * MIB))
    facts = tree.facts()
    assert facts['mem_limit_bytes'] == GIB
    assert facts['mem_used_bytes'] == 300 * MIB


def test_mount_root_is_the_container_cgroup(tmp_path):
    tree = Tree(tmp_path, ['0::/kubepods/p1/c'], [
        '30 25 0:27 /kubepods/p1/c /sys/fs/cgroup ro - cgroup2 cgroup2 rw'])
    tree.write('/sys/fs/cgroup/cpu.max', '100000 100000')
    facts = tree.facts()
    assert facts['cpu_count'] == 1
    assert facts['cgroup_path'] == '/kubepods/p1/c'


def test_path_outside_namespace_root_reads_mount_point(tmp_path):
    tree = v2(tmp_path, '/../sib')
    tree.write('/sys/fs/cgroup/cpu.max', '300000 100000')
    facts = tree.facts()
    assert facts['cpu_count'] == 3
    assert any('outside the mount' in w for w in facts['warnings'])


# ------------------------------------------------------------------ v1


def docker_v1(tmp_path, path='/docker/abc', root='/docker/abc'):
    return Tree(tmp_path, [
        f'4:cpu,cpuacct:{path}', f'9:memory:{path}', f'3:cpuset:{path}'
    ], [mi1('cpu,cpuacct', 33, root), mi1('memory', 34, root),
        mi1('cpuset', 35, root)])


def test_v1_cgroupns_host_docker(tmp_path):
    tree = docker_v1(tmp_path)
    tree.write('/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us', '150000')
    tree.write('/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us', '100000')
    tree.write('/sys/fs/cgroup/memory/memory.limit_in_bytes', '268435456')
    facts = tree.facts()
    assert facts['cpu_quota'] == 1.5 and facts['cpu_count'] == 2
    assert facts['mem_limit_bytes'] == 256 * MIB
    assert facts['cgroup_version'] == 1


def test_v1_host_sentinels_mean_unlimited(tmp_path):
    tree = Tree(tmp_path, ['4:cpu,cpuacct:/user.slice', '9:memory:/user.slice'],
                [mi1('cpu,cpuacct', 33), mi1('memory', 34)])
    tree.write('/sys/fs/cgroup/cpu,cpuacct/user.slice/cpu.cfs_quota_us', '-1')
    tree.write('/sys/fs/cgroup/cpu,cpuacct/user.slice/cpu.cfs_period_us',
               '100000')
    tree.write('/sys/fs/cgroup/memory/user.slice/memory.limit_in_bytes',
               '9223372036854771712')
    facts = tree.facts()
    assert facts['cpu_count'] == 16 and facts['cpu_quota'] is None
    assert facts['mem_limit_bytes'] is None


def test_v1_subgroup_walks_up_to_the_mount(tmp_path):
    tree = docker_v1(tmp_path, path='/docker/abc/sub')
    base = '/sys/fs/cgroup/cpu,cpuacct'
    tree.write(f'{base}/sub/cpu.cfs_quota_us', '-1')
    tree.write(f'{base}/sub/cpu.cfs_period_us', '100000')
    tree.write(f'{base}/cpu.cfs_quota_us', '100000')
    tree.write(f'{base}/cpu.cfs_period_us', '100000')
    facts = tree.facts()
    assert facts['cpu_count'] == 1


def test_v1_path_outside_root_uses_matching_suffix(tmp_path):
    tree = docker_v1(tmp_path, path='/docker/xyz/sub')
    base = '/sys/fs/cgroup/cpu,cpuacct'
    tree.write(f'{base}/sub/cpu.cfs_quota_us', '200000')
    tree.write(f'{base}/sub/cpu.cfs_period_us', '100000')
    facts = tree.facts()
    assert facts['cpu_count'] == 2
    assert facts['source']['cpu'] == f'cgroup1:{base}/sub'


def test_v1_path_outside_root_without_match_is_uncertain(tmp_path):
    tree = docker_v1(tmp_path, path='/docker/xyz/sub')
    tree.write('/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us', '400000')
    tree.write('/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us', '100000')
    facts = tree.facts()
    assert facts['cpu_count'] == 4
    assert any('outside the mount' in w for w in facts['warnings'])


def test_v1_hierarchical_limit_and_64k_page_sentinel(tmp_path):
    tree = docker_v1(tmp_path)
    mem = '/sys/fs/cgroup/memory'
    tree.write(f'{mem}/memory.limit_in_bytes', '9223372036854771712')
    tree.write(f'{mem}/memory.use_hierarchy', '1')
    tree.write(f'{mem}/memory.stat',
               'cache 0\nhierarchical_memory_limit 2147483648\n')
    assert tree.facts()['mem_limit_bytes'] == 2 * GIB
    # Without use_hierarchy the kernel reports the group's own limit as the
    # hierarchical one (memcg_get_hierarchical_limit): here a sentinel.
    tree.write(f'{mem}/memory.limit_in_bytes', '9223372036854710272')
    tree.write(f'{mem}/memory.use_hierarchy', '0')
    tree.write(f'{mem}/memory.stat',
               'cache 0\nhierarchical_memory_limit 9223372036854710272\n')
    assert tree.facts()['mem_limit_bytes'] is None


def test_hybrid_uses_v1_controllers(tmp_path):
    lines = ['12:pids:/user.slice/u', '11:memory:/user.slice/u',
             '10:cpu,cpuacct:/user.slice/u', '9:cpuset:/',
             '8:freezer:/', '7:devices:/user.slice', '6:blkio:/user.slice',
             '5:net_cls,net_prio:/', '4:perf_event:/', '3:hugetlb:/',
             '2:rdma:/', '1:name=systemd:/user.slice/u', '0::/user.slice/u']
    mounts = ['25 20 0:20 / /sys/fs/cgroup ro - tmpfs tmpfs ro,mode=755',
              '26 25 0:21 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw',
              mi1('cpu,cpuacct', 33), mi1('memory', 34), mi1('cpuset', 35),
              mi1('pids', 36)]
    tree = Tree(tmp_path, lines, mounts, controllers='')
    tree.write('/sys/fs/cgroup/unified/cgroup.controllers', '\n')
    base = '/sys/fs/cgroup/cpu,cpuacct/user.slice/u'
    tree.write(f'{base}/cpu.cfs_quota_us', '300000')
    tree.write(f'{base}/cpu.cfs_period_us', '100000')
    tree.write('/sys/fs/cgroup/unified/user.slice/u/cpu.max', '100000 100000')
    facts = tree.facts()
    assert facts['cpu_count'] == 3
    assert facts['cgroup_version'] == 'hybrid'
    assert facts['source']['cpu'] == f'cgroup1:{base}'


def test_freezer_on_v1_does_not_hide_v2(tmp_path):
    tree = Tree(tmp_path, ['1:freezer:/', '0::/u'], [
        MI2, '911 32 0:47 / /sys/fs/cgroup/freezer rw - cgroup freezer '
        'rw,freezer'])
    tree.write('/sys/fs/cgroup/u/cpu.max', '100000 100000')
    facts = tree.facts()
    assert facts['cpu_count'] == 1
    assert facts['source']['cpu'] == 'cgroup2:/sys/fs/cgroup/u'


def test_joined_v1_controllers_share_a_directory(tmp_path):
    joined = 'cpu,cpuacct,net_cls,net_prio,hugetlb,memory'
    tree = Tree(tmp_path, ['4:cpu,cpuacct,memory,net_cls,net_prio,hugetlb:/s'],
                [f'40 25 0:40 / /sys/fs/cgroup/{joined} rw - cgroup cgroup '
                 'rw,cpu,cpuacct,memory,net_cls,net_prio,hugetlb'])
    base = f'/sys/fs/cgroup/{joined}/s'
    tree.write(f'{base}/cpu.cfs_quota_us', '200000')
    tree.write(f'{base}/cpu.cfs_period_us', '100000')
    tree.write(f'{base}/memory.limit_in_bytes', str(3 * GIB))
    facts = tree.facts()
    assert facts['cpu_count'] == 2 and facts['mem_limit_bytes'] == 3 * GIB


def test_duplicate_mounts_prefer_sys_fs_cgroup(tmp_path):
    tree = Tree(tmp_path, ['3:cpuset:/', '0::/'], [
        '121 32 0:37 / /cpusets rw - cgroup none rw,cpuset',
        mi1('cpuset', 35),
        '240 232 0:24 /../.. /cgroup-in ro - cgroup2 cgroup2 rw', MI2])
    tree.write('/cpusets/cpuset.effective_cpus', '0-7')
    tree.write('/sys/fs/cgroup/cpuset/cpuset.effective_cpus', '0-1')
    tree.write('/cgroup-in/cpu.max', '100000 100000')
    tree.write('/sys/fs/cgroup/cpu.max', '300000 100000')
    facts = tree.facts()
    assert facts['cpuset_cpus'] == 2
    assert facts['cpu_count'] == 2  # min(3-CPU quota, 2-CPU cpuset)
    assert facts['cpu_quota'] == 3.0  # the quota itself, as skyutild
    assert facts['source']['cpu'] == 'cpuset:/sys/fs/cgroup/cpuset'


# --------------------------------------------------------- CPU bounds


def test_cpuset_narrower_than_quota(tmp_path):
    tree = v2(tmp_path, affinity='0-1')
    tree.write('/sys/fs/cgroup/cpu.max', '800000 100000')
    tree.write('/sys/fs/cgroup/cpuset.cpus.effective', '0-1')
    facts = tree.facts()
    # cpu_quota is quota/period as skyutild reports it; the count is bounded
    assert facts['cpu_quota'] == 8.0 and facts['cpu_count'] == 2


def test_affinity_narrower_than_cpuset_and_quota(tmp_path):
    tree = v2(tmp_path, affinity='3')
    tree.write('/sys/fs/cgroup/cpu.max', '400000 100000')
    tree.write('/sys/fs/cgroup/cpuset.cpus.effective', '0-7')
    facts = tree.facts()
    assert facts['cpu_quota'] == 4.0 and facts['cpu_count'] == 1
    assert facts['cpu_affinity'] == 1 and facts['cpuset_cpus'] == 8
    assert facts['source']['cpu'] == 'affinity'


def test_affinity_argument_overrides(tmp_path):
    v2(tmp_path)
    assert _facts_py.compute_facts(str(tmp_path), affinity=5)['cpu_count'] == 5


@pytest.mark.parametrize('cpus,count,warns', [
    ('0-3,8,10-11', 7, False), ('', None, False), ('0-', None, True)])
def test_cpuset_lists(tmp_path, cpus, count, warns):
    tree = v2(tmp_path)
    tree.write('/sys/fs/cgroup/cpuset.cpus.effective', cpus + '\n')
    facts = tree.facts()
    assert facts['cpuset_cpus'] == count
    assert bool(facts['warnings']) == warns


@pytest.mark.parametrize('cpu_max,count,warns', [
    ('500000', 5, False), ('asdf 100000', 16, True), ('250000 0', 16, True),
    ('', 16, True), ('1 2 3', 16, True),
    ('9223372036854775807 100000', 16, False)])
def test_garbage_and_huge_cpu_max(tmp_path, cpu_max, count, warns):
    tree = v2(tmp_path)
    tree.write('/sys/fs/cgroup/cpu.max', cpu_max)
    facts = tree.facts()
    assert facts['cpu_count'] == count
    assert bool(facts['warnings']) == warns


def test_v1_quota_overflow_means_unlimited(tmp_path):
    tree = docker_v1(tmp_path)
    tree.write('/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us',
               '99999999999999999999')
    tree.write('/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us', '100000')
    facts = tree.facts()
    assert facts['cpu_count'] == 16 and facts['cpu_quota'] is None


# ------------------------------------------------------------- memory


def test_memory_max_uint64_is_unlimited(tmp_path):
    tree = v2(tmp_path)
    tree.write('/sys/fs/cgroup/memory.max', '18446744073709551615')
    assert tree.facts()['mem_limit_bytes'] is None


def test_limit_above_ram_is_clamped(tmp_path):
    tree = v2(tmp_path)
    tree.write('/sys/fs/cgroup/memory.max', str(128 * GIB))
    facts = tree.facts()
    assert facts['mem_limit_bytes'] == 128 * GIB
    assert facts['mem_effective_bytes'] == 64 * GIB


def test_usage_and_working_set(tmp_path):
    tree = v2(tmp_path)
    tree.write('/sys/fs/cgroup/memory.max', str(GIB))
    tree.write('/sys/fs/cgroup/memory.current', str(900 * MIB))
    tree.write('/sys/fs/cgroup/memory.stat',
               'anon 1\ninactive_file 314572800\nactive_file 5\n')
    facts = tree.facts()
    assert facts['mem_used_bytes'] == 900 * MIB
    assert facts['mem_working_set_bytes'] == 600 * MIB


def test_memory_high_is_minimum_over_walk(tmp_path):
    tree = v2(tmp_path, '/a/b')
    tree.write('/sys/fs/cgroup/a/memory.high', str(2 * GIB))
    tree.write('/sys/fs/cgroup/a/b/memory.high', 'max')
    assert tree.facts()['mem_high_bytes'] == 2 * GIB


# --------------------------------------------------------------- pids


def test_pids_parent_limit(tmp_path):
    tree = v2(tmp_path, '/a/b')
    tree.write('/sys/fs/cgroup/a/b/pids.max', 'max')
    tree.write('/sys/fs/cgroup/a/pids.max', '1024')
    tree.write('/sys/fs/cgroup/a/pids.current', '17')
    facts = tree.facts()
    assert facts['pids_limit'] == 1024 and facts['pids_current'] == 17
    assert facts['pid_max'] == 4194304 and facts['threads_max'] == 511423


def test_nofile_from_limits(tmp_path):
    facts = v2(tmp_path).facts()
    assert facts['nofile_soft'] == 1024 and facts['nofile_hard'] == 524288


# ------------------------------------------------------- odd inputs


def test_missing_proc_self_cgroup(tmp_path):
    tree = Tree(tmp_path, None, [])
    facts = tree.facts()
    assert facts['cpu_count'] == 16
    assert facts['mem_effective_bytes'] == 64 * GIB
    assert facts['cgroup_version'] is None


def test_cgroup_without_mounts_warns(tmp_path):
    facts = Tree(tmp_path, ['0::/'], []).facts()
    assert facts['cpu_count'] == 16
    assert facts['warnings'] == [
        "none of the process's cgroup hierarchies is mounted"]


def test_escaped_mount_point_and_colon_in_path(tmp_path):
    tree = Tree(tmp_path, ['0::/system.slice/a:b.service'], [
        r'30 25 0:27 / /sys/fs/cgroup/tab\011tab rw - cgroup2 cgroup2 rw'])
    tree.write('/sys/fs/cgroup/tab\ttab/cgroup.controllers', 'cpu memory\n')
    tree.write('/sys/fs/cgroup/tab\ttab/system.slice/a:b.service/cpu.max',
               '200000 100000')
    facts = tree.facts()
    assert facts['cpu_count'] == 2
    assert facts['cgroup_path'] == '/system.slice/a:b.service'


def test_oversized_inputs(tmp_path):
    overlay = ('20 1 0:30 / / rw - overlay overlay rw,lowerdir=' +
               ':'.join(f'/l/{i:06d}' for i in range(7000)))
    assert len(overlay) > 70_000
    lines = [f'{i}:name=x{i}:/{"d" * 300}' for i in range(1, 15)] + ['0::/']
    tree = Tree(tmp_path, lines, [overlay, MI2])
    tree.write('/sys/fs/cgroup/cpu.max', '100000 100000')
    assert tree.facts()['cpu_count'] == 1


def test_v2_controller_not_enabled_is_not_read(tmp_path):
    tree = v2(tmp_path, controllers='memory pids')
    tree.write('/sys/fs/cgroup/cpu.max', '100000 100000')
    assert tree.facts()['cpu_count'] == 16


def test_real_system_is_consistent():
    facts = _facts_py.compute_facts()
    assert 1 <= facts['cpu_count'] <= os.cpu_count()
    assert facts['cpu_count'] <= len(os.sched_getaffinity(0))
    assert 0 < facts['mem_effective_bytes'] <= facts['mem_total_bytes']
    assert facts['pid'] == os.getpid()
