"""Backend choice, caching and fallback of the module-level helpers."""

import logging
import os
import signal
import subprocess
import time

import pytest

import skyutil
from proctools import grandchild, needs_pidfd_info, wait_for, zombie
from skyutil import _backend, _facts_py, _proc_py


def _warnings(caplog):
    return [r for r in caplog.records
            if r.name == 'skyutil' and r.levelno >= logging.WARNING]


# ------------------------------------------------------------- choice


def test_no_socket_means_python_backend(caplog):
    with caplog.at_level(logging.INFO, logger='skyutil'):
        assert skyutil.get_cpu_count() == _facts_py.compute_facts()['cpu_count_floor']
        info = skyutil.backend_info()
    assert info['backend'] == 'python' and info['daemon'] is None
    assert 'No such file' in info['reason']
    assert not _warnings(caplog)  # no daemon installed is not a problem


def test_disable_env_forces_python(daemon, use_daemon, monkeypatch):
    use_daemon(daemon)
    monkeypatch.setenv('SKYUTIL_DISABLE_DAEMON', '1')
    _backend.reset()
    info = skyutil.backend_info()
    assert info['backend'] == 'python'
    assert 'SKYUTIL_DISABLE_DAEMON' in info['reason']


def test_daemon_backend_serves_facts(daemon, use_daemon):
    use_daemon(daemon)
    info = skyutil.backend_info()
    assert info['backend'] == 'daemon'
    assert info['daemon']['server'] == 'skyutild'
    assert info['functions']['get_cpu_count']['backend'] == 'daemon'
    assert info['functions']['hash_file']['backend'] == 'python'
    with skyutil.Client(daemon.path) as client:
        facts = client.facts()
    assert skyutil.get_cpu_count() == facts['cpu_count_floor']
    assert skyutil.get_mem_size_gb() == facts['mem_effective_bytes'] / 1024**3
    assert skyutil.get_parallel_threads() == max(4, facts['cpu_count'] - 1)


def test_backend_info_reports_env_overrides(monkeypatch):
    monkeypatch.setenv('SKYPILOT_POD_MEMORY_BYTES_LIMIT', '1073741824')
    info = skyutil.backend_info()['functions']
    assert info['get_mem_size_gb'] == {
        'backend': 'env', 'why': 'SKYPILOT_POD_MEMORY_BYTES_LIMIT is set'}
    assert set(info) == {
        'get_cpu_count', 'get_mem_size_gb', 'get_parallel_threads',
        'get_max_workers_for_file_mounts', 'is_process_alive',
        'are_processes_alive', 'wait_for_exit', 'kill_children_processes',
        'base36_encode', 'format_float', 'truncate_long_string',
        'read_last_n_lines', 'hash_file', 'find_free_port'}


def test_env_overrides_apply_with_daemon(daemon, use_daemon, monkeypatch):
    use_daemon(daemon)
    skyutil.get_cpu_count()
    monkeypatch.setenv('SKYPILOT_POD_CPU_CORE_LIMIT', '5')
    monkeypatch.setenv('SKYPILOT_POD_MEMORY_GB_LIMIT', '1.5')
    assert skyutil.get_cpu_count() == 5
    assert skyutil.get_mem_size_gb() == 1.5
    assert skyutil.get_parallel_threads() == 4


# -------------------------------------------------------------- cache


def test_repeated_calls_do_not_touch_the_daemon(daemon, use_daemon):
    """With the daemon frozen, cached helpers still answer at once."""
    use_daemon(daemon)
    expected = (skyutil.get_cpu_count(), skyutil.get_mem_size_gb())
    os.kill(daemon.proc.pid, signal.SIGSTOP)
    try:
        start = time.monotonic()
        for _ in range(10_000):
            assert (skyutil.get_cpu_count(),
                    skyutil.get_mem_size_gb()) == expected
        assert time.monotonic() - start < 0.5
    finally:
        os.kill(daemon.proc.pid, signal.SIGCONT)


def test_facts_changed_updates_the_cache(fake_daemon, use_daemon):
    use_daemon(fake_daemon)
    facts = dict(skyutil.Client(fake_daemon.path).facts())
    assert skyutil.get_cpu_count() == facts['cpu_count_floor']
    facts.update(cpu_count=99, cpu_count_floor=99,
                 mem_effective_bytes=3 * 1024**3)
    with skyutil.Client(fake_daemon.path) as client:
        client.call('test.push_facts', facts=facts)
    assert wait_for(lambda: skyutil.get_cpu_count() == 99)
    assert skyutil.get_mem_size_gb() == 3.0
    assert skyutil.get_parallel_threads('kubernetes') == 98 * 4


# ----------------------------------------------------------- fallback


def test_stuck_daemon_falls_back_quickly_with_one_warning(stuck_daemon,
                                                           use_daemon, caplog):
    use_daemon(stuck_daemon)
    with caplog.at_level(logging.INFO, logger='skyutil'):
        start = time.monotonic()
        assert skyutil.get_cpu_count() == _facts_py.compute_facts()['cpu_count_floor']
        assert time.monotonic() - start < 1.0
        for _ in range(100):
            skyutil.get_cpu_count()
            skyutil.is_process_alive(os.getpid())
    warnings = _warnings(caplog)
    assert len(warnings) == 1 and 'TIMEOUT' in warnings[0].getMessage()
    assert skyutil.backend_info()['backend'] == 'python'


def test_daemon_killed_then_restarted(daemon, use_daemon, caplog):
    use_daemon(daemon)
    expected = skyutil.get_cpu_count()
    assert skyutil.backend_info()['backend'] == 'daemon'
    with caplog.at_level(logging.INFO, logger='skyutil'):
        daemon.kill()
        assert wait_for(lambda: _backend._state.link is None)  # pylint: disable=protected-access
        for _ in range(50):
            start = time.monotonic()
            assert skyutil.get_cpu_count() == expected
            assert skyutil.is_process_alive(os.getpid())
            assert time.monotonic() - start < 0.5
        assert skyutil.backend_info()['backend'] == 'python'
        assert len(_warnings(caplog)) == 1
        daemon.start()
        assert wait_for(
            lambda: skyutil.backend_info()['backend'] == 'daemon', 5)
    assert skyutil.get_cpu_count() == expected
    assert any('back' in r.getMessage() for r in caplog.records)


def test_fork_child_uses_its_own_link(daemon, use_daemon):
    use_daemon(daemon)
    skyutil.get_cpu_count()
    parent_link = _backend._state.link  # pylint: disable=protected-access
    assert parent_link is not None
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            ok = (skyutil.get_cpu_count() >= 1 and
                  skyutil.is_process_alive(os.getppid()))
            link = _backend._state.link  # pylint: disable=protected-access
            code = 0 if ok and link is not None and link is not parent_link \
                else 2
        finally:
            os._exit(code)  # pylint: disable=protected-access
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert _backend._state.link is parent_link  # pylint: disable=protected-access
    assert parent_link.client.ping() == 'pong'


# ---------------------------------------------------------- processes


def test_watched_pid_flips_on_exit(daemon, use_daemon):
    use_daemon(daemon)
    child = subprocess.Popen(['sleep', '30'])
    created = _proc_py.create_time_of(_proc_py.read_stat(child.pid).start_time)
    assert skyutil.is_process_alive(child.pid, created)
    link = _backend._state.link  # pylint: disable=protected-access
    assert wait_for(lambda: child.pid in link.watched)
    assert skyutil.is_process_alive(child.pid)
    assert not skyutil.is_process_alive(child.pid, created - 10)
    child.kill()
    child.wait()
    assert wait_for(lambda: not skyutil.is_process_alive(child.pid), 2)
    assert not skyutil.is_process_alive(child.pid, created)


def test_zombie_reads_dead(daemon, use_daemon):
    use_daemon(daemon)
    child = subprocess.Popen(['sh', '-c', 'sleep 0.3'])
    assert skyutil.is_process_alive(child.pid)
    link = _backend._state.link  # pylint: disable=protected-access
    assert wait_for(lambda: child.pid in link.watched)
    try:
        # Not reaped: a zombie.  The daemon may wait briefly for a reap
        # before reporting, so allow it that long.
        assert wait_for(lambda: not skyutil.is_process_alive(child.pid), 2)
        assert _proc_py.read_stat(child.pid).state == 'Z'
    finally:
        child.wait()


def test_exit_of_a_watched_process_is_remembered(daemon, use_daemon):
    use_daemon(daemon)
    child = subprocess.Popen(['sh', '-c', 'sleep 0.2; exit 6'])
    created = _proc_py.create_time_of(_proc_py.read_stat(child.pid).start_time)
    assert skyutil.is_process_alive(child.pid)
    link = _backend._state.link  # pylint: disable=protected-access
    assert wait_for(lambda: child.pid in link.watched)
    assert child.wait() == 6
    assert wait_for(lambda: not skyutil.is_process_alive(child.pid), 3)
    assert skyutil.wait_for_exit(child.pid) == 6
    assert skyutil.wait_for_exit(child.pid, created) == 6
    assert skyutil.wait_for_exit(child.pid, created - 50) is None


def test_batch_matches_pure_python(daemon, use_daemon):
    use_daemon(daemon)
    gone = subprocess.Popen(['true'])
    gone.wait()
    dead = zombie()
    stable = [1, os.getpid(), daemon.proc.pid, gone.pid, dead.pid, 4194303]
    pids = (stable * 2000)[:10_000]
    expected = [_proc_py.is_alive(p) for p in pids]
    assert expected[:6] == [True, True, True, False, False, False]
    assert skyutil.are_processes_alive(pids) == expected
    dead.wait()
    me = _proc_py.create_time_of(_proc_py.read_stat(os.getpid()).start_time)
    assert skyutil.are_processes_alive([(os.getpid(), me),
                                        (os.getpid(), me + 1)]) == [True, False]


def test_batch_sees_exit_of_cached_process(daemon, use_daemon):
    """The daemon answers repeated batches from its pidfd cache; an exit
    must still show in the very next batch, zombie or reaped."""
    use_daemon(daemon)
    child = subprocess.Popen(['sleep', '60'])
    born = _proc_py.create_time_of(_proc_py.read_stat(child.pid).start_time)
    try:
        for _ in range(3):
            assert skyutil.are_processes_alive([(child.pid, born)]) == [True]
        child.kill()
        assert wait_for(lambda: _proc_py.read_stat(child.pid).state == 'Z')
        assert skyutil.are_processes_alive([child.pid, (child.pid, born)]) == [
            False, False]
    finally:
        child.wait()
    assert skyutil.are_processes_alive([(child.pid, born)]) == [False]


def test_wait_for_own_child_with_daemon(daemon, use_daemon):
    use_daemon(daemon)
    child = subprocess.Popen(['sh', '-c', 'sleep 0.1; exit 7'])
    assert skyutil.wait_for_exit(child.pid, timeout=10) == 7
    assert child.wait() == 7


@needs_pidfd_info
def test_wait_for_non_child_with_daemon(daemon, use_daemon):
    use_daemon(daemon)
    shell, pid = grandchild('sleep 0.2; exit 5')
    try:
        assert skyutil.wait_for_exit(pid, timeout=10) == 5
    finally:
        shell.wait()


def test_wait_for_non_child_times_out_with_daemon(daemon, use_daemon):
    use_daemon(daemon)
    shell, pid = grandchild('exec sleep 30')
    try:
        start = time.monotonic()
        with pytest.raises(TimeoutError):
            skyutil.wait_for_exit(pid, timeout=0.2)
        assert time.monotonic() - start < 1.5
    finally:
        os.kill(pid, signal.SIGKILL)
        shell.wait()


def test_kill_children_with_daemon(daemon, use_daemon):
    use_daemon(daemon)
    parent = subprocess.Popen(['sh', '-c', 'sleep 100 & sleep 100 & wait'])
    assert wait_for(lambda: len(_proc_py.descendants(
        parent.pid, _proc_py.read_stat(parent.pid).start_time)) == 2)
    children = _proc_py.descendants(parent.pid,
                                    _proc_py.read_stat(parent.pid).start_time)
    skyutil.kill_children_processes([parent.pid])
    assert parent.wait(5) == -signal.SIGTERM
    assert not any(_proc_py.is_alive(pid) for pid in children)
