"""Where the daemon's socket lives.

The order must stay identical to the daemon's own resolution, otherwise a
client and a daemon started with the same environment would miss each other:

1. an explicit path,
2. ``$SKYUTILD_SOCKET``,
3. ``$XDG_RUNTIME_DIR/skyutild/skyutild.sock``,
4. ``/run/skyutild/skyutild.sock`` when running as root,
5. ``/tmp/skyutild-<uid>/skyutild.sock``.

Empty environment values count as unset, as a shell ``VAR=`` usually means
"no value".
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
    if runtime_dir:
        return os.path.join(runtime_dir, 'skyutild', 'skyutild.sock')
    uid = os.geteuid() if euid is None else euid
    if uid == 0:
        return '/run/skyutild/skyutild.sock'
    return f'/tmp/skyutild-{uid}/skyutild.sock'
