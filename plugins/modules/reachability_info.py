# Copyright (c) 2026, jumphosts.multihop contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# The work is done on the controller by the action plugin of the same name (plugins/action/reachability_info.py).

from __future__ import annotations

DOCUMENTATION = r"""
module: reachability_info
short_description: Report which hops of its chain a host is reachable through, and audit the bastions
version_added: 0.1.0
description:
  - Runs on the controller and walks the host's chain of bastions (its C(multihop_via), resolved as the
    C(jumphosts.multihop.ssh) connection plugin resolves it) one hop at a time, then logs in to the host itself.
  - "For each hop it goes through the stages V(tcp) (a byte stream to the hop exists), V(banner) (the SSH version
    exchange and key exchange), V(hostkey) (the host key matches known_hosts), V(auth) (logged in) and V(forward)
    (the hop agreed to forward to the next hop or the host). The host itself has no V(forward) stage."
  - A hop that agrees to forward but cannot connect onwards (connection refused, no route) did its part; that is
    reported as a V(tcp) failure of the next hop, which is then the RV(failed_hop).
  - It audits each bastion it logged in to, from the outside. It asks for agent forwarding on a session that
    runs nothing and is closed at once, with no agent attached, and reports whether the bastion accepted
    (it should refuse). It reports whether the bastion allowed the TCP forward to the next hop.
  - It never changes anything, so it runs in check mode too. It never fails a host for being unreachable;
    it reports instead. It fails only when the chain itself is invalid or paramiko is missing.
  - Host keys are checked against known_hosts as ssh would check them. The files come from the hop's
    C(UserKnownHostsFile) and C(GlobalKnownHostsFile) options, or the defaults. An unknown key is rejected
    unless host key checking is explicitly off for that hop, and a mismatch is always rejected. Nothing is
    ever added to known_hosts.
  - Logs in with the hop's key file, or else with the keys of a running ssh-agent and the default keys in
    C(~/.ssh). It then tries the hop's password. It never forwards the agent.
author: jumphosts.multihop contributors (@jumphosts)
requirements:
  - paramiko on the controller
options:
  timeout:
    description:
      - Seconds allowed for each single step (TCP connect, banner and key exchange, login, opening a forward).
    type: float
    default: 10
  audit:
    description:
      - Audit each bastion that was logged in to (agent forwarding and TCP forwarding).
    type: bool
    default: true
  scan:
    description:
      - Collect host keys. A hop or host whose key is not known at all is accepted for this probe only, so the
        walk can go on to the next hop; its key is reported in RV(hops[].host_key_line), and nothing is written.
        A key that differs from a known or pinned one still stops the walk.
      - Run it only from a network you trust, and review what it finds. The playbook
        C(jumphosts.multihop.host_keys) does this for a whole inventory.
    type: bool
    default: false
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.conn
  - ansible.builtin.action_common_attributes.flow
  - jumphosts.multihop._controller_action
attributes:
  connection:
    details: Opens its own SSH connections from the controller; the host's connection plugin is not used.
notes:
  - Hop and host settings (address, port, user, key, password, known_hosts options) are the inventory's, as
    in M(jumphosts.multihop.chain_info). The user's C(~/.ssh/config) is not read.
  - The agent-forwarding audit relies on the server's answer to the request. A server that accepts creates
    an agent socket for the session, which is closed at once.
  - A netcat hop runs C(nc HOST PORT) on the bastion, as the connection plugin does.
seealso:
  - module: jumphosts.multihop.chain_info
  - plugin: jumphosts.multihop.ssh
    plugin_type: connection
"""

EXAMPLES = r"""
- name: Which hops work?
  jumphosts.multihop.reachability_info:
  register: reach

- name: Say where the chain breaks
  ansible.builtin.debug:
    msg: "{{ inventory_hostname }} breaks at {{ reach.failed_hop }} ({{ reach.failed_stage }}): {{ reach.error }}"
  when: not reach.reachable

- name: Bastions that accept agent forwarding
  ansible.builtin.debug:
    msg: "{{ reach.audit_findings }}"
  when: reach.audit_findings | length > 0

# The report playbook runs this module over a whole inventory:
#   ansible-playbook jumphosts.multihop.report -i inventory.yml -e multihop_report_dir=/tmp/report
"""

RETURN = r"""
reachable:
  description: Whether every hop and the host itself were passed, up to logging in to the host.
  returned: always
  type: bool
  sample: false
reachable_through:
  description: Names of the hops that were passed completely, in order.
  returned: always
  type: list
  elements: str
  sample: [bastion1]
failed_hop:
  description: Name of the first hop (or of the host itself) that could not be passed; null when reachable.
  returned: always
  type: str
  sample: bastion2
failed_stage:
  description: The stage at which RV(failed_hop) failed; null when reachable.
  returned: always
  type: str
  sample: tcp
error:
  description: Why RV(failed_hop) failed; null when reachable.
  returned: always
  type: str
  sample: "bastion1 could not connect to 10.203.3.2:2222: connect failed"
route:
  description: Names of the hops and the host, in order from the controller outward.
  returned: always
  type: list
  elements: str
  sample: [bastion1, bastion2, deep1]
hops:
  description: One report per hop, in order. Hops after the failing one have RV(hops[].stage) null.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: Inventory hostname of the hop, or its host for a hop written inline.
      type: str
    address:
      description: C(user@host:port).
      type: str
    type:
      description: The hop type.
      type: str
      choices: [ssh, netcat, socks5]
    role:
      description: V(hop), or V(target) for RV(target).
      type: str
    stage:
      description: The last stage reached; null when the walk never got to this hop.
      type: str
      choices: [tcp, banner, hostkey, auth, forward]
    ok:
      description: Whether RV(hops[].stage) succeeded. A hop that passed is at V(forward) with V(true).
      type: bool
    error:
      description: Why RV(hops[].stage) failed, or null.
      type: str
    latency_ms:
      description: Milliseconds to get a byte stream to the hop (TCP connect, or the previous hop's forward).
      type: float
    stage_ms:
      description: Milliseconds spent in each stage that succeeded.
      type: dict
      sample: {tcp: 1.2, banner: 14.8, hostkey: 0.1, auth: 9.7, forward: 1.1}
    server_version:
      description: The SSH version string the server sent.
      type: str
      sample: SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3
    host_key_type:
      description: The type of the host key the server presented.
      type: str
      sample: ssh-ed25519
    host_key_fingerprint:
      description: The host key's fingerprint, as C(ssh-keygen -l) prints it.
      type: str
      sample: SHA256:nwiwCbOt0NiKj2aH8w31r5yeByrf/+bY2XUw4Y6jJIY
    host_key_line:
      description: The host key the server presented, as a known_hosts line under the names ssh looks it up by.
      type: str
      sample: "[10.0.3.2]:2222 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKkN..."
    host_key_pinned:
      description:
        - Whether the key matched the element's pinned keys (C(multihop_known_hosts)); null when it has none.
      type: bool
    audit:
      description: The bastion audit; null when not audited (not logged in, a socks5 hop, or O(audit=false)).
      type: dict
      contains:
        agent_forwarding_accepted:
          description: Whether the bastion accepted an agent-forwarding request (it should not); null when
            the request could not be made.
          type: bool
        agent_forwarding_error:
          description: Why the request could not be made, or null.
          type: str
        tcp_forwarding_allowed:
          description: Whether the bastion allowed the TCP forward to the next hop; null for netcat hops.
          type: bool
        findings:
          description: What to fix, in words.
          type: list
          elements: str
target:
  description: The report of the host itself, like a hop's, with no V(forward) stage and no audit.
  returned: always
  type: dict
audit_findings:
  description: All findings of all audited bastions.
  returned: always
  type: list
  elements: str
  sample: ["bastion1 accepts agent forwarding: anyone with root there could use a forwarded agent"]
"""
