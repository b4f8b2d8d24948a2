"""pid 1 is never a kill_tree root or a guard target, unless pid 1 itself asks. Runs in a
fresh pid namespace (unshare --pid --fork --mount-proc) with its own daemon, so that were the
refusal gone, only this namespace's processes could be hit (the kernel shields a namespace's
init from its members' signals; the child below shows any harm).

  init_scenario.py other  -- run under a shell that is pid 1: every request is refused
  init_scenario.py init   -- run as pid 1: its own tree may be killed (a container's init)

Prints "OK" when every check holds; an AssertionError otherwise."""
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from rpc import Daemon, RpcError  # noqa: E402


def refused(c, method, params):
    try:
        c.call(method, params)
    except RpcError as err:
        assert err.name == "PERMISSION_DENIED", err
        assert "pid 1" in err.message, err
        return
    raise AssertionError(f"{method} {params} was accepted")


def other(c, child):
    refused(c, "proc.kill_tree", {"pid": 1, "signal": "KILL", "grace_s": 0})
    refused(c, "proc.kill_tree", {"pid": 1, "include_root": False, "grace_s": 0})
    refused(c, "proc.guard", {"watch": {"pid": child.pid}, "target": {"pid": 1},
                              "grace_s": 0})
    assert c.call("proc.guards") == []
    # pid 1 is still a process like any other for everything else.
    [e] = c.call("proc.status", {"procs": [1]})
    assert e["alive"] is True, e
    kids = c.call("proc.children", {"pid": 1, "recursive": True})
    assert child.pid in [k["pid"] for k in kids], kids
    assert child.poll() is None, "a process of init's tree was signalled"


def init(c, child):
    res = c.call("proc.kill_tree", {"pid": 1, "include_root": False, "grace_s": 5},
                 timeout=30)
    assert child.pid in res["signalled"], res
    assert child.wait(10) is not None


def main():
    mode = sys.argv[1]
    assert (os.getpid() == 1) == (mode == "init"), (mode, os.getpid())
    d = Daemon()
    child = subprocess.Popen(["sleep", "1000"])
    try:
        with d.client() as c:
            (init if mode == "init" else other)(c, child)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        assert d.stop() in (0, -15), d.logtext()
    print("OK")


if __name__ == "__main__":
    main()
