"""Test harness for the hardening suite: a real skyutild on a private socket, and a raw
msgpack-rpc client that can send anything (the point is to send what well-behaved clients
never do).

Sockets live under a fresh directory in /tmp that other users may traverse (mode 0755), so
tests can connect as other uids. Every daemon is stopped with SIGTERM and must exit 0 with no
sanitizer report in its log.
"""
import errno
import os
import pwd
import signal
import socket
import subprocess
import tempfile
import threading
import time

import msgpack

SKYUTILD = os.environ.get("SKYUTILD_BIN", "skyutild")
SKYUTIL = os.environ.get("SKYUTIL_BIN", "skyutil")
NOBODY = pwd.getpwnam("nobody").pw_uid if any(p.pw_name == "nobody" for p in pwd.getpwall()) \
    else 65534

ERR = {"BAD_REQUEST": 1, "UNKNOWN_METHOD": 2, "INVALID_ARGUMENT": 3, "PERMISSION_DENIED": 4,
       "NO_SUCH_PROCESS": 5, "PID_REUSED": 6, "RESOURCE_EXHAUSTED": 7, "TOO_LARGE": 8,
       "UNAVAILABLE": 9, "INTERNAL": 10}


def _sanitized():
    try:
        with open(SKYUTILD, "rb") as f:
            return b"__asan_init" in f.read()
    except OSError:
        return False


# Under AddressSanitizer freed memory sits in a quarantine (up to 256 MB), so RSS says
# nothing about leaks there: LeakSanitizer's verdict at exit (check_log) does.
SANITIZED = _sanitized()

SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                   "handles left open")


def base_dir():
    d = tempfile.mkdtemp(prefix="skyutil-hard-")
    os.chmod(d, 0o755)
    return d


class RpcError(Exception):
    def __init__(self, err):
        self.code = err.get("code")
        self.name = err.get("name")
        self.message = err.get("message")
        super().__init__("%s: %s" % (self.name, self.message))


class Client:
    """One connection. call() for well-formed requests; send() and read() for anything."""

    def __init__(self, path, timeout=10.0):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(path)
        self.unpacker = msgpack.Unpacker(raw=False, max_buffer_size=64 * 1024 * 1024,
                                         strict_map_key=False)
        self.pending = []  # messages read but not yet asked for
        self.next_id = 1

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def send(self, data):
        self.sock.sendall(data)

    def request(self, method, args=None, msgid=None):
        if msgid is None:
            msgid = self.next_id
            self.next_id += 1
        params = [] if args is None else [args]
        self.send(msgpack.packb([0, msgid, method, params], use_bin_type=True))
        return msgid

    def read(self):
        """The next message; None at EOF (or a reset, which is how a closed socket with
        unread input ends)."""
        if self.pending:
            return self.pending.pop(0)
        while True:
            for msg in self.unpacker:
                return msg
            try:
                data = self.sock.recv(262144)
            except ConnectionResetError:
                data = b""
            if not data:
                return None
            self.unpacker.feed(data)

    def reply(self, msgid):
        """The response to msgid (notifications meanwhile are kept for later)."""
        kept = []
        try:
            while True:
                msg = self.read()
                if msg is None:
                    raise EOFError("connection closed before the reply to %d" % msgid)
                if msg[0] == 1 and msg[1] == msgid:
                    return msg
                kept.append(msg)
        finally:
            self.pending = kept + self.pending

    def call(self, method, args=None):
        msg = self.reply(self.request(method, args))
        if msg[2] is not None:
            raise RpcError(msg[2])
        return msg[3]

    def call_err(self, method, args=None):
        """The error name a call must fail with (AssertionError when it succeeds)."""
        try:
            res = self.call(method, args)
        except RpcError as e:
            return e.name
        raise AssertionError("%s %r succeeded: %r" % (method, args, res))

    def notification(self, method, timeout=10.0):
        deadline = time.monotonic() + timeout
        for i, msg in enumerate(self.pending):
            if msg[0] == 2 and msg[1] == method:
                return self.pending.pop(i)[2][0]
        old = self.sock.gettimeout()
        try:
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError("no %s notification" % method)
                self.sock.settimeout(left)
                msg = self.read()
                if msg is None:
                    raise EOFError("connection closed while waiting for %s" % method)
                if msg[0] == 2 and msg[1] == method:
                    return msg[2][0]
                self.pending.append(msg)
        finally:
            self.sock.settimeout(old)

    def closed_by_peer(self, timeout=10.0):
        """True when the daemon hangs up within timeout, reading (and dropping) what it sent."""
        self.sock.settimeout(timeout)
        try:
            while True:
                data = self.sock.recv(65536)
                if not data:
                    return True
        except ConnectionResetError:
            return True
        except socket.timeout:
            return False


class Daemon:
    """skyutild on base/<name>/s.sock. args: extra options. user: uid to run as (root only).
    nofile: RLIMIT_NOFILE (soft and hard) to start with."""

    def __init__(self, base, *args, name="d", user=None, nofile=None, socket_path=None,
                 wait=True):
        self.base = base
        self.dir = os.path.join(base, name)
        self.path = socket_path or os.path.join(self.dir, "s.sock")
        if socket_path is None and not os.path.isdir(self.dir):
            os.mkdir(self.dir, 0o700)
            if user is not None:
                os.chown(self.dir, user, -1)
        self.log_path = os.path.join(base, name + ".log")
        self.args = list(args)
        self.user = user
        self.nofile = nofile
        self.proc = None
        self.start(wait)

    def _preexec(self):
        import resource
        if self.nofile is not None:
            resource.setrlimit(resource.RLIMIT_NOFILE, (self.nofile, self.nofile))

    def start(self, wait=True):
        self.log = open(self.log_path, "ab")
        env = dict(os.environ)
        for k in ("LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES", "NOTIFY_SOCKET", "SKYUTILD_SOCKET"):
            env.pop(k, None)
        kw = {}
        if self.user is not None:
            kw = {"user": self.user, "group": self.user, "extra_groups": []}
        # A session of its own: nothing the daemon is tricked into signalling reaches pytest.
        self.proc = subprocess.Popen([SKYUTILD, "--socket", self.path] + self.args, env=env,
                                     stdin=subprocess.DEVNULL, stdout=self.log,
                                     stderr=self.log, preexec_fn=self._preexec,
                                     start_new_session=True, **kw)
        if wait:
            self.wait_ready()

    def wait_ready(self, timeout=15.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("skyutild exited with %d:\n%s" % (self.proc.returncode,
                                                                       self.text()))
            try:
                with Client(self.path, timeout=2) as c:
                    if c.call("ping") == "pong":
                        return
            except (OSError, EOFError):
                time.sleep(0.02)
        raise AssertionError("skyutild did not answer on %s:\n%s" % (self.path, self.text()))

    @property
    def pid(self):
        return self.proc.pid

    def client(self, timeout=10.0):
        return Client(self.path, timeout)

    def alive(self):
        return self.proc.poll() is None

    def text(self):
        if not self.log.closed:
            self.log.flush()
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def rss_grew_kb(self, before, limit_kb):
        """Assert RSS grew by less than limit_kb since before (skipped under ASan)."""
        now = self.rss_kb()
        if not SANITIZED:
            assert now - before < limit_kb, "RSS grew from %d to %d kB" % (before, now)

    def rss_kb(self):
        with open("/proc/%d/status" % self.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        raise AssertionError("no VmRSS")

    def nfds(self):
        return len(os.listdir("/proc/%d/fd" % self.pid))

    def check_log(self):
        text = self.text()
        for mark in SANITIZER_MARKS:
            assert mark not in text, "daemon log has %r:\n%s" % (mark, text[-4000:])

    def kill(self):
        self.proc.kill()
        self.proc.wait()
        self.log.close()

    def stop(self):
        """SIGTERM; the daemon must exit 0, cleanly, within 10 s."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError("skyutild did not stop on SIGTERM:\n" + self.text()[-4000:])
        rc = self.proc.returncode
        self.log.close()
        self.check_log()
        assert rc == 0, "skyutild exited %d:\n%s" % (rc, self.text()[-4000:])


def spawn_as(uid, argv, reap=True, **kw):
    """A process owned by uid (root only), in a session of its own. With reap, a thread
    waits for it at once, as a real parent does (a zombie's exit code is the parent's)."""
    if uid is not None and uid != os.geteuid():
        kw.update(user=uid, group=uid, extra_groups=[])
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, start_new_session=True, **kw)
    if reap:
        threading.Thread(target=p.wait, daemon=True).start()
    return p


def start_time(pid):
    with open("/proc/%d/stat" % pid) as f:
        text = f.read()
    return int(text[text.rindex(")") + 2:].split()[19])


def wait_gone(pid, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except OSError as e:
            if e.errno == errno.ESRCH:
                return True
        time.sleep(0.01)
    return False
