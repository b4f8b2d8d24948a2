"""The skyutil CLI: exit codes, human and --json output, `call` with JSON arguments."""
import json
import os
import re
import resource
import signal
import socket
import subprocess
import time

import pytest


def run(skyutil_bin, *args, timeout=30):
    return subprocess.run([skyutil_bin, *args], capture_output=True, text=True,
                          timeout=timeout, check=False)


@pytest.fixture
def sky(skyutil_bin, daemon):
    def _run(*args, **kw):
        return run(skyutil_bin, "--socket", daemon, *args, **kw)
    return _run


def needs(sky, method):
    r = sky("call", method)
    if r.returncode == 4 and "UNKNOWN_METHOD" in r.stderr:
        pytest.skip(f"the daemon does not implement {method} yet")


def test_help_documents_commands_and_exit_codes(skyutil_bin):
    r = run(skyutil_bin, "--help")
    assert r.returncode == 0
    for word in ("ping", "call", "facts", "alive", "wait", "kill-tree", "guard", "exit status",
                 "--socket", "--json", "--timeout"):
        assert word in r.stdout
    for code in range(7):
        assert f"\n  {code}  " in r.stdout


def test_version(skyutil_bin):
    r = run(skyutil_bin, "--version")
    assert r.returncode == 0
    assert r.stdout.startswith("skyutil ")


def test_usage_errors(skyutil_bin, daemon):
    assert run(skyutil_bin).returncode == 2
    r = run(skyutil_bin, "--socket", daemon, "no-such-command")
    assert r.returncode == 2
    assert "unknown command" in r.stderr
    assert run(skyutil_bin, "--timeout", "soon", "ping").returncode == 2
    assert run(skyutil_bin, "--socket", daemon, "alive", "not-a-pid").returncode == 2
    assert run(skyutil_bin, "--socket", daemon, "alive").returncode == 2
    assert run(skyutil_bin, "--socket", daemon, "ping", "extra").returncode == 2


def test_no_daemon_names_socket(skyutil_bin, tmpdir_session):
    path = os.path.join(tmpdir_session, "absent.sock")
    r = run(skyutil_bin, "--socket", path, "ping")
    assert r.returncode == 3
    assert path in r.stderr
    assert "running" in r.stderr


def test_timeout_exit_code(skyutil_bin, tmpdir_session):
    path = os.path.join(tmpdir_session, "silent.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.bind(path)
        s.listen(8)
        r = run(skyutil_bin, "--socket", path, "--timeout", "300", "ping")
    os.unlink(path)
    assert r.returncode == 5
    assert "timed out" in r.stderr


def test_ping(sky):
    r = sky("ping")
    assert r.returncode == 0
    assert r.stdout == "pong\n"
    r = sky("--json", "ping")
    assert json.loads(r.stdout) == "pong"


def test_hello(sky):
    r = sky("--json", "hello")
    assert r.returncode == 0, r.stderr
    h = json.loads(r.stdout)
    assert h["server"] == "skyutild"
    assert h["proto"] == 1
    assert isinstance(h["limits"]["max_message"], int)
    assert "ping" in h["methods"]
    r = sky("hello")
    assert "server: skyutild" in r.stdout.splitlines()
    assert any(line.startswith("limits.max_message: ") for line in r.stdout.splitlines())


def test_call_with_json_args(sky):
    r = sky("call", "hello", '{"client": "pytest", "proto": 1}')
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["server"] == "skyutild"
    r = sky("call", "ping")
    assert json.loads(r.stdout) == "pong"


def test_call_keeps_integers_and_reals(sky):
    # proto must be an integer: 1 passes, 1.0 (a real) must reach the daemon as a float.
    assert sky("call", "hello", '{"proto": 1}').returncode == 0
    r = sky("call", "hello", '{"proto": 1.0}')
    assert r.returncode == 4
    assert "INVALID_ARGUMENT" in r.stderr


def test_call_bad_json_is_usage_error(sky):
    r = sky("call", "hello", '{"proto": ')
    assert r.returncode == 2
    assert "invalid JSON" in r.stderr
    r = sky("call", "hello", "[1, 2]")
    assert r.returncode == 2
    assert "JSON object" in r.stderr
    r = sky("call", "hello", '{"a": 1, "a": 2}')
    assert r.returncode == 2


def test_remote_error_exit_code(sky):
    r = sky("call", "no.such.method")
    assert r.returncode == 4
    assert "UNKNOWN_METHOD: " in r.stderr
    r = sky("call", "hello", '{"proto": 99}')
    assert r.returncode == 4
    assert "INVALID_ARGUMENT: " in r.stderr


def test_metrics(sky):
    needs(sky, "daemon.metrics")
    r = sky("metrics")
    assert r.returncode == 0
    assert "# TYPE" in r.stdout or "# HELP" in r.stdout


def test_facts(sky):
    needs(sky, "facts.get")
    r = sky("facts", "--json")
    assert r.returncode == 0, r.stderr
    f = json.loads(r.stdout)
    assert f["pid"] > 0
    assert isinstance(f["cpu_count"], int) and f["cpu_count"] >= 1
    assert f["cgroup_version"] in (1, 2, "hybrid", None)
    r = sky("call", "facts.get", '{"pid": 1}')
    assert json.loads(r.stdout)["pid"] == 1
    r = sky("facts", "--pid", "1")
    assert "pid: 1" in r.stdout.splitlines()
    r = sky("cpu-count")
    assert r.returncode == 0
    assert int(r.stdout) == f["cpu_count"]
    r = sky("--json", "mem")
    m = json.loads(r.stdout)
    assert set(m) == {"mem_total_bytes", "mem_limit_bytes", "mem_effective_bytes",
                      "mem_used_bytes"}
    assert 0 < m["mem_effective_bytes"] <= m["mem_total_bytes"]
    assert sky("mem").stdout.startswith("total: ")


def test_watch_facts_prints_each_change(skyutil_bin, daemon, sky):
    needs(sky, "facts.subscribe")
    p = subprocess.Popen([skyutil_bin, "--socket", daemon, "--json", "watch-facts",
                          "--count", "1"], stdout=subprocess.PIPE, text=True)
    try:
        first = json.loads(p.stdout.readline())
        assert first["cpu_count"] >= 1
        assert p.poll() is None  # keeps watching
        # Change a fact of the watcher itself: its open-files limit.
        soft, hard = resource.prlimit(p.pid, resource.RLIMIT_NOFILE)
        new_soft = 777 if soft != 777 else 778
        resource.prlimit(p.pid, resource.RLIMIT_NOFILE, (new_soft, hard))
        second = json.loads(p.stdout.readline())
        assert second["nofile_soft"] == new_soft
        assert second["generation"] > first["generation"]
        assert p.wait(timeout=10) == 0
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


def test_alive_and_status(sky):
    needs(sky, "proc.status")
    dead = subprocess.Popen(["true"])
    dead.wait()
    me = str(os.getpid())
    assert sky("alive", me).returncode == 0
    assert sky("alive", me, str(dead.pid)).returncode == 1
    r = sky("--json", "alive", me)
    (entry,) = json.loads(r.stdout)
    assert entry["pid"] == os.getpid() and entry["alive"] is True
    assert entry["state"] in ("running", "sleeping")
    r = sky("status", "--json", me, str(dead.pid))
    st = json.loads(r.stdout)
    assert [e["pid"] for e in st] == [os.getpid(), dead.pid]
    assert st[0]["alive"] is True and st[1]["alive"] is False
    assert isinstance(st[0]["start_time"], int)
    assert isinstance(st[0]["create_time"], float)
    r = sky("alive", f"{me}:{st[0]['start_time']}")
    assert r.returncode == 0
    r = sky("alive", f"{me}:{st[0]['start_time'] + 1}")
    assert r.returncode == 1
    r = sky("status", me)
    assert r.stdout.splitlines()[0].split()[:3] == ["PID", "STATE", "ALIVE"]
    assert r.stdout.splitlines()[1].split()[0] == me


def test_wait_exit_code_and_signal(skyutil_bin, daemon, sky):
    needs(sky, "proc.watch")
    child = subprocess.Popen(["sh", "-c", "read x; exit 3"], stdin=subprocess.PIPE)
    w = subprocess.Popen([skyutil_bin, "--socket", daemon, "wait", str(child.pid)],
                         stdout=subprocess.PIPE, text=True)
    time.sleep(0.2)  # let the watch be established; the exit is seen either way
    child.stdin.close()
    child.wait()
    out, _ = w.communicate(timeout=20)
    assert w.returncode == 3
    assert out.strip() == "3"

    child = subprocess.Popen(["sleep", "60"])
    w = subprocess.Popen([skyutil_bin, "--socket", daemon, "--json", "wait", str(child.pid)],
                         stdout=subprocess.PIPE, text=True)
    time.sleep(0.2)
    child.send_signal(signal.SIGTERM)
    child.wait()
    out, _ = w.communicate(timeout=20)
    assert w.returncode == 128 + signal.SIGTERM
    e = json.loads(out)
    assert e["signal"] == signal.SIGTERM and e["exit_code"] is None
    assert e["exited_at"] > time.time() - 60


def wait_until(pred, what, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def _watches(sky):
    text = json.loads(sky("call", "daemon.metrics").stdout)
    return int(re.search(r"^skyutild_watches (\d+)$", text, re.M).group(1))


def test_wait_for_a_process_already_gone(skyutil_bin, daemon, sky):
    needs(sky, "proc.watch")
    # A pid nobody has: no exit code to give, said as such (not "ended"); exit status 1.
    gone = subprocess.Popen(["true"])
    gone.wait()
    r = sky("--json", "wait", str(gone.pid))
    assert r.returncode == 1
    e = json.loads(r.stdout)
    assert e["exit_code"] is None and e["exited_at"] is None, e
    assert e["reason"].startswith("no such process"), e
    assert "exit code unknown: no such process" in r.stderr

    # An exit the daemon remembers (it watched the process): the code, at once.
    child = subprocess.Popen(["sh", "-c", "read x; exit 6"], stdin=subprocess.PIPE)
    before = _watches(sky)
    w = subprocess.Popen([skyutil_bin, "--socket", daemon, "wait", str(child.pid)],
                         stdout=subprocess.PIPE, text=True)
    wait_until(lambda: _watches(sky) > before, "the wait's watch")
    child.stdin.close()
    child.wait()
    assert w.wait(20) == 6
    w.stdout.close()
    r = sky("--json", "wait", str(child.pid))
    assert r.returncode == 6, r.stderr
    assert json.loads(r.stdout)["exit_code"] == 6


def test_grace_beyond_the_protocol_limit_is_a_usage_error(sky):
    r = sky("kill-tree", str(os.getpid()), "--grace", "86401")
    assert r.returncode == 2 and "usage" in r.stderr
    r = sky("guard", "--watch", "1", "--kill", str(os.getpid()), "--grace", "1e9")
    assert r.returncode == 2


def test_children(sky):
    needs(sky, "proc.children")
    child = subprocess.Popen(["sleep", "60"])
    try:
        r = sky("children", str(os.getpid()))
        assert str(child.pid) in r.stdout.split()
        r = sky("--json", "children", "--recursive", str(os.getpid()))
        assert child.pid in [c["pid"] for c in json.loads(r.stdout)]
    finally:
        child.kill()
        child.wait()


def test_kill_tree(sky):
    needs(sky, "proc.kill_tree")
    child = subprocess.Popen(["sleep", "60"])
    res = sky("--json", "kill-tree", str(child.pid), "--grace", "1", "--signal", "KILL")
    child.wait()
    assert res.returncode == 0, res.stderr
    k = json.loads(res.stdout)
    assert child.pid in k["signalled"] + k["killed"]
    assert child.returncode == -signal.SIGKILL
    assert sky("kill-tree", str(child.pid), "--signal", "NOPE").returncode == 2


@pytest.mark.parametrize("name, sig", [
    ("USR1", signal.SIGUSR1), ("sigusr2", signal.SIGUSR2), ("SIGHUP", signal.SIGHUP),
    ("winch", signal.SIGWINCH), (str(int(signal.SIGUSR2)), signal.SIGUSR2)])
def test_kill_tree_sends_the_named_signal(sky, name, sig):
    # A shell that reports the first signal it gets and exits: the number the CLI sent is the
    # host's number for that name (the shell would see another signal, or none, otherwise).
    needs(sky, "proc.kill_tree")
    traps = " ".join(f"trap 'echo {int(s)}; exit 0' {int(s)};"
                     for s in (signal.SIGUSR1, signal.SIGUSR2, signal.SIGHUP, signal.SIGWINCH))
    child = subprocess.Popen(["sh", "-c", f"{traps} echo ready; while :; do sleep 0.05; done"],
                             stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline() == "ready\n"
        res = sky("--json", "kill-tree", str(child.pid), "--grace", "10", "--signal", name)
        assert res.returncode == 0, res.stderr
        assert child.stdout.readline() == f"{int(sig)}\n"
        assert child.wait(10) == 0
        k = json.loads(res.stdout)
        assert child.pid in k["signalled"] and child.pid not in k["killed"]
    finally:
        child.kill()
        child.wait()


def test_guard_and_unguard(sky):
    needs(sky, "proc.guard")
    watched = subprocess.Popen(["sleep", "60"])
    target = subprocess.Popen(["sleep", "60"])
    try:
        r = sky("guard", "--watch", str(watched.pid), "--kill", str(target.pid),
                "--grace", "1")
        assert r.returncode == 0, r.stderr
        gid = int(r.stdout)
        listed = json.loads(sky("--json", "guards").stdout)
        mine = [g for g in listed if g["guard_id"] == gid]
        assert len(mine) == 1 and mine[0]["watch"]["pid"] == watched.pid, listed
        assert mine[0]["target"]["pid"] == target.pid and mine[0]["grace_s"] == 1.0
        table = sky("guards").stdout.splitlines()
        assert table[0].split() == ["ID", "WATCH", "KILL", "GRACE", "SIGNAL", "UID"]
        assert any(line.split()[0] == str(gid) for line in table[1:])
        assert sky("unguard", str(gid)).returncode == 0
        assert gid not in [g["guard_id"] for g in json.loads(sky("--json", "guards").stdout)]
        assert sky("unguard", str(gid)).returncode == 4
        assert sky("guard", "--watch", str(watched.pid)).returncode == 2
    finally:
        for p in (watched, target):
            p.kill()
            p.wait()


def test_guard_on_an_ended_process_fires_at_once(sky):
    needs(sky, "proc.guard")
    dead = subprocess.Popen(["true"])
    dead.wait()
    for extra, sig in (((), signal.SIGTERM), (("--signal", "KILL"), signal.SIGKILL)):
        target = subprocess.Popen(["sleep", "60"])
        try:
            r = sky("guard", "--watch", str(dead.pid), "--kill", str(target.pid),
                    "--grace", "5", *extra)
            assert r.returncode == 0, r.stderr
            assert r.stdout == "fired\n" and r.stderr == ""
            target.wait(10)
            assert target.returncode == -sig
        finally:
            target.kill()
            target.wait()
    target = subprocess.Popen(["sleep", "60"])
    try:
        r = sky("--json", "guard", "--watch", str(dead.pid), "--kill", str(target.pid))
        assert r.returncode == 0, r.stderr
        assert json.loads(r.stdout) == {"guard_id": None, "fired": True}
        target.wait(10)
        assert target.returncode == -signal.SIGTERM
    finally:
        target.kill()
        target.wait()


def test_guard_signal(sky):
    needs(sky, "proc.guard")
    watched = subprocess.Popen(["sh", "-c", "read x"], stdin=subprocess.PIPE)
    target = subprocess.Popen(["sleep", "60"])
    try:
        r = sky("--json", "guard", "--watch", str(watched.pid), "--kill", str(target.pid),
                "--grace", "30", "--signal", "KILL")
        assert r.returncode == 0, r.stderr
        g = json.loads(r.stdout)
        assert g["guard_id"] > 0 and g["fired"] is False
        watched.stdin.close()
        watched.wait()
        # SIGKILL at once, not SIGTERM (sleep would die of that) nor SIGKILL after the grace.
        target.wait(20)
        assert target.returncode == -signal.SIGKILL
        r = sky("guard", "--watch", str(os.getpid()), "--kill", str(os.getpid()),
                "--signal", "NOPE")
        assert r.returncode == 2
    finally:
        for p in (watched, target):
            p.kill()
            p.wait()
