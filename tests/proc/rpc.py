"""Minimal raw msgpack-rpc client and daemon launcher for the proc tests (no skyutil code)."""
import os
import select
import shutil
import socket
import subprocess
import tempfile
import time

import msgpack

SKYUTILD = os.environ.get("SKYUTILD_BIN", "skyutild")


class RpcError(Exception):
    def __init__(self, err):
        self.code = err.get("code")
        self.name = err.get("name")
        self.message = err.get("message")
        super().__init__(f"{self.name}: {self.message}")


class Client:
    def __init__(self, path, timeout=10.0):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(path)
        self.unpacker = msgpack.Unpacker(raw=False, max_buffer_size=256 << 20)
        self.msgid = 0
        self.replies = {}
        self.notes = []

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def send(self, method, params=None):
        self.msgid += 1
        args = [] if params is None else [params]
        self.sock.sendall(msgpack.packb([0, self.msgid, method, args]))
        return self.msgid

    def send_many(self, reqs):
        """Pipeline (method, params) pairs in one write; returns their msgids."""
        ids, out = [], []
        for method, params in reqs:
            self.msgid += 1
            ids.append(self.msgid)
            out.append(msgpack.packb([0, self.msgid, method, [] if params is None else [params]]))
        self.sock.sendall(b"".join(out))
        return ids

    def _pump(self, deadline):
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("no message from the daemon in time")
        r, _, _ = select.select([self.sock], [], [], left)
        if not r:
            raise TimeoutError("no message from the daemon in time")
        data = self.sock.recv(1 << 20)
        if not data:
            raise ConnectionError("daemon closed the connection")
        self.unpacker.feed(data)
        for msg in self.unpacker:
            if msg[0] == 1:
                self.replies[msg[1]] = (msg[2], msg[3])
            elif msg[0] == 2:
                self.notes.append((msg[1], msg[2][0]))

    def reply(self, msgid, timeout=10.0):
        deadline = time.monotonic() + timeout
        while msgid not in self.replies:
            self._pump(deadline)
        err, result = self.replies.pop(msgid)
        if err is not None:
            raise RpcError(err)
        return result

    def call(self, method, params=None, timeout=10.0):
        return self.reply(self.send(method, params), timeout)

    def note(self, method="proc.exited", pred=None, timeout=10.0):
        """Wait for (and consume) the first notification matching method and pred."""
        deadline = time.monotonic() + timeout
        while True:
            for i, (m, p) in enumerate(self.notes):
                if m == method and (pred is None or pred(p)):
                    del self.notes[i]
                    return p
            self._pump(deadline)

    def exited(self, watch_id, timeout=10.0):
        return self.note("proc.exited", lambda p: p["watch_id"] == watch_id, timeout)

    def no_note(self, seconds):
        """Collect notifications for a while; returns what arrived."""
        deadline = time.monotonic() + seconds
        try:
            while True:
                self._pump(deadline)
        except TimeoutError:
            pass
        return list(self.notes)


class Daemon:
    """A skyutild on a private socket. preexec runs in the child (e.g. to set rlimits)."""

    def __init__(self, args=(), sockdir=None, preexec=None, env=None):
        self.own_dir = sockdir is None
        self.dir = sockdir or tempfile.mkdtemp(prefix="sku-proc-")
        self.final_log = None
        self.path = os.path.join(self.dir, "skyutild.sock")
        self.log = open(os.path.join(self.dir, "daemon.log"), "w+")
        cmd = [SKYUTILD, "--socket", self.path, "-vv", *args]
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=self.log, preexec_fn=preexec,
                                     env=env)
        self.pid = self.proc.pid
        deadline = time.monotonic() + 10
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError("skyutild exited at start:\n" + self.logtext())
            try:
                with Client(self.path) as c:
                    c.call("ping")
                break
            except (FileNotFoundError, ConnectionRefusedError):
                if time.monotonic() > deadline:
                    raise RuntimeError("skyutild did not come up:\n" + self.logtext())
                time.sleep(0.02)

    def client(self):
        return Client(self.path)

    def logtext(self):
        if self.final_log is not None:
            return self.final_log
        self.log.flush()
        self.log.seek(0)
        return self.log.read()

    def fds(self):
        """The daemon's open fds: {fd: what it is}, for messages."""
        out = {}
        for fd in os.listdir(f"/proc/{self.pid}/fd"):
            try:
                out[int(fd)] = os.readlink(f"/proc/{self.pid}/fd/{fd}")
            except OSError:
                pass
        return out

    def npidfds(self):
        return sum("pidfd" in v for v in self.fds().values())

    def settle(self, timeout=10.0):
        """Wait until no client connection is open (only the listening socket is left);
        returns the fd count then: the baseline a test compares with."""
        deadline = time.monotonic() + timeout
        while sum(v.startswith("socket:") for v in self.fds().values()) > 1:
            if time.monotonic() > deadline:
                raise TimeoutError(f"connections still open: {self.fds()}")
            time.sleep(0.01)
        return self.nfds()

    def nfds(self):
        return len(os.listdir(f"/proc/{self.pid}/fd"))

    def stop(self):
        """Stop the daemon; its exit status, or -1000 when a sanitizer reported anything."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.final_log = self.logtext()
        self.log.close()
        if self.own_dir:
            shutil.rmtree(self.dir, ignore_errors=True)
        if "runtime error:" in self.final_log or "Sanitizer" in self.final_log:
            return -1000
        return self.proc.returncode
