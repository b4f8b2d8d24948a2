"""skyutil.Client against a daemon: protocol mechanics.

Tests taking ``daemon`` run against the fake and, when built, the real
skyutild; ``fake_daemon`` tests use the fake's ``test.*`` methods to force
edge cases the real daemon cannot be asked for.
"""

import asyncio
import logging
import os
import signal
import socket
import subprocess
import time

import msgpack
import pytest

import skyutil
from proctools import needs_pidfd_info
from skyutil import errors

BASIC_METHODS = {'hello', 'ping', 'facts.get', 'facts.subscribe',
                 'facts.unsubscribe', 'facts.parallel_threads',
                 'facts.max_workers_for_file_mounts', 'proc.status',
                 'proc.watch', 'proc.unwatch', 'proc.children',
                 'proc.kill_tree', 'daemon.metrics'}


def _term_ignoring_child():
    child = subprocess.Popen(['sh', '-c', "trap '' TERM; exec sleep 30"])
    time.sleep(0.05)  # let the trap be installed before exec
    return child


# ------------------------------------------------------------ basics


def test_hello_and_ping(daemon):
    client = skyutil.Client(daemon.path)
    info = client.hello()
    assert info['server'] == 'skyutild' and info['proto'] == 1
    assert BASIC_METHODS <= set(info['methods'])
    assert {'max_message', 'max_batch'} <= set(info['limits'])
    assert client.ping() == 'pong'
    assert client.call('ping') == 'pong'
    client.close()


def test_facts_and_derived_methods(daemon):
    with skyutil.Client(daemon.path) as client:
        facts = client.facts()
        assert facts['pid'] == os.getpid()
        cpus = facts['cpu_count']
        assert client.parallel_threads() == max(4, cpus - 1)
        assert client.parallel_threads('KUBERNETES') == max(4, cpus - 1) * 4
        soft = facts['nofile_soft']
        assert client.max_workers_for_file_mounts(50) == max(
            1, min((soft - 100) // 50, max(4, cpus - 1)))


def test_typed_errors(daemon):
    with skyutil.Client(daemon.path) as client:
        with pytest.raises(skyutil.UnknownMethod) as info:
            client.call('no.such.method')
        assert info.value.code == 2 and info.value.name == 'UNKNOWN_METHOD'
        with pytest.raises(skyutil.InvalidArgument) as info:
            client.call('facts.get', bogus=1)
        assert info.value.code == 3
        with pytest.raises(skyutil.InvalidArgument):
            client.call('hello', proto=2)
        with pytest.raises(skyutil.SkyutilError):
            client.call('proc.watch')
        # The connection survives argument errors.
        assert client.ping() == 'pong'


def test_watch_of_missing_process(daemon):
    gone = subprocess.Popen(['true'])
    gone.wait()
    with skyutil.Client(daemon.path) as client:
        try:
            watch = client.watch(gone.pid)
        except skyutil.NoSuchProcess:
            return
        assert watch.exited and watch.watch_id is None


def test_connect_failure_is_daemon_unavailable(tmp_path):
    client = skyutil.Client(str(tmp_path / 'none.sock'), timeout=0.5)
    start = time.monotonic()
    with pytest.raises(skyutil.DaemonUnavailable):
        client.ping()
    assert time.monotonic() - start < 0.5


def test_stuck_daemon_times_out(stuck_daemon):
    client = skyutil.Client(stuck_daemon.path, timeout=0.2)
    start = time.monotonic()
    with pytest.raises(skyutil.Timeout) as info:
        client.ping()
    assert isinstance(info.value, TimeoutError)
    assert 0.2 <= time.monotonic() - start < 1.0
    with pytest.raises(skyutil.Timeout):
        client.call('ping', timeout=0.05)


def test_closed_client_refuses(daemon):
    client = skyutil.Client(daemon.path)
    client.ping()
    client.close()
    with pytest.raises(skyutil.DaemonUnavailable):
        client.ping()


# ------------------------------------------------------------ pipelining


def test_pipelined_replies_match_by_msgid(daemon):
    child = _term_ignoring_child()
    with skyutil.Client(daemon.path) as client:
        slow = client.submit('proc.kill_tree', pid=child.pid, grace_s=2.0)
        pings = [client.submit('ping') for _ in range(50)]
        facts = client.submit('facts.get')
        start = time.monotonic()
        assert [p.result() for p in pings] == ['pong'] * 50
        assert facts.result()['pid'] == os.getpid()
        assert time.monotonic() - start < 1.5  # not stuck behind kill_tree
        assert not slow.done()
        result = slow.result(timeout=10)
        assert child.pid in result['killed']
        assert len({p.msgid for p in pings}) == 50
    child.wait()


def test_threads_share_one_client(daemon):
    import threading
    client = skyutil.Client(daemon.path)
    results = []

    def work():
        results.extend(client.ping() for _ in range(200))

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == ['pong'] * 1600
    client.close()


def test_large_batch_is_split_and_ordered(daemon):
    pids = list(range(1, 300_001, 3))  # 100 000 pids
    with skyutil.Client(daemon.path, timeout=30) as client:
        entries = client.proc_status(pids)
    assert [e['pid'] for e in entries] == pids
    assert entries[0]['alive']  # pid 1


def test_oversized_request_is_refused_client_side(daemon):
    with skyutil.Client(daemon.path) as client:
        client.hello()
        with pytest.raises(skyutil.TooLarge):
            client.call('proc.status', procs=[{'pid': 1}] * 300_000)
        assert client.ping() == 'pong'


def test_garbage_gets_bad_request_and_close(daemon):
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(5)
        sock.connect(daemon.path)
        sock.sendall(b'\xc1')
        unpacker = msgpack.Unpacker(raw=False)
        data = b''
        while True:
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
        unpacker.feed(data)
        reply = next(unpacker)
    assert reply[0] == 1 and reply[1] == 0
    assert reply[2]['name'] == 'BAD_REQUEST' and reply[2]['code'] == 1


# ---------------------------------------------------------------- watch


def test_watch_reports_exit_code(daemon):
    child = subprocess.Popen(['sh', '-c', 'sleep 0.2; exit 7'])
    with skyutil.Client(daemon.path) as client:
        watch = client.watch(child.pid)
        assert not watch.exited and watch.watch_id is not None
        assert child.wait() == 7
        assert watch.wait(10)
        assert watch.exited and watch.exit_code == 7 and watch.signal is None


def test_watch_reports_signal(daemon):
    child = subprocess.Popen(['sleep', '30'])
    with skyutil.Client(daemon.path) as client:
        watch = client.watch(child.pid)
        child.kill()
        child.wait()
        assert watch.wait(10)
        assert watch.signal == signal.SIGKILL and watch.exit_code is None


def test_watch_timeout_and_cancel(daemon):
    child = subprocess.Popen(['sleep', '30'])
    with skyutil.Client(daemon.path) as client:
        watch = client.watch(child.pid)
        assert not watch.wait(0.1)
        watch.cancel()
        child.kill()
        child.wait()
        assert client.next_event(0.3) is None  # no event after unwatch
    assert not watch.exited


def test_notifications_read_while_waiting_are_queued(daemon):
    child = subprocess.Popen(['sh', '-c', 'sleep 0.2; exit 3'])
    with skyutil.Client(daemon.path) as client:
        watch = client.watch(child.pid)
        child.wait()
        deadline = time.monotonic() + 5
        while not watch.exited:  # settled by replies' reads, not wait()
            assert time.monotonic() < deadline
            client.ping()
            time.sleep(0.01)
        method, params = client.next_event(1)
        assert method == 'proc.exited' and params['pid'] == child.pid
        assert params['watch_id'] == watch.watch_id


def test_asyncio_integration(daemon):
    child = subprocess.Popen(['sh', '-c', 'sleep 0.1; exit 4'])
    client = skyutil.Client(daemon.path)

    async def main():
        loop = asyncio.get_running_loop()
        done = loop.create_future()
        seen = []
        watch = client.watch(child.pid)
        watch.add_done_callback(lambda w: done.set_result(w.exit_code))
        loop.add_reader(client.fileno(),
                        lambda: seen.extend(client.process_events()))
        try:
            await asyncio.get_running_loop().run_in_executor(None, child.wait)
            return await asyncio.wait_for(done, 10), seen
        finally:
            loop.remove_reader(client.fileno())

    code, seen = asyncio.run(main())
    assert code == 4
    assert [m for m, _ in seen] == ['proc.exited']
    assert client.process_events() == []
    client.close()


# ------------------------------------------------- restarts and forks


def test_reconnects_after_daemon_restart(daemon):
    client = skyutil.Client(daemon.path, timeout=1)
    assert client.ping() == 'pong'
    daemon.kill()
    with pytest.raises(skyutil.DaemonUnavailable):
        client.ping()
    daemon.start()
    assert client.ping() == 'pong'
    client.close()


def test_watch_survives_daemon_restart(daemon):
    child = subprocess.Popen(['sleep', '30'])
    client = skyutil.Client(daemon.path, timeout=2)
    watch = client.watch(child.pid)
    daemon.kill()
    daemon.start()
    child.kill()
    child.wait()
    assert watch.wait(10)
    assert watch.exited
    client.close()


def _nested(depth):
    value = 0
    for _ in range(depth):
        value = [value]
    return value


@needs_pidfd_info
def test_rearmed_watch_learns_an_exit_missed_while_disconnected(real_daemon):
    """The connection drops (the daemon closes it on a request nested too
    deep), the process dies meanwhile; the re-armed watch gets its exit code
    from the daemon's exit cache (the process lingered), not just 'gone'."""
    child = subprocess.Popen(['sh', '-c', 'read x; exit 7'],
                             stdin=subprocess.PIPE)
    client = skyutil.Client(real_daemon.path, timeout=2)
    try:
        watch = client.watch(child.pid)
        assert not watch.done and watch.watch_id is not None
        with pytest.raises(skyutil.BadRequest):  # the call that did it
            client.call('ping', x=_nested(40))
        # Others on that connection see a lost connection, not BAD_REQUEST.
        with pytest.raises(skyutil.DaemonUnavailable, match='closed the connection'):
            client.next_event(0.1)
        child.communicate(b'\n', timeout=10)
        assert child.returncode == 7
        assert watch.wait(10)
        assert (watch.exit_code, watch.signal) == (7, None)
        assert client.ping() == 'pong'
    finally:
        client.close()
        if child.poll() is None:
            child.kill()
            child.wait()


def test_fork_child_gets_its_own_connection(daemon):
    client = skyutil.Client(daemon.path)
    client.ping()
    pending = client.submit('facts.get')  # its reply is the parent's
    pid = os.fork()
    if pid == 0:  # child: must not read the parent's reply or socket
        code = 1
        try:
            facts = client.facts()
            code = 0 if facts['pid'] == os.getpid() else 2
        finally:
            os._exit(code)  # pylint: disable=protected-access
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert pending.result()['pid'] == os.getpid()
    assert client.ping() == 'pong'  # the child did not shut our socket down
    client.close()


# --------------------------------------------------- fake-only edge cases


def test_facts_changed_events(fake_daemon):
    with skyutil.Client(fake_daemon.path) as client:
        sub = client.subscribe_facts()
        assert sub['facts']['pid'] == os.getpid()
        assert client.next_event(0.1) is None
        client.call('test.push_facts', facts={'cpu_count': 99})
        events = list(client.events(timeout=0.5))
        assert events == [('facts.changed', {
            'subscription_id': sub['subscription_id'], 'generation': 1,
            'facts': {'cpu_count': 99}})]
        assert client.unsubscribe_facts(sub['subscription_id']) is True


def test_connection_drop_fails_pending_then_reconnects(fake_daemon):
    client = skyutil.Client(fake_daemon.path)
    slow = client.submit('test.sleep', seconds=5)
    with pytest.raises(skyutil.DaemonUnavailable):
        client.call('test.drop', timeout=2)
    with pytest.raises(skyutil.DaemonUnavailable):
        slow.result(1)
    assert client.ping() == 'pong'
    client.close()


def test_events_end_with_connection(fake_daemon):
    client = skyutil.Client(fake_daemon.path)
    client.subscribe_facts()
    client.submit('test.drop')
    with pytest.raises(skyutil.DaemonUnavailable):
        client.next_event(2)


@pytest.mark.parametrize('name,cls', sorted(errors._BY_NAME.items()))  # pylint: disable=protected-access
def test_every_error_name_maps_to_its_class(fake_daemon, name, cls):
    if name == 'TIMEOUT':
        pytest.skip('client-side only')
    with skyutil.Client(fake_daemon.path) as client:
        with pytest.raises(cls) as info:
            client.call('test.error', name=name)
        assert type(info.value) is cls  # pylint: disable=unidiomatic-typecheck
        assert info.value.name == name and info.value.code == cls.code


def test_unknown_error_name_keeps_name_and_code():
    exc = errors.from_wire({'code': 42, 'name': 'NEW_THING', 'message': 'm'})
    assert type(exc) is skyutil.SkyutilError  # pylint: disable=unidiomatic-typecheck
    assert (exc.name, exc.code, str(exc)) == ('NEW_THING', 42, 'NEW_THING: m')
    assert isinstance(errors.from_wire({'code': 5, 'name': 'X'}),
                      skyutil.NoSuchProcess)
    assert isinstance(skyutil.PidReused('x'), ProcessLookupError)


def test_unconsumed_events_are_bounded(fake_daemon, caplog):
    with skyutil.Client(fake_daemon.path, max_events=3) as client:
        client.subscribe_facts()
        with caplog.at_level(logging.WARNING, logger='skyutil'):
            for i in range(5):
                client.call('test.push_facts', facts={'n': i})
        events = client.process_events()
    assert [e[1]['facts']['n'] for e in events] == [2, 3, 4]
    assert any('dropped' in r.message for r in caplog.records)
