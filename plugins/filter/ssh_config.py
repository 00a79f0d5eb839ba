# Copyright (c) 2026, jumphosts.multihop contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: ssh_config
version_added: 0.1.0
short_description: ssh_config Host blocks for inventory hosts, routed like the jumphosts.multihop.ssh connection
description:
  - Renders one C(Host) block per inventory host, named by its inventory hostname, and one per hop on the
    way to it, with the resolver and renderer the P(jumphosts.multihop.ssh#connection) plugin uses.
  - "Each block sets C(HostName), C(Port), C(User), C(IdentityFile), the hop's allowed ssh options, and the
    route: C(ProxyJump) naming the previous hop by its alias, or C(ProxyCommand) after a C(netcat) or C(socks5)
    hop. Hops that are not inventory hosts get the alias C(multihop-HOST-PORT)."
  - C(ForwardAgent no) on every block. Passwords are never written.
  - Inventory values are validated as by the connection plugin; a bad value fails the filter with a message
    that names the host and the hop.
author: jumphosts.multihop contributors (@jumphosts)
positional: _input, hostvars
options:
  _input:
    description: Inventory hostnames to render, in order (a single name is taken as a list of one).
    type: list
    elements: str
    required: true
  hostvars:
    description: The C(hostvars) magic variable; only the variables of the hosts on the rendered routes are read.
    type: raw
    required: true
  patterns:
    description:
      - Extra C(Host) patterns per inventory hostname, added after the alias.
      - Letters, digits, C(.), C(-), C(_), C(:) and the wildcards C(*) and C(?) only. A pattern may not match
        another alias, be given to two hosts, or consist of wildcards alone.
    type: dict
    default: {}
  control_master:
    description: Add C(ControlMaster auto), C(ControlPath) and C(ControlPersist) to every block.
    type: bool
    default: false
  control_path_dir:
    description:
      - Directory of the control sockets when O(control_master) is on; absolute or starting with C(~/).
      - The socket names cover the alias, so equal addresses behind different bastions never share a master.
    type: str
    default: ~/.ssh/cm
  control_persist:
    description: C(ControlPersist) when O(control_master) is on.
    type: str
    default: 10m
  config_path:
    description:
      - Absolute path the rendered file is installed at. The C(ProxyCommand) behind a C(netcat) hop then runs
        C(ssh -F config_path), so it also works with C(ssh -F config_path ALIAS).
    type: str
"""

EXAMPLES = r"""
- name: Write an ssh_config for every inventory host
  ansible.builtin.copy:
    content: "{{ groups['all'] | jumphosts.multihop.ssh_config(hostvars, patterns={'db1': ['db1.internal']}) }}"
    dest: "{{ lookup('ansible.builtin.env', 'HOME') }}/.ssh/config.d/multihop.conf"
    mode: "0600"
  delegate_to: localhost
  run_once: true

# In a template of your own:
# {{ groups['databases'] | jumphosts.multihop.ssh_config(hostvars, control_master=true) }}
"""

RETURN = r"""
_value:
  description: ssh_config text, one C(Host) block per alias, hops before the hosts behind them.
  type: str
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.jumphosts.multihop.plugins.plugin_utils._chain import MultihopError, resolve_host
from ansible_collections.jumphosts.multihop.plugins.plugin_utils._inventory import hostvars_lookup
from ansible_collections.jumphosts.multihop.plugins.plugin_utils._inventory_config import (
    ControlMasterSettings,
    render_inventory_config,
)


def ssh_config(hosts, hostvars, patterns=None, control_master=False, control_path_dir='~/.ssh/cm',
               control_persist='10m', config_path=None):
    names = [hosts] if isinstance(hosts, str) else list(hosts)
    if not all(isinstance(name, str) for name in names):
        raise AnsibleFilterError('jumphosts.multihop.ssh_config: expects a list of inventory hostnames')
    lookup = hostvars_lookup(hostvars)
    control = ControlMasterSettings(control_path_dir, control_persist) if control_master else None
    try:
        resolved = [resolve_host(name, lookup) for name in names]
        return render_inventory_config(resolved, patterns=patterns, control=control, config_path=config_path)
    except MultihopError as e:
        raise AnsibleFilterError(f'jumphosts.multihop.ssh_config: {e}') from e


class FilterModule:
    def filters(self):
        return {'ssh_config': ssh_config}
