"""Seccomp filters that make one system call fail, to play an older kernel in a daemon.

Each returns a preexec for subprocess: the daemon started with it sees the call fail with the
given errno, exactly as on a kernel (or under a container profile) without the feature.
"""
import ctypes
import os

SYS_PIDFD_OPEN = 434  # the same on every architecture (new syscalls are numbered alike)
SYS_IOCTL = {"x86_64": 16, "aarch64": 29}.get(os.uname().machine)
# _IOWR(0xFF, 11, struct pidfd_info) with the 64-byte PIDFD_INFO_SIZE_VER0 layout.
PIDFD_GET_INFO = 0xC040FF0B

_LD_NR = (0x20, 0, 0, 0)         # ld [seccomp_data.nr]
_LD_ARG1 = (0x20, 0, 0, 24)      # ld [seccomp_data.args[1]] (low word, little-endian)
_ALLOW = (0x06, 0, 0, 0x7fff0000)


class _SockFilter(ctypes.Structure):
    _fields_ = [("code", ctypes.c_ushort), ("jt", ctypes.c_ubyte), ("jf", ctypes.c_ubyte),
                ("k", ctypes.c_uint32)]


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(_SockFilter))]


def _errno(err):
    return (0x06, 0, 0, 0x00050000 | err)  # ret SECCOMP_RET_ERRNO | err


def _preexec(insns):
    prog = (_SockFilter * len(insns))(*[_SockFilter(*i) for i in insns])
    fprog = _SockFprog(len(insns), prog)
    libc = ctypes.CDLL(None, use_errno=True)

    def preexec():
        if libc.prctl(38, 1, 0, 0, 0) or libc.prctl(22, 2, ctypes.byref(fprog), 0, 0):
            os._exit(126)  # PR_SET_NO_NEW_PRIVS, PR_SET_SECCOMP(SECCOMP_MODE_FILTER)
    preexec.keep = (prog, fprog)  # the filter must outlive the fork
    return preexec


def refuse_pidfd_open(err):
    """pidfd_open(2) fails with err: a kernel before 5.3, or a profile refusing it."""
    return _preexec([_LD_NR, (0x15, 0, 1, SYS_PIDFD_OPEN), _errno(err), _ALLOW])


def refuse_pidfd_get_info(err):
    """ioctl(PIDFD_GET_INFO) fails with err (ENOTTY: a kernel before 6.13); None where this
    architecture's ioctl number is not known here."""
    if SYS_IOCTL is None:
        return None
    return _preexec([_LD_NR, (0x15, 0, 3, SYS_IOCTL), _LD_ARG1, (0x15, 0, 1, PIDFD_GET_INFO),
                     _errno(err), _ALLOW])
