"""Load and faults: a thousand concurrent clients, SIGKILL of the daemon under load and its
restart on the stale socket, and 100 000 watch/unwatch cycles without growth."""
import errno
import os
import resource
import selectors
import socket
import subprocess
import threading
import time

import msgpack
import pytest

import hz

CLIENTS = 1000


@pytest.fixture(autouse=True)
def many_fds():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, 8192)
    if want < CLIENTS + 100:
        pytest.skip("RLIMIT_NOFILE hard limit %d is below %d" % (hard, CLIENTS + 100))
    resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    yield
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def mixed_requests(cid):
    """Five requests per client: (msgid, method, args, check(result) -> bool)."""
    me = os.getpid()
    base = cid * 8
    return [
        (base + 1, "ping", None, lambda r: r == "pong"),
        (base + 2, "hello", {"client": "load-%d" % cid},
         lambda r: r["server"] == "skyutild" and r["proto"] == 1),
        (base + 3, "proc.status", {"procs": [me, {"pid": me}]},
         lambda r: len(r) == 2 and all(e["pid"] == me and e["alive"] for e in r)),
        (base + 4, "facts.parallel_threads", {"cloud": "kubernetes"},
         lambda r: isinstance(r, int) and r >= 16),
        (base + 5, "facts.get", None, lambda r: r["pid"] == me and r["cpu_count"] >= 1),
    ]


def test_thousand_concurrent_clients(base):
    d = hz.Daemon(base, "--max-connections", str(CLIENTS + 24))
    sel = selectors.DefaultSelector()
    try:
        conns = []
        for cid in range(CLIENTS):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(10)
            s.connect(d.path)
            s.setblocking(False)
            reqs = mixed_requests(cid)
            st = {"cid": cid, "sock": s, "unpacker": msgpack.Unpacker(raw=False),
                  "want": {r[0]: r for r in reqs},
                  "out": b"".join(msgpack.packb([0, r[0], r[1], [] if r[2] is None else [r[2]]])
                                  for r in reqs)}
            conns.append(st)
            sel.register(s, selectors.EVENT_READ | selectors.EVENT_WRITE, st)
        left = CLIENTS * 5
        deadline = time.monotonic() + 60
        while left:
            assert time.monotonic() < deadline, "%d replies missing" % left
            for key, ev in sel.select(timeout=1):
                st = key.data
                if ev & selectors.EVENT_WRITE and st["out"]:
                    n = st["sock"].send(st["out"])
                    st["out"] = st["out"][n:]
                    if not st["out"]:
                        sel.modify(st["sock"], selectors.EVENT_READ, st)
                if ev & selectors.EVENT_READ:
                    data = st["sock"].recv(65536)
                    assert data, "client %d: daemon hung up" % st["cid"]
                    st["unpacker"].feed(data)
                    for msg in st["unpacker"]:
                        assert msg[0] == 1, msg
                        req = st["want"].pop(msg[1], None)
                        assert req is not None, "client %d: unexpected msgid %r" % (
                            st["cid"], msg[1])
                        assert msg[2] is None, (req[1], msg[2])
                        assert req[3](msg[3]), (req[1], msg[3])
                        left -= 1
        assert all(not st["want"] for st in conns)
        for st in conns:
            sel.unregister(st["sock"])
            st["sock"].close()
        assert d.alive()
    finally:
        sel.close()
        d.stop()


def hammer(path, stop, results):
    """Ping on one connection until it breaks; record how it ended."""
    try:
        c = hz.Client(path, timeout=5)
    except OSError as e:
        results.append(("connect", e.errno))
        return
    try:
        while not stop.is_set():
            c.call("ping")
        results.append(("stopped", None))
    except (EOFError, BrokenPipeError, ConnectionResetError) as e:
        results.append(("clean", type(e).__name__))
    except socket.timeout:
        results.append(("hang", None))
    finally:
        c.close()


def test_sigkill_under_load_then_restart_takes_over(base):
    d = hz.Daemon(base, "-v")  # info level: the takeover is logged
    stop = threading.Event()
    results = []
    threads = [threading.Thread(target=hammer, args=(d.path, stop, results)) for _ in range(8)]
    for t in threads:
        t.start()
    time.sleep(0.5)
    d.kill()  # SIGKILL: no cleanup, the socket file stays behind
    for t in threads:
        t.join(10)
    stop.set()
    assert not any(t.is_alive() for t in threads), "a client hung on a dead daemon"
    assert len(results) == 8 and all(r[0] == "clean" for r in results), results
    assert os.path.exists(d.path), "expected a stale socket left by SIGKILL"

    # While down: a clean, immediate error (refused), for raw clients and the CLI alike.
    with pytest.raises(ConnectionRefusedError):
        hz.Client(d.path, timeout=2)
    r = subprocess.run([hz.SKYUTIL, "--socket", d.path, "--timeout", "2000", "ping"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=20)
    assert r.returncode == 3, (r.returncode, r.stderr)  # CLI_NO_DAEMON
    assert r.stderr.strip(), "the CLI failed without saying why"

    # A new daemon takes over the stale socket; clients reconnect.
    d.start()
    assert "stale" in d.text()
    results.clear()
    stop.clear()
    threads = [threading.Thread(target=hammer, args=(d.path, stop, results)) for _ in range(4)]
    for t in threads:
        t.start()
    time.sleep(0.3)
    stop.set()
    for t in threads:
        t.join(10)
    assert results and all(r[0] == "stopped" for r in results), results
    r = subprocess.run([hz.SKYUTIL, "--socket", d.path, "ping"], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=20)
    assert r.returncode == 0, r.stderr
    d.stop()


CYCLES = 100000
BATCH = 500


def test_watch_unwatch_cycles_do_not_grow(base):
    d = hz.Daemon(base)
    kid = subprocess.Popen(["sleep", "120"])
    try:
        st = hz.start_time(kid.pid)
        with d.client(timeout=30) as c:
            def batch():
                c.send(b"".join(msgpack.packb([0, i, "proc.watch",
                                               [{"pid": kid.pid, "start_time": st}]])
                                for i in range(1, BATCH + 1)))
                ids = []
                for i in range(1, BATCH + 1):
                    msg = c.reply(i)
                    assert msg[2] is None, msg[2]
                    ids.append(msg[3]["watch_id"])
                assert None not in ids and len(set(ids)) == BATCH
                c.send(b"".join(msgpack.packb([0, BATCH + j, "proc.unwatch",
                                               [{"watch_id": w}]])
                                for j, w in enumerate(ids, 1)))
                for j in range(1, BATCH + 1):
                    msg = c.reply(BATCH + j)
                    assert msg[2] is None and msg[3] is True, msg
            # Warm up allocator caches and hash tables before the baseline.
            for _ in range(4):
                batch()
            fds, rss = d.nfds(), d.rss_kb()
            deadline = time.monotonic() + 120
            for _ in range(CYCLES // BATCH - 4):
                batch()
                assert time.monotonic() < deadline, "100 000 cycles took too long"
            assert d.nfds() == fds, (fds, d.nfds())
            d.rss_grew_kb(rss, 8 * 1024)
            metrics = c.call("daemon.metrics")
        # and nothing is left watched
        assert "\nskyutild_watches 0\n" in metrics, metrics
    finally:
        kid.kill()
        kid.wait()
        d.stop()  # under AddressSanitizer this includes LeakSanitizer's verdict
