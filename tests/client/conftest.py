"""Fixtures for the client suite: a real skyutild on a temporary socket."""
import os
import socket
import subprocess
import tempfile
import time

import pytest


def _env(name):
    value = os.environ.get(name)
    if not value:
        pytest.skip(f"{name} is not set (run through meson test)")
    return value


@pytest.fixture(scope="session")
def skyutil_bin():
    return _env("SKYUTIL_BIN")


@pytest.fixture(scope="session")
def builddir():
    return _env("SKYUTIL_BUILDDIR")


@pytest.fixture(scope="session")
def tmpdir_session():
    with tempfile.TemporaryDirectory(prefix="skyutil-cli-") as d:
        yield d


@pytest.fixture(scope="session")
def daemon(tmpdir_session):
    """Path of the socket of a skyutild started for this session."""
    bin_ = _env("SKYUTILD_BIN")
    path = os.path.join(tmpdir_session, "d.sock")
    proc = subprocess.Popen([bin_, "--socket", path], stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"skyutild exited with {proc.returncode} at startup")
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                s.connect(path)
            break
        except OSError:
            time.sleep(0.01)
    else:
        proc.kill()
        pytest.fail("skyutild did not listen")
    yield path
    proc.terminate()
    proc.wait(timeout=10)
