"""Typed exceptions for skyutild errors.

The daemon reports errors as ``{code, name, message}`` with stable names and
codes (docs/protocol.md, "Errors").  Each name maps to one class so callers
can catch exactly the condition they handle.  Where a builtin exception means
the same thing, the class also derives from it (``NoSuchProcess`` is a
``ProcessLookupError``, ``Timeout`` a ``TimeoutError`` ...), so code written
against the standard library keeps working.
"""

from typing import Any, Optional


class SkyutilError(Exception):
    """Base class of every error raised by the skyutil client.

    ``name`` is the protocol's stable error name, ``code`` its number
    (``None`` for errors that only exist on the client side).
    """

    name: str = 'SKYUTIL_ERROR'
    code: Optional[int] = None

    def __init__(self, message: str = '', *, name: Optional[str] = None,
                 code: Optional[int] = None) -> None:
        # Only the message goes to the base classes: OSError subclasses would
        # otherwise read a second positional argument as errno/strerror.
        super().__init__(message)
        self.message = message
        if name is not None:
            self.name = name
        if code is not None:
            self.code = code

    def __str__(self) -> str:
        return f'{self.name}: {self.message}' if self.message else self.name


class BadRequest(SkyutilError):
    """The daemon could not parse the message; it closes the connection."""
    name, code = 'BAD_REQUEST', 1


class UnknownMethod(SkyutilError):
    """The daemon has no such method (older daemon or a typo)."""
    name, code = 'UNKNOWN_METHOD', 2


class InvalidArgument(SkyutilError, ValueError):
    """Missing, extra or ill-typed argument, or a value out of range."""
    name, code = 'INVALID_ARGUMENT', 3


class PermissionDenied(SkyutilError, PermissionError):
    """The caller may not do this to that process."""
    name, code = 'PERMISSION_DENIED', 4


class NoSuchProcess(SkyutilError, ProcessLookupError):
    """The pid does not exist and no exit is remembered."""
    name, code = 'NO_SUCH_PROCESS', 5


class PidReused(NoSuchProcess):
    """The pid now belongs to another process than the one meant.

    A subclass of :class:`NoSuchProcess` because the process the caller
    identified by (pid, start_time) is gone either way.
    """
    name, code = 'PID_REUSED', 6


class ResourceExhausted(SkyutilError):
    """The daemon ran out of watch budget, file descriptors or memory."""
    name, code = 'RESOURCE_EXHAUSTED', 7


class TooLarge(SkyutilError):
    """A message exceeded the daemon's ``max_message`` limit."""
    name, code = 'TOO_LARGE', 8


class Unavailable(SkyutilError):
    """The facility does not exist on this platform or kernel."""
    name, code = 'UNAVAILABLE', 9


class InternalError(SkyutilError):
    """A daemon bug or an unexpected system error."""
    name, code = 'INTERNAL', 10


class Timeout(SkyutilError, TimeoutError):
    """No reply arrived within the call's timeout (client side)."""
    name, code = 'TIMEOUT', 11


class DaemonUnavailable(SkyutilError, ConnectionError):
    """The daemon could not be reached, or the connection was lost."""
    name = 'DAEMON_UNAVAILABLE'


_BY_NAME = {
    cls.name: cls for cls in (BadRequest, UnknownMethod, InvalidArgument,
                              PermissionDenied, NoSuchProcess, PidReused,
                              ResourceExhausted, TooLarge, Unavailable,
                              InternalError, Timeout)
}
_BY_CODE = {cls.code: cls for cls in _BY_NAME.values()}


def from_wire(error: Any) -> SkyutilError:
    """Builds the exception for the ``error`` element of a response.

    The name decides the class; an unknown name falls back to the code and
    then to the base class, so a newer daemon's errors still surface typed
    as far as this client knows them.
    """
    if not isinstance(error, dict):
        return InternalError(f'malformed error object: {error!r}')
    name = error.get('name')
    code = error.get('code')
    message = str(error.get('message') or '')
    cls = _BY_NAME.get(name) or _BY_CODE.get(code) or SkyutilError
    return cls(message,
               name=name if isinstance(name, str) else None,
               code=code if isinstance(code, int) else None)

