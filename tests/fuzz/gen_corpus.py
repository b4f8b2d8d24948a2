#!/usr/bin/python3
"""Write the seed corpus of every fuzz target under corpus/<target>/seed-*.

Seeds are small, valid (or nearly valid) inputs that start the fuzzer deep in each parser;
the protocol's golden vectors (proto/vectors/) are added to the message targets by meson.
Crash reproducers (corpus/<target>/crash-*) are committed by hand and never touched here.
Run again after changing a seed; the output is deterministic.
"""
import os
import sys

import msgpack

HERE = os.path.dirname(os.path.abspath(__file__))


def req(msgid, method, args=None):
    params = [] if args is None else [args]
    return msgpack.packb([0, msgid, method, params], use_bin_type=True)


def write(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, "seed-" + name), "wb") as f:
        f.write(data)


def conn_and_proto():
    one = {
        "hello": req(1, "hello", {"client": "fuzz", "proto": 1}),
        "ping": req(2, "ping"),
        "facts-get": req(3, "facts.get", {}),
        "facts-get-pid1": req(4, "facts.get", {"pid": 1}),
        "facts-subscribe": req(5, "facts.subscribe", {}) + req(6, "facts.unsubscribe",
                                                              {"subscription_id": 1}),
        "parallel-threads": req(7, "facts.parallel_threads", {"cloud": "Kubernetes"}),
        "max-workers": req(8, "facts.max_workers_for_file_mounts",
                           {"fds_per_source": 5, "cloud": "aws"}),
        "proc-status": req(9, "proc.status", {"procs": [1, {"pid": 1, "start_time": 1}, 0, -1,
                                                        2 ** 31 - 1]}),
        "proc-watch": req(10, "proc.watch", {"pid": 1}) + req(11, "proc.unwatch",
                                                             {"watch_id": 1}),
        "proc-children": req(12, "proc.children", {"pid": 1, "recursive": True}),
        "proc-kill-tree": req(13, "proc.kill_tree", {"pid": 1, "signal": "TERM", "grace_s": 0.1,
                                                     "include_root": False}),
        "proc-guard": req(14, "proc.guard", {"watch": {"pid": 1}, "target": {"pid": 1},
                                             "grace_s": 1.5, "signal": 9}) +
        req(15, "proc.guards") + req(16, "proc.unguard", {"guard_id": 1}),
        "metrics": req(17, "daemon.metrics"),
        "unknown-method": req(18, "no.such.method", {"x": 1}),
        "bad-args": req(19, "facts.get", {"pid": "one", "extra": None}),
        "client-notify": msgpack.packb([2, "proc.exited", [{"watch_id": 1}]]),
        "client-response": msgpack.packb([1, 20, None, True]),
        "signal-range": req(21, "proc.kill_tree", {"pid": 1, "signal": 65}) +
        req(22, "proc.kill_tree", {"pid": 1, "signal": "SIGRTMIN+40"}),
        # Liveness only (the pidfd cache), then a batch long enough to be sliced.
        "proc-status-fields": req(23, "proc.status", {"procs": [1, {"pid": 1, "start_time": 1}],
                                                      "fields": ["alive", "start_time"]}) +
        req(24, "proc.status", {"procs": [1] * 600, "fields": ["pid", "state"]}) +
        req(25, "proc.status", {"procs": [1], "fields": ["x", 1]}),
    }
    pipeline = b"".join(one.values())
    for name, data in one.items():
        write("conn", name, data)
        write("proto", name, data)
    write("conn", "pipeline-all", pipeline)
    # A good request, garbage, then a request that must never be answered.
    write("conn", "error-midstream", req(1, "ping") + b"\xc1" + req(2, "ping"))
    write("conn", "truncated-tail", req(1, "ping") + req(2, "hello", {"client": "x"})[:-3])
    # Declared larger than the target's 64 KiB max_message.
    write("conn", "too-large", b"\x94\x00\x01\xa4ping\x91\xdf\x00\x01\x00\x00")
    write("proto", "two-messages", req(1, "ping") + req(2, "ping"))


def procfs():
    write("procfs", "stat", "1234 (sleep) S 1 1234 1234 0 -1 4194560 95 0 0 0 0 0 0 0 20 0 1 0 "
          "987654 5734400 220 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n")
    write("procfs", "stat-parens", "42 (a) b) (c) Z 7 42 42 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 "
          "18446744073709551615 0 0\n")
    write("procfs", "status", "Name:\tsleep\nState:\tS (sleeping)\nTgid:\t1234\nPid:\t1234\n"
          "PPid:\t1\nUid:\t1000\t1000\t1000\t1000\nGid:\t1000\t1000\t1000\t1000\n")
    write("procfs", "proc-stat", "cpu  1 2 3 4 5 6 7 0 0 0\nintr 1 2 3\nctxt 123\n"
          "btime 1700000000\nprocesses 99\n")
    write("procfs", "fdinfo", "pos:\t0\nflags:\t02000002\nmnt_id:\t15\nino:\t1057\nPid:\t1234\n"
          "NSpid:\t1234\n")
    write("procfs", "fdinfo-reaped", "pos:\t0\nflags:\t02000002\nPid:\t-1\n")
    write("procfs", "children", "1235 1236 99999 \n")
    write("procfs", "signal", "SIGRTMIN+3")


MOUNTINFO_HYBRID = """\
22 27 0:21 / /proc rw,relatime - proc proc rw
27 1 8:1 / / rw,relatime - ext4 /dev/sda1 rw
30 27 0:26 / /sys/fs/cgroup ro,nosuid,nodev,noexec - tmpfs tmpfs ro,mode=755
31 30 0:27 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime - cgroup2 cgroup2 rw
32 30 0:28 / /sys/fs/cgroup/systemd rw,nosuid - cgroup cgroup rw,xattr,name=systemd
33 30 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid - cgroup cgroup rw,cpu,cpuacct
34 30 0:30 / /sys/fs/cgroup/memory rw,nosuid - cgroup cgroup rw,memory
35 30 0:31 / /sys/fs/cgroup/pids rw,nosuid - cgroup cgroup rw,pids
36 30 0:32 /docker/abc /sys/fs/cgroup/cpuset rw,nosuid shared:9 - cgroup cgroup rw,cpuset
37 27 0:33 / /mnt/with\\040space rw - cgroup2 none rw
"""
CGROUP_HYBRID = """\
12:pids:/user.slice/a:b
5:cpu,cpuacct:/docker/abc/../x
4:memory:/docker/abc
3:cpuset:/docker/abc/inner
1:name=systemd:/init.scope
0::/user.slice/session-1.scope
"""
MOUNTINFO_V2 = """\
25 1 0:24 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 \
rw,nsdelegate,memory_recursiveprot
26 25 0:24 /kubepods/pod1 /sys/fs/cgroup/pod rw - cgroup2 cgroup2 rw
"""


def cgroup():
    write("cgroup", "hybrid", MOUNTINFO_HYBRID + "\0" + CGROUP_HYBRID)
    write("cgroup", "v2", MOUNTINFO_V2 + "\0" + "0::/kubepods/pod1/ctr\n")
    write("cgroup", "v2-outside-root", MOUNTINFO_V2 + "\0" + "0::/../../etc\n")
    write("cgroup", "v1-only", "40 1 0:40 / /cg/mem rw - cgroup cgroup rw,memory\n\0"
          "4:memory:/a/b/c\n")


def cgvalues():
    for name, text in [
        ("max", "max\n"), ("v1-unlimited", "9223372036854771712\n"), ("minus-one", "-1"),
        ("limit", "536870912\n"), ("cpu-max", "max 100000\n"), ("cpu-max-quota", "50000 100000"),
        ("cpulist", "0-3,8,10-11\n"), ("cpulist-single", "0"),
        ("meminfo", "MemTotal:       16384000 kB\nMemFree:  100 kB\n"),
        ("memory-stat", "anon 123456\nfile 789\nactive_file 1\ninactive_file 2\n"),
        ("limits", "Limit                     Soft Limit           Hard Limit           Units\n"
                   "Max open files            1024                 1048576              files\n"
                   "Max processes             unlimited            unlimited            "
                   "processes\n"),
    ]:
        write("cgvalues", name, text)


def cli_json():
    for name, text in [
        ("pid", '{"pid": 1}'),
        ("status", '{"procs": [1, {"pid": 2, "start_time": 12345}]}'),
        ("kill", '{"pid": 5, "signal": "TERM", "grace_s": 2.5, "include_root": false}'),
        ("nested", '{"a": {"b": {"c": [1, [2, [3, {"d": null}]]]}}}'),
        ("numbers", '{"i": -9223372036854775808, "u": 9223372036854775807, "r": 1e308, '
                    '"z": -0.0}'),
        ("unicode", '{"s": "caf\\u00e9 \\ud83d\\ude00", "\\u00e9": true}'),
        ("empty", '{}'),
        ("duplicate", '{"a": 1, "a": 2}'),
        ("not-object", '[1, 2]'),
    ]:
        write("cli-json", name, text)


def main():
    conn_and_proto()
    procfs()
    cgroup()
    cgvalues()
    cli_json()
    return 0


if __name__ == "__main__":
    sys.exit(main())
