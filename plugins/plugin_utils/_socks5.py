# Copyright (c) 2026, jumphosts.multihop contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""SOCKS5 CONNECT without authentication (RFC 1928): the bytes of a request and of a reply (pure), and the
handshake over a socket the caller opened."""

from __future__ import annotations

import ipaddress
import struct

_SOCKS5_REPLIES = {
    1: ('general SOCKS server failure', False), 2: ('connection not allowed by ruleset', False),
    3: ('network unreachable', True), 4: ('host unreachable', True), 5: ('connection refused', True),
    6: ('TTL expired', True), 7: ('command not supported', False), 8: ('address type not supported', False),
}


def socks5_connect_request(host: str, port: int) -> bytes:
    """A SOCKS5 CONNECT request (RFC 1928) for ``host:port``."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        name = host.encode('idna')
        if len(name) > 255:
            raise ValueError(f'host name too long for SOCKS5: {host!r}') from None
        target = b'\x03' + bytes([len(name)]) + name
    else:
        target = (b'\x01' if address.version == 4 else b'\x04') + address.packed
    return b'\x05\x01\x00' + target + struct.pack('>H', port)


def socks5_reply_length(head: bytes) -> int:
    """The whole reply's length, from its first five bytes (VER REP RSV ATYP and one more)."""
    atyp = head[3]
    if atyp == 1:
        return 4 + 4 + 2
    if atyp == 4:
        return 4 + 16 + 2
    if atyp == 3:
        return 4 + 1 + head[4] + 2
    raise ValueError(f'SOCKS5 reply with unknown address type {atyp}')


def describe_socks5_reply(code: int) -> tuple[str, bool]:
    """(text, the next element's fault) for a SOCKS5 reply code."""
    return _SOCKS5_REPLIES.get(code, (f'SOCKS5 reply code {code}', False))


def _recv_exact(sock, size: int) -> bytes:
    data = b''
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise EOFError('connection closed by the SOCKS5 proxy')
        data += chunk
    return data


def socks5_connect(sock, host: str, port: int) -> int | None:
    """Ask the proxy on ``sock`` to connect to ``host:port``: its reply code (0 is success), or None when it
    wants a login, which is not supported. A broken handshake raises OSError, EOFError or ValueError."""
    sock.sendall(b'\x05\x01\x00')  # version 5, one method: no authentication
    greeting = _recv_exact(sock, 2)
    if greeting[0] != 5 or greeting[1] != 0:
        return None
    sock.sendall(socks5_connect_request(host, port))
    head = _recv_exact(sock, 5)
    _recv_exact(sock, socks5_reply_length(head) - 5)
    return head[1]
