"""The watch budget: 50 000 watches at once, fds back to baseline on close, and
RESOURCE_EXHAUSTED (not a crash, not a stalled accept) when the budget runs out.

These daemons run with --linger-timeout 0, so a close must give back every fd at once;
test_linger.py checks what lingering keeps after a close, and that it gives it back."""
import os
import resource
import subprocess

import pytest

from conftest import PROTECTED, wait_for
from rpc import Daemon, RpcError

SPAWN_MANY = os.path.join(os.environ.get("SKYUTIL_BUILDDIR", ""), "tests", "proc", "spawn_many")


def spawn_many(n):
    p = subprocess.Popen([SPAWN_MANY, str(n)], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    pids = []
    for line in p.stdout:
        if line.strip() == b"ready":
            break
        pids.append(int(line))
    return p, pids


def stop_many(p):
    p.stdin.close()
    p.wait(60)
    p.stdout.close()


def nofile(n):
    def preexec():
        resource.setrlimit(resource.RLIMIT_NOFILE, (n, n))
    return preexec


def watch_all(c, pids, total, chunk=5000):
    """Pipeline `total` proc.watch requests over pids (round robin); returns the outcomes."""
    out = []
    for start in range(0, total, chunk):
        n = min(chunk, total - start)
        ids = c.send_many([("proc.watch", {"pid": pids[(start + i) % len(pids)]})
                           for i in range(n)])
        for mid in ids:
            try:
                out.append(c.reply(mid, timeout=60)["watch_id"])
            except RpcError as e:
                out.append(e.name)
    return out


def free_pids():
    with open("/proc/sys/kernel/pid_max") as f:
        pid_max = int(f.read())
    return pid_max - sum(1 for x in os.listdir("/proc") if x.isdigit())


def test_50k_watches_and_close_releases_everything():
    # One fd per watched process, so distinct processes are bounded by the daemon's NOFILE
    # hard limit (raised when we may: CAP_SYS_RESOURCE) and by free pids; the 50 000 watches
    # share them. 64 connections keep the daemon's reserve small (64 + 64 fds).
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    want = 20000 + 1024
    try:
        if hard != resource.RLIM_INFINITY and hard < want:
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, want))
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            hard = want
    except (ValueError, OSError):
        pass
    limit = want if hard == resource.RLIM_INFINITY else min(hard, want)
    nproc = min(20000, free_pids() - 4000, limit - 128 - 256)
    if nproc < 1000:
        pytest.skip(f"room for only {nproc} watched processes")
    many, pids = spawn_many(nproc)
    d = None
    try:
        assert len(pids) == nproc
        # Without lingering (test_linger.py), a close gives every fd back at once.
        d = Daemon(["--max-connections", "64", "--linger-timeout", "0"], preexec=nofile(limit))
        PROTECTED.add(d.pid)
        base = d.settle()
        c = d.client()
        ids = watch_all(c, pids, 50000)
        assert all(isinstance(i, int) for i in ids), {i for i in ids if not isinstance(i, int)}
        assert len(set(ids)) == 50000
        # One pidfd per watched process, however many watches share it.
        assert d.npidfds() == nproc
        c.close()
        wait_for(lambda: d.nfds() == base, timeout=60, what="fds back to baseline",
                 detail=lambda: (base, d.fds()))
        with d.client() as c2:
            assert c2.call("ping") == "pong"
    finally:
        stop_many(many)
        if d:
            assert d.stop() == 0, d.logtext()
            PROTECTED.discard(d.pid)


def test_budget_exhausted_is_an_error_not_a_failure():
    many, pids = spawn_many(300)
    d = None
    try:
        # 256 fds, 16 connections: 64 + 16 are kept for connections and the daemon's files,
        # half as many (40) again for kill trees: 136 pidfds may watch.
        d = Daemon(["--max-connections", "16", "--linger-timeout", "0"], preexec=nofile(256))
        PROTECTED.add(d.pid)
        base = d.settle()
        c = d.client()
        out = watch_all(c, pids, len(pids))
        ok = [i for i in out if isinstance(i, int)]
        assert len(ok) == 136 and d.npidfds() == 136
        assert set(out) - set(ok) == {"RESOURCE_EXHAUSTED"}
        # Still accepting and answering, and a kill tree may use the reserve.
        with d.client() as c2:
            assert c2.call("ping") == "pong"
            [e] = c2.call("proc.status", {"procs": [pids[-1]]})
            assert e["alive"] is True
            res = c2.call("proc.kill_tree", {"pid": pids[-1], "signal": "KILL"})
            assert res["signalled"] == [pids[-1]]
        c.close()
        wait_for(lambda: d.nfds() == base, timeout=30, what="fds back to baseline",
                 detail=lambda: (base, d.fds()))
        # The budget is free again.
        with d.client() as c3:
            assert len([i for i in watch_all(c3, pids[:-1], 100) if isinstance(i, int)]) == 100
    finally:
        stop_many(many)
        if d:
            assert d.stop() == 0, d.logtext()
            PROTECTED.discard(d.pid)
