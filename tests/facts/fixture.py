"""Fixture trees for the facts suite.

One file per case under fixtures/, a tree in a file (inputs and expected values side by side):

    # what the case is about
    pid: 100                         (optional; default 100)
    expect: {"cpu_count": 2, ...}    (JSON; see check())
    --- proc/100/cgroup              (a file: the lines up to the next "--- ")
    0::/
    --- sys/fs/cgroup/app/           (a directory)
    --- !delete proc/100/status      (remove a file the base case provides)

base.fixture holds the host defaults (16 CPUs, 64 GiB, pid 100) every case starts from.
In paths, \\NNN is an octal escape (a tab is \\011). In content, {{N*TEXT}} stands for TEXT
repeated N times.
"""
import json
import os
import re
import shutil

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")


def _unescape(path):
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), path)


def load(path):
    case = {"name": os.path.basename(path)[: -len(".fixture")], "pid": 100, "expect": {},
            "entries": []}
    cur = None
    with open(path, encoding="utf-8") as f:
        for raw in f.read().split("\n"):
            if raw.startswith("--- "):
                cur = {"path": raw[4:], "lines": []}
                case["entries"].append(cur)
            elif cur is not None:
                raw = re.sub(r"\{\{(\d+)\*([^}]*)\}\}", lambda m: m.group(2) * int(m.group(1)), raw)
                cur["lines"].append(raw)
            elif raw.startswith("pid:"):
                case["pid"] = int(raw[4:])
            elif raw.startswith("expect:"):
                case["expect"] = json.loads(raw[7:])
    for e in case["entries"]:
        lines = e.pop("lines")
        while lines and lines[-1] == "":
            lines.pop()
        e["content"] = "".join(l + "\n" for l in lines)
    return case


def _apply(case, root):
    for e in case["entries"]:
        path = e["path"]
        if path.startswith("!delete "):
            target = os.path.join(root, _unescape(path[len("!delete "):]))
            if os.path.isdir(target):
                shutil.rmtree(target)
            elif os.path.exists(target):
                os.unlink(target)
            continue
        target = os.path.join(root, _unescape(path))
        if path.endswith("/"):
            os.makedirs(target, exist_ok=True)
            continue
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target, "w", encoding="utf-8") as f:
            f.write(e["content"])


def materialize(case, root):
    """Write base.fixture and then case under root (an empty directory)."""
    _apply(load(os.path.join(FIXTURES, "base.fixture")), root)
    _apply(case, root)


def all_cases():
    names = sorted(n for n in os.listdir(FIXTURES) if n.endswith(".fixture") and n != "base.fixture")
    return [load(os.path.join(FIXTURES, n)) for n in names]


def _get(facts, key):
    cur = facts
    for part in key.split("."):
        if not isinstance(cur, dict) or part not in cur:
            raise KeyError(key)
        cur = cur[part]
    return cur


def check(case, facts):
    """Differences between facts (the reply map, or {"error": NAME}) and the expectation.

    Keys are reply keys; "source.cpu" reaches into a nested map; "warnings~" requires a
    warning containing the text; "error" names the expected wire error. Floats compare with
    a relative tolerance of 1e-9; everything else exactly (null is nil).
    """
    problems = []
    expect = case["expect"]
    if "error" in expect or "error" in facts:
        if facts.get("error") != expect.get("error"):
            problems.append("error: expected %r, got %r" % (expect.get("error"), facts.get("error")))
        return problems
    for key, want in expect.items():
        if key == "warnings~":
            if not any(want in w for w in facts.get("warnings", [])):
                problems.append("no warning contains %r: %r" % (want, facts.get("warnings")))
            continue
        try:
            got = _get(facts, key)
        except KeyError:
            problems.append("%s missing" % key)
            continue
        if isinstance(want, float) and isinstance(got, (int, float)) and not isinstance(got, bool):
            if abs(got - want) > 1e-9 * max(1.0, abs(want)):
                problems.append("%s: expected %r, got %r" % (key, want, got))
        elif got != want or type(got) is not type(want):
            problems.append("%s: expected %r, got %r" % (key, want, got))
    return problems
