# Copyright (c) 2026, jumphosts.multihop contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""SSH messages paramiko has no public call for, sent through its private ``_send_user_message``.

The one place that leans on paramiko's internals: a paramiko upgrade that breaks them breaks only here.
"""

from __future__ import annotations

try:
    import paramiko
except ImportError:  # the import sanity test runs without paramiko; the walker says so at use
    paramiko = None


def send_message(transport, kind: bytes, *fields: bool | int | str) -> None:
    """Send one message of type ``kind`` (a ``paramiko.common.cMSG_*`` byte) with ``fields`` in order."""
    message = paramiko.Message()
    message.add_byte(kind)
    for value in fields:
        if isinstance(value, bool):  # before int: a bool is an int to Python, not to SSH
            message.add_boolean(value)
        elif isinstance(value, int):
            message.add_int(value)
        else:
            message.add_string(value)
    transport._send_user_message(message)


def channel_request_with_reply(channel, request: str, timeout: float) -> bool:
    """Send channel request ``request`` with want_reply=true; True when the server said yes.

    paramiko's own requests (``Channel.request_forward_agent()``) send want_reply=false, so they cannot
    tell the answer. The success/failure bookkeeping is paramiko's own, the one ``Channel.exec_command`` uses.
    """
    channel._event_pending()
    send_message(channel.transport, paramiko.common.cMSG_CHANNEL_REQUEST, channel.remote_chanid, request, True)
    if not channel.event.wait(timeout):
        raise TimeoutError(f'no answer to the {request} request')
    return bool(channel.event_ready)
