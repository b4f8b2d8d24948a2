"""proc.status: identity, states, batches, argument checking."""
import os
import signal
import subprocess

import psutil
import pytest

from conftest import RpcError, start_time, state, wait_for


def test_self_identity_matches_proc_and_psutil(client):
    me = os.getpid()
    [e] = client.call("proc.status", {"procs": [me]})
    assert e["pid"] == me
    assert e["alive"] is True
    assert e["state"] in ("running", "sleeping")
    assert e["start_time"] == start_time(me)
    assert e["ppid"] == os.getppid()
    assert e["uid"] == os.getuid()
    assert e["exit_code"] is None and e["signal"] is None and e["reason"] is None
    # The same instant psutil reports, to within one clock tick.
    assert abs(e["create_time"] - psutil.Process(me).create_time()) <= 0.011
    # Linux >= 6.9 keeps pidfds on pidfs: a per-process inode.
    assert isinstance(e["pidfd_ino"], int) and e["pidfd_ino"] > 0


def test_states_stopped_zombie_gone(client, procs):
    stopped = procs.spawn(["sleep", "1000"])
    os.kill(stopped.pid, signal.SIGSTOP)
    wait_for(lambda: state(stopped.pid) == "T", what="stop")
    zombie = procs.spawn(["true"])
    wait_for(lambda: state(zombie.pid) == "Z", what="zombie")
    gone = procs.spawn(["true"])
    gone.wait()

    st, zo, go = client.call("proc.status", {"procs": [stopped.pid, zombie.pid, gone.pid]})
    assert st["state"] == "stopped" and st["alive"] is True
    # A zombie has exited: it is not alive (psutil's is_running() says it is).
    assert zo["state"] == "zombie" and zo["alive"] is False
    assert zo["start_time"] == start_time(zombie.pid)
    assert zo["reason"]
    assert go["state"] == "gone" and go["alive"] is False and go["start_time"] is None
    os.kill(stopped.pid, signal.SIGCONT)


def test_start_time_checks_identity(client, procs):
    p = procs.spawn(["sleep", "1000"])
    st = start_time(p.pid)
    same, other = client.call(
        "proc.status", {"procs": [{"pid": p.pid, "start_time": st},
                                  {"pid": p.pid, "start_time": st + 1}]})
    assert same["alive"] is True and same["start_time"] == st
    assert other["alive"] is False and other["state"] == "reused"
    assert other["start_time"] == st + 1


def test_batch_of_100k_in_order(client):
    # Mostly pids that do not exist (cheap), with live ones sprinkled in.
    me, parent = os.getpid(), os.getppid()
    pids = [4_000_000 + i for i in range(100_000)]
    pids[0], pids[50_000], pids[99_999] = me, parent, me
    out = client.call("proc.status", {"procs": pids}, timeout=60)
    assert len(out) == 100_000
    assert [e["pid"] for e in out] == pids
    assert out[0]["alive"] and out[50_000]["alive"] and out[99_999]["alive"]
    assert out[1]["state"] == "gone" and not out[1]["alive"]
    assert sum(e["alive"] for e in out) == 3


@pytest.mark.parametrize("procs_arg", [
    [0], [-1], ["1"], [{"pid": 1, "extra": 2}], [{"start_time": 5}], [{"pid": 1, "start_time": -1}],
    [1.5], [2 ** 40],
])
def test_bad_entries_rejected(client, procs_arg):
    with pytest.raises(RpcError) as e:
        client.call("proc.status", {"procs": procs_arg})
    assert e.value.name == "INVALID_ARGUMENT"
    # The connection stays usable.
    assert client.call("ping") == "pong"


def test_unknown_argument_rejected(client):
    with pytest.raises(RpcError) as e:
        client.call("proc.status", {"procs": [1], "bogus": True})
    assert e.value.name == "INVALID_ARGUMENT"


def test_batch_limit(tmp_path):
    from rpc import Daemon
    d = Daemon(["--max-batch", "10"])
    try:
        with d.client() as c:
            assert len(c.call("proc.status", {"procs": [1] * 10})) == 10
            with pytest.raises(RpcError) as e:
                c.call("proc.status", {"procs": [1] * 11})
            assert e.value.name == "INVALID_ARGUMENT"
    finally:
        assert d.stop() == 0


def test_exit_code_remembered_for_status(client, procs):
    p = procs.spawn(["sh", "-c", "read x; exit 42"], stdin=subprocess.PIPE)
    st = start_time(p.pid)
    w = client.call("proc.watch", {"pid": p.pid})
    assert w["watch_id"]
    p.stdin.close()
    p.wait()
    ev = client.exited(w["watch_id"])
    assert ev["exit_code"] == 42
    # Another connection (a client that reconnects) learns the exit from the cache.
    from rpc import Client
    with Client(client.sock.getpeername()) as c2:
        [e] = c2.call("proc.status", {"procs": [{"pid": p.pid, "start_time": st}]})
        assert e["state"] == "gone" and e["exit_code"] == 42 and e["start_time"] == st
        [e] = c2.call("proc.status", {"procs": [p.pid]})
        assert e["exit_code"] == 42
