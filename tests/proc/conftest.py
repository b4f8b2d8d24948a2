"""Shared fixtures: a daemon per module, process helpers, and orphan reaping.

The test process makes itself a child subreaper: processes orphaned by the trees the tests
kill are handed to it (this machine's init does not reap), and each test reaps them at the
end so no zombie outlives its test.
"""
import ctypes
import os
import subprocess
import sys
import time

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from rpc import Client, Daemon, RpcError  # noqa: E402

PR_SET_CHILD_SUBREAPER = 36
HERE = os.path.dirname(os.path.abspath(__file__))
PY = "/usr/bin/python3"
PROTECTED = set()  # daemon pids: never reaped behind subprocess's back

ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


def stat_fields(pid):
    with open(f"/proc/{pid}/stat") as f:
        s = f.read()
    rest = s[s.rindex(")") + 2:].split()
    return rest  # rest[0] is field 3 (state)


def start_time(pid):
    return int(stat_fields(pid)[19])


def state(pid):
    try:
        return stat_fields(pid)[0]
    except FileNotFoundError:
        return None


def wait_for(pred, timeout=10.0, what="condition", detail=None):
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}" +
                                 (f": {detail()}" if detail else ""))
        time.sleep(0.01)


def reap_orphans():
    while True:
        try:
            info = os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:
            return
        if info is None or info.si_pid in PROTECTED:
            return
        try:
            os.waitpid(info.si_pid, 0)
        except ChildProcessError:
            return


class Procs:
    """Processes a test starts; all are killed and reaped at the end of the test."""

    def __init__(self):
        self.popens = []
        self.tree_pids = []  # (pid, start_time) of tree nodes below the roots

    def spawn(self, args, **kw):
        p = subprocess.Popen(args, **kw)
        self.popens.append(p)
        return p

    def tree(self, depth, width, ignore_term_leaves=False):
        """Start proctree.py; returns (popen, [(pid, ppid)...]) once every node is set up.
        Every node is killed at the end of the test, not only the root."""
        args = [PY, os.path.join(HERE, "proctree.py"), str(depth), str(width)]
        if ignore_term_leaves:
            args.append("ignore-term-leaves")
        p = self.spawn(args, stdout=subprocess.PIPE)
        n = sum(width ** k for k in range(depth + 1))
        nodes = []
        for _ in range(n):
            line = p.stdout.readline().split()
            nodes.append((int(line[0]), int(line[1])))
        # Nodes report in whatever order they get there: put the root first.
        nodes.sort(key=lambda n: n[0] != p.pid)
        self.tree_pids += [(pid, start_time(pid)) for pid, _ in nodes[1:]]
        return p, nodes

    def cleanup(self):
        for pid, st in self.tree_pids:
            # The start time guards against killing a process that took over the pid.
            try:
                if state(pid) not in (None, "Z") and start_time(pid) == st:
                    os.kill(pid, 9)
            except (FileNotFoundError, ProcessLookupError, ValueError):
                pass
        for p in self.popens:
            if p.poll() is None:
                p.kill()
            p.wait()
            if p.stdout:
                p.stdout.close()


@pytest.fixture
def procs():
    ps = Procs()
    yield ps
    ps.cleanup()
    reap_orphans()


@pytest.fixture(scope="module")
def daemon():
    d = Daemon()
    PROTECTED.add(d.pid)
    yield d
    rc = d.stop()
    PROTECTED.discard(d.pid)
    assert rc == 0, "skyutild did not stop cleanly:\n" + d.logtext()


@pytest.fixture
def client(daemon):
    with daemon.client() as c:
        yield c


__all__ = ["Client", "Daemon", "RpcError"]
