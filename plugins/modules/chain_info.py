# Copyright (c) 2026, jumphosts.multihop contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# The work is done on the controller by the action plugin of the same name (plugins/action/chain_info.py).

from __future__ import annotations

DOCUMENTATION = r"""
module: chain_info
short_description: Show how jumphosts.multihop.ssh would reach a host, without connecting
version_added: 0.1.0
description:
  - Resolves the host's C(multihop_via) from inventory, exactly as the C(jumphosts.multihop.ssh) connection plugin
    does, and returns the chain of hops with each hop's name, address, port, user and type, and where each
    setting came from.
  - Also returns the OpenSSH arguments and the private ssh_config that the connection plugin would use for the
    host, produced by the plugin's own renderer.
  - Opens no connection and writes nothing. For debugging inventories.
  - A chain that the plugin would refuse (a cycle, an unknown host, an unsafe value) fails the task with the
    plugin's message, which names the host and the hop.
author: jumphosts.multihop contributors (@jumphosts)
options:
  host:
    description:
      - The inventory host to describe. Defaults to the host the task runs for.
    type: str
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.conn
  - ansible.builtin.action_common_attributes.flow
  - jumphosts.multihop._controller_action
attributes:
  connection:
    details: Runs on the controller and opens no connection.
notes:
  - Passwords are never returned, only whether a hop has one.
  - The connection plugin writes the ssh_config file in RV(ssh_config_path) on its first connection through the
    route; until then the file does not exist.
seealso:
  - module: jumphosts.multihop.reachability_info
  - plugin: jumphosts.multihop.ssh
    plugin_type: connection
"""

EXAMPLES = r"""
- name: Show the chain in front of db1
  jumphosts.multihop.chain_info:
  register: chain

- name: Print the hops and where their settings come from
  ansible.builtin.debug:
    msg: "{{ chain.hops | map(attribute='address') | join(' -> ') }} -> {{ chain.target.address }}"

- name: Describe another host from a play on localhost
  jumphosts.multihop.chain_info:
    host: deep1
  register: deep1_chain
"""

RETURN = r"""
host:
  description: The inventory host described.
  returned: always
  type: str
  sample: deep1
route:
  description: The hop names in order, from the controller outward, then the host.
  returned: always
  type: list
  elements: str
  sample: [bastion1, bastion2, deep1]
hops:
  description: The hops in front of the host, in order from the controller outward. Empty for a direct host.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: Inventory hostname of the hop, or its host for a hop written inline in C(multihop_via).
      type: str
      sample: bastion2
    alias:
      description: The hop's Host name in the generated ssh_config.
      type: str
      sample: bastion2
    type:
      description: How the hop reaches the next one.
      type: str
      choices: [ssh, netcat, socks5]
    host:
      description: Address or DNS name connected to.
      type: str
      sample: 10.203.3.2
    port:
      description: Port, with the default (22, or 1080 for socks5) filled in.
      type: int
      sample: 2222
    user:
      description: Login user, or null for ssh's default.
      type: str
      sample: jump2
    address:
      description: C(user@host:port), as in messages.
      type: str
      sample: jump2@10.203.3.2:2222
    private_key_file:
      description: The key file, if one is set.
      type: str
    has_password:
      description: Whether a password is set for the hop (the password itself is never returned).
      type: bool
    host_key_checking:
      description: The hop's own host-key-checking setting, null when not set.
      type: bool
    known_hosts:
      description:
        - The hop's pinned host keys (C(multihop_known_hosts), or C(known_hosts) in a mapping hop), as checked
          known_hosts lines without comments. When not empty, the hop's key is checked against these alone.
      type: list
      elements: str
    options:
      description: ssh_config options from the hop's C(ssh_args) or C(ansible_ssh_common_args).
      type: dict
      sample: {UserKnownHostsFile: /etc/ssh/bastions_known_hosts}
    sources:
      description: Where each setting came from, by setting name.
      type: dict
      sample: {host: "hostvars[bastion2].ansible_host", port: "hostvars[bastion2].ansible_port"}
target:
  description: The host itself, described like a hop.
  returned: always
  type: dict
  sample: {name: deep1, host: 10.203.4.2, port: 22, user: deep, address: "deep@10.203.4.2:22"}
ssh_args:
  description:
    - Arguments the connection plugin adds to every C(ssh), C(scp) and C(sftp) command for this host.
    - Empty for a host without hops.
  returned: always
  type: list
  elements: str
  sample: [-F, /root/.ansible/cp/mh-0123456789abcdef.conf, -o, ProxyJump=bastion2, -o, ForwardAgent=no]
ssh_command:
  description: An C(ssh) command line that follows the same route to the host (as one shell-quoted string).
  returned: always
  type: str
  sample: ssh -F /root/.ansible/cp/mh-0123456789abcdef.conf -o ProxyJump=bastion2 -o ForwardAgent=no -l deep 10.203.4.2
ssh_config_path:
  description: Where the connection plugin keeps the route's private ssh_config. Null for a host without hops.
  returned: always
  type: str
ssh_config:
  description:
    - The private ssh_config the connection plugin writes for this route, one Host block per hop.
    - Null for a host without hops.
  returned: always
  type: str
host_block:
  description: A Host block for the host itself, for people who want the route in their own C(~/.ssh/config)
    next to the hops' blocks of RV(ssh_config).
  returned: always
  type: str
"""
