#!/usr/bin/python3
"""Generate the golden wire vectors: ok-*.bin (valid msgpack-rpc) and bad-*.bin (rejected).

MANIFEST lists every vector as three tab-separated fields:
  file   prescan outcome (message | needmore | EMSGSIZE | EBADMSG)   decode outcome
where the decode outcome is "ok", "-" (never decoded) or the exact reason sku_decode() gives.
The C tests (tests/unit/test_vectors.c), the Python tests and the fuzz corpus share these files.

    gen_vectors.py [DIR]          write the vectors into DIR (default: this script's directory)
    gen_vectors.py --check [DIR]  exit 1 if DIR differs from what would be written
"""
import os
import sys

try:
    import msgpack
except ImportError:  # Debian: python3-msgpack
    print("SKIP: python3-msgpack is not installed")
    sys.exit(77)


def pk(obj):
    return msgpack.packb(obj, use_bin_type=True)


def nested_arrays(levels, inner):
    for _ in range(levels):
        inner = [inner]
    return inner


ALL_FORMATS = {
    "nil": None, "t": True, "f": False,
    "pfix": 5, "nfix": -3, "u8": 200, "u16": 60000, "u32": 4000000000, "u64": 2**64 - 1,
    "i8": -100, "i16": -30000, "i32": -2000000000, "i64": -2**63,
    "f64": 1.5, "s": "é", "s8": "x" * 40, "s16": "y" * 300, "b": b"\x00\xff",
    "b16": b"z" * 300, "a": [1, [2]], "m": {"k": {}},
}

# (name, bytes, prescan outcome, decode outcome)
VECTORS = [
    ("ok-request-ping", pk([0, 1, "ping", []]), "message", "ok"),
    ("ok-request-empty-map", pk([0, 2, "ping", [{}]]), "message", "ok"),
    ("ok-request-hello", pk([0, 3, "hello", [{"client": "vectors", "proto": 1}]]), "message", "ok"),
    ("ok-request-facts-get", pk([0, 4, "facts.get", [{"pid": 1}]]), "message", "ok"),
    ("ok-request-proc-status",
     pk([0, 5, "proc.status", [{"procs": [1, {"pid": 2, "start_time": 12345}, 3]}]]),
     "message", "ok"),
    ("ok-request-msgid-max", pk([0, 2**32 - 1, "ping", []]), "message", "ok"),
    # non-minimal encodings are still valid msgpack: msgid 5 as uint64 and as int8
    ("ok-request-msgid-uint64", b"\x94\x00\xcf" + b"\x00" * 7 + b"\x05\xa4ping\x90", "message", "ok"),
    ("ok-request-msgid-int8", b"\x94\x00\xd0\x05\xa4ping\x90", "message", "ok"),
    ("ok-request-all-formats", pk([0, 6, "m", [ALL_FORMATS]]), "message", "ok"),
    ("ok-request-timestamp-ext",
     pk([0, 7, "m", [{"t": msgpack.Timestamp(1700000000, 5)}]]), "message", "ok"),
    # 16 levels: message, params, map, then 13 arrays
    ("ok-request-depth-16", pk([0, 8, "m", [{"a": nested_arrays(12, [])}]]), "message", "ok"),
    ("ok-request-method-utf8", pk([0, 9, "é€😀", []]), "message", "ok"),
    ("ok-response-result", pk([1, 10, None, "pong"]), "message", "ok"),
    ("ok-response-nil-result", pk([1, 11, None, None]), "message", "ok"),
    ("ok-response-error",
     pk([1, 12, {"code": 2, "name": "UNKNOWN_METHOD", "message": "no such method 'x'"}, None]),
     "message", "ok"),
    ("ok-notify-proc-exited",
     pk([2, "proc.exited", [{"watch_id": 1, "pid": 42, "start_time": 99, "exit_code": 3,
                             "signal": None, "core_dumped": False, "exited_at": 1700000000.5,
                             "reason": None}]]),
     "message", "ok"),
    # rejected by the pre-scan, before msgpack-c sees them
    ("bad-c1", b"\xc1", "EBADMSG", "-"),
    ("bad-c1-in-request", b"\x94\x00\x01\xc1\x90", "EBADMSG", "-"),
    ("bad-depth-17", pk([0, 1, "m", [{"a": nested_arrays(13, [])}]]), "EBADMSG", "-"),
    ("bad-array32-2p28", b"\xdd\x10\x00\x00\x00", "EMSGSIZE", "-"),
    ("bad-array32-max", b"\xdd\xff\xff\xff\xff", "EMSGSIZE", "-"),
    ("bad-map32-2p28", b"\xdf\x10\x00\x00\x00", "EMSGSIZE", "-"),
    ("bad-map32-max", b"\xdf\xff\xff\xff\xff", "EMSGSIZE", "-"),
    ("bad-str32-max", b"\xdb\xff\xff\xff\xff", "EMSGSIZE", "-"),
    ("bad-bin32-max", b"\xc6\xff\xff\xff\xff", "EMSGSIZE", "-"),
    ("bad-ext32-max", b"\xc9\xff\xff\xff\xff\x01", "EMSGSIZE", "-"),
    ("bad-params-array32-2p28", b"\x94\x00\x01\xa1m\xdd\x10\x00\x00\x00", "EMSGSIZE", "-"),
    ("bad-bin32-1mib-plus-1", b"\x94\x00\x01\xa1m\x91\x81\xa1d\xc6\x00\x0f\xff\xf3", "EMSGSIZE", "-"),
    ("bad-truncated-request", pk([0, 1, "ping", []])[:-1], "needmore", "-"),
    # complete msgpack, wrong msgpack-rpc shape
    ("bad-not-array", pk({"a": 1}), "message", "message is not an array"),
    ("bad-empty-array", pk([]), "message", "message is an empty array"),
    ("bad-type-3", pk([3, 1, "ping", []]), "message", "message type must be 0, 1 or 2"),
    ("bad-type-str", pk(["0", 1, "ping", []]), "message", "message type must be 0, 1 or 2"),
    ("bad-msgid-negative", pk([0, -1, "ping", []]), "message", "msgid out of range"),
    ("bad-msgid-2p32", pk([0, 2**32, "ping", []]), "message", "msgid out of range"),
    ("bad-msgid-float", pk([0, 1.0, "ping", []]), "message", "msgid must be an integer"),
    ("bad-request-3-elements", pk([0, 1, "ping"]), "message", "request must have 4 elements"),
    ("bad-request-5-elements", pk([0, 1, "ping", [], None]), "message", "request must have 4 elements"),
    ("bad-method-int", pk([0, 1, 7, []]), "message", "method must be a string"),
    ("bad-method-bin", pk([0, 1, b"ping", []]), "message", "method must be a string"),
    ("bad-method-empty", pk([0, 1, "", []]), "message", "method must be 1 to 255 bytes"),
    ("bad-method-256", pk([0, 1, "m" * 256, []]), "message", "method must be 1 to 255 bytes"),
    ("bad-method-utf8", b"\x94\x00\x01\xa2\xc3\x28\x90", "message", "method must be valid UTF-8 without NUL"),
    ("bad-method-nul", pk([0, 1, "a\0b", []]), "message", "method must be valid UTF-8 without NUL"),
    ("bad-params-map", pk([0, 1, "ping", {}]), "message", "params must be [] or [map]"),
    ("bad-params-nil", pk([0, 1, "ping", None]), "message", "params must be [] or [map]"),
    ("bad-params-two-maps", pk([0, 1, "ping", [{}, {}]]), "message", "params must be [] or [map]"),
    ("bad-params-positional", pk([0, 1, "ping", [1]]), "message", "params must be [] or [map]"),
    ("bad-response-error-str", pk([1, 1, "boom", None]), "message", "error must be nil or a map"),
    ("bad-response-both", pk([1, 1, {"code": 1}, 1]), "message", "response has both error and result"),
    ("bad-notify-4-elements", pk([2, "ev", [{}], None]), "message", "notification must have 3 elements"),
    ("bad-notify-params-map", pk([2, "ev", {}]), "message", "params must be [] or [map]"),
]


def render():
    files = {name + ".bin": data for name, data, _, _ in VECTORS}
    lines = ["%s.bin\t%s\t%s" % (name, pre, dec) for name, _, pre, dec in VECTORS]
    files["MANIFEST"] = ("\n".join(lines) + "\n").encode()
    return files


def main(argv):
    check = "--check" in argv
    args = [a for a in argv if a != "--check"]
    outdir = args[0] if args else os.path.dirname(os.path.abspath(__file__))
    files = render()
    if check:
        stale = []
        for name, data in sorted(files.items()):
            try:
                with open(os.path.join(outdir, name), "rb") as f:
                    if f.read() != data:
                        stale.append(name)
            except FileNotFoundError:
                stale.append(name)
        present = {n for n in os.listdir(outdir) if n.endswith(".bin")}
        stale += sorted(present - set(files))
        for name in stale:
            print("stale or unexpected vector: %s (rerun gen_vectors.py)" % name)
        return 1 if stale else 0
    for name, data in files.items():
        with open(os.path.join(outdir, name), "wb") as f:
            f.write(data)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
