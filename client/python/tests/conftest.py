"""Fixtures: daemons on private sockets and a clean backend per test.

``daemon`` runs each test twice: against the fake (always available, tests
the client's mechanics) and against the real skyutild (``$SKYUTILD_BIN``,
default /work/main/build/daemon/skyutild), skipped with the reason when
the binary does not exist.
"""

import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..'))
sys.path.insert(0, os.path.dirname(__file__))

# pylint: disable=wrong-import-position
import daemons  # noqa: E402

from skyutil import _backend  # noqa: E402


def _start(daemon):
    try:
        daemon.start()
    except RuntimeError as exc:
        daemon.cleanup()
        pytest.fail(str(exc))
    return daemon


@pytest.fixture
def fake_daemon():
    daemon = _start(daemons.fake_daemon())
    yield daemon
    daemon.cleanup()


@pytest.fixture
def stuck_daemon():
    daemon = _start(daemons.fake_daemon(stuck=True))
    yield daemon
    daemon.cleanup()


@pytest.fixture
def real_daemon():
    daemon = daemons.real_daemon()
    if daemon is None:
        reason = (f'skyutild binary not found (SKYUTILD_BIN='
                  f'{os.environ.get("SKYUTILD_BIN", "")!r}, default '
                  f'{daemons.DEFAULT_BIN})')
        print(reason)
        pytest.skip(reason)
    _start(daemon)
    yield daemon
    daemon.cleanup()


@pytest.fixture(params=['fake', 'real'])
def daemon(request):
    """Either daemon; tests using it must hold for both."""
    yield request.getfixturevalue(f'{request.param}_daemon')


@pytest.fixture(autouse=True)
def clean_backend(monkeypatch):
    """Each test starts with no backend choice and no socket configured."""
    for name in ('SKYUTILD_SOCKET', 'SKYUTIL_DISABLE_DAEMON',
                 'SKYPILOT_POD_CPU_CORE_LIMIT', 'SKYPILOT_POD_MEMORY_GB_LIMIT',
                 'SKYPILOT_POD_MEMORY_BYTES_LIMIT'):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv('XDG_RUNTIME_DIR', '/nonexistent-skyutil-test')
    _backend.reset()
    yield
    _backend.reset()


@pytest.fixture
def use_daemon(monkeypatch):
    """Points the helpers' backend at a daemon's socket."""

    def use(daemon):
        monkeypatch.setenv('SKYUTILD_SOCKET', daemon.path)
        _backend.reset()

    yield use
    _backend.reset()  # before the daemon fixture stops its daemon


@pytest.fixture
def python_backend(monkeypatch):
    monkeypatch.setenv('SKYUTIL_DISABLE_DAEMON', '1')
    _backend.reset()
