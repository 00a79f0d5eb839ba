# Copyright (c) 2026, jumphosts.multihop contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""How paramiko's and the socket layer's failures read in a hop report or an error message. Pure logic."""

from __future__ import annotations

import socket

try:
    import paramiko
except ImportError:  # the import sanity test runs without paramiko
    paramiko = None

_CHANNEL_OPEN_FAILURES = {1: 'administratively prohibited', 2: 'connect failed', 3: 'unknown channel type',
                          4: 'resource shortage'}


def describe_open_failure(code: int | None) -> tuple[str, bool]:
    """(text, the next element's fault) for an SSH channel-open failure code."""
    text = _CHANNEL_OPEN_FAILURES.get(code or 0, f'open failure code {code}')
    return text, code == 2


def _os_error_text(error: BaseException) -> str:
    if isinstance(error, socket.timeout | TimeoutError):
        return 'timed out'
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    return str(error) or type(error).__name__


def error_text(error: BaseException) -> str:
    """How a failure reads in a report or a message: the OS's words, or paramiko's, never a bare class name."""
    if isinstance(error, EOFError):
        return 'connection closed'
    if isinstance(error, OSError):
        return _os_error_text(error)
    text = str(error).strip()
    if paramiko is not None and isinstance(error, paramiko.ChannelException):
        text = describe_open_failure(error.code)[0]
    return text or type(error).__name__
