"""Process fixtures shared by the process tests: zombies, grandchildren."""

import fcntl
import os
import struct
import subprocess
import time

import pytest

from skyutil import _proc_py, _proc_wait


def wait_for(predicate, timeout=3.0):
    """Polls ``predicate`` until true; False after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


def pidfd_exit_info_supported():
    """PIDFD_GET_INFO exists from Linux 6.15 (exit codes of non-children)."""
    fd = os.pidfd_open(os.getpid())
    try:
        buf = bytearray(64)
        struct.pack_into('=Q', buf, 0, 1)
        fcntl.ioctl(fd, _proc_wait.PIDFD_GET_INFO, buf)
        return True
    except OSError:
        return False
    finally:
        os.close(fd)


needs_pidfd_info = pytest.mark.skipif(not pidfd_exit_info_supported(),
                                      reason='kernel lacks PIDFD_GET_INFO')


def zombie():
    """A child that exited and is not reaped yet; the caller reaps it."""
    child = subprocess.Popen(['true'])
    assert wait_for(lambda: _proc_py.read_stat(child.pid).state == 'Z', 5)
    return child


def grandchild(script):
    """Runs ``script`` under a shell that reaps it: (shell, script pid)."""
    shell = subprocess.Popen(['sh', '-c', f'({script}) & echo $!; wait'],
                             stdout=subprocess.PIPE)
    return shell, int(shell.stdout.readline())
