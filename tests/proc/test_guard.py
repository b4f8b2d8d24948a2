"""proc.guard: kill a tree when another process exits (SkyPilot's subprocess_daemon)."""
import os
import subprocess

import pytest

from conftest import RpcError, start_time, state, wait_for


def alive(pid):
    s = state(pid)
    return s is not None and s != "Z"


def parent_like(procs):
    return procs.spawn(["sh", "-c", "read x"], stdin=subprocess.PIPE)


def test_guard_fires_when_watched_dies(daemon, procs):
    watched = parent_like(procs)
    job, nodes = procs.tree(depth=2, width=2)
    with daemon.client() as c:
        g = c.call("proc.guard", {"watch": {"pid": watched.pid},
                                  "target": {"pid": job.pid, "start_time": start_time(job.pid)},
                                  "grace_s": 2})
        assert g["guard_id"] and g["fired"] is False
        [entry] = [x for x in c.call("proc.guards") if x["guard_id"] == g["guard_id"]]
        assert entry["watch"] == {"pid": watched.pid, "start_time": start_time(watched.pid)}
        assert entry["target"]["pid"] == job.pid and entry["uid"] == os.getuid()
        assert entry["grace_s"] == 2
    # The guard outlives the connection that made it.
    watched.stdin.close()
    watched.wait()
    wait_for(lambda: not [pid for pid, _ in nodes if alive(pid)], what="tree killed")
    with daemon.client() as c:
        assert not [x for x in c.call("proc.guards") if x["guard_id"] == g["guard_id"]]


def test_cancelled_guard_does_not_fire(client, procs):
    watched = parent_like(procs)
    job = procs.spawn(["sleep", "1000"])
    g = client.call("proc.guard", {"watch": {"pid": watched.pid}, "target": {"pid": job.pid}})
    assert client.call("proc.unguard", {"guard_id": g["guard_id"]}) is True
    with pytest.raises(RpcError):
        client.call("proc.unguard", {"guard_id": g["guard_id"]})
    w = client.call("proc.watch", {"pid": watched.pid})
    watched.stdin.close()
    watched.wait()
    client.exited(w["watch_id"])
    # Had the guard fired, the kill would have been sent by now.
    client.no_note(0.3)
    assert alive(job.pid)


def test_guard_ends_with_its_target(client, procs):
    watched = parent_like(procs)
    job = procs.spawn(["sleep", "1000"])
    g = client.call("proc.guard", {"watch": {"pid": watched.pid}, "target": {"pid": job.pid}})
    job.kill()
    job.wait()
    wait_for(lambda: not [x for x in client.call("proc.guards")
                          if x["guard_id"] == g["guard_id"]], what="guard gone")


def test_guard_on_already_dead_watch_fires_at_once(client, procs):
    dead = procs.spawn(["true"])
    dead.wait()
    job = procs.spawn(["sleep", "1000"])
    g = client.call("proc.guard", {"watch": {"pid": dead.pid}, "target": {"pid": job.pid},
                                   "grace_s": 1})
    assert g == {"guard_id": None, "fired": True}
    job.wait(10)


def test_guard_errors(client, procs):
    job = procs.spawn(["sleep", "1000"])
    gone = procs.spawn(["true"])
    gone.wait()
    with pytest.raises(RpcError) as e:
        client.call("proc.guard", {"watch": {"pid": job.pid}, "target": {"pid": gone.pid}})
    assert e.value.name == "NO_SUCH_PROCESS"
    with pytest.raises(RpcError) as e:
        client.call("proc.guard", {"watch": {"pid": job.pid},
                                   "target": {"pid": job.pid,
                                              "start_time": start_time(job.pid) + 1}})
    assert e.value.name == "PID_REUSED"
    with pytest.raises(RpcError) as e:
        client.call("proc.guard", {"watch": {"pid": job.pid, "x": 1}, "target": {"pid": 1}})
    assert e.value.name == "INVALID_ARGUMENT"
