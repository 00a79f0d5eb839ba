# Copyright (c) 2026, jumphosts.multihop contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What each stage of a paramiko walk does on the wire: connect, check the host key, forward (direct-tcpip,
``nc`` on a netcat hop, SOCKS5). The order of the stages, and who is told, is the walker's (``_paramiko_hops.py``).

A step returns what it opened, or raises ``StageFailed`` with the reason, decided where the failure happens:
``OnwardFailed`` when a hop did its part but could not connect to the next element (that element's ``tcp``).
"""

from __future__ import annotations

import contextlib
import logging
import socket
import time
from collections.abc import Callable

try:
    import paramiko
except ImportError:  # the import sanity test runs without paramiko; the walker says so at use
    paramiko = None

from ansible_collections.jumphosts.multihop.plugins.plugin_utils import _gate as gate
from ansible_collections.jumphosts.multihop.plugins.plugin_utils._chain import Hop
from ansible_collections.jumphosts.multihop.plugins.plugin_utils._known_hosts import (
    HOST_KEY_ACCEPTED,
    fingerprint_sha256,
    host_key_checking_enabled,
    host_matches,
    key_type_of_blob,
    preferred_host_key_types,
    verify_host_key,
)
from ansible_collections.jumphosts.multihop.plugins.plugin_utils._paramiko_errors import (
    describe_open_failure,
    error_text,
)
from ansible_collections.jumphosts.multihop.plugins.plugin_utils._socks5 import describe_socks5_reply, socks5_connect

# Exit codes of the shell when nc itself cannot run on a netcat hop.
_NC_MISSING = (126, 127)
# Seconds between looks at a starting nc, which says how it went only through its output or its exit.
_NC_POLL = 0.01


class StageFailed(Exception):
    """The stage in progress failed, for ``reason`` (which names the hop where it helps, never a secret)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class OnwardFailed(StageFailed):
    """Raised in a hop's forward: the hop did its part, the next element could not be reached (its ``tcp``)."""


def tcp_connect(host: str, port: int, timeout: float) -> socket.socket:
    sock = socket.create_connection((host, port), timeout=timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def connect(hop: Hop, timeout: float, connect_tcp: Callable[[str, int, float], object] = tcp_connect):
    try:
        return connect_tcp(hop.host, hop.effective_port, timeout)
    except OSError as e:
        raise StageFailed(f'cannot connect to {hop.host}:{hop.effective_port}: {error_text(e)}') from e


def start_client(transport, timeout: float) -> Exception | None:
    """Banner and key exchange. A failed key exchange, after the banner came, is returned: the host key's stage
    reports it."""
    try:
        transport.start_client(timeout=timeout)
    except (paramiko.SSHException, OSError, EOFError) as e:
        if not transport.remote_version:
            raise StageFailed(f'no SSH banner: {error_text(e)}') from e
        return e
    return None


def prefer_known_key_types(transport, known, names: list[str]) -> None:
    """Ask first for the key types known_hosts has for the host, as OpenSSH does."""
    known_types = [key_type_of_blob(k.key_blob) or k.key_type for k in known
                   if not k.marker and any(host_matches(k.patterns, n) for n in names)]
    options = transport.get_security_options()
    options.key_types = preferred_host_key_types(known_types, options.key_types)


def check_host_key(hop: Hop, key, known, source: str, names: list[str],
                   accept_new: Callable[[Hop, list[str], object], bool] | None) -> tuple[dict[str, object], str | None]:
    """(what the key is, as ``WalkObserver.learned`` facts; why it is refused, or None when accepted)."""
    blob = key.asbytes()
    verdict, message = verify_host_key(known, names, blob, host_key_checking_enabled(hop), source=source)
    facts = {'host_key_type': key_type_of_blob(blob), 'host_key_fingerprint': fingerprint_sha256(blob),
             'host_key_line': f'{",".join(names)} {key.get_name()} {key.get_base64()}',
             'host_key_pinned': (verdict == 'known') if hop.known_hosts else None}
    accepted = verdict in HOST_KEY_ACCEPTED
    if verdict == 'unknown' and accept_new is not None:
        # Only a host with no key at all, and only when the caller was asked to record new keys.
        accepted = bool(accept_new(hop, names, key))
    return facts, None if accepted else message


def direct_tcpip(hop: Hop, transport, host: str, port: int, timeout: float, *, blame_next: bool):
    """A direct-tcpip channel through ``hop`` to ``host:port``. ``blame_next``: there is a next element to blame
    when the hop could not connect onwards; without one, the hop's forward fails."""
    reasons: list[str] = []
    try:
        with _server_reasons(transport, reasons):
            return transport.open_channel('direct-tcpip', (host, port), ('127.0.0.1', 0), timeout=timeout)
    except paramiko.ChannelException as e:
        text, onward = describe_open_failure(e.code)
        if reasons:  # the hop's own words, such as "Connection refused"
            text = f'{text} ({reasons[-1]})'
        if onward and blame_next:
            raise OnwardFailed(f'{hop.name} could not connect to {host}:{port}: {text}') from e
        raise StageFailed(f'{hop.name} refused to forward to {host}:{port}: {text}') from e
    except (paramiko.SSHException, OSError, EOFError) as e:
        raise StageFailed(f'forward to {host}:{port}: {error_text(e)}') from e


def netcat(hop: Hop, transport, host: str, port: int, timeout: float, *, blame_next: bool,
           clock: Callable[[], float] = time.monotonic):
    """``nc host port`` on ``hop``; with ``blame_next``, waits until nc shows whether it connected."""
    try:
        channel = transport.open_session(timeout=timeout)
        channel.settimeout(timeout)
        channel.exec_command(gate.shell_command(['nc', host, str(int(port))]))
    except (paramiko.SSHException, OSError, EOFError) as e:
        raise StageFailed(f'cannot run nc on {hop.name}: {error_text(e)}') from e
    if blame_next:
        _await_nc(hop, channel, timeout, clock)
    return channel


def _await_nc(hop: Hop, channel, timeout: float, clock: Callable[[], float]) -> None:
    """nc tells that it connected only by the server speaking, and that it could not only by exiting."""
    deadline = clock() + timeout
    while not (channel.recv_ready() or channel.exit_status_ready()) and clock() < deadline:
        time.sleep(_NC_POLL)
    if channel.recv_ready() or not channel.exit_status_ready():
        return  # connected, or a silent server: the next element's banner stage tells
    status = channel.recv_exit_status()
    text = _stderr_text(channel) or f'nc exited with status {status} (connection refused, or no route)'
    if status in _NC_MISSING:
        raise StageFailed(f'cannot run nc on {hop.name}: {text}')
    raise OnwardFailed(f'{hop.name} could not connect: {text}')


def _stderr_text(channel) -> str:
    errors = b''
    with contextlib.suppress(OSError, paramiko.SSHException):
        while channel.recv_stderr_ready():
            errors += channel.recv_stderr(4096)
    return errors.decode('utf-8', errors='replace').strip()


def socks5(hop: Hop, sock, host: str, port: int, *, blame_next: bool):
    """Ask the SOCKS5 proxy ``hop`` on ``sock`` to connect to ``host:port``; ``sock`` is then the stream there."""
    try:
        reply = socks5_connect(sock, host, port)
    except (OSError, EOFError, ValueError) as e:
        raise StageFailed(f'SOCKS5 handshake failed: {error_text(e)}') from e
    if reply is None:
        raise StageFailed('the SOCKS5 proxy requires authentication, which is not supported')
    if reply != 0:
        text, onward = describe_socks5_reply(reply)
        if onward and blame_next:
            raise OnwardFailed(f'{hop.name} could not connect to {host}:{port}: {text}')
        raise StageFailed(f'{hop.name} refused to connect to {host}:{port}: {text}')
    return sock


def start_one_session(transport, timeout: float) -> None:
    """sshd turns TCP_NODELAY on only when a session starts; without one each round trip waits ~40 ms."""
    with contextlib.suppress(paramiko.SSHException, OSError, EOFError):
        channel = transport.open_session(timeout=timeout)
        try:
            channel.exec_command('true')  # returns once sshd has answered, which is when it sets the option
        finally:
            channel.close()


@contextlib.contextmanager
def _server_reasons(transport, reasons: list[str]):
    """Collects into ``reasons`` the reasons the server gives for refusing channels meanwhile.

    paramiko's ChannelException carries only the code's generic text; the server's own reason is in
    the transport's log record alone ("Secsh channel N open FAILED: REASON: TEXT"), so read it there.
    """

    def catch(record: logging.LogRecord) -> bool:
        with contextlib.suppress(Exception):
            message = record.getMessage()
            if ' open FAILED: ' in message:
                reason = message.split(' open FAILED: ', 1)[1].rsplit(': ', 1)[0].strip()
                if reason:
                    reasons.append(reason)
        return True

    logger = getattr(transport, 'logger', None)
    if logger is None:
        yield
        return
    logger.addFilter(catch)
    try:
        yield
    finally:
        logger.removeFilter(catch)
