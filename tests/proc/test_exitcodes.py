"""Exit codes under churn: every watched process's exit code arrives, however its reap races
the daemon's look at it (the kernel answers ESRCH to PIDFD_GET_INFO mid-reap)."""
import os

from conftest import start_time
from rpc import Daemon

COUNT = 200
BATCH = 50


def fork_waiting(n, first_code):
    """n children, each blocked on a pipe of its own; it exits with its code once the pipe
    closes. Returns [(pid, code, write_fd)]."""
    kids = []
    for i in range(n):
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            try:
                # Every write end but the parent's must go, or no pipe would ever close.
                for fd in [w] + [k[2] for k in kids]:
                    os.close(fd)
                os.read(r, 1)
            finally:
                os._exit(first_code + i)
        os.close(r)
        kids.append((pid, first_code + i, w))
    return kids


def test_every_exit_code_arrives_when_reaped_at_once():
    d = Daemon()
    try:
        with d.client() as c:
            for first in range(0, COUNT, BATCH):
                kids = fork_waiting(BATCH, 1 + first)
                ids = c.send_many([("proc.watch", {"pid": pid, "start_time": start_time(pid)})
                                   for pid, _, _ in kids])
                wids = [c.reply(i)["watch_id"] for i in ids]
                assert None not in wids
                # The parent wakes at the exit together with the daemon and reaps at once:
                # the daemon's first look lands in the middle of the reap.
                for pid, _, w in kids:
                    os.close(w)
                    os.waitpid(pid, 0)
                for wid, (pid, code, _) in zip(wids, kids):
                    ev = c.exited(wid)
                    assert (ev["pid"], ev["exit_code"], ev["reason"]) == (pid, code, None), ev
    finally:
        assert d.stop() == 0
