# Copyright (c) 2026, jumphosts.multihop contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A hop written in place in ``multihop_via`` as a string, ``[user@]host[:port]``: how it reads. Pure logic.

The values it gives are checked afterwards, like every hop's, by ``_chain`` through the gate.
"""

from __future__ import annotations

import ipaddress
import re

from ansible_collections.jumphosts.multihop.plugins.plugin_utils._errors import MultihopError, shown


def is_bare_name(spec: str) -> bool:
    """A name with no user, port or domain is meant to be an inventory host, never DNS."""
    if any(c in spec for c in '@:.[]'):
        return False
    try:
        ipaddress.ip_address(spec)
    except ValueError:
        return True
    return False


def inline_alias(host: str, port: int | None) -> str:
    """The ssh_config alias of a hop written in place: ``multihop-HOST[-PORT]``, in characters safe there."""
    return 'multihop-' + re.sub(r'[^A-Za-z0-9.-]', '-', host) + (f'-{port}' if port else '')


def parse_hop_string(spec: str, where: str, *, reveal: bool = True) -> dict[str, object]:
    """``[user@]host[:port]``, IPv6 addresses in brackets."""
    def invalid(rule: str) -> MultihopError:
        return MultihopError(f'{where}: invalid hop {shown(spec, reveal)}: {rule}')

    if not spec or spec != spec.strip() or any(c.isspace() for c in spec):
        raise invalid('whitespace is not allowed')
    user, at, rest = spec.rpartition('@')
    if not at:
        user, rest = '', spec
    port: object = None
    if rest.startswith('['):
        host, bracket, tail = rest[1:].partition(']')
        if not bracket or (tail and not tail.startswith(':')):
            raise invalid('expected [IPv6] or [IPv6]:port')
        port = tail[1:] if tail else None
    elif rest.count(':') > 1:
        raise invalid('write IPv6 addresses in brackets, like [::1]:22')
    else:
        host, colon, port_text = rest.partition(':')
        port = port_text if colon else None
        if colon and not port_text:
            raise invalid('empty port')
    return {'host': host, 'port': port, 'user': user or None}
