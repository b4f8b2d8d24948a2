"""Authorization with real users: a root daemon serving a throwaway user (nobody) must not let
it signal, kill or guard another user's processes, nor learn their exit codes; the socket's
directory, mode and group are checked at start-up."""
import os
import stat
import subprocess
import sys
import textwrap
import time

import pytest

import hz

pytestmark = pytest.mark.usefixtures("root_only")

GROUP = 54321  # a gid nobody belongs to; numeric gids are accepted by --socket-group

# A client run as another user: calls METHOD with ARGS (JSON) on SOCK, prints the outcome as
# JSON ({"result": ...} or {"error": NAME}, or {"connect": errno}).
CLIENT = textwrap.dedent("""
    import json, socket, sys, msgpack
    sock, calls = sys.argv[1], json.loads(sys.argv[2])
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(20)
    try:
        s.connect(sock)
    except OSError as e:
        print(json.dumps({"connect": e.errno})); sys.exit(0)
    up = msgpack.Unpacker(raw=False)
    out, notes = [], []
    for i, (method, args) in enumerate(calls, 1):
        if method == "@wait":
            want = args
            while not [n for n in notes if n[1] == want]:
                data = s.recv(65536)
                if not data: break
                up.feed(data)
                for m in up:
                    if m[0] == 2: notes.append(m)
            got = [n for n in notes if n[1] == want]
            out.append({"note": got[0][2][0] if got else None}); continue
        s.sendall(msgpack.packb([0, i, method, [args] if args is not None else []]))
        while True:
            m = next(up, None)
            if m is None:
                data = s.recv(65536)
                if not data: out.append({"eof": True}); break
                up.feed(data); continue
            if m[0] == 2: notes.append(m); continue
            out.append({"error": m[2]["name"]} if m[2] else {"result": m[3]}); break
    print(json.dumps(out))
""")


def run_as(uid, gid, sock, calls, groups=()):
    import json
    r = subprocess.run([sys.executable, "-c", CLIENT, sock, json.dumps(calls)], user=uid,
                       group=gid, extra_groups=list(groups), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=60, cwd="/")
    assert r.returncode == 0, r.stderr.decode()
    return json.loads(r.stdout)


@pytest.fixture
def shared(base):
    """A root daemon whose socket any local user may use (mode 0666)."""
    d = hz.Daemon(base, "--socket-mode", "0666")
    os.chmod(d.dir, 0o755)
    yield d
    d.stop()


@pytest.fixture
def roots_sleep():
    p = hz.spawn_as(None, ["sleep", "60"])
    yield p
    p.kill()
    p.wait()


@pytest.fixture
def nobodys_sleep():
    p = hz.spawn_as(hz.NOBODY, ["sleep", "60"])
    yield p
    p.kill()
    p.wait()


def test_cross_user_signal_kill_guard_denied(shared, roots_sleep, nobodys_sleep):
    root_pid, own_pid = roots_sleep.pid, nobodys_sleep.pid
    out = run_as(hz.NOBODY, hz.NOBODY, shared.path, [
        ["proc.kill_tree", {"pid": root_pid, "signal": "KILL", "grace_s": 0}],
        ["proc.kill_tree", {"pid": root_pid, "signal": 0 + 15, "include_root": False}],
        ["proc.guard", {"watch": {"pid": own_pid}, "target": {"pid": root_pid},
                        "signal": "KILL", "grace_s": 0}],
        ["proc.guards", None],
    ])
    assert out[0] == {"error": "PERMISSION_DENIED"}, out
    assert out[1] == {"error": "PERMISSION_DENIED"}, out
    assert out[2] == {"error": "PERMISSION_DENIED"}, out
    assert out[3] == {"result": []}, out
    # The guard, had it been armed, would fire when nobody's own process ends.
    nobodys_sleep.kill()
    nobodys_sleep.wait()
    time.sleep(0.5)
    assert roots_sleep.poll() is None, "another user's process was killed"


def test_owner_may_signal_own_process(shared, nobodys_sleep):
    """The control: the same request by the owner works, so the denials above mean something."""
    out = run_as(hz.NOBODY, hz.NOBODY, shared.path, [
        ["proc.kill_tree", {"pid": nobodys_sleep.pid, "signal": "KILL", "grace_s": 0}]])
    assert "result" in out[0], out
    assert hz.wait_gone(nobodys_sleep.pid) or nobodys_sleep.poll() is not None


def test_guards_of_other_users_are_invisible_and_untouchable(shared, roots_sleep):
    with shared.client() as c:
        g = c.call("proc.guard", {"watch": {"pid": roots_sleep.pid},
                                  "target": {"pid": roots_sleep.pid}, "grace_s": 0})
        out = run_as(hz.NOBODY, hz.NOBODY, shared.path, [
            ["proc.guards", None], ["proc.unguard", {"guard_id": g["guard_id"]}]])
        assert out[0] == {"result": []}, out
        assert out[1] == {"error": "INVALID_ARGUMENT"}, out  # invisible, as if it never was
        assert [x["guard_id"] for x in c.call("proc.guards")] == [g["guard_id"]]
        assert c.call("proc.unguard", {"guard_id": g["guard_id"]}) is True


def test_per_user_watch_and_guard_limits(base, roots_sleep, nobodys_sleep):
    """--max-user-watches/--max-user-guards bound what one non-root user holds, across its
    connections: watches come back when their connection closes, guards (which outlive it)
    when they end; a guard that fires at once holds nothing; root is not limited."""
    d = hz.Daemon(base, "--socket-mode", "0666", "--max-user-watches", "3",
                  "--max-user-guards", "2", name="q")
    os.chmod(d.dir, 0o755)
    dead = hz.spawn_as(hz.NOBODY, ["true"], reap=False)
    dead.wait()
    spare = hz.spawn_as(hz.NOBODY, ["sleep", "60"])
    try:
        watch = ["proc.watch", {"pid": roots_sleep.pid}]  # liveness is public
        guard = ["proc.guard", {"watch": {"pid": roots_sleep.pid},
                                "target": {"pid": nobodys_sleep.pid}, "grace_s": 0}]
        out = run_as(hz.NOBODY, hz.NOBODY, d.path, [watch] * 4 + [guard] * 3)
        assert [o.get("error") for o in out] == [None] * 3 + ["RESOURCE_EXHAUSTED", None, None,
                                                            "RESOURCE_EXHAUSTED"], out
        # That connection closed: its watches are given back; its two guards stay armed.
        fires_at_once = ["proc.guard", {"watch": {"pid": dead.pid},
                                        "target": {"pid": spare.pid}, "grace_s": 0}]
        out = run_as(hz.NOBODY, hz.NOBODY, d.path,
                     [watch] * 3 + [guard, fires_at_once, ["proc.guards", None]])
        assert [o.get("error") for o in out] == [None] * 3 + ["RESOURCE_EXHAUSTED", None,
                                                            None], out
        assert out[4]["result"] == {"guard_id": None, "fired": True}, out
        ids = [g["guard_id"] for g in out[5]["result"]]
        assert len(ids) == 2, out
        assert spare.wait(10) is not None  # the at-once guard did fire
        with d.client() as c:
            # Root holds more than any limit, and may end nobody's guards.
            for _ in range(5):
                assert c.call("proc.watch", {"pid": roots_sleep.pid})["watch_id"]
            for _ in range(3):
                assert c.call("proc.guard", {"watch": {"pid": roots_sleep.pid},
                                             "target": {"pid": roots_sleep.pid}})["guard_id"]
            assert c.call("proc.unguard", {"guard_id": ids[0]}) is True
            out = run_as(hz.NOBODY, hz.NOBODY, d.path, [guard, guard])
            assert [o.get("error") for o in out] == [None, "RESOURCE_EXHAUSTED"], out
        assert nobodys_sleep.poll() is None and roots_sleep.poll() is None
    finally:
        if spare.poll() is None:
            spare.kill()
        d.stop()


def test_exit_codes_of_other_users_processes_are_not_disclosed(shared):
    p = hz.spawn_as(None, ["sh", "-c", "sleep 1.5; exit 7"])
    try:
        with shared.client() as c:
            w = c.call("proc.watch", {"pid": p.pid})
            assert w["watch_id"] is not None
            out = run_as(hz.NOBODY, hz.NOBODY, shared.path, [
                ["proc.watch", {"pid": p.pid}], ["@wait", "proc.exited"],
                ["proc.status", {"procs": [p.pid]}]])
            ev = c.notification("proc.exited", timeout=20)
            assert ev["exit_code"] == 7, ev  # the owner (root) learns it
        assert out[0]["result"]["watch_id"] is not None, out
        # Another user learns that it ended, never how.
        note = out[1]["note"]
        assert note is not None and note["exit_code"] is None, out
        assert note["signal"] is None and note["reason"] == "permission", out
        st = out[2]["result"][0]
        assert st["alive"] is False and st["exit_code"] is None, out
        assert st["signal"] is None and st["reason"] == "permission", out
        # The exit is remembered (root's watch saw it): root, as the owner would, gets the code.
        with shared.client() as c:
            st = c.call("proc.status", {"procs": [p.pid]})[0]
            assert st["alive"] is False and st["exit_code"] == 7, st
            assert st["signal"] is None and st["reason"] is None, st
    finally:
        p.wait()


def test_socket_and_directory_modes_at_startup(base):
    d = hz.Daemon(base, socket_path=os.path.join(base, "fresh", "s.sock"))
    try:
        st = os.stat(os.path.join(base, "fresh"))
        assert stat.S_IMODE(st.st_mode) == 0o700 and st.st_uid == 0
        assert stat.S_IMODE(os.stat(d.path).st_mode) == 0o600
    finally:
        d.stop()
    d = hz.Daemon(base, "--socket-mode", "0660", name="m")
    try:
        assert stat.S_IMODE(os.stat(d.path).st_mode) == 0o660
    finally:
        d.stop()


@pytest.mark.parametrize("owner, mode", [(hz.NOBODY, 0o777), (hz.NOBODY, 0o755), (0, 0o777),
                                         (0, 0o775)])
def test_unsafe_socket_directory_is_refused(base, owner, mode):
    bad = os.path.join(base, "bad")
    os.mkdir(bad)
    os.chown(bad, owner, owner)
    os.chmod(bad, mode)
    r = subprocess.run([hz.SKYUTILD, "--socket", os.path.join(bad, "s.sock")],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=20)
    assert r.returncode == 1, (r.returncode, r.stderr)
    assert b"refusing" in r.stderr, r.stderr
    assert not os.path.exists(os.path.join(bad, "s.sock"))


def test_sticky_world_writable_directory_is_accepted(base):
    tmp = os.path.join(base, "sticky")
    os.mkdir(tmp)
    os.chmod(tmp, 0o1777)
    d = hz.Daemon(base, socket_path=os.path.join(tmp, "s.sock"))
    d.stop()


def test_socket_group_admits_the_group_and_no_one_else(base):
    sockdir = os.path.join(base, "grp")  # created by the daemon: 0710, group GROUP
    d = hz.Daemon(base, "--socket-group", str(GROUP), "--socket-mode", "0660",
                  socket_path=os.path.join(sockdir, "s.sock"))
    try:
        st = os.stat(d.path)
        assert st.st_gid == GROUP and stat.S_IMODE(st.st_mode) == 0o660
        dst = os.stat(sockdir)
        assert dst.st_gid == GROUP and stat.S_IMODE(dst.st_mode) == 0o710
        ping = [["ping", None]]
        assert run_as(hz.NOBODY, GROUP, d.path, ping) == [{"result": "pong"}]
        assert run_as(hz.NOBODY, hz.NOBODY, d.path, ping, groups=[GROUP]) == \
            [{"result": "pong"}]
        out = run_as(hz.NOBODY, hz.NOBODY, d.path, ping)
        assert out == {"connect": 13}, out  # EACCES
    finally:
        d.stop()
