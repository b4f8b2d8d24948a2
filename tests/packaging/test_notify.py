"""The service manager notification protocol, with a NOTIFY_SOCKET owned by the test:
READY=1 only once the socket listens, STATUS= kept current, WATCHDOG=1 when
WATCHDOG_USEC is set, STOPPING=1 at shutdown."""

import os
import re
import signal
import socket
import subprocess
import time

import pytest

from pkgtest import SKYUTILD, Rpc, can_connect, need_binaries, stop, tempdir

WAIT = 10.0


class Manager:
    """The receiving end of NOTIFY_SOCKET: a datagram socket, as systemd's."""

    def __init__(self, address):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(address)
        self.messages = []

    def close(self):
        self.sock.close()

    def recv(self, timeout):
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(4096)
        except socket.timeout:
            return None
        msg = dict(line.split("=", 1) for line in data.decode().split("\n") if line)
        self.messages.append(msg)
        return msg

    def wait_for(self, pred, what, timeout=WAIT):
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no {what} within {timeout} s; got {self.messages}")
            msg = self.recv(left)
            if msg is not None and pred(msg):
                return msg


def start(d, notify_addr, env_extra=None):
    need_binaries()
    sock = os.path.join(d, "d.sock")
    env = dict(os.environ, NOTIFY_SOCKET=notify_addr)
    env.pop("WATCHDOG_USEC", None)
    env.pop("WATCHDOG_PID", None)
    env.update(env_extra or {})
    return sock, subprocess.Popen([SKYUTILD, "--socket", sock], env=env)


def status_counts(msg):
    m = re.fullmatch(r"(\d+) clients?, (\d+) watch(?:es)?", msg.get("STATUS", ""))
    return (int(m.group(1)), int(m.group(2))) if m else None


@pytest.mark.parametrize("abstract", [False, True], ids=["path", "abstract"])
def test_ready_status_watchdog_stopping(abstract):
    with tempdir() as d:
        if abstract:
            name = f"skyutil-test-notify-{os.getpid()}"
            mgr, addr = Manager("\0" + name), "@" + name
        else:
            addr = os.path.join(d, "notify.sock")
            mgr = Manager(addr)
        sock, proc = start(d, addr, {"WATCHDOG_USEC": "200000"})
        child = None
        try:
            ready = mgr.wait_for(lambda m: "READY" in m, "READY=1")
            assert ready["READY"] == "1"
            # Readiness means clients can connect now, not "soon".
            assert can_connect(sock), "READY=1 sent before the socket listened"
            assert status_counts(ready) == (0, 0), ready

            with Rpc(sock) as rpc:
                mgr.wait_for(lambda m: status_counts(m) == (1, 0), "STATUS=1 client, 0 watches")
                child = subprocess.Popen(["sleep", "60"])
                w = rpc.call("proc.watch", {"pid": child.pid})
                assert w["watch_id"] is not None and w["alive"] is True
                mgr.wait_for(lambda m: status_counts(m) == (1, 1), "STATUS=1 client, 1 watch")
                child.kill()
                child.wait()
                method, params = rpc.next_notification()
                assert method == "proc.exited" and params["pid"] == child.pid
                mgr.wait_for(lambda m: status_counts(m) == (1, 0), "STATUS back to 0 watches")
            mgr.wait_for(lambda m: status_counts(m) == (0, 0), "STATUS=0 clients after disconnect")

            # Half of WATCHDOG_USEC: several pings arrive without any activity.
            for _ in range(3):
                mgr.wait_for(lambda m: m.get("WATCHDOG") == "1", "WATCHDOG=1")

            proc.send_signal(signal.SIGTERM)
            mgr.wait_for(lambda m: m.get("STOPPING") == "1", "STOPPING=1")
            assert proc.wait(WAIT) == 0
        finally:
            if child and child.poll() is None:
                child.kill()
                child.wait()
            stop(proc)
            mgr.close()
        assert sum(1 for m in mgr.messages if "READY" in m) == 1


def test_no_watchdog_for_another_pid():
    """WATCHDOG_PID names the process the manager watches; for any other, no pings."""
    with tempdir() as d:
        addr = os.path.join(d, "notify.sock")
        mgr = Manager(addr)
        sock, proc = start(d, addr, {"WATCHDOG_USEC": "100000", "WATCHDOG_PID": str(os.getpid())})
        try:
            mgr.wait_for(lambda m: "READY" in m, "READY=1")
            # 50 ms period: a second is twenty missed pings.
            deadline = time.monotonic() + 1.0
            while time.monotonic() < deadline:
                mgr.recv(max(0.0, deadline - time.monotonic()))
            assert not any("WATCHDOG" in m for m in mgr.messages), mgr.messages
        finally:
            stop(proc)
            mgr.close()


def test_without_notify_socket_daemon_runs():
    need_binaries()
    with tempdir() as d:
        sock = os.path.join(d, "d.sock")
        env = {k: v for k, v in os.environ.items() if k not in ("NOTIFY_SOCKET", "WATCHDOG_USEC")}
        proc = subprocess.Popen([SKYUTILD, "--socket", sock], env=env)
        try:
            deadline = time.monotonic() + WAIT
            while not can_connect(sock):
                assert proc.poll() is None and time.monotonic() < deadline
                time.sleep(0.02)
            with Rpc(sock) as rpc:
                assert rpc.call("ping") == "pong"
        finally:
            assert stop(proc) == 0
