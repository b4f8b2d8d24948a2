"""Socket activation without a systemd PID 1: systemd-socket-activate (Debian's systemd
package) binds the socket and execs skyutild with LISTEN_FDS/LISTEN_PID/LISTEN_FDNAMES,
exactly as the .socket unit would."""

import os
import signal
import socket
import subprocess

import pytest

from pkgtest import (SKYUTILD, Rpc, can_connect, cli, need_binaries, need_tool, stop, tempdir,
                     wait_until)


def activate(listen, args, fdname=None, env=None):
    tool = need_tool("systemd-socket-activate")
    need_binaries()
    cmd = [tool, "-l", listen]
    if fdname:
        cmd.append(f"--fdname={fdname}")
    cmd += [SKYUTILD, *args]
    return subprocess.Popen(cmd, env=env or os.environ.copy(), stderr=subprocess.PIPE, text=True)


def test_daemon_serves_the_inherited_socket():
    with tempdir() as d:
        sock = os.path.join(d, "activated.sock")
        # A different --socket: the daemon must prefer the inherited listener and leave
        # this path alone.
        own = os.path.join(d, "own", "skyutild.sock")
        proc = activate(sock, ["--socket", own], fdname="skyutild")
        try:
            # systemd-socket-activate binds first and execs the daemon on the first
            # connection, so connecting works before the daemon runs: the call proves it.
            wait_until(lambda: os.path.exists(sock), what="activation socket")
            with Rpc(sock) as rpc:
                assert rpc.call("ping") == "pong"
                hello = rpc.call("hello", {"client": "packaging-test"})
            assert hello["server"] == "skyutild"
            # systemd-socket-activate execs the daemon in place: same pid.
            assert hello["pid"] == proc.pid
            r = cli(["ping"], sock)
            assert "pong" in r.stdout
            assert not os.path.exists(own), "daemon bound its own socket despite activation"
            assert stop(proc) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        # The socket file belongs to whoever created it (the socket unit), not the daemon.
        assert os.path.exists(sock)


def test_unnamed_fd_is_used():
    """Managers that pass no LISTEN_FDNAMES (or another name) still work: first listener."""
    with tempdir() as d:
        sock = os.path.join(d, "activated.sock")
        proc = activate(sock, ["--socket", os.path.join(d, "unused.sock")])
        try:
            wait_until(lambda: os.path.exists(sock), what="activation socket")
            with Rpc(sock) as rpc:
                assert rpc.call("ping") == "pong"
        finally:
            stop(proc)


def test_listen_pid_of_another_process_is_ignored():
    """LISTEN_FDS inherited by a process the manager did not start is not ours: the daemon
    binds its own --socket instead of taking fd 3."""
    need_binaries()
    with tempdir() as d:
        decoy_path = os.path.join(d, "decoy.sock")
        decoy = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        decoy.bind(decoy_path)
        decoy.listen(4)
        own = os.path.join(d, "own.sock")
        env = dict(os.environ, LISTEN_FDS="1", LISTEN_PID=str(os.getpid()), LISTEN_FDNAMES="skyutild")

        def dup_to_3():
            os.dup2(decoy.fileno(), 3)

        proc = subprocess.Popen([SKYUTILD, "--socket", own], env=env, pass_fds=(), preexec_fn=dup_to_3)
        try:
            wait_until(lambda: proc.poll() is not None or can_connect(own), what="daemon's own socket")
            assert proc.poll() is None
            with Rpc(own) as rpc:
                assert rpc.call("ping") == "pong"
        finally:
            stop(proc)
            decoy.close()
