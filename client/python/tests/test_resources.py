"""CPU, memory, thread and worker helpers (pure-Python backend)."""

import logging
import os
import resource

import pytest

import skyutil
import upstream_ref
from skyutil import _facts_py, helpers

GIB = 1024**3


@pytest.fixture(autouse=True)
def _python(python_backend):
    """These tests pin the pure-Python backend; test_backend covers both."""


def test_cpu_count_is_cgroup_aware():
    facts = _facts_py.compute_facts()
    assert skyutil.get_cpu_count() == facts['cpu_count_floor']
    assert 1 <= skyutil.get_cpu_count() <= len(os.sched_getaffinity(0))


@pytest.mark.parametrize('value,expected', [('2', 2), ('2.9', 2), ('8', 8),
                                            (' 4 ', 4), ('1e1', 10),
                                            ('0.5', 1), ('0', 1), ('-3', 1)])
def test_cpu_env_override(monkeypatch, value, expected):
    monkeypatch.setenv('SKYPILOT_POD_CPU_CORE_LIMIT', value)
    assert skyutil.get_cpu_count() == expected


def test_cpu_env_override_invalid(monkeypatch):
    monkeypatch.setenv('SKYPILOT_POD_CPU_CORE_LIMIT', 'two')
    with pytest.raises(ValueError, match='Failed to parse the number of CPUs'):
        skyutil.get_cpu_count()


def test_cpu_env_override_is_read_on_every_call(monkeypatch):
    skyutil.get_cpu_count()
    monkeypatch.setenv('SKYPILOT_POD_CPU_CORE_LIMIT', '37')
    assert skyutil.get_cpu_count() == 37
    monkeypatch.delenv('SKYPILOT_POD_CPU_CORE_LIMIT')
    assert skyutil.get_cpu_count() == _facts_py.compute_facts()['cpu_count_floor']


def test_env_read_through_replaced_os_environ(monkeypatch):
    """A test harness may swap os.environ for a plain dict."""
    monkeypatch.setattr(os, 'environ', {'SKYPILOT_POD_CPU_CORE_LIMIT': '3'})
    assert skyutil.get_cpu_count() == 3


def test_mem_size_is_effective_limit():
    facts = _facts_py.compute_facts()
    assert skyutil.get_mem_size_gb() == facts['mem_effective_bytes'] / GIB


def test_mem_env_overrides(monkeypatch):
    monkeypatch.setenv('SKYPILOT_POD_MEMORY_BYTES_LIMIT', str(3 * GIB))
    assert skyutil.get_mem_size_gb() == 3.0
    monkeypatch.setenv('SKYPILOT_POD_MEMORY_GB_LIMIT', '2.5')
    assert skyutil.get_mem_size_gb() == 2.5  # GB wins over bytes


@pytest.mark.parametrize('name,unit', [('SKYPILOT_POD_MEMORY_GB_LIMIT', 'GB'),
                                       ('SKYPILOT_POD_MEMORY_BYTES_LIMIT',
                                        'bytes')])
def test_mem_env_override_invalid(monkeypatch, name, unit):
    monkeypatch.setenv(name, 'lots')
    with pytest.raises(ValueError,
                       match=rf'Failed to parse the memory size from lots \({unit}\)'):
        skyutil.get_mem_size_gb()


@pytest.mark.parametrize('cloud', [None, 'kubernetes', 'Kubernetes', 'aws', ''])
def test_parallel_threads(cloud):
    expected = upstream_ref.get_parallel_threads(skyutil.get_cpu_count(), cloud)
    assert skyutil.get_parallel_threads(cloud) == expected
    assert skyutil.get_parallel_threads(cloud_str=cloud) == expected


def test_parallel_threads_follow_cpu_override(monkeypatch):
    monkeypatch.setenv('SKYPILOT_POD_CPU_CORE_LIMIT', '16')
    assert skyutil.get_parallel_threads() == 15
    assert skyutil.get_parallel_threads('kubernetes') == 60


@pytest.mark.parametrize('value', ['two', '', 'nan', 'inf', '-inf'])
def test_thread_helpers_ignore_a_bad_cpu_override(monkeypatch, caplog, value):
    """Upstream's thread helpers never read the variable, so never fail on it
    (SkyPilot calls them at import time): a bad value is ignored, with one
    warning, while get_cpu_count() itself raises as upstream."""
    monkeypatch.setattr(helpers, '_bad_cpu_limit_warned', False)
    monkeypatch.delenv('SKYPILOT_POD_CPU_CORE_LIMIT', raising=False)
    expected = (skyutil.get_parallel_threads('kubernetes'),
                skyutil.get_max_workers_for_file_mounts({}))
    monkeypatch.setenv('SKYPILOT_POD_CPU_CORE_LIMIT', value)
    with pytest.raises((ValueError, OverflowError)):
        skyutil.get_cpu_count()
    with caplog.at_level(logging.WARNING, logger='skyutil'):
        for _ in range(3):
            assert skyutil.get_parallel_threads('kubernetes') == expected[0]
            assert skyutil.get_max_workers_for_file_mounts({}) == expected[1]
    ignored = [r for r in caplog.records if 'ignoring SKYPILOT_POD_CPU_CORE_LIMIT' in
               r.getMessage()]
    assert len(ignored) == 1


@pytest.fixture
def nofile():
    """Sets the soft RLIMIT_NOFILE for one test, restoring it after."""
    saved = resource.getrlimit(resource.RLIMIT_NOFILE)

    def set_soft(soft):
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, saved[1]))

    yield set_soft
    resource.setrlimit(resource.RLIMIT_NOFILE, saved)


def _make_dir(tmp_path, name, entries):
    path = tmp_path / name
    path.mkdir()
    for i in range(entries):
        (path / f'f{i}').write_text('x')
    return str(path)


def test_max_workers_uses_largest_directory(tmp_path, nofile, monkeypatch):
    monkeypatch.setenv('SKYPILOT_POD_CPU_CORE_LIMIT', '64')
    nofile(1024)
    mounts = {'/dst/a': _make_dir(tmp_path, 'a', 3),
              '/dst/b': _make_dir(tmp_path, 'b', 40),
              '/dst/f': str(tmp_path / 'a' / 'f0'),
              '/dst/missing': str(tmp_path / 'missing')}
    assert helpers.fds_per_source(mounts) == 200
    # (1024 - 100) // 200 = 4 workers, below the 63 threads.
    assert skyutil.get_max_workers_for_file_mounts(mounts) == 4
    assert skyutil.get_max_workers_for_file_mounts({}) == 63
    assert skyutil.get_max_workers_for_file_mounts(
        {}, 'kubernetes') == 184  # (1024-100)//5, below 252 threads


def test_max_workers_warns_once_for_low_limit(nofile, caplog, monkeypatch):
    monkeypatch.setattr(helpers, '_fd_limit_warning_shown', False)
    nofile(256)
    with caplog.at_level(logging.WARNING, logger='skyutil'):
        first = skyutil.get_max_workers_for_file_mounts({})
        skyutil.get_max_workers_for_file_mounts({})
    warnings = [r for r in caplog.records if 'descriptor limit' in r.message]
    assert len(warnings) == 1
    assert 'Open file descriptor limit (256) is low' in warnings[0].message
    assert first == min(31, skyutil.get_parallel_threads())


def test_max_workers_with_tiny_limit_is_one(nofile):
    nofile(64)
    assert skyutil.get_max_workers_for_file_mounts({}) == 1


def test_max_workers_unlimited_nofile_is_thread_bound():
    assert helpers.max_workers_for(None, 5, 8, None) == 7
    assert helpers.max_workers_for(None, 5, 8, 'kubernetes') == 28


def _upstream_cpu_count(root, host_cpus):
    """Upstream's get_cpu_count (bench/skypilot_baseline._cpu_count) on a
    fake root: min(host, affinity, int(quota)) from the cgroup at the mount."""
    cgroup = os.path.join(root, 'sys/fs/cgroup')
    if os.path.isfile(os.path.join(cgroup, 'cgroup.controllers')):
        with open(os.path.join(cgroup, 'cpu.max'), encoding='utf-8') as f:
            quota, period = f.read().split()
        limit = None if quota == 'max' else float(quota) / float(period)
    else:
        with open(os.path.join(cgroup, 'cpu/cpu.cfs_quota_us'),
                  encoding='utf-8') as f:
            quota = float(f.read())
        with open(os.path.join(cgroup, 'cpu/cpu.cfs_period_us'),
                  encoding='utf-8') as f:
            period = float(f.read())
        limit = quota / period if quota > 0 and period > 0 else None
    return host_cpus if limit is None else min(host_cpus, int(limit))


@pytest.mark.parametrize('version', [1, 2])
@pytest.mark.parametrize('quota,upstream,ours', [
    (None, 16, 16), (200000, 2, 2), (150000, 1, 1), (250000, 2, 2),
    (390000, 3, 3), (50000, 0, 1), (1, 0, 1), (3200000, 16, 16)])
def test_cpu_count_rounds_like_upstream(tmp_path, monkeypatch, version, quota,
                                        upstream, ours):
    """get_cpu_count truncates a fractional quota as upstream does; the
    only difference is upstream's 0 for a quota below one CPU."""
    from test_facts_py import docker_v1, v2  # pylint: disable=import-outside-toplevel
    if version == 2:
        tree = v2(tmp_path)
        tree.write('/sys/fs/cgroup/cpu.max',
                   f'{"max" if quota is None else quota} 100000\n')
    else:
        tree = docker_v1(tmp_path)
        tree.write('/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us',
                   f'{-1 if quota is None else quota}\n')
        tree.write('/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us', '100000\n')
        os.symlink('cpu,cpuacct', tmp_path / 'sys/fs/cgroup/cpu')
    facts = tree.facts()
    monkeypatch.setattr(skyutil.helpers._backend, 'facts', lambda: facts)
    assert _upstream_cpu_count(str(tmp_path), 16) == upstream
    assert skyutil.get_cpu_count() == ours == max(1, upstream)
    # The daemon's cpu_count (what a process may use) rounds up instead.
    if quota is not None and quota % 100000:
        assert facts['cpu_count'] == min(16, -(-quota // 100000))


def _upstream_mem_size_gb(root):
    """Upstream's get_mem_size_gb (bench/skypilot_baseline._mem_size_gb) on a
    fake root: min(MemTotal, limit) from the cgroup file at the mount."""
    with open(os.path.join(root, 'proc/meminfo'), encoding='utf-8') as f:
        total = int(f.read().split()[1]) * 1024
    cgroup = os.path.join(root, 'sys/fs/cgroup')
    if os.path.isfile(os.path.join(cgroup, 'cgroup.controllers')):
        path = os.path.join(cgroup, 'memory.max')
    else:
        path = os.path.join(cgroup, 'memory/memory.limit_in_bytes')
    with open(path, encoding='utf-8') as f:
        value = f.read().strip()
    limit = None if value == 'max' or not value or int(value) <= 0 else int(value)
    return (total if limit is None else min(total, limit)) / GIB


@pytest.mark.parametrize('version', [1, 2])
@pytest.mark.parametrize('limit', [None, GIB // 2, 3 * GIB, 1536 * 1024**2 + 4096,
                                   128 * GIB])
def test_mem_size_like_upstream(tmp_path, monkeypatch, version, limit):
    """get_mem_size_gb gives upstream's answer on the cgroup at the mount:
    min(MemTotal, limit), unlimited and over-MemTotal limits included (a
    v1 "unlimited" is a huge page-aligned number, not "max")."""
    from test_facts_py import docker_v1, v2  # pylint: disable=import-outside-toplevel
    if version == 2:
        tree = v2(tmp_path)
        tree.write('/sys/fs/cgroup/memory.max', f'{"max" if limit is None else limit}\n')
    else:
        tree = docker_v1(tmp_path)
        tree.write('/sys/fs/cgroup/memory/memory.limit_in_bytes',
                   f'{9223372036854771712 if limit is None else limit}\n')
    facts = tree.facts()
    monkeypatch.setattr(skyutil.helpers._backend, 'facts', lambda: facts)
    assert skyutil.get_mem_size_gb() == _upstream_mem_size_gb(str(tmp_path))
    assert skyutil.get_mem_size_gb() == min(64 * GIB, limit or 64 * GIB) / GIB
