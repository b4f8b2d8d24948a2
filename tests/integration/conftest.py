"""Helpers for the integration suite: a real skyutild on a temporary socket, raw msgpack."""
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import msgpack
import pytest

DAEMON = os.environ.get("SKYUTILD_BIN")
CLI = os.environ.get("SKYUTIL_BIN")


def need_daemon():
    if not DAEMON or not os.access(DAEMON, os.X_OK):
        pytest.skip("SKYUTILD_BIN is not set to a built skyutild")


def need_cli():
    if not CLI or not os.access(CLI, os.X_OK):
        pytest.skip("SKYUTIL_BIN (the skyutil CLI) is not built")


def need_root():
    if os.geteuid() != 0:
        pytest.skip("needs root (chown to another user or group)")


@pytest.fixture
def tmpdir_short():
    """A short directory under /tmp: sun_path holds only 108 bytes."""
    d = tempfile.mkdtemp(prefix="skd-", dir="/tmp")
    yield d
    shutil.rmtree(d, ignore_errors=True)


def wait_connectable(path, proc=None, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError("daemon exited with %d before listening" % proc.returncode)
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.connect(path)
            return
        except OSError:
            time.sleep(0.02)
        finally:
            s.close()
    raise RuntimeError("daemon did not listen on %s" % path)


class Daemon:
    """One skyutild process; stderr goes to a file so a chatty daemon never blocks."""

    def __init__(self, workdir, args=(), env=None, sock=None, debug=True, socket_arg=True):
        need_daemon()
        self.workdir = workdir
        self.sock = sock or os.path.join(workdir, "run", "skyutild.sock")
        self.args = [DAEMON, "-vv"]
        if socket_arg:
            self.args += ["--socket", self.sock]
        if debug:
            self.args.append("--enable-debug-methods")
        self.args += list(args)
        self.env = dict(os.environ)
        for k in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "LISTEN_FDS", "LISTEN_PID",
                  "LISTEN_FDNAMES", "SKYUTILD_SOCKET"):
            self.env.pop(k, None)
        if env:
            self.env.update(env)
        self.logpath = os.path.join(workdir, "daemon-%d.log" % id(self))
        self.proc = None

    def start(self, wait=True, **popen):
        self.logf = open(self.logpath, "wb")
        self.proc = subprocess.Popen(self.args, env=self.env, stdin=subprocess.DEVNULL,
                                     stdout=self.logf, stderr=self.logf, **popen)
        if wait:
            wait_connectable(self.sock, self.proc)
        return self

    def log(self):
        with open(self.logpath, "rb") as f:
            return f.read().decode(errors="replace")

    def wait(self, timeout=10):
        try:
            return self.proc.wait(timeout=timeout)
        finally:
            self.logf.close()

    def stop(self, sig=signal.SIGTERM, timeout=10):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        rc = self.wait(timeout)
        return rc

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self.proc and not self.logf.closed:
            self.logf.close()


@pytest.fixture
def make_daemon(tmpdir_short):
    made = []

    def make(args=(), **kw):
        d = Daemon(tmpdir_short, args, **kw)
        made.append(d)
        return d

    yield make
    for d in made:
        d.kill()
        log = d.log()
        # Sanitizer reports go to stderr: any of them fails the test that caused them.
        assert "ERROR: AddressSanitizer" not in log, log
        assert "runtime error:" not in log, log
        assert "LeakSanitizer" not in log, log
        assert "handles left open" not in log, log


@pytest.fixture
def daemon(make_daemon):
    d = make_daemon().start()
    yield d
    assert d.stop() == 0, d.log()


class Client:
    def __init__(self, path, timeout=5.0):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.settimeout(timeout)
        self.s.connect(path)
        self.unpacker = msgpack.Unpacker(raw=False)
        self.next_id = 1

    def close(self):
        self.s.close()

    def send_raw(self, data):
        self.s.sendall(data)

    def send(self, method, params=None, msgid=None):
        if msgid is None:
            msgid = self.next_id
            self.next_id += 1
        self.s.sendall(msgpack.packb([0, msgid, method, [] if params is None else [params]]))
        return msgid

    def recv(self):
        """The next message; None at EOF."""
        while True:
            for msg in self.unpacker:
                return msg
            try:
                data = self.s.recv(65536)
            except ConnectionResetError:
                data = b""
            if not data:
                return None
            self.unpacker.feed(data)

    def call(self, method, params=None):
        msgid = self.send(method, params)
        reply = self.recv()
        assert reply is not None, "connection closed instead of answering %s" % method
        assert reply[0] == 1 and reply[1] == msgid, reply
        return reply

    def result(self, method, params=None):
        reply = self.call(method, params)
        assert reply[2] is None, reply
        return reply[3]

    def error(self, method, params=None):
        reply = self.call(method, params)
        assert reply[2] is not None and reply[3] is None, reply
        return reply[2]

    def recv_all_until_eof(self):
        msgs = []
        while True:
            m = self.recv()
            if m is None:
                return msgs
            msgs.append(m)


@pytest.fixture
def connect():
    made = []

    def conn(path, timeout=5.0):
        c = Client(path, timeout)
        made.append(c)
        return c

    yield conn
    for c in made:
        c.close()


def error_reply(msg, name):
    assert msg is not None, "expected a %s reply, got EOF" % name
    assert msg[0] == 1 and msg[3] is None and isinstance(msg[2], dict), msg
    assert msg[2]["name"] == name, msg
    return msg
