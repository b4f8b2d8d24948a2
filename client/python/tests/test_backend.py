"""Backend choice, caching and fallback of the module-level helpers."""

import logging
import os
import signal
import subprocess
import threading
import time

import pytest

import skyutil
from proctools import grandchild, needs_pidfd_info, wait_for, zombie
from skyutil import _backend, _facts_py, _link, _proc_py, _proc_wait


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
    assert skyutil.get_parallel_threads() == max(4, facts['cpu_count_floor'] - 1)


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
    monkeypatch.setenv('SKYPILOT_POD_CPU_CORE_LIMIT', 'five')  # ignored by threads
    assert skyutil.get_parallel_threads() == max(4, _backend.facts()['cpu_count_floor'] - 1)


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


# ------------------------------------------------------- frozen daemon
#
# A daemon that stops answering after the link is up (SIGSTOP, deadlock)
# closes nothing, so only the link's heartbeat can notice.  Its bound is
# PING_INTERVAL + PING_TIMEOUT (1 s); the tests allow twice that.

_FROZEN_BOUND = 2 * (_link.PING_INTERVAL + _link.PING_TIMEOUT)


def _link_now():
    return _backend._state.link  # pylint: disable=protected-access


def test_frozen_daemon_is_detected_and_left(daemon, use_daemon, caplog):
    use_daemon(daemon)
    expected = (skyutil.get_cpu_count(), skyutil.get_mem_size_gb())
    link = _link_now()
    child = subprocess.Popen(['sleep', '60'])
    try:
        assert skyutil.is_process_alive(child.pid)
        assert wait_for(lambda: child.pid in link.watched)
        assert link.watched[child.pid].alive  # served from the cache now
        with caplog.at_level(logging.INFO, logger='skyutil'):
            os.kill(daemon.proc.pid, signal.SIGSTOP)
            try:
                stopped = time.monotonic()
                child.kill()
                child.wait()
                # No proc.exiting can come: the cache must be dropped.
                assert wait_for(
                    lambda: not skyutil.is_process_alive(child.pid),
                    _FROZEN_BOUND)
                assert _link_now() is None
                assert time.monotonic() - stopped < _FROZEN_BOUND
                for _ in range(20):
                    start = time.monotonic()
                    assert (skyutil.get_cpu_count(),
                            skyutil.get_mem_size_gb()) == expected
                    assert skyutil.are_processes_alive(
                        [os.getpid(), child.pid]) == [True, False]
                    # At most one reconnect attempt (0.25 s budget) each.
                    assert time.monotonic() - start < 1.0
                info = skyutil.backend_info()
                assert info['backend'] == 'python' and info['daemon'] is None
                assert 'did not answer a ping' in info['reason']
                for name in ('get_cpu_count', 'is_process_alive',
                             'wait_for_exit', 'kill_children_processes'):
                    assert info['functions'][name]['backend'] == 'python'
                warnings = _warnings(caplog)
                assert len(warnings) == 1, [w.getMessage() for w in warnings]
                assert 'stopped or stuck' in warnings[0].getMessage()
            finally:
                os.kill(daemon.proc.pid, signal.SIGCONT)
            # Back after the retry delay (short: the outage was short).
            assert wait_for(
                lambda: skyutil.backend_info()['backend'] == 'daemon', 10)
        assert len(_warnings(caplog)) == 1
        assert any('back' in r.getMessage() for r in caplog.records)
        assert _link_now() is not link
        assert (skyutil.get_cpu_count(), skyutil.get_mem_size_gb()) == expected
    finally:
        child.kill()
        child.wait()


def test_idle_link_survives_its_heartbeat(daemon, use_daemon, caplog):
    """The heartbeat must not take a healthy, idle daemon for a stuck one."""
    use_daemon(daemon)
    skyutil.get_cpu_count()
    link = _link_now()
    start = time.monotonic()
    with caplog.at_level(logging.INFO, logger='skyutil'):
        time.sleep(_FROZEN_BOUND + 0.5)
    assert _link_now() is link
    assert not _warnings(caplog)
    assert link._ping_sent > start + _link.PING_INTERVAL  # pylint: disable=protected-access
    assert skyutil.backend_info()['backend'] == 'daemon'


def _waiter_through_the_daemon(pid, monkeypatch):
    """A thread in wait_for_exit(pid) with pidfds disabled, so that it waits
    on the daemon's watch (see _waiting_on); outcome gets 'result' or 'error'
    when the wait ends."""
    def no_pidfd(*_args, **_kwargs):
        raise _proc_wait.PidfdUnavailable('disabled by the test')

    monkeypatch.setattr(_proc_wait, 'wait_pidfd', no_pidfd)
    outcome = {}

    def waiter():
        try:
            outcome['result'] = skyutil.wait_for_exit(pid)
        except BaseException as exc:  # pylint: disable=broad-except
            outcome['error'] = exc

    thread = threading.Thread(target=waiter, daemon=True)
    thread.start()
    return thread, outcome


def _waiting_on(pid):
    """Whether a waiter for pid waits on the link's watch of it."""
    link = _link_now()
    entry = None if link is None else link.watched.get(pid)
    return entry is not None and entry.event is not None


def test_frozen_daemon_releases_a_waiter(daemon, use_daemon, monkeypatch):
    """Without pidfds a non-child is waited for through the daemon; a
    freeze must hand the wait to local polling, even with no timeout."""
    use_daemon(daemon)
    shell, pid = grandchild('exec sleep 60')
    thread, outcome = _waiter_through_the_daemon(pid, monkeypatch)
    try:
        assert wait_for(lambda: _waiting_on(pid))
        os.kill(daemon.proc.pid, signal.SIGSTOP)
        try:
            os.kill(pid, signal.SIGKILL)
            thread.join(_FROZEN_BOUND + 1.0)
            assert not thread.is_alive(), 'wait_for_exit hangs on a frozen daemon'
        finally:
            os.kill(daemon.proc.pid, signal.SIGCONT)
        # A non-child's status is unknowable without the daemon or pidfds.
        assert outcome == {'result': None}
    finally:
        if _proc_py.read_stat(pid) is not None:
            os.kill(pid, signal.SIGKILL)
        shell.wait()
        thread.join(5)


def test_evicted_watch_releases_its_waiter(daemon, use_daemon, monkeypatch):
    """An entry evicted from the watch cache gets no exit event any more:
    its waiter must go on waiting locally, not forever."""
    use_daemon(daemon)
    shell, pid = grandchild('exec sleep 60')
    other = subprocess.Popen(['sleep', '60'])
    thread, outcome = _waiter_through_the_daemon(pid, monkeypatch)
    try:
        assert wait_for(lambda: _waiting_on(pid))
        link = _link_now()
        link.cap = 1
        assert skyutil.is_process_alive(other.pid)
        assert wait_for(lambda: pid not in link.watched)
        assert other.pid in link.watched
        os.kill(pid, signal.SIGKILL)
        thread.join(10)
        assert not thread.is_alive(), 'wait_for_exit hangs on an evicted watch'
        assert outcome == {'result': None}
        assert _link_now() is link
    finally:
        if _proc_py.read_stat(pid) is not None:
            os.kill(pid, signal.SIGKILL)
        shell.wait()
        other.kill()
        other.wait()
        thread.join(5)


def test_frozen_daemon_kill_children_falls_back(daemon, use_daemon):
    """proc.kill_tree in flight to a frozen daemon is abandoned once the
    heartbeat fails, and the tree is killed locally, well within the
    call's own timeout (grace + slack, 21 s)."""
    use_daemon(daemon)
    skyutil.get_cpu_count()
    parent = subprocess.Popen(['sh', '-c', 'sleep 100 & sleep 100 & wait'])
    try:
        assert wait_for(lambda: len(_proc_py.descendants(
            parent.pid, _proc_py.read_stat(parent.pid).start_time)) == 2)
        children = _proc_py.descendants(
            parent.pid, _proc_py.read_stat(parent.pid).start_time)
        os.kill(daemon.proc.pid, signal.SIGSTOP)
        try:
            start = time.monotonic()
            skyutil.kill_children_processes([parent.pid])
            elapsed = time.monotonic() - start
            assert parent.wait(5) == -signal.SIGTERM
            assert not any(_proc_py.is_alive(pid) for pid in children)
            assert elapsed < _FROZEN_BOUND + 1.0
        finally:
            os.kill(daemon.proc.pid, signal.SIGCONT)
    finally:
        parent.kill()
        parent.wait()
