"""Where the daemon's socket lives.

The order must stay identical to the daemon's own resolution
(proto/path.c, ``sku_socket_path``), otherwise a client and a daemon
started with the same environment would miss each other:

1. an explicit path,
2. ``$SKYUTILD_SOCKET``,
3. ``$XDG_RUNTIME_DIR/skyutild/skyutild.sock``, only when the directory is
   absolute: the XDG base directory spec says a relative
   ``XDG_RUNTIME_DIR`` is invalid and must be ignored,
4. ``/run/skyutild/skyutild.sock`` when running as root (effective uid),
5. ``/tmp/skyutild-<uid>/skyutild.sock``.

Empty environment values count as unset, as a shell ``VAR=`` usually means
"no value".  Paths are joined exactly as the C code does
(``"%s/skyutild/skyutild.sock"``), so a trailing slash in
``XDG_RUNTIME_DIR`` gives the same string on both sides.  A path too long
for ``sun_path`` is returned as is; connecting to it fails
(``DaemonUnavailable``), as the C client's resolution fails with
ENAMETOOLONG.
"""

import os
from typing import Mapping, Optional


def resolve_socket_path(explicit: Optional[str] = None,
                        environ: Optional[Mapping[str, str]] = None,
                        euid: Optional[int] = None) -> str:
    """Returns the socket path for ``explicit`` or the environment.

    ``environ`` and ``euid`` exist so tests can check every branch without
    touching the real process state.
    """
    if explicit:
        return os.fspath(explicit)
    env = os.environ if environ is None else environ
    configured = env.get('SKYUTILD_SOCKET')
    if configured:
        return configured
    runtime_dir = env.get('XDG_RUNTIME_DIR')
    if runtime_dir and runtime_dir.startswith('/'):
        return f'{runtime_dir}/skyutild/skyutild.sock'
    uid = os.geteuid() if euid is None else euid
    if uid == 0:
        return '/run/skyutild/skyutild.sock'
    return f'/tmp/skyutild-{uid}/skyutild.sock'
