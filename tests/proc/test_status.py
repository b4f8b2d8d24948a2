"""proc.status: identity, states, batches, argument checking."""
import os
import signal
import subprocess
import sys

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


LEADER_EXITS = r"""
import ctypes, os, platform, sys, threading, time
SYS_exit = {"x86_64": 60, "aarch64": 93}[platform.machine()]
threading.Thread(target=lambda: time.sleep(1000)).start()
sys.stdout.write("ready\n"); sys.stdout.flush()
# exit(2), not exit_group(2): only the leader thread ends; the sleeping thread runs on.
ctypes.CDLL(None, use_errno=True).syscall(SYS_exit, 0)
"""


@pytest.mark.skipif(os.uname().machine not in ("x86_64", "aarch64"), reason="SYS_exit number")
def test_leader_thread_exited_but_process_runs_on(client, procs):
    p = procs.spawn([sys.executable, "-c", LEADER_EXITS], stdout=subprocess.PIPE)
    assert p.stdout.readline() == b"ready\n"
    # /proc shows the leader as a zombie, yet the process (its other thread) is alive.
    wait_for(lambda: state(p.pid) == "Z", what="leader thread exit")
    [e] = client.call("proc.status", {"procs": [p.pid]})
    assert e["alive"] is True and e["state"] == "running"
    # So kill_tree signals it rather than calling it already gone, and it then really ends.
    res = client.call("proc.kill_tree", {"pid": p.pid, "grace_s": 5})
    assert res["signalled"] == [p.pid] and res["already_gone"] == []
    assert p.wait(timeout=10) == -signal.SIGTERM
