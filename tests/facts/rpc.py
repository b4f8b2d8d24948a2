"""A minimal msgpack-rpc client and daemon launcher for the facts tests."""
import os
import socket
import subprocess
import time

import msgpack


class RpcError(Exception):
    def __init__(self, err):
        self.name = err.get("name") if isinstance(err, dict) else str(err)
        super().__init__("%s: %s" % (self.name, err.get("message") if isinstance(err, dict) else ""))


class Client:
    def __init__(self, path, timeout=5.0):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(path)
        self.unpacker = msgpack.Unpacker(raw=False)
        self.msgid = 0
        self.notifications = []

    def close(self):
        self.sock.close()

    def _read_one(self, timeout=None):
        old = self.sock.gettimeout()
        if timeout is not None:
            self.sock.settimeout(timeout)
        try:
            while True:
                for msg in self.unpacker:
                    return msg
                data = self.sock.recv(65536)
                if not data:
                    raise EOFError("daemon closed the connection")
                self.unpacker.feed(data)
        finally:
            self.sock.settimeout(old)

    def call(self, method, **args):
        self.msgid += 1
        self.sock.sendall(msgpack.packb([0, self.msgid, method, [args] if args else []]))
        while True:
            msg = self._read_one()
            if msg[0] == 2:
                self.notifications.append(msg)
                continue
            if msg[0] == 1 and msg[1] == self.msgid:
                if msg[2] is not None:
                    raise RpcError(msg[2])
                return msg[3]

    def wait_notification(self, method, timeout):
        """The next notification named method within timeout seconds, or None."""
        deadline = time.monotonic() + timeout
        while True:
            for i, msg in enumerate(self.notifications):
                if msg[1] == method:
                    return self.notifications.pop(i)[2][0]
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            try:
                msg = self._read_one(timeout=left)
            except socket.timeout:
                return None
            self.notifications.append(msg)


class Daemon:
    """skyutild on a private socket; extra arguments (e.g. --sysroot) passed through."""

    def __init__(self, tmpdir, *args):
        self.path = os.path.join(tmpdir, "skyutild.sock")
        self.log = open(os.path.join(tmpdir, "skyutild.log"), "w+")
        self.proc = subprocess.Popen([os.environ["SKYUTILD_BIN"], "--socket", self.path] + list(args),
                                     stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log)
        deadline = time.monotonic() + 10
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError("skyutild exited with %s: %s" % (self.proc.returncode, self.output()))
            try:
                Client(self.path, timeout=1).close()
                return
            except OSError:
                if time.monotonic() > deadline:
                    self.proc.kill()
                    raise RuntimeError("skyutild did not start listening: " + self.output())
                time.sleep(0.01)

    def output(self):
        self.log.flush()
        self.log.seek(0)
        return self.log.read()

    def client(self):
        return Client(self.path)

    def stop(self):
        """Stop the daemon; raise if it crashed, failed or a sanitizer complained."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        out = self.output()
        self.log.close()
        if self.proc.returncode != 0 or "Sanitizer" in out or "runtime error" in out:
            raise RuntimeError("skyutild exited with %s:\n%s" % (self.proc.returncode, out))
