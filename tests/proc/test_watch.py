"""proc.watch: current state first, then exactly one proc.exited with the exit status."""
import signal
import subprocess
import time

import pytest

from conftest import PROTECTED, PY, Daemon, RpcError, start_time, state, wait_for


def exiting(procs, code):
    """A process that exits with code when its stdin closes."""
    return procs.spawn(["sh", "-c", f"read x; exit {code}"], stdin=subprocess.PIPE)


def test_exit_code_of_a_process(client, procs):
    p = exiting(procs, 42)
    w = client.call("proc.watch", {"pid": p.pid, "start_time": start_time(p.pid)})
    assert w["watch_id"] and w["alive"] is True and w["start_time"] == start_time(p.pid)
    before = time.time()
    p.stdin.close()
    p.wait()
    ev = client.exited(w["watch_id"])
    assert ev == {**ev, "pid": p.pid, "start_time": w["start_time"], "exit_code": 42,
                  "signal": None, "core_dumped": False, "reason": None}
    assert before - 1 <= ev["exited_at"] <= time.time() + 1
    # Exactly one event.
    assert not [n for n in client.no_note(0.2) if n[1]["watch_id"] == w["watch_id"]]


def test_grandchild_exit_code(client, procs):
    # The grandchild is reaped by its own parent (a shell), not by us or the daemon.
    p = procs.spawn([PY, "-c", (
        "import os,sys\n"
        "pid=os.fork()\n"
        "if pid==0:\n"
        "    sys.stdin.read(); os._exit(7)\n"
        "print(pid, flush=True)\n"
        "os.waitpid(pid,0)\n"
        "sys.stdin.read()\n")], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    gc = int(p.stdout.readline())
    w = client.call("proc.watch", {"pid": gc})
    assert w["ppid"] == p.pid
    p.stdin.close()
    ev = client.exited(w["watch_id"])
    assert ev["pid"] == gc and ev["exit_code"] == 7 and ev["signal"] is None


def test_killed_by_signal(client, procs):
    p = procs.spawn(["sleep", "1000"])
    w = client.call("proc.watch", {"pid": p.pid})
    p.send_signal(signal.SIGKILL)
    p.wait()
    ev = client.exited(w["watch_id"])
    assert ev["exit_code"] is None and ev["signal"] == signal.SIGKILL
    assert ev["reason"] is None


def test_zombie_event_comes_after_reap(client, procs):
    p = procs.spawn(["sh", "-c", "exit 5"])
    wait_for(lambda: state(p.pid) == "Z", what="zombie")
    w = client.call("proc.watch", {"pid": p.pid})
    # Not alive, but not gone either: the exit status is still to come.
    assert w["state"] == "zombie" and w["alive"] is False and w["watch_id"]
    assert not client.no_note(0.3)
    p.wait()
    ev = client.exited(w["watch_id"])
    assert ev["exit_code"] == 5


def test_zombie_never_reaped_reports_without_status(client, procs):
    p = procs.spawn(["sh", "-c", "exit 6"])
    wait_for(lambda: state(p.pid) == "Z", what="zombie")
    w = client.call("proc.watch", {"pid": p.pid})
    ev = client.exited(w["watch_id"], timeout=15)
    assert ev["exit_code"] is None and ev["reason"] and "reap" in ev["reason"]
    p.wait()
    # Reaped now: the watch is over, no second event.
    assert not [n for n in client.no_note(0.3) if n[1]["watch_id"] == w["watch_id"]]


def test_watch_of_gone_and_reused(client, procs):
    p = procs.spawn(["true"])
    st = start_time(p.pid)
    p.wait()
    w = client.call("proc.watch", {"pid": p.pid})
    assert w["watch_id"] is None and w["alive"] is False and w["state"] == "gone"
    q = procs.spawn(["sleep", "1000"])
    w = client.call("proc.watch", {"pid": q.pid, "start_time": start_time(q.pid) + 7})
    assert w["watch_id"] is None and w["state"] == "reused"
    del st


def test_unwatch_stops_the_event(client, procs):
    p = exiting(procs, 1)
    w1 = client.call("proc.watch", {"pid": p.pid})
    w2 = client.call("proc.watch", {"pid": p.pid})
    assert w1["watch_id"] != w2["watch_id"]
    assert client.call("proc.unwatch", {"watch_id": w1["watch_id"]}) is True
    with pytest.raises(RpcError) as e:
        client.call("proc.unwatch", {"watch_id": w1["watch_id"]})
    assert e.value.name == "INVALID_ARGUMENT"
    p.stdin.close()
    p.wait()
    assert client.exited(w2["watch_id"])["exit_code"] == 1
    assert not [n for n in client.no_note(0.2) if n[1]["watch_id"] == w1["watch_id"]]


def test_watch_ids_belong_to_their_connection(daemon, client, procs):
    p = procs.spawn(["sleep", "1000"])
    w = client.call("proc.watch", {"pid": p.pid})
    with daemon.client() as other:
        with pytest.raises(RpcError) as e:
            other.call("proc.unwatch", {"watch_id": w["watch_id"]})
        assert e.value.name == "INVALID_ARGUMENT"


def test_shared_pidfd_and_close_releases(procs):
    # Without lingering (test_linger.py), a close gives every fd back at once.
    daemon = Daemon(["--linger-timeout", "0"])
    PROTECTED.add(daemon.pid)
    try:
        p = procs.spawn(["sleep", "1000"])
        q = procs.spawn(["sleep", "1000"])
        base = daemon.settle()
        assert daemon.npidfds() == 0
        c = daemon.client()
        for _ in range(5):
            c.call("proc.watch", {"pid": p.pid})
        c.call("proc.watch", {"pid": q.pid})
        # One fd per watched process, however many watch it.
        assert daemon.npidfds() == 2
        c.close()
        wait_for(lambda: daemon.nfds() == base, what="fds back to baseline",
                 detail=lambda: (base, daemon.fds()))
        assert daemon.npidfds() == 0
    finally:
        assert daemon.stop() == 0, daemon.logtext()
        PROTECTED.discard(daemon.pid)


def test_exits_are_counted_in_metrics(client, procs):
    def seen():
        text = client.call("daemon.metrics")
        for line in text.splitlines():
            if line.startswith("skyutild_exits_seen") or "exits_seen" in line.split(" ")[0]:
                return int(float(line.split()[-1]))
        raise AssertionError("no exits_seen metric:\n" + text)

    before = seen()
    p = procs.spawn(["sleep", "1000"])
    w = client.call("proc.watch", {"pid": p.pid})
    p.kill()
    p.wait()
    client.exited(w["watch_id"])
    assert seen() == before + 1


def test_exiting_comes_for_a_zombie_before_the_reap(daemon, client, procs):
    p = exiting(procs, 3)
    st = start_time(p.pid)
    w = client.call("proc.watch", {"pid": p.pid, "start_time": st, "exiting": True})
    assert w["alive"] is True
    with daemon.client() as plain:
        w2 = plain.call("proc.watch", {"pid": p.pid})
        before = time.time()
        p.stdin.close()
        # Not reaped: the exit code does not exist yet, but the exit is told at once.
        ev = client.note("proc.exiting", lambda n: n["watch_id"] == w["watch_id"])
        assert ev == {"watch_id": w["watch_id"], "pid": p.pid, "start_time": st,
                      "at": ev["at"]}
        assert before - 1 <= ev["at"] <= time.time() + 1
        assert state(p.pid) == "Z"
        assert not [n for n in client.notes if n[0] == "proc.exited"]
        p.wait()
        assert client.exited(w["watch_id"])["exit_code"] == 3
        # Only the watch that asked hears of the exit itself; each hears its end once.
        assert plain.exited(w2["watch_id"])["exit_code"] == 3
        assert not plain.no_note(0.2)
    assert not [n for n in client.no_note(0.2) if n[1]["watch_id"] == w["watch_id"]]


def test_no_exiting_for_a_watch_that_starts_on_a_zombie(client, procs):
    p = procs.spawn(["sh", "-c", "exit 4"])
    wait_for(lambda: state(p.pid) == "Z", what="zombie")
    w = client.call("proc.watch", {"pid": p.pid, "exiting": True})
    # The reply says it has exited already: nothing more to announce.
    assert w["alive"] is False and w["watch_id"]
    assert not client.no_note(0.3)
    p.wait()
    assert client.exited(w["watch_id"])["exit_code"] == 4
    assert not [n for n in client.no_note(0.2) if n[1]["watch_id"] == w["watch_id"]]


def test_exiting_must_be_a_bool(client, procs):
    p = procs.spawn(["sleep", "1000"])
    with pytest.raises(RpcError) as e:
        client.call("proc.watch", {"pid": p.pid, "exiting": 1})
    assert e.value.name == "INVALID_ARGUMENT"
