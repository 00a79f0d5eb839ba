# Copyright (c) 2026, jumphosts.multihop contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The value of sshd's PermitOpen, through the collection's one gate for rendered text."""

from __future__ import annotations

DOCUMENTATION = r"""
name: sshd_permitopen
short_description: Check destinations and write them as the value of sshd's PermitOpen
description:
  - Checks every destination with the same grammar the connection plugin uses for hosts and ports, and returns
    them as one C(PermitOpen) value for an sshd_config file.
  - A destination is C(host:port), with IPv6 addresses in brackets. C(*) may stand for the host or the port.
  - Anything else (whitespace, quotes, newlines, IPv6 zone ids, an empty list) fails the template, so nothing
    half-checked is ever written. The C(jumphosts.multihop.bastion) role writes its C(PermitOpen) line with it.
positional: _input
options:
  _input:
    description: Destinations, usually the output of P(jumphosts.multihop.bastion_permitopen#filter).
    type: list
    elements: str
    required: true
author: jumphosts.multihop contributors (@jumphosts)
"""

EXAMPLES = r"""
- name: The PermitOpen line of a jump group
  ansible.builtin.debug:
    msg: "PermitOpen {{ ['10.0.2.11:22', '[2001:db8::5]:2222'] | jumphosts.multihop.sshd_permitopen }}"
"""

RETURN = r"""
_value:
  description: The destinations, checked, separated by single spaces.
  type: str
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.jumphosts.multihop.plugins.plugin_utils._chain import MultihopError
from ansible_collections.jumphosts.multihop.plugins.plugin_utils._permit_open import sshd_permit_open


def sshd_permitopen(destinations):
    try:
        return sshd_permit_open(list(destinations) if isinstance(destinations, (list, tuple)) else destinations)
    except MultihopError as e:
        raise AnsibleFilterError(f'jumphosts.multihop.sshd_permitopen: {e}') from None


class FilterModule:
    def filters(self):
        return {'sshd_permitopen': sshd_permitopen}
