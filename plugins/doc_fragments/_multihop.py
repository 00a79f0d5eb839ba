# Copyright (c) 2026, jumphosts.multihop contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Private: the multihop options, shared by the connection plugin and the modules."""

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  multihop_via:
    description:
      - The hops in front of this host, in order from the controller outward. One hop or a list of hops.
      - A hop is an inventory hostname, whose own connection variables (C(ansible_host), C(ansible_port),
        C(ansible_user), C(ansible_ssh_private_key_file), C(ansible_password), C(ansible_ssh_common_args),
        C(ansible_ssh_extra_args), C(ansible_host_key_checking)) and own O(multihop_via) apply to the hop.
      - Or a string V([user@]host[:port]), with IPv6 addresses in brackets. A bare name without a user, port
        or dot must be an inventory host, so that a typo is an error rather than a DNS lookup.
      - Or a mapping with the keys C(host), C(port), C(user), C(private_key_file), C(password), C(ssh_args),
        C(type) and C(host_key_checking).
      - "C(type) says how the hop reaches the next one: V(ssh) (ProxyJump, the default), V(netcat) (runs
        C(nc %h %p) on the hop, for bastions that deny TCP forwarding) or V(socks5) (the hop is a SOCKS5 proxy,
        not an SSH server; it must be the first hop). For an inventory host, set C(multihop_type)."
      - A hop's C(ssh_args) and C(ansible_ssh_common_args) may only hold C(-o Key=Value) and C(-i FILE), and
        only ssh_config keywords that cannot run commands or change the route.
    type: raw
    vars:
      - name: multihop_via
  multihop_backend:
    description:
      - Which client runs the chain. V(openssh) uses the OpenSSH client with one shared master
        connection per hop.
    type: str
    default: openssh
    choices: [openssh]
    vars:
      - name: multihop_backend
    env:
      - name: ANSIBLE_MULTIHOP_BACKEND
    ini:
      - section: multihop
        key: backend
  multihop_forward_agent:
    description:
      - Forward the ssh agent to the hops and the target.
      - Off by default. Anyone with root on a hop can use a forwarded agent to log in as you while you are
        connected, so a warning is shown whenever this is on.
    type: bool
    default: false
    vars:
      - name: multihop_forward_agent
    env:
      - name: ANSIBLE_MULTIHOP_FORWARD_AGENT
    ini:
      - section: multihop
        key: forward_agent
  multihop_control_persist:
    description:
      - How long an idle master connection to a hop stays open (the OpenSSH C(ControlPersist) syntax).
      - Every target behind a hop, and every fork, shares that one connection.
    type: str
    default: 60s
    vars:
      - name: multihop_control_persist
    env:
      - name: ANSIBLE_MULTIHOP_CONTROL_PERSIST
    ini:
      - section: multihop
        key: control_persist
"""
