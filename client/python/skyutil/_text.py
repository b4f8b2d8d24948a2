"""String helpers, drop-in for ``sky.utils.common_utils``.

Pure computations: a daemon round trip would cost more than the work, so
these never leave the process.  Semantics are SkyPilot upstream's
(shared/research/skypilot-reference.md section 2), not the Rust branch's.
"""

from typing import Union

_BASE36 = '0123456789abcdefghijklmnopqrstuvwxyz'


def base36_encode(hex_str: str) -> str:
    """Converts a hex string to base36 (digits ``0-9a-z``).

    Accepts what ``int(hex_str, 16)`` accepts, of any length.  Upstream
    loops forever on a negative value; this raises ``ValueError``.
    """
    value = int(hex_str, 16)
    if value < 0:
        raise ValueError(f'base36_encode needs a non-negative value: '
                         f'{hex_str!r}')
    if value == 0:
        return '0'
    digits = []
    while value:
        value, rem = divmod(value, 36)
        digits.append(_BASE36[rem])
    return ''.join(reversed(digits))


def format_float(num: Union[float, int], precision: int = 1) -> str:
    """Formats without a decimal point when the value is whole.

    ``int`` → ``str(num)``; an integral float → ``'{:.0f}'``; anything
    else → ``precision`` decimals.  Used in Kubernetes instance-type names
    (``4CPU--16GB``), so the exact text matters.
    """
    if isinstance(num, int):
        return str(num)
    return '{:.0f}'.format(num) if num.is_integer() else f'{num:.{precision}f}'


def truncate_long_string(s: str, max_length: int = 35,
                         truncate_middle: bool = False) -> str:
    """Shortens ``s`` for display, counting characters (code points).

    End mode cuts at a word boundary and appends ``'...'`` (the result may
    be up to ``max_length + 3`` long); middle mode keeps the head and tail
    around ``'...'`` within ``max_length``.
    """
    if len(s) <= max_length:
        return s
    if truncate_middle:
        if max_length <= 3:
            return '...'
        half, odd = divmod(max_length - 3, 2)
        head = half + odd
        if half == 0:
            return s[:head] + '...'
        return s[:head] + '...' + s[-half:]
    words = s.split(' ')
    if len(words[0]) > max_length:
        return words[0][:max_length] + '...'
    i = 0
    total = 0
    for i, word in enumerate(words):
        total += len(word)
        if total >= max_length:
            break
    prefix = ' '.join(words[:i])
    if len(prefix) < max_length:
        prefix += s[len(prefix):max_length]
    return prefix + '...'
