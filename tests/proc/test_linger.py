"""Processes whose watcher disconnected linger: the daemon keeps watching them, without a
subscriber, so a client that reconnects still learns the exit code from proc.status.

Lingering is bounded: at most a quarter of the watch budget (4096 at most), each for
--linger-timeout seconds (default 300); the oldest goes first when the cap is full, and a
new watch takes a lingering pidfd back when the budget is full.

What does not linger: a process whose last word was proc.unwatch (also after a reconnecting
client took it over), and one the departed watcher could not learn the exit code of.
Daemons whose fd count must return to baseline at a close run with --linger-timeout 0.
"""
import json
import os
import re
import shutil
import subprocess
import tempfile

import pytest

from conftest import HERE, PROTECTED, PY, start_time, wait_for
from rpc import Daemon
from test_scale import nofile, spawn_many, stop_many


def metric(c, name):
    m = re.search(rf"^{name} (\d+)$", c.call("daemon.metrics"), re.M)
    assert m, f"no {name} in daemon.metrics"
    return int(m.group(1))


def watch_and_leave(d, pids):
    """Watch pids on a fresh connection, close it and wait until the daemon has too."""
    with d.client() as c:
        for pid in pids:
            assert c.call("proc.watch", {"pid": pid})["watch_id"]
    d.settle()


def remembered(d, pid, st):
    """proc.status of a gone process once the daemon has recorded its exit."""
    out = {}

    def done():
        with d.client() as c:
            [out["e"]] = c.call("proc.status", {"procs": [{"pid": pid, "start_time": st}]})
        return out["e"]["state"] == "gone" and out["e"]["reason"] != "no such process"

    wait_for(done, what="the exit recorded", detail=lambda: out)
    return out["e"]


def test_exit_after_disconnect_is_remembered(daemon, procs):
    p = procs.spawn(["sh", "-c", "read x; exit 42"], stdin=subprocess.PIPE)
    st = start_time(p.pid)
    base = daemon.npidfds()
    watch_and_leave(daemon, [p.pid])
    # The watch is gone with its connection, the process is still watched.
    with daemon.client() as c:
        assert metric(c, "skyutild_watches") == 0
        assert metric(c, "skyutild_lingering_processes") == 1
    assert daemon.npidfds() == base + 1
    p.stdin.close()
    assert p.wait() == 42
    # A client that reconnects learns how it ended.
    e = remembered(daemon, p.pid, st)
    assert e["exit_code"] == 42 and e["signal"] is None and e["start_time"] == st
    with daemon.client() as c:
        [e] = c.call("proc.status", {"procs": [p.pid]})
        assert e["state"] == "gone" and e["exit_code"] == 42
        assert metric(c, "skyutild_lingering_processes") == 0
    # The lingering pidfd was closed with the exit.
    wait_for(lambda: daemon.npidfds() == base, what="lingering pidfd closed",
             detail=daemon.fds)


def test_rewatch_takes_over_a_lingering_process(daemon, procs):
    p = procs.spawn(["sh", "-c", "read x; exit 7"], stdin=subprocess.PIPE)
    base = daemon.npidfds()
    watch_and_leave(daemon, [p.pid])
    with daemon.client() as c:
        assert metric(c, "skyutild_lingering_processes") == 1
        w = c.call("proc.watch", {"pid": p.pid})
        # The same pidfd serves the new watch, which no longer lingers.
        assert daemon.npidfds() == base + 1
        assert metric(c, "skyutild_lingering_processes") == 0
        p.stdin.close()
        assert p.wait() == 7
        assert c.exited(w["watch_id"])["exit_code"] == 7
    wait_for(lambda: daemon.npidfds() == base, what="pidfd closed", detail=daemon.fds)


def test_unwatch_does_not_linger(daemon, procs):
    p = procs.spawn(["sleep", "1000"])
    base = daemon.npidfds()
    with daemon.client() as c:
        w = c.call("proc.watch", {"pid": p.pid})
        assert c.call("proc.unwatch", {"watch_id": w["watch_id"]}) is True
        # The client said it no longer cares: nothing is kept.
        assert daemon.npidfds() == base
        assert metric(c, "skyutild_lingering_processes") == 0


def test_rewatch_then_unwatch_does_not_linger(daemon, procs):
    p = procs.spawn(["sleep", "1000"])
    base = daemon.npidfds()
    watch_and_leave(daemon, [p.pid])
    with daemon.client() as c:
        assert metric(c, "skyutild_lingering_processes") == 1
        # The client came back and took the process over; its unwatch is the last word.
        w = c.call("proc.watch", {"pid": p.pid})
        assert c.call("proc.unwatch", {"watch_id": w["watch_id"]}) is True
        assert metric(c, "skyutild_lingering_processes") == 0
        assert daemon.npidfds() == base


# Runs as nobody: calls (method, params) in order on one connection, prints the results as
# JSON, and disconnects without unwatching anything.
NOBODY_CALLS = r"""
import json, sys
sys.path.insert(0, sys.argv[1])
from rpc import Client
with Client(sys.argv[2]) as c:
    print(json.dumps([c.call(m, a) for m, a in json.loads(sys.argv[3])]))
"""


def as_nobody(d, calls):
    out = subprocess.run(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
                          PY, "-c", NOBODY_CALLS, HERE, d.path, json.dumps(calls)],
                         capture_output=True, cwd="/", timeout=30)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to switch to nobody")
def test_remembered_exit_code_only_for_owner_or_root(procs):
    if not shutil.which("setpriv"):
        pytest.skip("setpriv (util-linux) is not installed")
    sockdir = tempfile.mkdtemp(prefix="sku-linger-", dir="/tmp")
    os.chmod(sockdir, 0o755)
    d = Daemon(["--socket-mode", "0666"], sockdir=sockdir)
    PROTECTED.add(d.pid)
    try:
        p = procs.spawn(["sh", "-c", "read x; exit 42"], stdin=subprocess.PIPE)
        st = start_time(p.pid)
        # nobody may watch root's process, but leaving does not make it linger: nobody
        # could not learn its exit code anyway.
        [w] = as_nobody(d, [["proc.watch", {"pid": p.pid}]])
        assert w["watch_id"]
        d.settle()
        with d.client() as c:
            assert metric(c, "skyutild_watches") == 0
            assert metric(c, "skyutild_lingering_processes") == 0
        # A root watcher's leaving does.
        watch_and_leave(d, [p.pid])
        with d.client() as c:
            assert metric(c, "skyutild_lingering_processes") == 1
        p.stdin.close()
        assert p.wait() == 42
        assert remembered(d, p.pid, st)["exit_code"] == 42  # root sees it
        [[e]] = as_nobody(d, [["proc.status", {"procs": [p.pid]}]])
        # nobody learns that it ended and who owned it, not how.
        assert e["state"] == "gone" and e["uid"] == 0 and e["start_time"] == st
        assert e["exit_code"] is None and e["signal"] is None
        assert e["reason"] == "permission"

        # nobody's own process lingers after nobody left, and nobody learns its exit code.
        q = procs.spawn(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
                         "sh", "-c", "read x; exit 5"], stdin=subprocess.PIPE, cwd="/")
        wait_for(lambda: os.stat(f"/proc/{q.pid}").st_uid != 0, what="setpriv done")
        qst = start_time(q.pid)
        [w] = as_nobody(d, [["proc.watch", {"pid": q.pid}]])
        assert w["watch_id"] and w["uid"] != 0
        d.settle()
        with d.client() as c:
            assert metric(c, "skyutild_lingering_processes") == 1
        q.stdin.close()
        assert q.wait() == 5
        remembered(d, q.pid, qst)
        [[e]] = as_nobody(d, [["proc.status", {"procs": [{"pid": q.pid, "start_time": qst}]}]])
        assert e["state"] == "gone" and e["exit_code"] == 5 and e["reason"] is None
    finally:
        assert d.stop() == 0, d.logtext()
        PROTECTED.discard(d.pid)
        shutil.rmtree(sockdir, ignore_errors=True)


def test_lingering_expires():
    d = Daemon(["--linger-timeout", "2"])
    PROTECTED.add(d.pid)
    p = subprocess.Popen(["sh", "-c", "read x; exit 42"], stdin=subprocess.PIPE)
    try:
        st = start_time(p.pid)
        base = d.settle()
        watch_and_leave(d, [p.pid])
        assert d.nfds() == base + 1
        # An abandoned pidfd does not stay: it is closed after the timeout ...
        wait_for(lambda: d.nfds() == base, timeout=30, what="lingering pidfd expired",
                 detail=d.fds)
        with d.client() as c:
            assert metric(c, "skyutild_lingering_processes") == 0
            assert metric(c, "skyutild_lingering_dropped_total") == 1
        # ... and an exit after that is no longer recorded.
        p.stdin.close()
        assert p.wait() == 42
        with d.client() as c:
            [e] = c.call("proc.status", {"procs": [{"pid": p.pid, "start_time": st}]})
            assert e["state"] == "gone" and e["exit_code"] is None
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        assert d.stop() == 0, d.logtext()
        PROTECTED.discard(d.pid)


def test_daemon_stops_with_processes_lingering(procs):
    # The lingering processes and their timer are released at shutdown: a clean exit, and
    # under ASan no leak report (Daemon.stop() checks the log).
    d = Daemon()
    PROTECTED.add(d.pid)
    try:
        ps = [procs.spawn(["sleep", "1000"]) for _ in range(3)]
        watch_and_leave(d, [p.pid for p in ps])
        with d.client() as c:
            assert metric(c, "skyutild_lingering_processes") == 3
        assert d.npidfds() == 3
    finally:
        assert d.stop() == 0, d.logtext()
        PROTECTED.discard(d.pid)


def test_linger_timeout_zero_releases_at_once(procs):
    d = Daemon(["--linger-timeout", "0"])
    PROTECTED.add(d.pid)
    try:
        p = procs.spawn(["sleep", "1000"])
        base = d.settle()
        watch_and_leave(d, [p.pid])
        wait_for(lambda: d.nfds() == base, what="fds back to baseline", detail=d.fds)
    finally:
        assert d.stop() == 0, d.logtext()
        PROTECTED.discard(d.pid)


def test_lingering_is_capped_and_yields_to_watches():
    many, pids = spawn_many(80)
    d = None
    try:
        # 100 fds, 4 connections: a watch budget of 50, of which 12 may linger.
        d = Daemon(["--max-connections", "4"], preexec=nofile(100))
        PROTECTED.add(d.pid)
        assert "watch budget 50" in d.logtext()
        base = d.settle()
        watch_and_leave(d, pids[:20])
        # Only the cap lingers: the oldest were dropped first.
        assert d.npidfds() == 12
        with d.client() as c:
            assert metric(c, "skyutild_lingering_processes") == 12
            assert metric(c, "skyutild_lingering_dropped_total") == 8
        # A full budget of new watches takes the lingering fds back.
        with d.client() as c:
            for pid in pids[20:70]:
                assert isinstance(c.call("proc.watch", {"pid": pid})["watch_id"], int)
            assert d.npidfds() == 50
            assert metric(c, "skyutild_lingering_processes") == 0
            assert metric(c, "skyutild_lingering_dropped_total") == 20
            for pid in pids[20:70]:
                [e] = c.call("proc.status", {"procs": [pid]})
                assert e["alive"]
        d.settle()
        # These linger now; they are closed as their processes end.
        assert d.npidfds() == 12
        stop_many(many)
        many = None
        wait_for(lambda: d.nfds() == base, timeout=30, what="fds back to baseline",
                 detail=d.fds)
    finally:
        if many:
            stop_many(many)
        if d:
            assert d.stop() == 0, d.logtext()
            PROTECTED.discard(d.pid)
