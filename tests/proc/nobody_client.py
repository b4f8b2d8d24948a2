"""Run as an unprivileged user: try what the proc methods refuse to such a peer.

argv: SOCKET ROOT_PID ROOT_START_TIME WATCH_PID (a process to name as guard's watch). Prints one JSON object of outcomes.
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from rpc import Client, RpcError  # noqa: E402


def outcome(c, method, params):
    try:
        return {"ok": c.call(method, params)}
    except RpcError as e:
        return {"error": e.name}


def main():
    path, pid, st, own = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    out = {"uid": os.getuid()}
    with Client(path) as c:
        out["status"] = outcome(c, "proc.status", {"procs": [{"pid": pid, "start_time": st}]})
        out["kill_tree"] = outcome(c, "proc.kill_tree", {"pid": pid, "signal": "KILL"})
        out["guard"] = outcome(c, "proc.guard", {"watch": {"pid": own}, "target": {"pid": pid}})
        w = outcome(c, "proc.watch", {"pid": pid})
        out["watch"] = w
        if "ok" in w:
            print(json.dumps(out), flush=True)
            sys.stdin.read()  # the test ends the root process now
            out["exited"] = c.exited(w["ok"]["watch_id"])
    print(json.dumps(out), flush=True)


main()
