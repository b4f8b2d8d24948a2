"""Socket placement and life cycle: modes, group, directory checks, stale and live sockets,
clean shutdown, command line."""
import grp
import os
import signal
import socket
import stat
import subprocess
import time

import pytest

from conftest import DAEMON, Client, Daemon, need_daemon, need_root, wait_connectable


def test_default_mode_is_0600_and_directory_created_0700(daemon):
    st = os.stat(daemon.sock)
    assert stat.S_ISSOCK(st.st_mode)
    assert stat.S_IMODE(st.st_mode) == 0o600
    d = os.stat(os.path.dirname(daemon.sock))
    assert stat.S_IMODE(d.st_mode) == 0o700
    assert d.st_uid == os.geteuid()
    lock = os.stat(daemon.sock + ".lock")
    assert stat.S_IMODE(lock.st_mode) == 0o600


def test_socket_mode_option(make_daemon):
    d = make_daemon(["--socket-mode", "0660"]).start()
    assert stat.S_IMODE(os.stat(d.sock).st_mode) == 0o660
    assert d.stop() == 0


def test_socket_mode_is_not_widened_by_the_umask(make_daemon):
    d = make_daemon(["--socket-mode", "0666"])
    d.start(preexec_fn=lambda: os.umask(0o077))
    assert stat.S_IMODE(os.stat(d.sock).st_mode) == 0o666
    assert d.stop() == 0


def test_socket_group(make_daemon, connect, tmpdir_short):
    need_root()
    try:
        g = grp.getgrnam("nogroup")
    except KeyError:
        pytest.skip("no 'nogroup' group on this system")
    os.chmod(tmpdir_short, 0o711)  # mkdtemp's 0700 would stop everyone at the door
    d = make_daemon(["--socket-group", "nogroup", "--socket-mode", "0660"]).start()
    st = os.stat(d.sock)
    assert st.st_gid == g.gr_gid
    assert stat.S_IMODE(st.st_mode) == 0o660
    # A directory the daemon created must let the group reach the socket, and no one else.
    dst = os.stat(os.path.dirname(d.sock))
    assert dst.st_gid == g.gr_gid and stat.S_IMODE(dst.st_mode) == 0o710
    # A member of the group (not the owner) can connect; others cannot.
    probe = ("import socket,sys\n"
             "s=socket.socket(socket.AF_UNIX)\n"
             "try:\n s.connect(sys.argv[1]); print('ok')\n"
             "except PermissionError: print('denied')\n")
    nobody = 65534
    as_member = subprocess.run(["/usr/bin/python3", "-c", probe, d.sock], capture_output=True,
                               text=True, user=nobody, group=g.gr_gid, extra_groups=[],
                               timeout=10)
    assert as_member.stdout.strip() == "ok", as_member
    outsider = subprocess.run(["/usr/bin/python3", "-c", probe, d.sock], capture_output=True,
                              text=True, user=nobody, group=0, extra_groups=[], timeout=10)
    assert outsider.stdout.strip() == "denied", outsider
    assert d.stop() == 0


def test_unknown_socket_group_refused(make_daemon):
    d = make_daemon(["--socket-group", "no-such-group-skd"]).start(wait=False)
    assert d.wait() == 1
    assert "unknown group" in d.log()


def test_refuses_world_writable_directory_of_another_user(make_daemon, tmpdir_short):
    need_root()
    run = os.path.join(tmpdir_short, "run")
    os.mkdir(run)
    os.chown(run, 65534, 65534)
    os.chmod(run, 0o777)
    d = make_daemon().start(wait=False)
    assert d.wait() == 1
    assert "refusing socket directory" in d.log()
    assert not os.path.exists(os.path.join(run, "skyutild.sock"))


def test_refuses_own_directory_writable_by_others_without_sticky(make_daemon, tmpdir_short):
    run = os.path.join(tmpdir_short, "run")
    os.mkdir(run)
    os.chmod(run, 0o777)
    d = make_daemon().start(wait=False)
    assert d.wait() == 1
    assert "writable by group or others" in d.log()


def test_accepts_sticky_shared_directory(make_daemon, tmpdir_short):
    run = os.path.join(tmpdir_short, "run")
    os.mkdir(run)
    os.chmod(run, 0o1777)
    d = make_daemon().start()
    assert d.stop() == 0


def test_missing_parent_directory_is_an_error(make_daemon, tmpdir_short):
    d = make_daemon(sock=os.path.join(tmpdir_short, "a", "b", "s.sock")).start(wait=False)
    assert d.wait() == 1
    assert "cannot create socket directory" in d.log()


def test_stale_socket_is_taken_over(make_daemon, tmpdir_short, connect):
    run = os.path.join(tmpdir_short, "run")
    os.mkdir(run, 0o700)
    path = os.path.join(run, "skyutild.sock")
    s = socket.socket(socket.AF_UNIX)
    s.bind(path)
    s.close()  # the file stays, nobody listens: a crashed daemon's leftover
    assert stat.S_ISSOCK(os.stat(path).st_mode)
    d = make_daemon().start()
    assert connect(d.sock).result("ping") == "pong"
    assert "removing stale socket" in d.log()
    assert d.stop() == 0


def test_file_that_is_not_a_socket_is_left_alone(make_daemon, tmpdir_short):
    run = os.path.join(tmpdir_short, "run")
    os.mkdir(run, 0o700)
    path = os.path.join(run, "skyutild.sock")
    with open(path, "w") as f:
        f.write("precious")
    d = make_daemon().start(wait=False)
    assert d.wait() == 1
    assert "not a socket" in d.log()
    with open(path) as f:
        assert f.read() == "precious"


def test_second_daemon_refuses_to_start(daemon, make_daemon, connect):
    second = make_daemon().start(wait=False)
    assert second.wait() == 1
    assert "another skyutild is already listening on %s" % daemon.sock in second.log()
    # The first one still serves and its socket is intact.
    assert connect(daemon.sock).result("ping") == "pong"
    assert stat.S_ISSOCK(os.stat(daemon.sock).st_mode)


def test_live_listener_without_lock_is_not_stolen(make_daemon, tmpdir_short):
    run = os.path.join(tmpdir_short, "run")
    os.mkdir(run, 0o700)
    path = os.path.join(run, "skyutild.sock")
    s = socket.socket(socket.AF_UNIX)
    s.bind(path)
    s.listen(1)
    try:
        d = make_daemon().start(wait=False)
        assert d.wait() == 1
        assert "another skyutild is already listening" in d.log()
        assert os.path.exists(path)
    finally:
        s.close()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_stops_cleanly_and_removes_socket(make_daemon, connect, sig):
    d = make_daemon().start()
    c = connect(d.sock)
    assert c.result("ping") == "pong"
    assert d.stop(sig) == 0
    assert not os.path.exists(d.sock)
    assert not os.path.exists(d.sock + ".lock")
    assert c.recv() is None  # our connection was closed


def test_shutdown_waits_for_inflight_deferred_call(make_daemon, connect):
    d = make_daemon().start()
    c = connect(d.sock)
    c.send("debug.sleep", {"ms": 300}, msgid=5)
    time.sleep(0.05)
    d.proc.send_signal(signal.SIGTERM)
    r = c.recv()
    assert r is not None and r[1] == 5 and r[2] is None
    assert d.wait() == 0
    assert not os.path.exists(d.sock)


def test_shutdown_bounds_the_wait_for_deferred_calls(make_daemon, connect):
    d = make_daemon().start()
    c = connect(d.sock, timeout=20)
    c.send("debug.sleep", {"ms": 30000}, msgid=5)
    time.sleep(0.05)
    t0 = time.monotonic()
    d.proc.send_signal(signal.SIGTERM)
    assert d.wait(timeout=15) == 0
    assert time.monotonic() - t0 < 10
    r = c.recv()
    assert r is None or (r[1] == 5 and r[2]["name"] == "UNAVAILABLE")


def test_second_signal_stops_at_once(make_daemon, connect):
    d = make_daemon().start()
    c = connect(d.sock, timeout=20)
    c.send("debug.sleep", {"ms": 30000}, msgid=5)
    time.sleep(0.05)
    d.proc.send_signal(signal.SIGTERM)
    time.sleep(0.1)
    t0 = time.monotonic()
    d.proc.send_signal(signal.SIGTERM)
    assert d.wait(timeout=15) == 0
    assert time.monotonic() - t0 < 1.5


def test_socket_path_from_environment(tmpdir_short, connect):
    need_daemon()
    path = os.path.join(tmpdir_short, "env", "e.sock")
    d = Daemon(tmpdir_short, env={"SKYUTILD_SOCKET": path}, sock=path, socket_arg=False)
    d.start()
    try:
        assert connect(path).result("ping") == "pong"
        assert d.stop() == 0
    finally:
        d.kill()


def test_socket_path_from_xdg_runtime_dir(tmpdir_short, connect):
    need_daemon()
    os.chmod(tmpdir_short, 0o700)
    path = os.path.join(tmpdir_short, "skyutild", "skyutild.sock")
    d = Daemon(tmpdir_short, env={"XDG_RUNTIME_DIR": tmpdir_short}, sock=path,
               socket_arg=False)
    d.start()
    try:
        assert connect(path).result("ping") == "pong"
        assert d.stop() == 0
    finally:
        d.kill()


def run_daemon(*args):
    need_daemon()
    return subprocess.run([DAEMON, *args], capture_output=True, text=True, timeout=10)


def test_version_and_help():
    r = run_daemon("--version")
    assert r.returncode == 0 and r.stdout.startswith("skyutild ")
    r = run_daemon("--help")
    assert r.returncode == 0 and "--socket PATH" in r.stdout and "--idle-timeout" in r.stdout


@pytest.mark.parametrize("args", [
    ["--bogus"],
    ["--socket-mode", "999"],
    ["--socket-mode", "0600x"],
    ["--max-connections", "0"],
    ["--max-message", "-5"],
    ["--idle-timeout", "abc"],
    ["--max-user-watches", "-1"],
    ["--max-user-guards", "many"],
    ["--max-user-guards", "2000000000"],
    ["--sysroot", "/tmp/../etc"],
    ["--sysroot", "relative"],
    ["--sysroot", "/nonexistent-skd"],
    ["--socket", "/tmp/" + "x" * 200],
    ["extra-argument"],
])
def test_bad_usage_exits_2(args):
    r = run_daemon(*args)
    assert r.returncode == 2, r
    assert r.stderr


def test_sysroot_accepted(make_daemon, tmpdir_short):
    d = make_daemon(["--sysroot", tmpdir_short + "/"]).start()
    assert d.stop() == 0
