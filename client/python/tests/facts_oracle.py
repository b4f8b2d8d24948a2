"""The C side of the facts, for parity tests of the pure-Python fallback.

* ``fixtures()``: the shared fixture trees of tests/facts/fixtures (the C
  suite's cases, with their expected answers), loaded by tests/facts/
  fixture.py;
* ``c_facts(root, pid)``: what the daemon's own gathering and packing
  answer for a sysroot, from build/tests/facts/facts-dump
  (``$SKYUTIL_BUILDDIR``, default /work/main/build), or None when it is not
  built.
"""

import os
import subprocess
import sys
from typing import Any, Dict, List, Optional

import msgpack

HERE = os.path.dirname(os.path.abspath(__file__))
SRCDIR = os.environ.get('SKYUTIL_SRCDIR') or os.path.normpath(
    os.path.join(HERE, '..', '..', '..'))
FACTS_TESTS = os.path.join(SRCDIR, 'tests', 'facts')
BUILDDIR = os.environ.get('SKYUTIL_BUILDDIR') or os.path.join(SRCDIR, 'build')
FACTS_DUMP = os.path.join(BUILDDIR, 'tests', 'facts', 'facts-dump')

if FACTS_TESTS not in sys.path:
    sys.path.append(FACTS_TESTS)
import fixture  # noqa: E402  pylint: disable=wrong-import-position

# The daemon's generation counter has no meaning for a one-off gathering.
IGNORED = ('generation',)


def fixtures() -> List[Dict[str, Any]]:
    return fixture.all_cases()


def facts_dump() -> Optional[str]:
    return FACTS_DUMP if os.access(FACTS_DUMP, os.X_OK) else None


def c_facts(root: str, pid: int) -> Optional[Dict[str, Any]]:
    """facts-dump's map (or ``{'error': NAME}``); None if not built."""
    binary = facts_dump()
    if binary is None:
        return None
    out = subprocess.run([binary, root, str(pid)], check=True,
                         stdout=subprocess.PIPE, timeout=30).stdout
    return msgpack.unpackb(out, raw=False)


def differences(c_map: Dict[str, Any], py_map: Dict[str, Any]) -> List[str]:
    keys = sorted((set(c_map) | set(py_map)) - set(IGNORED))
    return [f'{k}: C {c_map.get(k, "<missing>")!r} != Python '
            f'{py_map.get(k, "<missing>")!r}'
            for k in keys if c_map.get(k, KeyError) != py_map.get(k, KeyError)]
