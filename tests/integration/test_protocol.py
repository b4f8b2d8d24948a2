"""Request/response behaviour of a healthy connection: hello, ping, pipelining, ordering."""
import socket
import subprocess
import time

import msgpack

from conftest import CLI, error_reply, need_cli


def test_hello(daemon, connect):
    c = connect(daemon.sock)
    r = c.result("hello", {"client": "integration", "proto": 1})
    assert r["server"] == "skyutild"
    assert r["proto"] == 1
    assert r["pid"] == daemon.proc.pid
    assert isinstance(r["version"], str) and r["version"]
    for m in ("hello", "ping", "daemon.metrics", "debug.sleep"):
        assert m in r["methods"]
    assert len(set(r["methods"])) == len(r["methods"])
    assert r["limits"] == {"max_message": 1048576, "max_depth": 16, "max_connections": 1024,
                           "max_output": 4 * 1024 * 1024, "max_batch": 200000}


def test_hello_reports_configured_limits(make_daemon, connect):
    d = make_daemon(["--max-message", "4096", "--max-connections", "7", "--max-output",
                     "65536", "--max-batch", "10"]).start()
    r = connect(d.sock).result("hello")
    assert r["limits"] == {"max_message": 4096, "max_depth": 16, "max_connections": 7,
                           "max_output": 65536, "max_batch": 10}
    assert d.stop() == 0


def test_debug_methods_hidden_by_default(make_daemon, connect):
    d = make_daemon(debug=False).start()
    c = connect(d.sock)
    assert "debug.sleep" not in c.result("hello")["methods"]
    assert c.error("debug.sleep", {"ms": 1})["name"] == "UNKNOWN_METHOD"
    assert d.stop() == 0


def test_hello_newer_proto_is_invalid_argument_and_connection_stays(daemon, connect):
    c = connect(daemon.sock)
    e = c.error("hello", {"proto": 2})
    assert e["name"] == "INVALID_ARGUMENT" and e["code"] == 3
    assert c.error("hello", {"proto": 0})["name"] == "INVALID_ARGUMENT"
    assert c.result("ping") == "pong"


def test_ping(daemon, connect):
    c = connect(daemon.sock)
    assert c.result("ping") == "pong"
    assert c.result("ping", {}) == "pong"


def test_unknown_method_keeps_connection_open(daemon, connect):
    c = connect(daemon.sock)
    e = c.error("no.such.method")
    assert e == {"code": 2, "name": "UNKNOWN_METHOD",
                 "message": "unknown method 'no.such.method'"}
    assert c.result("ping") == "pong"


def test_bad_arguments_keep_connection_open(daemon, connect):
    c = connect(daemon.sock)
    e = c.error("ping", {"bogus": 1})
    assert e["name"] == "INVALID_ARGUMENT" and "bogus" in e["message"]
    e = c.error("hello", {"proto": "one"})
    assert e["name"] == "INVALID_ARGUMENT" and "proto" in e["message"]
    e = c.error("debug.sleep", {})
    assert e["name"] == "INVALID_ARGUMENT" and "ms" in e["message"]
    e = c.error("debug.sleep", {"ms": -1})
    assert e["name"] == "INVALID_ARGUMENT"
    assert c.result("ping") == "pong"


def test_pipelined_requests_in_one_write(daemon, connect):
    c = connect(daemon.sock)
    data = b"".join(msgpack.packb([0, i, "ping", []]) for i in range(1, 101))
    c.send_raw(data)
    replies = [c.recv() for _ in range(100)]
    assert sorted(r[1] for r in replies) == list(range(1, 101))
    assert all(r[0] == 1 and r[2] is None and r[3] == "pong" for r in replies)


def test_message_split_across_writes(daemon, connect):
    c = connect(daemon.sock)
    data = msgpack.packb([0, 77, "hello", [{"client": "x" * 300}]])
    for i in range(len(data)):
        c.send_raw(data[i:i + 1])
        if i % 50 == 0:
            time.sleep(0.005)
    r = c.recv()
    assert r[1] == 77 and r[2] is None and r[3]["server"] == "skyutild"


def test_pipelined_mixed_with_split_tail(daemon, connect):
    c = connect(daemon.sock)
    data = b"".join(msgpack.packb([0, i, "ping", []]) for i in range(1, 11))
    c.send_raw(data + msgpack.packb([0, 11, "ping", []])[:3])
    got = sorted(c.recv()[1] for _ in range(10))
    assert got == list(range(1, 11))
    c.send_raw(msgpack.packb([0, 11, "ping", []])[3:])
    assert c.recv()[1] == 11


def test_deferred_call_does_not_block_later_requests(daemon, connect):
    c = connect(daemon.sock)
    c.send("debug.sleep", {"ms": 400}, msgid=1)
    c.send("ping", msgid=2)
    c.send("debug.sleep", {"ms": 100}, msgid=3)
    order = [c.recv()[1] for _ in range(3)]
    assert order == [2, 3, 1]


def test_two_concurrent_clients(daemon, connect):
    a = connect(daemon.sock)
    b = connect(daemon.sock)
    a.send("debug.sleep", {"ms": 300}, msgid=10)
    # b is served while a's call is pending.
    assert b.result("ping") == "pong"
    assert b.result("hello")["server"] == "skyutild"
    r = a.recv()
    assert r[1] == 10 and r[3]["slept_ms"] == 300


def test_client_notification_is_ignored(daemon, connect):
    c = connect(daemon.sock)
    c.send_raw(msgpack.packb([2, "ping", []]))
    assert c.call("ping")[3] == "pong"


def test_half_closed_client_still_gets_its_answers(daemon, connect):
    c = connect(daemon.sock)
    c.send("debug.sleep", {"ms": 100}, msgid=1)
    c.send("ping", msgid=2)
    c.s.shutdown(socket.SHUT_WR)
    msgs = c.recv_all_until_eof()
    assert sorted(m[1] for m in msgs) == [1, 2]


def test_connection_closed_with_deferred_call_pending(daemon, connect):
    c = connect(daemon.sock)
    c.send("debug.sleep", {"ms": 200}, msgid=1)
    c.close()
    time.sleep(0.4)
    c2 = connect(daemon.sock)
    assert c2.result("ping") == "pong"
    text = c2.result("daemon.metrics")
    assert "skyutild_deferred_calls 0" in text


def test_metrics(daemon, connect):
    c = connect(daemon.sock)
    for _ in range(3):
        c.result("ping")
    c.error("nope")
    c.error("ping", {"x": 1})
    text = c.result("daemon.metrics")
    assert isinstance(text, str)
    lines = text.splitlines()
    assert 'skyutild_requests_total{method="ping"} 4' in lines
    assert 'skyutild_errors_total{name="UNKNOWN_METHOD"} 1' in lines
    assert 'skyutild_errors_total{name="INVALID_ARGUMENT"} 1' in lines
    assert "skyutild_clients 1" in lines
    assert "skyutild_watches 0" in lines
    assert "# TYPE skyutild_request_duration_seconds histogram" in lines
    # 3 pings answered before this call; the histogram is cumulative and ends in +Inf.
    buckets = [int(l.rsplit(" ", 1)[1]) for l in lines
               if l.startswith("skyutild_request_duration_seconds_bucket")]
    assert buckets == sorted(buckets) and buckets[-1] == 3
    assert 'skyutild_request_duration_seconds_count 3' in lines
    for l in lines:
        assert l.startswith("#") or len(l.split(" ")) == 2, l


def test_cli_ping_and_hello(daemon):
    need_cli()
    out = subprocess.run([CLI, "--socket", daemon.sock, "ping"], capture_output=True,
                         timeout=10)
    assert out.returncode == 0, out
    out = subprocess.run([CLI, "--socket", daemon.sock, "--json", "hello"],
                         capture_output=True, timeout=10)
    assert out.returncode == 0, out
    assert b"skyutild" in out.stdout


def test_cli_without_daemon_exits_3(tmpdir_short):
    need_cli()
    out = subprocess.run([CLI, "--socket", tmpdir_short + "/none.sock", "ping"],
                         capture_output=True, timeout=10)
    assert out.returncode == 3, out
