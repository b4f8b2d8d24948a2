"""Shared helpers of the packaging tests: paths, a daemon on a temporary socket, and a
minimal MessagePack-RPC client (python3-msgpack) so these tests do not depend on the
client libraries they help to check."""

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import msgpack
import pytest

SRCDIR = os.environ.get("SKYUTIL_SRCDIR", os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
BUILDDIR = os.environ.get("SKYUTIL_BUILDDIR", "")
SKYUTILD = os.environ.get("SKYUTILD_BIN", "")
SKYUTIL = os.environ.get("SKYUTIL_BIN", "")

# Generous bounds: a loaded CI machine may be slow, and none of these is a speed assertion.
START_TIMEOUT = 10.0


def need_binaries():
    for path in (SKYUTILD, SKYUTIL):
        if not path or not os.access(path, os.X_OK):
            pytest.skip(f"built binaries not found (SKYUTILD_BIN={SKYUTILD!r}, SKYUTIL_BIN={SKYUTIL!r})")


def need_tool(name):
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} is not installed")
    return path


def src(*parts):
    return os.path.join(SRCDIR, *parts)


def wait_until(pred, timeout=START_TIMEOUT, what="condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = pred()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def can_connect(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.connect(path)
        return True
    except OSError:
        return False
    finally:
        s.close()


class RpcError(Exception):
    def __init__(self, err):
        super().__init__(f"{err.get('name')}: {err.get('message')}")
        self.err = err


class Rpc:
    """Blocking msgpack-rpc client; notifications are queued for next_notification()."""

    def __init__(self, path, timeout=10.0):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(path)
        self.unpacker = msgpack.Unpacker(raw=False, strict_map_key=False)
        self.msgid = 0
        self.notes = []

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _read(self):
        for msg in self.unpacker:
            return msg
        while True:
            data = self.sock.recv(65536)
            if not data:
                raise EOFError("daemon closed the connection")
            self.unpacker.feed(data)
            for msg in self.unpacker:
                return msg

    def call(self, method, args=None):
        self.msgid += 1
        params = [args] if args is not None else []
        self.sock.sendall(msgpack.packb([0, self.msgid, method, params]))
        while True:
            msg = self._read()
            if msg[0] == 2:
                self.notes.append((msg[1], msg[2][0]))
                continue
            assert msg[0] == 1 and msg[1] == self.msgid, msg
            if msg[2] is not None:
                raise RpcError(msg[2])
            return msg[3]

    def next_notification(self):
        if self.notes:
            return self.notes.pop(0)
        msg = self._read()
        assert msg[0] == 2, msg
        return msg[1], msg[2][0]


@contextlib.contextmanager
def tempdir():
    d = tempfile.mkdtemp(prefix="skyutil-pkg-")
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


def stop(proc, sig=signal.SIGTERM, timeout=START_TIMEOUT):
    """Stop a process we started; returns its exit status."""
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise AssertionError(f"{proc.args} did not stop on signal {sig}")
    return proc.returncode


@contextlib.contextmanager
def daemon(sock_path, extra_args=(), env=None, **popen):
    """skyutild on sock_path; yields the Popen once the socket answers."""
    need_binaries()
    proc = subprocess.Popen([SKYUTILD, "--socket", sock_path, *extra_args],
                            env=env if env is not None else os.environ.copy(), **popen)
    try:
        wait_until(lambda: proc.poll() is not None or can_connect(sock_path), what="skyutild socket")
        assert proc.poll() is None, f"skyutild exited with {proc.returncode}"
        yield proc
    finally:
        if proc.poll() is None:
            stop(proc)


def free_tcp_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cli(args, sock_path, check=True, env=None, **kw):
    need_binaries()
    e = dict(env if env is not None else os.environ)
    e["SKYUTILD_SOCKET"] = sock_path
    r = subprocess.run([SKYUTIL, *args], env=e, capture_output=True, text=True, timeout=60, **kw)
    if check and r.returncode != 0:
        raise AssertionError(f"skyutil {' '.join(args)} exited {r.returncode}: {r.stderr}")
    return r
