"""Starting skyutild (or the fake) on a private socket, for the tests.

Used by tests/conftest.py, so every test finds and starts the daemon the
same way.
"""

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from typing import List, Optional

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_BIN = '/work/main/build/daemon/skyutild'
FAKE = os.path.join(HERE, 'fake_skyutild.py')


def daemon_binary() -> Optional[str]:
    """``$SKYUTILD_BIN`` or the default build path, if it is executable."""
    path = os.environ.get('SKYUTILD_BIN') or DEFAULT_BIN
    return path if os.access(path, os.X_OK) else None


def socket_answers(path: str) -> bool:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.2)
        try:
            sock.connect(path)
        except OSError:
            return False
    return True


class DaemonProcess:
    """A daemon process bound to a socket in a fresh short directory.

    The directory lives under /tmp, not pytest's tmp_path: sun_path holds
    at most 107 bytes.
    """

    def __init__(self, argv: List[str], name: str) -> None:
        self.dir = tempfile.mkdtemp(prefix='sku-')
        self.path = os.path.join(self.dir, 'skyutild.sock')
        self.name = name
        self._argv = argv
        self.proc: Optional[subprocess.Popen] = None
        self.log = os.path.join(self.dir, 'daemon.log')

    def start(self, timeout: float = 10.0) -> None:
        if os.path.exists(self.path):
            os.unlink(self.path)  # a SIGKILLed daemon leaves its socket
        with open(self.log, 'ab') as log:
            self.proc = subprocess.Popen(self._argv + ['--socket', self.path],
                                         stdout=log, stderr=log,
                                         start_new_session=True)
        deadline = time.monotonic() + timeout
        while not socket_answers(self.path):
            if self.proc.poll() is not None:
                raise RuntimeError(f'{self.name} exited with '
                                   f'{self.proc.returncode}: {self.output()}')
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f'{self.name} did not listen on '
                                   f'{self.path}: {self.output()}')
            time.sleep(0.01)

    def output(self) -> str:
        with open(self.log, 'rb') as log:
            return log.read().decode(errors='replace')[-2000:]

    def kill(self) -> None:
        """SIGKILL: the socket file stays behind, like a crash."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.kill()

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def real_daemon() -> Optional[DaemonProcess]:
    binary = daemon_binary()
    return None if binary is None else DaemonProcess([binary], 'skyutild')


def fake_daemon(stuck: bool = False) -> DaemonProcess:
    argv = [sys.executable, FAKE] + (['--stuck'] if stuck else [])
    return DaemonProcess(argv, 'fake skyutild')
