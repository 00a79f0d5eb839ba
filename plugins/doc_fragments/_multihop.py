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
      - V(paramiko) needs no OpenSSH client on the controller. It connects in-process with the Python library
        paramiko (tested with paramiko 5.1). Each hop's SSH transport runs over a C(direct-tcpip) channel of the
        one before (over C(nc) on a V(netcat) hop, over the proxy for a V(socks5) hop), and the target's transport
        over the last.
        It also serves hosts without O(multihop_via).
      - With V(paramiko), every hop and the target are verified against known_hosts (C(UserKnownHostsFile) from
        their C(ssh_args) or C(ansible_ssh_common_args), else C(~/.ssh/known_hosts)); an unknown key is refused
        unless host-key checking is off for that host, or O(multihop_accept_new_host_keys) is set; a changed key
        is always refused. Each hop and the target log in with their own key file, ssh-agent keys or password
        (also answered as a one-prompt keyboard-interactive login). The agent is never forwarded.
      - With V(paramiko), each hop is logged in to once for the whole run and shared by every task and fork
        (O(multihop_share_hops)); the target login is kept for the rest of the task's worker process. Files
        are copied over SFTP (C(ansible_ssh_transfer_method) V(smart), V(sftp) and V(scp) alike), or with C(dd)
        over the command channel when it is V(piped). Password-protected key files are not loaded; use an agent.
        The OpenSSH-only options (C(ssh_executable), C(control_path),
        C(password_mechanism), C(private_key)) do not apply, and of a host's ssh arguments only
        C(UserKnownHostsFile), C(GlobalKnownHostsFile), C(StrictHostKeyChecking), C(HostKeyAlias) and
        C(IdentityFile) (C(-i)) are read.
    type: str
    default: openssh
    choices: [openssh, paramiko]
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
  multihop_keepalive:
    description:
      - With O(multihop_backend=paramiko), seconds between SSH keepalive messages on every hop and the target,
        so that an idle route is noticed when it breaks and is not dropped by firewalls. V(0) turns them off.
      - The time to connect, log in or open a channel on any hop is bounded by the C(timeout) option.
    type: int
    default: 15
    vars:
      - name: multihop_keepalive
    env:
      - name: ANSIBLE_MULTIHOP_KEEPALIVE
    ini:
      - section: multihop
        key: keepalive
  multihop_accept_new_host_keys:
    description:
      - With O(multihop_backend=paramiko), accept the host key of a hop or target that known_hosts has no entry for
        (no key of any type under its name), and append it to C(~/.ssh/known_hosts), like OpenSSH's
        C(StrictHostKeyChecking=accept-new). A key that differs from the one recorded is still refused.
        C(StrictHostKeyChecking=accept-new) in a host's ssh arguments asks the same for that host alone.
      - Nothing is ever written to a known-hosts file that inventory names (C(UserKnownHostsFile)), nor added to
        pinned keys (O(multihop_known_hosts)).
      - Off by default, so nothing is ever written to known_hosts unless asked for.
    type: bool
    default: false
    vars:
      - name: multihop_accept_new_host_keys
    env:
      - name: ANSIBLE_MULTIHOP_ACCEPT_NEW_HOST_KEYS
    ini:
      - section: multihop
        key: accept_new_host_keys
  multihop_tcp_nodelay:
    description:
      - After logging in to a hop, start one session on it, running C(true) (or the hop user's C(ForceCommand)
        instead), and ignore its outcome. The OpenSSH backend does this once per hop master connection, the
        paramiko backend once per hop login.
      - sshd turns C(TCP_NODELAY) on for a connection only when a session starts on it, and a hop that only
        forwards never starts one. Without it, each round trip through the hop waits about 40 ms for a delayed TCP
        acknowledgement, and a run of tasks on one host takes about twice as long as without a bastion.
      - Set V(false) where a session on the hop is unwanted, for example when sessions are recorded or a
        C(ForceCommand) raises an alert.
    type: bool
    default: true
    vars:
      - name: multihop_tcp_nodelay
    env:
      - name: ANSIBLE_MULTIHOP_TCP_NODELAY
    ini:
      - section: multihop
        key: tcp_nodelay
  multihop_share_hops:
    description:
      - With O(multihop_backend=paramiko), log in to each hop once for the whole run, and share that login among
        every task, target and fork behind it, as the OpenSSH backend shares its master connections.
      - The login is held by a hop process, ansible-core's persistent connection process (C(ansible-connection)),
        one per chain of hops and run, with the hop's host key checked and no agent forwarded.
        Workers get their streams through it over one-shot UNIX sockets in a private directory (mode 0700). It
        ends when the run ends, or after O(multihop_control_persist) with no stream.
      - There is one hop process per chain of hops, which logs in to each of its hops, so a bastion that two chains
        start with is logged in to once per chain. Chains with a V(socks5) hop are not shared.
      - With V(false), hops are logged in to in each task's worker process, once per task and target.
    type: bool
    default: true
    vars:
      - name: multihop_share_hops
    env:
      - name: ANSIBLE_MULTIHOP_SHARE_HOPS
    ini:
      - section: multihop
        key: share_hops
  multihop_known_hosts:
    description:
      - Pinned host keys, as known_hosts lines (a list, or one string with a line per key). C(@cert-authority)
        lines pin every host whose key is signed by that SSH CA; C(@revoked) lines are honoured.
      - Set on a target, its key is checked against these lines alone, strictly, even where
        O(host_key_checking) is off. Set on an inventory hop (or as C(known_hosts) in a mapping hop), the same
        holds for that hop. Hops written in place inherit the value of the host that names them.
      - Every line is checked before use. The plugin writes them to a private file in the control directory;
        nothing is ever added to them.
      - With the paramiko backend, C(@cert-authority) lines cannot be used (paramiko does not check host
        certificates).
    type: raw
    vars:
      - name: multihop_known_hosts
  multihop_control_persist:
    description:
      - How long an idle master connection to a hop stays open (the OpenSSH C(ControlPersist) syntax).
      - Every target behind a hop, and every fork, shares that one connection.
      - With O(multihop_backend=paramiko), how long a hop process stays after its last stream closed; it ends
        with the run in any case. V(yes) keeps it until the run ends, V(no) ends it as soon as no stream runs.
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
