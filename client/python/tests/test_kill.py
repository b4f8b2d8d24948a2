"""kill_children_processes: upstream's argument handling and permission
semantics, identical on the pure-Python backend and both daemons.

Upstream builds ``psutil.Process(pid)`` for every entry first and skips
``NoSuchProcess``: pid 0 and pids beyond pid_t are skipped, a negative pid
raises psutil's ``ValueError`` before anything is killed.  A process the
caller may not signal makes upstream raise ``psutil.AccessDenied``;
skyutil kills everything else first, then raises ``PermissionError``.
"""

import json
import os
import pwd
import shutil
import signal
import subprocess
import sys
import textwrap
import time

import psutil
import pytest

import daemons
import skyutil
from proctools import wait_for
from skyutil import _backend, _proc_py, errors, helpers

HERE = os.path.dirname(os.path.abspath(__file__))
CLIENT_DIR = os.path.dirname(HERE)


@pytest.fixture(params=['python', 'fake', 'real'])
def backend(request, monkeypatch, use_daemon):
    """Each backend in turn; yields its name."""
    if request.param == 'python':
        monkeypatch.setenv('SKYUTIL_DISABLE_DAEMON', '1')
        _backend.reset()
    else:
        use_daemon(request.getfixturevalue(f'{request.param}_daemon'))
    expected = 'python' if request.param == 'python' else 'daemon'
    assert skyutil.backend_info()['backend'] == expected
    yield request.param


def _sleeper():
    child = subprocess.Popen(['sleep', '100'])
    assert wait_for(lambda: _proc_py.read_stat(child.pid) is not None)
    return child


# ------------------------------------------------------------ arguments


def test_psutil_reference_behaviour():
    """What upstream's psutil.Process(pid) does with the odd pids."""
    for pid in (0, 2**31, 2**63):
        with pytest.raises(psutil.NoSuchProcess):
            psutil.Process(pid)
    with pytest.raises(ValueError, match='pid must be a positive integer'):
        psutil.Process(-5)


@pytest.mark.parametrize('pid', [0, 2**31, 2**31 + 5, 2**63, 2**64, 10**30,
                                 True, False])
def test_nonexistent_parent_is_skipped(backend, pid):
    child = _sleeper()
    try:
        assert skyutil.kill_children_processes([pid]) is None
        assert skyutil.kill_children_processes([pid, None]) is None
        if not isinstance(pid, bool):
            assert skyutil.kill_children_processes(pid) is None
        assert child.poll() is None
        # The skip does not stop the list: later entries are killed.
        skyutil.kill_children_processes([pid, child.pid])
        assert child.wait(5) == -signal.SIGTERM
    finally:
        child.kill()
        child.wait()


@pytest.mark.parametrize('pid', [-1, -5, -2**31, -2**70])
def test_negative_parent_raises_before_killing(backend, pid):
    child = _sleeper()
    try:
        with pytest.raises(ValueError,
                           match=f'pid must be a positive integer .got {pid}'):
            skyutil.kill_children_processes([child.pid, pid])
        with pytest.raises(ValueError):
            skyutil.kill_children_processes(pid)
        assert child.poll() is None  # listed first, yet untouched
    finally:
        child.kill()
        child.wait()


@pytest.mark.parametrize('pid', [1.0, 1.5, '1', b'1', object()])
def test_non_integer_parent_raises_type_error(backend, pid):
    with pytest.raises(TypeError, match='pid must be an integer'):
        skyutil.kill_children_processes([pid])


def test_integer_like_parent_is_accepted(backend):
    class Pid:
        def __init__(self, value):
            self.value = value

        def __index__(self):
            return self.value

    child = _sleeper()
    skyutil.kill_children_processes([Pid(child.pid)])
    assert child.wait(5) == -signal.SIGTERM


def test_validation_is_shared_by_the_backends():
    assert helpers._parent_pid(None) is None  # pylint: disable=protected-access
    assert helpers._parent_pid(0) is None  # pylint: disable=protected-access
    assert helpers._parent_pid(2**31 - 1) == 2**31 - 1  # pylint: disable=protected-access
    assert helpers._parent_pid(2**31) is None  # pylint: disable=protected-access


# ----------------------------------------------------------- permissions

_NOBODY = pwd.getpwnam('nobody') if os.geteuid() == 0 else None
needs_root = pytest.mark.skipif(
    _NOBODY is None, reason='needs root to run processes as nobody')

# Runs as root: starts a root-owned child, then becomes nobody itself, so
# nobody may signal this process but not its child.
_DROPS_PRIVILEGES = textwrap.dedent('''
    import os, subprocess, sys, time
    child = subprocess.Popen(['sleep', '100'])
    os.setgid(int(sys.argv[2]))
    os.setuid(int(sys.argv[1]))
    print(child.pid, flush=True)
    time.sleep(100)
''')

# Runs as nobody: kills the tree and reports what it saw.
_CALLER = textwrap.dedent('''
    import json, sys
    import skyutil
    from skyutil import helpers
    helpers.KILL_GRACE_PERIOD = 1.0
    out = {'backend': skyutil.backend_info()['backend']}
    try:
        skyutil.kill_children_processes([int(sys.argv[1])])
    except PermissionError as exc:
        out.update(error=type(exc).__name__, pids=exc.pids, message=str(exc))
    print(json.dumps(out))
''')


def _as_nobody():
    os.setgid(_NOBODY.pw_gid)
    os.setuid(_NOBODY.pw_uid)


def _shared_daemon(kind):
    """A real daemon whose socket nobody may use."""
    assert kind == 'real'
    binary = daemons.daemon_binary()
    if binary is None:
        pytest.skip('skyutild binary not found')
    daemon = daemons.DaemonProcess([binary, '--socket-mode', '0666'],
                                   'skyutild')
    os.chmod(daemon.dir, 0o755)
    daemon.start()
    return daemon


def _caller_env(daemon):
    """The environment of a caller using ``daemon``, or pure Python if None."""
    env = dict(os.environ, PYTHONPATH=CLIENT_DIR,
               XDG_RUNTIME_DIR='/nonexistent-skyutil-test')
    if daemon is None:
        env['SKYUTIL_DISABLE_DAEMON'] = '1'
    else:
        env['SKYUTILD_SOCKET'] = daemon.path
    return env


@needs_root
@pytest.mark.parametrize('kind', ['python', 'real'])
def test_descendant_we_may_not_signal(kind):
    """Both backends kill what they may, then raise PermissionError.

    (The fake daemon does not model peer credentials: it kills as root.)
    """
    daemon = None if kind == 'python' else _shared_daemon(kind)
    parent = subprocess.Popen(
        [sys.executable, '-c', _DROPS_PRIVILEGES, str(_NOBODY.pw_uid),
         str(_NOBODY.pw_gid)], stdout=subprocess.PIPE)
    try:
        root_child = int(parent.stdout.readline())
        assert wait_for(lambda: os.stat(f'/proc/{parent.pid}').st_uid ==
                        _NOBODY.pw_uid)
        env = _caller_env(daemon)
        start = time.monotonic()
        out = subprocess.run(
            [sys.executable, '-c', _CALLER, str(parent.pid)], env=env,
            preexec_fn=_as_nobody, capture_output=True, text=True,
            timeout=30, check=True)
        report = json.loads(out.stdout)
        assert report['backend'] == ('python' if daemon is None else 'daemon')
        assert report['error'] == 'PermissionDenied', out.stderr
        assert report['pids'] == [root_child]
        assert f'pid {root_child}' in report['message']
        # The parent was killed at once, not after a wasted grace period.
        assert parent.wait(5) == -signal.SIGTERM
        assert time.monotonic() - start < 5
        assert _proc_py.is_alive(root_child)
    finally:
        parent.kill()
        parent.wait()
        if daemon is not None:
            daemon.cleanup()
    os.kill(root_child, signal.SIGKILL)


@needs_root
@pytest.mark.parametrize('kind', ['python', 'real'])
def test_root_we_may_not_signal_raises_and_the_rest_is_killed(kind):
    daemon = None if kind == 'python' else _shared_daemon(kind)
    protected = _sleeper()  # root-owned
    mine = subprocess.Popen(['sleep', '100'], preexec_fn=_as_nobody)
    try:
        env = _caller_env(daemon)
        script = _CALLER.replace('[int(sys.argv[1])]',
                                 '[int(a) for a in sys.argv[1:]]')
        out = subprocess.run(
            [sys.executable, '-c', script, str(protected.pid), str(mine.pid)],
            env=env, preexec_fn=_as_nobody, capture_output=True, text=True,
            timeout=30, check=True)
        report = json.loads(out.stdout)
        assert report['error'] == 'PermissionDenied', out.stderr
        assert report['pids'] == [protected.pid]
        assert mine.wait(5) == -signal.SIGTERM
        assert protected.poll() is None
    finally:
        for proc in (protected, mine):
            proc.kill()
            proc.wait()
        if daemon is not None:
            daemon.cleanup()


def test_denied_descendant_is_not_waited_for(monkeypatch):
    """Local path: a descendant refused by the kernel is listed, not awaited."""
    from skyutil import _proc_kill  # pylint: disable=import-outside-toplevel
    parent = subprocess.Popen(['sh', '-c', 'sleep 100 & wait'])
    assert wait_for(lambda: len(_proc_py.descendants(
        parent.pid, _proc_py.read_stat(parent.pid).start_time)) == 1)
    child, = _proc_py.descendants(parent.pid,
                                  _proc_py.read_stat(parent.pid).start_time)
    real_send = _proc_kill._Target._signal  # pylint: disable=protected-access

    def send(target, sig):
        if target.pid == child:
            raise PermissionError(1, 'Operation not permitted')
        real_send(target, sig)

    monkeypatch.setattr(_proc_kill._Target, '_signal', send)  # pylint: disable=protected-access
    try:
        start = time.monotonic()
        result = _proc_kill.kill_tree(parent.pid, grace_s=5.0)
        assert time.monotonic() - start < 2
        assert result['denied'] == [child]
        assert result['signalled'] == [parent.pid]
        assert parent.wait(5) == -signal.SIGTERM
    finally:
        os.kill(child, signal.SIGKILL)
        parent.kill()
        parent.wait()


def test_permission_denied_is_a_permission_error():
    assert issubclass(errors.PermissionDenied, PermissionError)


def test_stopped_process_is_continued_and_terminated(backend, monkeypatch):
    """A SIGSTOPped process acts on SIGTERM only once continued: both
    backends send SIGCONT, so it ends at once, not after the grace."""
    monkeypatch.setattr(helpers, 'KILL_GRACE_PERIOD', 5.0)
    child = _sleeper()
    os.kill(child.pid, signal.SIGSTOP)
    assert wait_for(lambda: _proc_py.read_stat(child.pid).state == 'T')
    start = time.monotonic()
    skyutil.kill_children_processes([child.pid])
    assert time.monotonic() - start < 3
    assert child.wait(5) == -signal.SIGTERM


_KILLS_INIT = textwrap.dedent('''
    import json, os, subprocess, sys
    import skyutil
    sibling = subprocess.Popen(['sleep', '1000'])
    out = {'pid': os.getpid()}
    try:
        skyutil.kill_children_processes([1])
    except skyutil.PermissionDenied as exc:
        out.update(error='PermissionDenied', pids=exc.pids, message=str(exc))
    out['sibling_alive'] = sibling.poll() is None
    sibling.kill()
    print(json.dumps(out))
''')


@needs_root
def test_init_is_not_killed():
    """kill_children_processes([1]) would signal every process (upstream does):
    refused unless the caller is init. Run in a pid namespace of its own, under
    a shell as its init, so that a regression could reach nothing else."""
    if not shutil.which('unshare'):
        pytest.skip('unshare (util-linux) is not installed')
    env = _caller_env(None)
    r = subprocess.run(
        ['unshare', '--pid', '--fork', '--mount-proc', 'sh', '-c',
         f'"{sys.executable}" -c "$1"; echo "exit=$?"', 'sh', _KILLS_INIT],
        env=env, capture_output=True, text=True, timeout=60)
    lines = r.stdout.splitlines()
    assert lines and lines[-1] == 'exit=0', r.stdout + r.stderr
    report = json.loads(lines[0])
    assert report['pid'] != 1
    assert report['error'] == 'PermissionDenied', report
    assert report['pids'] == [1] and 'pid 1' in report['message'], report
    assert report['sibling_alive'], report
