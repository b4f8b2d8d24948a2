"""Thread ids and multi-threaded processes: both backends, psutil's view.

``/proc/<tid>`` exists for every thread, although only thread-group
leaders are listed in /proc.  psutil (``pid_exists``) and skyutild say a
thread id that is not a leader is no process; the pure-Python backend and
the client's first-sight read of /proc must say so too.  A process whose
leader thread exited while other threads run shows a zombie leader in
/proc, but runs on: skyutild answers it alive, so Python must as well.
"""

import errno
import os
import signal
import subprocess
import sys
import textwrap
import time

import psutil
import pytest

import skyutil
from proctools import wait_for
from skyutil import _backend, _proc_py

_THREADED = textwrap.dedent('''
    import threading, time, ctypes, sys
    def run():
        print(threading.get_native_id(), flush=True)
        time.sleep(60)
    threading.Thread(target=run).start()
    time.sleep(0.05)
    if sys.argv[1] == 'leader-exits':
        ctypes.CDLL(None).pthread_exit(None)
    time.sleep(60)
''')


@pytest.fixture
def threaded():
    """Starts a two-thread process: returns (process, tid of the thread)."""
    started = []

    def start(mode='both-run'):
        proc = subprocess.Popen([sys.executable, '-c', _THREADED, mode],
                                stdout=subprocess.PIPE)
        started.append(proc)
        tid = int(proc.stdout.readline())
        assert tid != proc.pid
        if mode == 'leader-exits':
            assert wait_for(lambda: _raw_state(proc.pid) == 'Z')
        return proc, tid

    yield start
    for proc in started:
        proc.kill()
        proc.wait()


def _raw_fields(pid):
    """/proc/<pid>/stat from field 3 (state) on."""
    with open(f'/proc/{pid}/stat', 'rb') as f:
        data = f.read()
    return data[data.rfind(b')') + 2:].split()


def _raw_state(pid):
    return _raw_fields(pid)[0].decode()


def _fully_zombie(pid):
    """The leader is 'Z' and every other thread has been released.

    Right after exit_group() the leader reads 'Z' while the other threads
    are still being torn down (num_threads > 1): the process is exiting,
    not yet a zombie, and both backends answer alive for that instant.
    """
    fields = _raw_fields(pid)
    return fields[0] == b'Z' and int(fields[17]) == 1


def _no_pidfds(monkeypatch):
    def refuse(pid, flags=0):
        raise OSError(errno.ENOSYS, 'pidfd_open refused')
    monkeypatch.setattr(os, 'pidfd_open', refuse)


# ------------------------------------------------------------- thread ids


def test_thread_id_is_not_a_process_in_python(threaded, python_backend):
    proc, tid = threaded()
    assert os.path.exists(f'/proc/{tid}/stat')  # the kernel answers for it
    assert not psutil.pid_exists(tid)
    assert _proc_py.read_stat(tid) is None
    assert not skyutil.is_process_alive(tid)
    assert skyutil.are_processes_alive([tid, proc.pid]) == [False, True]
    assert skyutil.is_process_alive(proc.pid)
    assert skyutil.wait_for_exit(tid, timeout=0.1) is None


def test_thread_id_without_pidfds_reads_tgid(threaded, python_backend,
                                             monkeypatch):
    proc, tid = threaded()
    _no_pidfds(monkeypatch)
    assert _proc_py.read_stat(tid) is None
    assert not skyutil.is_process_alive(tid)
    assert skyutil.is_process_alive(proc.pid)
    assert skyutil.is_process_alive(os.getpid())


def test_thread_id_is_not_a_process_with_daemon(threaded, daemon, use_daemon):
    use_daemon(daemon)
    proc, tid = threaded()
    with skyutil.Client(daemon.path) as client:
        entry, = client.proc_status([tid])
    assert not entry['alive'] and entry['state'] == 'gone'
    for _ in range(2):  # first sight, then whatever the cache holds
        assert not skyutil.is_process_alive(tid)
        time.sleep(0.05)
    assert skyutil.are_processes_alive([tid, proc.pid]) == [False, True]
    assert skyutil.is_process_alive(proc.pid)


def test_kill_children_of_a_thread_id_kills_nothing(threaded, daemon,
                                                    use_daemon, monkeypatch):
    """Not a process: skipped like a missing pid, by either backend.

    (Upstream's psutil.Process(tid).terminate() would signal the whole
    process the thread belongs to.)
    """
    use_daemon(daemon)
    proc, tid = threaded()
    skyutil.kill_children_processes([tid])
    monkeypatch.setenv('SKYUTIL_DISABLE_DAEMON', '1')
    _backend.reset()
    assert skyutil.backend_info()['backend'] == 'python'
    skyutil.kill_children_processes([tid])
    assert proc.poll() is None
    proc.send_signal(signal.SIGTERM)


# -------------------------------------- leader exited, other threads run


def test_exited_leader_with_running_threads_is_alive(threaded,
                                                     python_backend):
    proc, tid = threaded('leader-exits')
    assert psutil.pid_exists(proc.pid)
    assert _proc_py.read_stat(proc.pid).state == 'R'
    assert skyutil.is_process_alive(proc.pid)
    assert skyutil.are_processes_alive([proc.pid, tid]) == [True, False]
    assert proc.pid in _proc_py.all_stats()
    assert _proc_py.all_stats()[proc.pid].state == 'R'
    with pytest.raises(TimeoutError):
        skyutil.wait_for_exit(proc.pid, timeout=0.1)
    proc.kill()
    proc.wait()
    assert not skyutil.is_process_alive(proc.pid)


def test_exited_leader_answers_alike_on_both_backends(threaded, real_daemon,
                                                      use_daemon):
    proc, tid = threaded('leader-exits')
    with skyutil.Client(real_daemon.path) as client:
        entry, = client.proc_status([proc.pid])
    assert entry['alive'] and entry['state'] == 'running'
    python = _proc_py.is_alive(proc.pid)
    use_daemon(real_daemon)
    assert skyutil.is_process_alive(proc.pid) is python is True
    assert skyutil.are_processes_alive([proc.pid, tid]) == [True, False]


def test_real_zombie_of_a_threaded_process_is_dead(python_backend):
    child = subprocess.Popen([sys.executable, '-c', textwrap.dedent('''
        import threading, time, os
        threading.Thread(target=time.sleep, args=(60,), daemon=True).start()
        time.sleep(0.05)
        os._exit(3)
    ''')])
    try:
        assert wait_for(lambda: _fully_zombie(child.pid), 5)
        assert not skyutil.is_process_alive(child.pid)
        assert _proc_py.read_stat(child.pid).state == 'Z'
    finally:
        child.wait()
