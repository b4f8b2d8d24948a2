#!/usr/bin/python3
"""Fixture-tree suite: every fixtures/*.fixture case, answered through one backend.

  test_fixtures.py dump    -- the facts-dump helper (gathering + packing, no daemon)
  test_fixtures.py daemon  -- the real skyutild with --sysroot, asked facts.get {pid}
Exit status 0 when every case matches its expectation; each mismatch is printed.
"""
import os
import subprocess
import sys
import tempfile

import msgpack

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fixture  # noqa: E402
import rpc  # noqa: E402


def via_dump(case, root):
    out = subprocess.run([os.environ["FACTS_DUMP"], root, str(case["pid"])], check=True,
                         stdout=subprocess.PIPE).stdout
    return msgpack.unpackb(out, raw=False)


def via_daemon(case, root, tmp):
    d = rpc.Daemon(tmp, "--sysroot", root)
    try:
        c = d.client()
        try:
            facts = c.call("facts.get", pid=case["pid"])
            # a second call is served from the cache and must agree
            again = c.call("facts.get", pid=case["pid"])
            if again != facts:
                return {"cache-mismatch": [facts, again]}
            return facts
        except rpc.RpcError as e:
            return {"error": e.name}
        finally:
            c.close()
    finally:
        d.stop()


def main():
    backend = sys.argv[1] if len(sys.argv) > 1 else "dump"
    failed = 0
    cases = fixture.all_cases()
    for case in cases:
        with tempfile.TemporaryDirectory(prefix="facts-fx-") as tmp:
            root = os.path.join(tmp, "root")
            os.mkdir(root)
            fixture.materialize(case, root)
            facts = via_dump(case, root) if backend == "dump" else via_daemon(case, root, tmp)
            problems = fixture.check(case, facts)
            if "cache-mismatch" in facts:
                problems = ["cached answer differs: %r" % (facts["cache-mismatch"],)]
        if problems:
            failed += 1
            print("FAIL %s" % case["name"])
            for p in problems:
                print("    " + p)
            print("    facts: %r" % (facts,))
        else:
            print("ok   %s" % case["name"])
    print("%d of %d fixture cases failed (%s)" % (failed, len(cases), backend))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
