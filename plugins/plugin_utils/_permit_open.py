# Copyright (c) 2026, jumphosts.multihop contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a hardened bastion must let jump users open (sshd's PermitOpen). Pure logic, no I/O.

Used by the ``bastion_permitopen`` and ``sshd_permitopen`` filters, which the ``bastion`` role calls.
"""

from __future__ import annotations

from ansible_collections.jumphosts.multihop.plugins.plugin_utils import _gate as gate
from ansible_collections.jumphosts.multihop.plugins.plugin_utils._chain import MultihopError, ResolvedHost


def permit_open(resolved_hosts: list[ResolvedHost], names: set[str], addresses: set[str]) -> list[str]:
    """What a bastion must let jump users open: whatever follows it on each route, as ``host:port``.

    ``names`` and ``addresses`` are the inventory names and hop addresses that stand for the bastion.
    A netcat hop needs a shell session, which a hardened bastion does not give, so it is refused.
    """
    found = set()
    for resolved in resolved_hosts:
        route = (*resolved.hops, resolved.endpoint)
        for index, hop in enumerate(resolved.hops):
            if hop.name not in names and hop.host not in addresses:
                continue
            if hop.type != 'ssh':
                raise MultihopError(f'host {resolved.endpoint.name} uses {hop.name} as a {hop.type} hop; a hardened '
                                    'bastion only forwards TCP for ssh (ProxyJump) hops')
            found.add(gate.check_destination(route[index + 1].destination, f'host {resolved.endpoint.name}'))
    return sorted(found)


def sshd_permit_open(destinations: object) -> str:
    """The value of sshd's PermitOpen for ``destinations`` (``host:port``, ``*`` allowed), through the gate."""
    if not isinstance(destinations, (list, tuple)) or not destinations:
        raise MultihopError('PermitOpen: expected a non-empty list of host:port destinations')
    checked = [gate.check_destination(d, 'PermitOpen', wildcards=True) for d in destinations]
    return gate.sshd_config_line('PermitOpen', checked).split(' ', 1)[1]
