"""Fixtures of the hardening suite (see hz.py)."""
import os
import shutil
import sys

import pytest

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hz  # noqa: E402


@pytest.fixture
def base():
    d = hz.base_dir()
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def root_only():
    if os.geteuid() != 0:
        pytest.skip("needs root: the test runs clients and processes as other users")


@pytest.fixture
def daemon(base):
    """The default daemon, with a short partial-message timeout."""
    d = hz.Daemon(base, "--idle-timeout", "3000")
    yield d
    d.stop()
