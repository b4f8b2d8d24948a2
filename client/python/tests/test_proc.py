"""Process helpers with the pure-Python backend (no daemon)."""

import os
import signal
import subprocess
import sys
import textwrap
import time

import psutil
import pytest

import skyutil
from proctools import grandchild, needs_pidfd_info, zombie
from skyutil import _proc_py, helpers


@pytest.fixture(autouse=True)
def _python(python_backend):
    """test_backend runs the same helpers against daemons."""


# -------------------------------------------------------- is_process_alive


def test_alive_for_self_and_init():
    assert skyutil.is_process_alive(os.getpid())
    assert skyutil.is_process_alive(1)


def test_create_time_matches_psutil():
    create_time = psutil.Process(os.getpid()).create_time()
    assert skyutil.is_process_alive(os.getpid(), create_time)
    tick = _proc_py.CREATE_TIME_TOLERANCE
    assert skyutil.is_process_alive(os.getpid(), create_time + tick * 0.9)
    assert not skyutil.is_process_alive(os.getpid(), create_time + tick * 3)
    assert not skyutil.is_process_alive(os.getpid(), create_time - 60)


def test_missing_pid_is_dead():
    pid_max = int(open('/proc/sys/kernel/pid_max').read())
    assert not skyutil.is_process_alive(pid_max)


def test_zombie_is_dead():
    child = zombie()
    try:
        assert psutil.Process(child.pid).is_running()  # psutil disagrees
        assert not skyutil.is_process_alive(child.pid)
        assert skyutil.are_processes_alive([child.pid]) == [False]
    finally:
        child.wait()


@pytest.mark.parametrize('bad,exc', [(0, ValueError), (-1, ValueError),
                                     (True, TypeError), ('1', TypeError),
                                     (1.0, TypeError)])
def test_invalid_pid(bad, exc):
    with pytest.raises(exc):
        skyutil.is_process_alive(bad)
    with pytest.raises(exc):
        skyutil.wait_for_exit(bad)


def test_are_processes_alive_batch():
    me = psutil.Process(os.getpid()).create_time()
    child = zombie()
    try:
        assert skyutil.are_processes_alive([
            os.getpid(), (os.getpid(), me), (os.getpid(), me + 5), 1,
            child.pid, (child.pid, None)
        ]) == [True, True, False, True, False, False]
        assert skyutil.are_processes_alive([]) == []
    finally:
        child.wait()


# ----------------------------------------------------------- wait_for_exit


def test_wait_for_own_child_does_not_reap_it():
    child = subprocess.Popen(['sh', '-c', 'sleep 0.1; exit 7'])
    assert skyutil.wait_for_exit(child.pid, timeout=10) == 7
    assert child.wait() == 7  # Popen still gets the status


def test_wait_for_child_killed_by_signal():
    child = subprocess.Popen(['sleep', '30'])
    child.send_signal(signal.SIGKILL)
    assert skyutil.wait_for_exit(child.pid, timeout=10) == -signal.SIGKILL
    child.wait()


def test_wait_times_out():
    child = subprocess.Popen(['sleep', '30'])
    try:
        start = time.monotonic()
        with pytest.raises(TimeoutError):
            skyutil.wait_for_exit(child.pid, timeout=0.2)
        assert time.monotonic() - start < 2
    finally:
        child.kill()
        child.wait()


def test_wait_for_gone_or_other_process_returns_none():
    child = subprocess.Popen(['true'])
    child.wait()
    assert skyutil.wait_for_exit(child.pid, timeout=1) is None
    me = psutil.Process(os.getpid()).create_time()
    assert skyutil.wait_for_exit(os.getpid(), me - 100, timeout=1) is None


@needs_pidfd_info
def test_wait_for_non_child_reports_exit_code():
    shell, pid = grandchild('sleep 0.2; exit 5')
    try:
        assert skyutil.wait_for_exit(pid, timeout=10) == 5
    finally:
        shell.wait()


def test_wait_for_non_child_never_reaped_gives_none():
    """Exit status exists only after a reap; a stuck parent hides it."""
    shell = subprocess.Popen(
        ['sh', '-c', '(sleep 0.1; exit 5) & echo $!; kill -STOP $$'],
        stdout=subprocess.PIPE)
    pid = int(shell.stdout.readline())
    try:
        start = time.monotonic()
        assert skyutil.wait_for_exit(pid, timeout=10) is None
        assert time.monotonic() - start < 3
    finally:
        shell.kill()
        shell.wait()


# ------------------------------------------------- kill_children_processes


def _tree(script='sleep 100 & sleep 100 & wait'):
    parent = subprocess.Popen(['sh', '-c', script])
    deadline = time.monotonic() + 5
    while len(_proc_py.descendants(
            parent.pid, _proc_py.read_stat(parent.pid).start_time)) < 2:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    return parent, _proc_py.descendants(
        parent.pid, _proc_py.read_stat(parent.pid).start_time)


@pytest.mark.parametrize('force', [False, True])
def test_kill_parent_and_descendants(force):
    parent, children = _tree()
    skyutil.kill_children_processes(parent.pid, force=force)
    assert parent.wait(5) == (-signal.SIGKILL if force else -signal.SIGTERM)
    for pid in children:
        assert not skyutil.is_process_alive(pid)


def test_kill_list_skips_missing_and_none():
    parent, _ = _tree()
    gone = subprocess.Popen(['true'])
    gone.wait()
    skyutil.kill_children_processes([gone.pid, None, parent.pid])
    assert parent.wait(5) == -signal.SIGTERM


def test_term_ignoring_tree_is_killed_after_grace(monkeypatch):
    monkeypatch.setattr(helpers, 'KILL_GRACE_PERIOD', 0.3)
    parent, children = _tree("trap '' TERM; sleep 100 & sleep 100 & wait")
    start = time.monotonic()
    skyutil.kill_children_processes(parent.pid)
    assert 0.3 <= time.monotonic() - start < 5
    assert parent.wait(5) == -signal.SIGKILL
    for pid in children:
        assert not skyutil.is_process_alive(pid)


def test_kill_children_of_self_spares_self():
    script = textwrap.dedent('''
        import subprocess, skyutil
        kids = [subprocess.Popen(['sleep', '100']) for _ in range(3)]
        skyutil.kill_children_processes()
        print(sorted(k.wait(5) for k in kids))
    ''')
    env = dict(os.environ, SKYUTIL_DISABLE_DAEMON='1',
               PYTHONPATH=os.path.join(os.path.dirname(__file__), '..'))
    out = subprocess.run([sys.executable, '-c', script], env=env, check=True,
                         capture_output=True, text=True, timeout=30)
    assert out.stdout.strip() == '[-15, -15, -15]'


def test_descendants_skip_pid_reuse_phantoms():
    stats = {
        10: _proc_py.Stat('S', 1, 1000),
        11: _proc_py.Stat('S', 10, 1001),   # real child
        12: _proc_py.Stat('S', 10, 900),    # older than its "parent"
        13: _proc_py.Stat('S', 12, 1002),   # child of the phantom
        14: _proc_py.Stat('S', 11, 1003),   # grandchild
    }
    assert _proc_py.descendants(10, 1000, stats, start_of(stats)) == [11, 14]


def start_of(stats):
    """A start_time_of that finds every process of stats unchanged."""
    return lambda pid: stats[pid].start_time if pid in stats else None


def test_descendants_drop_the_children_of_a_parent_reused_meanwhile():
    stats = {
        10: _proc_py.Stat('S', 1, 1000),
        11: _proc_py.Stat('S', 10, 1001),
        12: _proc_py.Stat('S', 10, 1002),
        # 11's pid was taken by a newcomer (start 1500) while the snapshot
        # was read: its children started after the old 11, so the start rule
        # alone lets them pass.
        15: _proc_py.Stat('S', 11, 1600),
        16: _proc_py.Stat('S', 15, 1700),
        17: _proc_py.Stat('S', 12, 1800),
    }
    assert _proc_py.descendants(10, 1000, stats, start_of(stats)) == [
        11, 12, 15, 17, 16]
    now = dict(stats)
    now[11] = _proc_py.Stat('S', 1, 1500)
    assert _proc_py.descendants(10, 1000, stats, start_of(now)) == [11, 12, 17]
    # A parent that is gone cannot vouch for its children either.
    del now[11]
    assert _proc_py.descendants(10, 1000, stats, start_of(now)) == [11, 12, 17]
    # Nor a root that is gone or reused: nothing is anyone's descendant then.
    now = dict(stats)
    now[10] = _proc_py.Stat('S', 1, 1900)
    assert _proc_py.descendants(10, 1000, stats, start_of(now)) == []


def test_descendants_recheck_reads_proc():
    # The default start_time_of is /proc: a real parent keeps its children,
    # the same parent under a wrong start time (a reused pid) loses them.
    stats = {os.getpid(): _proc_py.read_stat(os.getpid()),
             999_999_999: _proc_py.Stat('S', os.getpid(), 1 << 62)}
    me = stats[os.getpid()].start_time
    assert _proc_py.descendants(os.getpid(), me, stats) == [999_999_999]
    stats[os.getpid()] = _proc_py.Stat('S', 1, me - 1)
    assert _proc_py.descendants(os.getpid(), me - 1, stats) == []
