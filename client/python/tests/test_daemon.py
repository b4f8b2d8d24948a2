"""The real skyutild against docs/protocol.md and the pure-Python backend.

Skipped (with the reason printed) when the binary is not built; set
``SKYUTILD_BIN`` to point at it.  Unlike the fake, the real daemon's values
must equal what the pure-Python algorithm computes for this process.
"""

import os
import signal
import socket
import subprocess
import time

import msgpack
import psutil
import pytest

import skyutil
from proctools import grandchild, needs_pidfd_info, wait_for, zombie
from skyutil import _backend, _facts_py, _proc_py

ALL_METHODS = {
    'hello', 'ping', 'facts.get', 'facts.subscribe', 'facts.unsubscribe',
    'facts.parallel_threads', 'facts.max_workers_for_file_mounts',
    'proc.status', 'proc.watch', 'proc.unwatch', 'proc.children',
    'proc.kill_tree', 'proc.guard', 'proc.unguard', 'proc.guards',
    'daemon.metrics'}
# Facts whose meaning the protocol and the merged algorithm pin down.
PARITY_FIELDS = ('cpu_count', 'cpu_count_floor', 'cpu_quota', 'cpu_online',
                 'cpu_affinity', 'cpuset_cpus', 'mem_total_bytes',
                 'mem_limit_bytes', 'mem_effective_bytes', 'mem_high_bytes',
                 'pids_limit', 'pid_max', 'threads_max', 'nofile_soft',
                 'nofile_hard')
ENTRY_KEYS = {'pid', 'alive', 'state', 'start_time', 'create_time', 'ppid',
              'uid', 'exit_code', 'signal', 'reason'}


@pytest.fixture
def client(real_daemon):
    with skyutil.Client(real_daemon.path) as c:
        yield c


def _raw_exchange(path, payload):
    """Sends raw bytes; returns (decoded replies, closed by daemon)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(5)
        sock.connect(path)
        try:
            sock.sendall(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass  # rejected from its header, before we finished sending
        data = b''
        closed = False
        try:
            while True:
                try:
                    chunk = sock.recv(65536)
                except ConnectionResetError:
                    chunk = b''
                if not chunk:
                    closed = True
                    break
                data += chunk
        except socket.timeout:
            pass
    unpacker = msgpack.Unpacker(raw=False)
    unpacker.feed(data)
    return list(unpacker), closed


# ------------------------------------------------------------- hello


def test_hello_lists_every_method_and_limit(client, real_daemon):
    info = client.hello()
    assert ALL_METHODS <= set(info['methods'])
    assert info['server'] == 'skyutild' and info['proto'] == 1
    assert info['pid'] == real_daemon.proc.pid
    assert set(info['limits']) >= {'max_message', 'max_depth',
                                   'max_connections', 'max_output',
                                   'max_batch'}
    assert isinstance(info['version'], str)


# ------------------------------------------------------------- facts


def test_facts_equal_pure_python(client):
    daemon_facts = client.facts()
    local = _facts_py.compute_facts()
    assert daemon_facts['pid'] == os.getpid()
    for field in PARITY_FIELDS:
        assert daemon_facts[field] == local[field], field
    assert isinstance(daemon_facts['generation'], int)
    assert set(daemon_facts['source']) == {'cpu', 'memory', 'pids'}
    assert isinstance(daemon_facts['warnings'], list)


def test_helpers_identical_on_both_backends(real_daemon, monkeypatch):
    monkeypatch.setenv('SKYUTILD_SOCKET', real_daemon.path)
    _backend.reset()
    assert skyutil.backend_info()['backend'] == 'daemon'
    with_daemon = (skyutil.get_cpu_count(), skyutil.get_mem_size_gb(),
                   skyutil.get_parallel_threads(),
                   skyutil.get_parallel_threads('kubernetes'),
                   skyutil.get_max_workers_for_file_mounts({}))
    monkeypatch.setenv('SKYUTIL_DISABLE_DAEMON', '1')
    _backend.reset()
    assert skyutil.backend_info()['backend'] == 'python'
    without = (skyutil.get_cpu_count(), skyutil.get_mem_size_gb(),
               skyutil.get_parallel_threads(),
               skyutil.get_parallel_threads('kubernetes'),
               skyutil.get_max_workers_for_file_mounts({}))
    _backend.reset()
    assert with_daemon == without


def test_facts_for_another_pid(client):
    child = subprocess.Popen(['sleep', '30'])
    try:
        assert client.facts(child.pid)['pid'] == child.pid
    finally:
        child.kill()
        child.wait()


def test_derived_methods_follow_the_formulas(client):
    facts = client.facts()
    threads = max(4, facts['cpu_count'] - 1)
    assert client.parallel_threads() == threads
    assert client.parallel_threads('Kubernetes') == threads * 4
    for fds in (1, 5, 50, 5000):
        assert client.max_workers_for_file_mounts(fds) == max(
            1, min((facts['nofile_soft'] - 100) // fds, threads))


def test_affinity_change_is_pushed(real_daemon, monkeypatch):
    """facts.changed keeps the helpers' cache coherent (within ~1 s)."""
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        pytest.skip('needs two CPUs to narrow the affinity')
    monkeypatch.setenv('SKYUTILD_SOCKET', real_daemon.path)
    _backend.reset()
    before = skyutil.get_cpu_count()
    try:
        os.sched_setaffinity(0, {cpus[0]})
        assert wait_for(lambda: skyutil.get_cpu_count() == 1, 3)
    finally:
        os.sched_setaffinity(0, cpus)
    assert wait_for(lambda: skyutil.get_cpu_count() == before, 3)


def test_subscription_lifecycle(client):
    sub = client.subscribe_facts()
    assert sub['facts']['pid'] == os.getpid()
    assert client.unsubscribe_facts(sub['subscription_id']) is True


# ------------------------------------------------------------- errors


@pytest.mark.parametrize('method,params,cls', [
    ('no.such.method', {}, skyutil.UnknownMethod),
    ('facts.get', {'bogus': 1}, skyutil.InvalidArgument),
    ('proc.watch', {}, skyutil.InvalidArgument),
    ('proc.watch', {'pid': 'one'}, skyutil.InvalidArgument),
    ('proc.status', {'procs': 'x'}, skyutil.InvalidArgument),
    ('hello', {'proto': 2}, skyutil.InvalidArgument),
    ('facts.max_workers_for_file_mounts', {'fds_per_source': 0},
     skyutil.InvalidArgument),
    ('proc.unwatch', {'watch_id': 987654}, skyutil.InvalidArgument),
])
def test_error_replies(client, method, params, cls):
    with pytest.raises(cls):
        client.call(method, **params)
    assert client.ping() == 'pong'  # argument errors keep the connection


def test_missing_process_errors(client):
    gone = subprocess.Popen(['true'])
    gone.wait()
    with pytest.raises(skyutil.NoSuchProcess):
        client.children(gone.pid)
    stat = _proc_py.read_stat(os.getpid())
    with pytest.raises(skyutil.PidReused):
        client.children(os.getpid(), start_time=stat.start_time + 1)


def test_garbage_is_bad_request_then_close(real_daemon):
    replies, closed = _raw_exchange(real_daemon.path, b'\xc1\xc1\xc1')
    assert closed
    assert replies[0][:2] == [1, 0]
    assert replies[0][2]['name'] == 'BAD_REQUEST'


def test_oversized_message_is_too_large_then_close(real_daemon):
    payload = msgpack.packb([0, 1, 'proc.status',
                             [{'procs': [1] * 2_000_000}]])
    replies, closed = _raw_exchange(real_daemon.path, payload)
    assert closed
    assert replies and replies[0][2]['name'] == 'TOO_LARGE'
    assert replies[0][2]['code'] == 8


def test_too_deep_nesting_is_bad_request(real_daemon):
    nested = 1
    for _ in range(40):
        nested = [nested]
    replies, closed = _raw_exchange(
        real_daemon.path, msgpack.packb([0, 1, 'proc.status',
                                         [{'procs': nested}]]))
    assert replies[0][2]['name'] in ('BAD_REQUEST', 'INVALID_ARGUMENT')


# -------------------------------------------------------- proc.status


def test_status_entries(client):
    child = zombie()
    me = _proc_py.read_stat(os.getpid())
    try:
        own, dead, reused, gone = client.proc_status([
            os.getpid(), child.pid,
            {'pid': os.getpid(), 'start_time': me.start_time + 1}, 4194303])
    finally:
        child.wait()
    for entry in (own, dead, reused, gone):
        assert set(entry) >= ENTRY_KEYS
    assert own['alive'] and own['state'] in ('running', 'sleeping')
    assert own['start_time'] == me.start_time
    assert abs(own['create_time'] -
               psutil.Process(os.getpid()).create_time()) <= 0.01
    assert own['ppid'] == os.getppid() and own['uid'] == os.getuid()
    assert not dead['alive'] and dead['state'] == 'zombie'
    assert not reused['alive'] and reused['state'] == 'reused'
    assert not gone['alive'] and gone['state'] == 'gone'


def test_status_fields(client):
    me = _proc_py.read_stat(os.getpid())
    (entry,) = client.proc_status([os.getpid()], fields=['alive', 'start_time'])
    assert entry == {'alive': True, 'start_time': me.start_time}
    (entry,) = client.proc_status([os.getpid()], fields=('pid', 'state'))
    assert set(entry) == {'pid', 'state'}
    with pytest.raises(skyutil.InvalidArgument, match='no field named "colour"'):
        client.proc_status([os.getpid()], fields=['colour'])


# -------------------------------------------------------------- watch


def test_watch_exit_code_of_child(client):
    child = subprocess.Popen(['sh', '-c', 'sleep 0.2; exit 7'])
    watch = client.watch(child.pid)
    assert watch.state['alive'] and watch.watch_id is not None
    assert child.wait() == 7
    assert watch.wait(10)
    assert watch.exit_code == 7 and watch.signal is None
    assert isinstance(watch.exited_at, float)


@needs_pidfd_info
def test_watch_exit_code_of_non_child(client):
    shell, pid = grandchild('sleep 0.2; exit 9')
    watch = client.watch(pid)
    shell.wait()
    assert watch.wait(10) and watch.exit_code == 9


def test_watch_with_wrong_start_time(client):
    child = subprocess.Popen(['sleep', '30'])
    try:
        start = _proc_py.read_stat(child.pid).start_time
        try:
            watch = client.watch(child.pid, start + 1)
        except skyutil.PidReused:
            return
        assert watch.exited and watch.state['state'] == 'reused'
    finally:
        child.kill()
        child.wait()


# -------------------------------------------------- children and kill


def test_children_and_kill_tree(client):
    parent = subprocess.Popen(['sh', '-c', 'sleep 100 & sleep 100 & wait'])
    start = _proc_py.read_stat(parent.pid).start_time
    assert wait_for(lambda: len(client.children(parent.pid)) == 2)
    children = client.children(parent.pid, start, recursive=True)
    assert {c['ppid'] for c in children} == {parent.pid}
    result = client.kill_tree(parent.pid, start, grace_s=5)
    assert parent.wait(5) == -signal.SIGTERM
    assert set(result['signalled']) == {parent.pid} | {c['pid']
                                                       for c in children}
    assert result['killed'] == []


def test_kill_tree_escalates_to_sigkill(client):
    child = subprocess.Popen(['sh', '-c', "trap '' TERM; exec sleep 30"])
    time.sleep(0.05)
    start = time.monotonic()
    result = client.kill_tree(child.pid, grace_s=0.3)
    assert time.monotonic() - start >= 0.3
    assert child.wait(5) == -signal.SIGKILL
    assert result['killed'] == [child.pid]


def test_guard_kills_target_when_watched_exits(client):
    watched = subprocess.Popen(['sleep', '30'])
    target = subprocess.Popen(['sh', '-c', 'sleep 100 & wait'])
    guard_id = client.guard({'pid': watched.pid}, {'pid': target.pid},
                            grace_s=1)
    listed = {g['guard_id']: g for g in client.guards()}
    assert listed[guard_id]['target']['pid'] == target.pid
    watched.kill()
    watched.wait()
    assert target.wait(10) == -signal.SIGTERM
    assert wait_for(lambda: guard_id not in
                    {g['guard_id'] for g in client.guards()}, 3)


def test_guard_on_an_ended_process_fires_at_once(client):
    ended = subprocess.Popen(['true'])
    ended.wait()
    target = subprocess.Popen(['sleep', '30'])
    try:
        assert client.guard({'pid': ended.pid}, {'pid': target.pid},
                            signal='USR1') is None
        assert target.wait(10) == -signal.SIGUSR1
        assert not any(g['target']['pid'] == target.pid
                       for g in client.guards())
    finally:
        target.kill()
        target.wait()


def test_unguard(client):
    watched = subprocess.Popen(['sleep', '30'])
    target = subprocess.Popen(['sleep', '30'])
    try:
        guard_id = client.guard({'pid': watched.pid}, {'pid': target.pid})
        assert client.unguard(guard_id) is True
        watched.kill()
        watched.wait()
        time.sleep(0.5)
        assert target.poll() is None
    finally:
        target.kill()
        target.wait()


def test_metrics_are_prometheus_text(client):
    text = client.metrics()
    assert isinstance(text, str) and text.strip()
    for line in text.splitlines():
        assert line.startswith('#') or len(line.split()) >= 2
