"""Authorization: an unprivileged peer cannot signal, kill or guard a root process, and does
not see its exit status; liveness and identity stay public."""
import json
import os
import pwd
import shutil
import subprocess
import tempfile

import pytest

from conftest import HERE, PROTECTED, PY, start_time, state
from rpc import Daemon

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root to switch to nobody")


@pytest.fixture
def shared_daemon():
    # A socket nobody can reach: mode 0666 in a world-searchable directory.
    d = tempfile.mkdtemp(prefix="sku-auth-", dir="/tmp")
    os.chmod(d, 0o755)
    dm = Daemon(["--socket-mode", "0666"], sockdir=d)
    PROTECTED.add(dm.pid)
    yield dm
    assert dm.stop() == 0
    PROTECTED.discard(dm.pid)
    shutil.rmtree(d, ignore_errors=True)


def test_nobody_cannot_touch_root_processes(shared_daemon, procs):
    if not shutil.which("setpriv"):
        pytest.skip("setpriv (util-linux) is not installed")
    pwd.getpwnam("nobody")
    target = procs.spawn(["sh", "-c", "read x; exit 3"], stdin=subprocess.PIPE)
    st = start_time(target.pid)
    client = procs.spawn(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
                          PY, os.path.join(HERE, "nobody_client.py"), shared_daemon.path,
                          str(target.pid), str(st), "1"],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd="/")
    first = json.loads(client.stdout.readline())
    assert first["uid"] != 0
    [entry] = first["status"]["ok"]
    assert entry["alive"] is True and entry["uid"] == 0 and entry["start_time"] == st
    assert first["kill_tree"] == {"error": "PERMISSION_DENIED"}
    assert first["guard"] == {"error": "PERMISSION_DENIED"}
    assert first["watch"]["ok"]["watch_id"]
    # The target was untouched by any of it.
    assert state(target.pid) in ("S", "R")
    target.stdin.close()
    target.wait()
    assert target.returncode == 3
    client.stdin.close()
    final = json.loads(client.stdout.readline())
    client.wait(10)
    ev = final["exited"]
    # nobody learns that the process ended, not how.
    assert ev["exit_code"] is None and ev["signal"] is None and ev["reason"] == "permission"
