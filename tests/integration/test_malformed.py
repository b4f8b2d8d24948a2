"""Hostile or broken input: an error reply, then the connection closes; others are unaffected."""
import socket
import struct

import msgpack
import pytest

from conftest import error_reply


def nested(depth):
    obj = 0
    for _ in range(depth):
        obj = [obj]
    return obj


def request_of_size(size):
    """A well-formed request of exactly size bytes (padding in a bin32 argument)."""
    base = msgpack.packb([0, 1, "ping", [{"x": b""}]])
    pad = size - len(base) - 3  # bin8 header (2 bytes) becomes bin32 (5 bytes)
    data = msgpack.packb([0, 1, "ping", [{"x": b"\0" * pad}]])
    assert len(data) == size
    return data


def too_large():
    return request_of_size(1024 * 1024 + 1)


CASES = {
    # name: (bytes, expected error, expected msgid)
    "garbage": (b"GET / HTTP/1.1\r\n\r\n", "BAD_REQUEST", 0),
    "never_used_byte_c1": (b"\xc1", "BAD_REQUEST", 0),
    "array32_of_2_28": (b"\xdd" + struct.pack(">I", 1 << 28), "TOO_LARGE", 0),
    "map32_of_2_31": (b"\xdf" + struct.pack(">I", 1 << 31), "TOO_LARGE", 0),
    "str32_of_4g": (b"\x94\x00\x01\xdb\xff\xff\xff\xff", "TOO_LARGE", 0),
    "one_mib_plus_one": (too_large(), "TOO_LARGE", 0),
    "nesting_17": (msgpack.packb([0, 1, "ping", [{"a": nested(14)}]]), "BAD_REQUEST", 0),
    "msgid_out_of_range": (msgpack.packb([0, 1 << 32, "ping", []]), "BAD_REQUEST", 0),
    "msgid_negative": (msgpack.packb([0, -1, "ping", []]), "BAD_REQUEST", 0),
    "msgid_string": (msgpack.packb([0, "1", "ping", []]), "BAD_REQUEST", 0),
    "method_not_string": (msgpack.packb([0, 9, 42, []]), "BAD_REQUEST", 9),
    "method_empty": (msgpack.packb([0, 9, "", []]), "BAD_REQUEST", 9),
    "params_not_array": (msgpack.packb([0, 9, "ping", {}]), "BAD_REQUEST", 9),
    "params_two_maps": (msgpack.packb([0, 9, "ping", [{}, {}]]), "BAD_REQUEST", 9),
    "params_positional": (msgpack.packb([0, 9, "ping", [1]]), "BAD_REQUEST", 9),
    "request_three_elements": (msgpack.packb([0, 9, "ping"]), "BAD_REQUEST", 9),
    "not_an_array": (msgpack.packb({"method": "ping"}), "BAD_REQUEST", 0),
    "empty_array": (msgpack.packb([]), "BAD_REQUEST", 0),
    "type_5": (msgpack.packb([5, 1, "ping", []]), "BAD_REQUEST", 0),
    "response_from_client": (msgpack.packb([1, 3, None, "x"]), "BAD_REQUEST", 3),
    "bare_integer": (msgpack.packb(7), "BAD_REQUEST", 0),
}


def test_nesting_16_is_accepted(daemon, connect):
    c = connect(daemon.sock)
    # depth: request array, params array, args map, then 13 arrays = 16 levels
    c.send_raw(msgpack.packb([0, 5, "ping", [{"a": nested(13)}]]))
    r = c.recv()
    assert r[1] == 5
    error_reply(r, "INVALID_ARGUMENT")  # unknown argument, but well within limits
    assert c.result("ping") == "pong"


@pytest.mark.parametrize("case", sorted(CASES))
def test_malformed_input_gets_error_and_close(daemon, connect, case):
    data, name, msgid = CASES[case]
    bystander = connect(daemon.sock)
    bystander.send("debug.sleep", {"ms": 200}, msgid=42)
    bad = connect(daemon.sock)
    assert bad.result("ping") == "pong"
    try:
        bad.send_raw(data)
    except (BrokenPipeError, ConnectionResetError):
        pass  # the daemon may hang up before reading everything: the reply is still there
    reply = bad.recv()
    error_reply(reply, name)
    assert reply[1] == msgid
    assert bad.recv() is None, "connection should be closed after a protocol error"
    # The other client's pending call and new requests are unaffected.
    r = bystander.recv()
    assert r[1] == 42 and r[2] is None
    assert bystander.result("ping") == "pong"


def test_message_of_exactly_max_message_is_accepted(daemon, connect):
    c = connect(daemon.sock)
    c.send_raw(request_of_size(1024 * 1024))
    r = c.recv()
    assert r[1] == 1
    error_reply(r, "INVALID_ARGUMENT")  # 'x' is no argument of ping; the size was fine
    assert c.result("ping") == "pong"


def test_garbage_after_valid_requests_answers_them_first(daemon, connect):
    c = connect(daemon.sock)
    c.send_raw(msgpack.packb([0, 1, "ping", []]) + msgpack.packb([0, 2, "ping", []]) + b"\xc1")
    msgs = c.recv_all_until_eof()
    assert [m[1] for m in msgs[:2]] == [1, 2]
    error_reply(msgs[2], "BAD_REQUEST")
    assert len(msgs) == 3


def test_errors_are_counted(daemon, connect):
    for data in (b"\xc1", b"\xdd\x10\x00\x00\x00"):
        c = connect(daemon.sock)
        c.send_raw(data)
        c.recv_all_until_eof()
    text = connect(daemon.sock).result("daemon.metrics")
    assert 'skyutild_errors_total{name="BAD_REQUEST"} 1' in text.splitlines()
    assert 'skyutild_errors_total{name="TOO_LARGE"} 1' in text.splitlines()
