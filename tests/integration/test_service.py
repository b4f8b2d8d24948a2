"""Service manager integration: sd_notify (READY, STATUS, WATCHDOG, STOPPING) and socket
activation (LISTEN_FDS), spoken natively or through libsystemd, whichever was built."""
import os
import shutil
import signal
import socket
import subprocess
import time

import pytest

from conftest import DAEMON, Client, Daemon, need_daemon, wait_connectable


class NotifyListener:
    def __init__(self, addr):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.s.bind(addr)
        self.s.settimeout(0.2)
        self.msgs = []

    def pump(self, seconds):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            try:
                self.msgs.append(self.s.recv(4096).decode())
            except socket.timeout:
                pass

    def wait_for(self, needle, seconds=5):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            if any(needle in m for m in self.msgs):
                return True
            self.pump(0.05)
        return any(needle in m for m in self.msgs)

    def close(self):
        self.s.close()


def start_notified(make_daemon, notify_env, extra_env=None):
    env = dict(notify_env)
    env.update(extra_env or {})
    return make_daemon(env=env).start(wait=False)


@pytest.mark.parametrize("abstract", [False, True])
def test_sd_notify_ready_status_watchdog_stopping(make_daemon, tmpdir_short, connect, abstract):
    if abstract:
        name = "skd-notify-%d-%d" % (os.getpid(), time.monotonic_ns())
        listener = NotifyListener("\0" + name)
        env = {"NOTIFY_SOCKET": "@" + name}
    else:
        path = os.path.join(tmpdir_short, "notify")
        listener = NotifyListener(path)
        env = {"NOTIFY_SOCKET": path}
    env["WATCHDOG_USEC"] = "200000"
    try:
        d = start_notified(make_daemon, env)
        assert listener.wait_for("READY=1"), listener.msgs
        ready = [m for m in listener.msgs if "READY=1" in m][0]
        assert "STATUS=0 clients, 0 watches" in ready
        # READY=1 means the socket is already accepting.
        c = connect(d.sock)
        assert c.result("ping") == "pong"
        assert listener.wait_for("STATUS=1 client, 0 watches"), listener.msgs
        c.close()
        listener.msgs.clear()
        listener.pump(0.6)  # a 200 ms watchdog period means a ping every 100 ms
        assert sum(m == "WATCHDOG=1" for m in listener.msgs) >= 3, listener.msgs
        assert any("STATUS=0 clients" in m for m in listener.msgs), listener.msgs
        d.proc.send_signal(signal.SIGTERM)
        assert listener.wait_for("STOPPING=1"), listener.msgs
        assert d.wait() == 0
    finally:
        listener.close()


def test_watchdog_for_another_pid_is_ignored(make_daemon, tmpdir_short):
    path = os.path.join(tmpdir_short, "notify")
    listener = NotifyListener(path)
    try:
        d = start_notified(make_daemon, {"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "100000",
                                         "WATCHDOG_PID": "1"})
        assert listener.wait_for("READY=1")
        listener.msgs.clear()
        listener.pump(0.4)
        assert "WATCHDOG=1" not in listener.msgs
        assert d.stop() == 0
    finally:
        listener.close()


def test_no_notify_socket_no_trouble(make_daemon, connect):
    d = make_daemon(env={"WATCHDOG_USEC": "100000"}).start()
    assert connect(d.sock).result("ping") == "pong"
    assert d.stop() == 0


def fd_open(n):
    try:
        os.fstat(n)
        return True
    except OSError:
        return False


def fd3_keep(fd):
    """pass_fds that let fd 3 survive close_fds (which runs after preexec_fn)."""
    if fd == 3:
        return (3,)
    if not fd_open(3):
        os.dup2(fd, 3)  # 3 is free in this process: put the socket there directly
    return (3, fd)


def activated(tmpdir_short, path, extra_env=None, listen_pid_self=True, fdnames=None):
    """Start skyutild the way a service manager does: the listening socket as fd 3."""
    need_daemon()
    os.makedirs(os.path.dirname(path), exist_ok=True)
    lsock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    lsock.bind(path)
    lsock.listen(16)
    fd = lsock.fileno()

    def to_fd3():
        os.dup2(fd, 3)

    pid_expr = "$$" if listen_pid_self else "1"
    script = ('export LISTEN_PID=%s LISTEN_FDS=1%s; exec "$@"'
              % (pid_expr, " LISTEN_FDNAMES=%s" % fdnames if fdnames else ""))
    log = open(os.path.join(tmpdir_short, "activated.log"), "wb")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LISTEN_", "NOTIFY_"))}
    env.update(extra_env or {})
    own = os.path.join(tmpdir_short, "own", "own.sock")
    proc = subprocess.Popen(["/bin/sh", "-c", script, "sh", DAEMON, "-vv", "--socket", own],
                            preexec_fn=to_fd3, pass_fds=fd3_keep(fd), env=env,
                            stdout=log, stderr=log, stdin=subprocess.DEVNULL)
    return proc, lsock, log, own


def test_socket_activation(tmpdir_short):
    path = os.path.join(tmpdir_short, "act", "a.sock")
    proc, lsock, log, own = activated(tmpdir_short, path, fdnames="skyutild")
    try:
        lsock.close()  # the daemon holds its own copy
        wait_connectable(path, proc)
        c = Client(path)
        assert c.result("ping") == "pong"
        assert c.result("hello")["pid"] == proc.pid
        c.close()
        assert not os.path.exists(own), "an activated daemon must not bind its own path"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
        # The socket belongs to the service manager: left in place.
        assert os.path.exists(path)
    finally:
        if proc.poll() is None:
            proc.kill()
        log.close()


def test_socket_activation_for_another_pid_is_ignored(tmpdir_short):
    path = os.path.join(tmpdir_short, "act", "a.sock")
    proc, lsock, log, own = activated(tmpdir_short, path, listen_pid_self=False)
    try:
        wait_connectable(own, proc)
        c = Client(own)
        assert c.result("ping") == "pong"
        c.close()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        lsock.close()
        log.close()


def test_systemd_socket_activate(tmpdir_short):
    need_daemon()
    tool = shutil.which("systemd-socket-activate")
    if not tool:
        pytest.skip("systemd-socket-activate is not installed")
    path = os.path.join(tmpdir_short, "ssa.sock")
    own = os.path.join(tmpdir_short, "own", "own.sock")
    log = open(os.path.join(tmpdir_short, "ssa.log"), "wb")
    proc = subprocess.Popen([tool, "-l", path, "--fdname=skyutild", DAEMON, "-v", "--socket",
                             own], stdout=log, stderr=log, stdin=subprocess.DEVNULL)
    try:
        wait_connectable(path, proc)
        # The first connection makes the tool exec the daemon, which then answers it.
        c = Client(path, timeout=10)
        assert c.result("ping") == "pong"
        assert c.result("hello")["pid"] == proc.pid  # the tool exec'd skyutild in place
        c.close()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        log.close()


def test_activation_without_the_fd_fails_cleanly(tmpdir_short):
    need_daemon()
    own = os.path.join(tmpdir_short, "own", "own.sock")
    # LISTEN_FDS claims fd 3, but nothing is there (or it is not a listening socket).
    r = subprocess.run(["/bin/sh", "-c", 'export LISTEN_PID=$$ LISTEN_FDS=1; exec "$@" 3<&-',
                        "sh", DAEMON, "--socket", own], capture_output=True, text=True,
                       timeout=10)
    assert r.returncode == 1, r
    assert "socket activation" in r.stderr
    with open(os.path.join(tmpdir_short, "plain"), "w") as f:
        r = subprocess.run(["/bin/sh", "-c", 'export LISTEN_PID=$$ LISTEN_FDS=1; exec "$@"',
                            "sh", DAEMON, "--socket", own], capture_output=True, text=True,
                           timeout=10, pass_fds=fd3_keep(f.fileno()),
                           preexec_fn=lambda: os.dup2(f.fileno(), 3))
    assert r.returncode == 1, r
