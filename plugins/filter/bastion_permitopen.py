# Copyright (c) 2026, jumphosts.multihop contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The PermitOpen list of a bastion, computed from the inventory's ``multihop_via`` chains."""

from __future__ import annotations

DOCUMENTATION = r"""
name: bastion_permitopen
short_description: Destinations a bastion must let jump users open, from the inventory's multihop_via chains
description:
  - Resolves the C(multihop_via) chain of every host in O(_input) the way the C(jumphosts.multihop.ssh) connection
    plugin does, and for every hop that is this bastion returns what comes right after it (the next hop or the
    host itself) as C(host:port), written exactly as OpenSSH dials it for ProxyJump.
  - Used by the C(jumphosts.multihop.bastion) role to write C(PermitOpen), which compares strings literally.
  - Fails when a chain cannot be resolved, or when it uses this bastion as a C(netcat) hop (that needs a shell
    session, which a hardened bastion does not give).
positional: hostvars, names, addresses
options:
  _input:
    description: Inventory hostnames whose chains to consider, usually C(groups['all']).
    type: list
    elements: str
    required: true
  hostvars:
    description: C(hostvars).
    type: raw
    required: true
  names:
    description: Inventory names, or inline hop hosts, that stand for this bastion in chains.
    type: list
    elements: str
    required: true
  addresses:
    description: Hop addresses (C(ansible_host) of a hop, or an inline hop's host) that stand for this bastion.
    type: list
    elements: str
    default: []
author: jumphosts.multihop contributors (@jumphosts)
"""

EXAMPLES = r"""
- name: What the bastion must let jump users reach
  ansible.builtin.debug:
    msg: "{{ groups['all'] | jumphosts.multihop.bastion_permitopen(hostvars, [inventory_hostname], [ansible_host]) }}"
"""

RETURN = r"""
_value:
  description: Sorted, unique C(host:port) strings; IPv6 addresses in brackets.
  type: list
  elements: str
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.jumphosts.multihop.plugins.plugin_utils._chain import MultihopError, resolve_host
from ansible_collections.jumphosts.multihop.plugins.plugin_utils._errors import VariableError
from ansible_collections.jumphosts.multihop.plugins.plugin_utils._inventory import hostvars_lookup
from ansible_collections.jumphosts.multihop.plugins.plugin_utils._permit_open import permit_open


def bastion_permitopen(hosts, hostvars, names, addresses=()):
    """``host:port`` of everything the chains of ``hosts`` reach through this bastion."""
    if isinstance(hosts, str) or not isinstance(names, (list, tuple)) or isinstance(addresses, str):
        raise AnsibleFilterError('bastion_permitopen: expects a list of hosts, hostvars, a list of names and a list '
                                 'of addresses')
    lookup = hostvars_lookup(hostvars)
    try:
        routed = [resolve_host(str(name), lookup) for name in hosts
                  if (lookup(str(name)) or {}).get('multihop_via')]
        return permit_open(routed, {str(n) for n in names}, {str(a) for a in addresses})
    except (MultihopError, VariableError) as e:
        raise AnsibleFilterError(f'bastion_permitopen: {e}') from None


class FilterModule:
    def filters(self):
        return {'bastion_permitopen': bastion_permitopen}
