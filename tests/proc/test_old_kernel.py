"""A kernel before 6.13 (no PIDFD_GET_INFO), played by a seccomp filter that makes the ioctl
fail with ENOTTY: identities are verified through /proc/self/fdinfo instead, watches still end
with exactly one proc.exited, and exit codes of non-children are nil with the reason."""
import errno
import os
import signal
import subprocess

import pytest

from conftest import PROTECTED, reap_orphans, start_time, state, wait_for
from rpc import Daemon
from seccomp import refuse_pidfd_get_info

UNSUPPORTED = "the kernel does not report the exit status of a non-child (needs Linux 6.15)"


@pytest.fixture(scope="module")
def old_kernel():
    preexec = refuse_pidfd_get_info(errno.ENOTTY)
    if preexec is None:
        pytest.skip(f"no ioctl number known for {os.uname().machine}")
    d = Daemon(preexec=preexec)
    PROTECTED.add(d.pid)
    yield d
    rc = d.stop()
    PROTECTED.discard(d.pid)
    assert rc == 0, "skyutild did not stop cleanly:\n" + d.logtext()


@pytest.fixture
def kids():
    started = []
    yield started
    for p in started:
        if p.poll() is None:
            p.kill()
        p.wait()
    reap_orphans()


def spawn(kids, args, **kw):
    p = subprocess.Popen(args, **kw)
    kids.append(p)
    return p


def test_the_filter_refuses_the_ioctl(old_kernel):
    """The ENOTTY path is really taken: the daemon says so once, at its start-up probe."""
    with old_kernel.client() as c:
        c.call("ping")
    log = old_kernel.logtext()
    assert "does not report the exit status of non-children" in log, log


def test_status_is_verified_through_fdinfo(old_kernel, kids):
    p = spawn(kids, ["sleep", "1000"])
    wait_for(lambda: state(p.pid) == "S", what="sleep")
    with old_kernel.client() as c:
        [e] = c.call("proc.status", {"procs": [{"pid": p.pid, "start_time": start_time(p.pid)}]})
        assert (e["alive"], e["state"], e["uid"], e["ppid"]) == (True, "sleeping", 0, os.getpid())
        [e] = c.call("proc.status", {"procs": [{"pid": p.pid,
                                                 "start_time": start_time(p.pid) + 1}]})
        assert (e["alive"], e["state"]) == (False, "reused")
        # The liveness-only path (pidfds kept in the cache) agrees.
        [e] = c.call("proc.status", {"procs": [p.pid], "fields": ["pid", "alive"]})
        assert e == {"pid": p.pid, "alive": True}


@pytest.mark.parametrize("how", ["exit", "signal"])
def test_watch_ends_with_one_exit_and_no_code(old_kernel, kids, how):
    if how == "exit":
        p = spawn(kids, ["sh", "-c", "read x; exit 7"], stdin=subprocess.PIPE)
    else:
        p = spawn(kids, ["sleep", "1000"])
    with old_kernel.client() as c:
        w = c.call("proc.watch", {"pid": p.pid, "start_time": start_time(p.pid),
                                  "exiting": True})
        assert w["alive"] is True and w["watch_id"] is not None
        if how == "exit":
            p.stdin.close()
        else:
            p.send_signal(signal.SIGTERM)
        # Not reaped yet: the exit is seen (proc.exiting) and the zombie is not alive.
        wait_for(lambda: state(p.pid) == "Z", what="zombie")
        c.note("proc.exiting", lambda n: n["watch_id"] == w["watch_id"])
        [e] = c.call("proc.status", {"procs": [p.pid]})
        assert (e["alive"], e["state"]) == (False, "zombie")
        p.wait()
        ev = c.exited(w["watch_id"])
        assert ev["pid"] == p.pid and ev["start_time"] is not None
        assert ev["exit_code"] is None and ev["signal"] is None, ev
        assert ev["reason"] == UNSUPPORTED, ev
        # Exactly one event per watch.
        assert [n for n in c.no_note(0.3) if n[1].get("watch_id") == w["watch_id"]] == []
