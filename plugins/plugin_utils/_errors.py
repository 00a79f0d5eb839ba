# Copyright (c) 2026, jumphosts.multihop contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The collection's own exceptions, and how a rejected value may appear in a message. Pure logic."""

from __future__ import annotations

# Enough of a rejected value to recognise it, never enough to leak much of a secret typed in the wrong place.
SHOWN_LIMIT = 40


class MultihopError(ValueError):
    """Bad chain definition or setting. The message names the host and, where known, the hop.

    A message is one line of printable text: any other character (a newline in an inventory hostname
    that a message names, say) is escaped, so that no part of it can pass for another line of output.
    """

    def __init__(self, message: object = ''):
        super().__init__(''.join(c if c.isprintable() else ascii(c)[1:-1] for c in str(message)))


class HopError(Exception):
    """A hop, or the target, could not be passed: on either backend, the one error that says so.

    ``label`` names it (``hop 2/3 bastion2 jump2@10.0.0.2:2222``), ``index`` is its place in the chain, and
    ``stage`` is where it failed when the backend knows (``tcp``, ``banner``, ``hostkey``, ``auth``,
    ``forward``; the paramiko walker knows, the OpenSSH client does not say).
    """

    def __init__(self, label: str, stage: str | None, reason: str, index: int):
        super().__init__(f'{label}: {reason}')
        self.label, self.stage, self.reason, self.index = label, stage, reason, index


class VariableError(Exception):
    """An inventory variable could not be read (undefined, or its template failed); says which, not its value."""


def shown(value: object, reveal: bool = True) -> str:
    """A rejected value for an error message: escaped, shortened, or not at all.

    ``reveal`` is False for secrets and for values that came from templates (a lookup may have put a
    secret there); then only the type and length are given.
    """
    if not reveal:
        return f'(a string of {len(value)} characters, not shown)' if isinstance(value, str) else '(not shown)'
    if isinstance(value, (bool, int, float)):
        return repr(value)
    if not isinstance(value, str):
        return f'(a {type(value).__name__})'
    text = ascii(value[:SHOWN_LIMIT])
    return text + ('...' if len(value) > SHOWN_LIMIT else '')
