# Copyright (c) 2026, jumphosts.multihop contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What one worker process keeps open on the paramiko backend: hop transports and target sessions.

A forked worker inherits its parent's sockets; the pool notices the new pid and starts empty, so no
two processes ever share one SSH connection.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable

try:
    import paramiko
except ImportError:  # the import sanity test runs without paramiko
    paramiko = None

from ansible_collections.jumphosts.multihop.plugins.plugin_utils._paramiko_messages import send_message

SSH_DISCONNECT_BY_APPLICATION = 11


def close_transport(transport) -> None:
    """Say goodbye (SSH_MSG_DISCONNECT, which paramiko's close() does not send), then close: the server logs a
    disconnect by the user instead of a connection reset."""
    if paramiko is not None and isinstance(transport, paramiko.Transport) and transport.is_active():
        with contextlib.suppress(Exception):
            send_message(transport, paramiko.common.cMSG_DISCONNECT, SSH_DISCONNECT_BY_APPLICATION,
                         'closed by jumphosts.multihop', '')
    with contextlib.suppress(Exception):
        transport.close()


class SessionPool:
    """This process's open connections: hop transports by chain prefix, target sessions by route.

    ``hops`` is the mapping ``open_chain`` reuses and fills (``chain_digest(hops[:i + 1])`` -> transport).
    A worker process inherits the pool of the process that forked it, with none of its threads: such
    entries are dropped unclosed, since closing them would talk on the parent's sockets.
    """

    def __init__(self, getpid: Callable[[], int] = os.getpid):
        self._getpid = getpid
        self._pid = getpid()
        self.hops: dict[str, object] = {}
        self.sessions: dict[str, object] = {}
        self.uses: dict[str, tuple[str, ...]] = {}  # session key -> the hop keys its route runs over

    def _own(self) -> None:
        pid = self._getpid()
        if pid != self._pid:
            self._pid = pid
            self.hops, self.sessions, self.uses = {}, {}, {}

    def get(self, key: str):
        self._own()
        session = self.sessions.get(key)
        if session is not None and not session.alive():
            self.release(key)
            return None
        return session

    def add(self, key: str, session, hop_keys: tuple[str, ...]) -> None:
        self._own()
        self.sessions[key] = session
        self.uses[key] = hop_keys

    def release(self, key: str, hop_keys: tuple[str, ...] = ()) -> None:
        """Close the session and every hop transport of its route (``hop_keys`` too: a walk that failed at the
        target leaves its hops pooled, with no session) that no other open session runs over."""
        self._own()
        session = self.sessions.pop(key, None)
        hop_keys = tuple(dict.fromkeys(self.uses.pop(key, ()) + tuple(hop_keys)))
        if session is not None:
            session.close()
        still_used = {k for keys in self.uses.values() for k in keys}
        for hop_key in reversed(hop_keys):
            if hop_key not in still_used:
                transport = self.hops.pop(hop_key, None)
                if transport is not None:
                    close_transport(transport)

    def close_all(self) -> None:
        self._own()
        for key in list(self.sessions):
            self.release(key)
        for transport in reversed(list(self.hops.values())):
            close_transport(transport)
        self.hops = {}


POOL = SessionPool()
