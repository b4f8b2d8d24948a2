"""PID reuse for real. Runs as pid 1 of a fresh pid namespace (unshare --pid --fork
--mount-proc) with its own daemon, so ns_last_pid can hand a dead process's number to a new
one. Prints "OK" when every check holds; an AssertionError otherwise."""
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from rpc import Daemon, RpcError  # noqa: E402


def start_time(pid):
    with open(f"/proc/{pid}/stat") as f:
        s = f.read()
    return int(s[s.rindex(")") + 2:].split()[19])


def main():
    assert os.getpid() == 1, "must run as pid 1 of a new pid namespace"
    d = Daemon()
    try:
        with d.client() as c:
            old = subprocess.Popen(["sh", "-c", "read x; exit 42"], stdin=subprocess.PIPE)
            old_st = start_time(old.pid)
            w = c.call("proc.watch", {"pid": old.pid, "start_time": old_st})
            assert w["watch_id"]
            time.sleep(0.05)  # the successor must start at least a clock tick later
            old.stdin.close()
            old.wait()
            with open("/proc/sys/kernel/ns_last_pid", "w") as f:
                f.write(str(old.pid - 1))
            new = subprocess.Popen(["sleep", "1000"])
            assert new.pid == old.pid, (new.pid, old.pid)
            new_st = start_time(new.pid)
            assert new_st != old_st

            # The watch on the old identity reports the old exit, never the new process.
            ev = c.exited(w["watch_id"])
            assert ev["start_time"] == old_st and ev["exit_code"] == 42, ev

            [e] = c.call("proc.status", {"procs": [{"pid": old.pid, "start_time": old_st}]})
            assert e["state"] == "reused" and e["alive"] is False, e
            assert e["exit_code"] == 42 and e["start_time"] == old_st, e
            [e] = c.call("proc.status", {"procs": [old.pid]})
            assert e["alive"] is True and e["start_time"] == new_st, e

            w2 = c.call("proc.watch", {"pid": old.pid, "start_time": old_st})
            assert w2["watch_id"] is None and w2["state"] == "reused", w2
            try:
                c.call("proc.kill_tree", {"pid": old.pid, "start_time": old_st, "signal": 9})
                raise AssertionError("kill_tree of a reused identity succeeded")
            except RpcError as err:
                assert err.name == "PID_REUSED", err
            assert new.poll() is None, "the new process was signalled"

            new.send_signal(signal.SIGKILL)
            new.wait()
            # No second event for the old watch.
            assert not c.no_note(0.3)
    finally:
        rc = d.stop()
    assert rc == 0, d.logtext()
    print("OK", flush=True)


main()
