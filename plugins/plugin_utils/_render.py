# Copyright (c) 2026, jumphosts.multihop contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Render resolved chains as ssh_config text. Pure logic, no I/O.

One renderer serves the connection plugin (with run-time lines such as ControlPath) and
everything that writes ssh_config for people (without them).
"""

from __future__ import annotations

import fnmatch
import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass

from ansible_collections.jumphosts.multihop.plugins.plugin_utils import _gate as gate
from ansible_collections.jumphosts.multihop.plugins.plugin_utils._chain import (
    Hop,
    MultihopError,
    ResolvedHost,
    chain_digest,
    hop_label,
)

# OpenSSH appends ".XXXXXXXXXXXXXXXX" to a ControlPath while it creates the socket; sun_path holds 108 bytes.
MAX_CONTROL_PATH = 108 - 1 - 17


@dataclass(frozen=True)
class RuntimeSettings:
    """Lines that only matter when the plugin itself runs ssh."""

    control_dir: str
    config_path: str
    control_persist: str = '60s'
    connect_timeout: int | None = None
    ssh_executable: str = 'ssh'


def render_block(alias: str, options: list[tuple[str, str]], patterns: tuple[str, ...] = ()) -> str:
    """One Host block; every line goes through the gate's ssh_config quoting."""
    lines = [gate.ssh_config_host_line((alias, *patterns))]
    lines += [gate.ssh_config_line(key, value) for key, value in options]
    return '\n'.join(lines) + '\n'


def control_path(hops: tuple[Hop, ...], control_dir: str, *extra: object) -> str:
    """The socket of the master connection to the last of ``hops``; unique for the whole route."""
    path = os.path.join(control_dir, 'mh-' + chain_digest(hops, *extra))
    if len(path.encode('utf-8')) > MAX_CONTROL_PATH:
        raise MultihopError(f'ControlPath {gate.shown(path)} is too long for a UNIX socket; choose a shorter '
                            'control_path_dir')
    return path


def route_option(hops: tuple[Hop, ...], *, ssh_executable: str = 'ssh',
                 config_path: str | None = None) -> tuple[str, str] | None:
    """How to reach whatever comes after ``hops``: ProxyJump or ProxyCommand, never both."""
    if not hops:
        return None
    last = hops[-1]
    if last.type == 'ssh':
        return 'ProxyJump', last.alias
    if last.type == 'socks5':
        return 'ProxyCommand', gate.proxy_command(['nc', '-X', '5', '-x', last.destination, '%h', '%p'])
    # netcat: run nc on the hop itself, over an ordinary session.
    words = [ssh_executable, *(['-F', config_path] if config_path else []), last.alias, 'nc', '%h', '%p']
    return 'ProxyCommand', gate.proxy_command(words)


def hop_options(hop: Hop, route: tuple[str, str] | None, *, forward_agent: bool = False) -> list[tuple[str, str]]:
    """The lines that describe one hop, for people and for the plugin alike."""
    options = [('HostName', hop.host)]
    if hop.port:
        options.append(('Port', str(hop.port)))
    if hop.user:
        options.append(('User', hop.user))
    if hop.private_key_file:
        options += [('IdentityFile', hop.private_key_file), ('IdentitiesOnly', 'yes')]
    if route:
        options.append(route)
    options.append(('ForwardAgent', 'yes' if forward_agent else 'no'))
    if hop.host_key_checking is False:
        options.append(('StrictHostKeyChecking', 'no'))
    elif not any(key.lower() == 'stricthostkeychecking' for key, _value in hop.options):
        # Explicit, so that a lax ~/.ssh/config cannot turn checking off for a hop without anyone noticing.
        options.append(('StrictHostKeyChecking', 'yes'))
    options += list(hop.options)
    return options


def runtime_options(hops: tuple[Hop, ...], runtime: RuntimeSettings) -> list[tuple[str, str]]:
    """Connection sharing and non-interactive settings for the last of ``hops``."""
    options = [
        ('ControlMaster', 'auto'),
        ('ControlPath', control_path(hops, runtime.control_dir)),
        ('ControlPersist', gate.check_time(runtime.control_persist, 'multihop_control_persist', 'runtime')),
        # The plugin answers password prompts itself when it opens the master; nothing may prompt later.
        ('BatchMode', 'yes'),
    ]
    if runtime.connect_timeout:
        options.append(('ConnectTimeout', str(runtime.connect_timeout)))
    if not hops[-1].password:
        options += [('PasswordAuthentication', 'no'), ('KbdInteractiveAuthentication', 'no')]
    return options


def render_hops(hops: tuple[Hop, ...], *, forward_agent: bool = False, runtime: RuntimeSettings | None = None,
                ssh_executable: str = 'ssh', config_path: str | None = None) -> str:
    """Host blocks for every ssh server in ``hops`` (a socks5 proxy gets none)."""
    if runtime:
        ssh_executable, config_path = runtime.ssh_executable, runtime.config_path
    blocks = []
    for index, hop in enumerate(hops):
        if hop.type == 'socks5':
            continue
        route = route_option(hops[:index], ssh_executable=ssh_executable, config_path=config_path)
        options = hop_options(hop, route, forward_agent=forward_agent)
        if runtime:
            options += runtime_options(hops[:index + 1], runtime)
        blocks.append(render_block(hop.alias, options))
    return '\n'.join(blocks)


def render_plugin_config(hops: tuple[Hop, ...], runtime: RuntimeSettings, *, forward_agent: bool = False) -> str:
    """The private config the plugin passes with ``-F``; the user's own files still apply after it."""
    header = (f'# Generated by jumphosts.multihop for route {chain_digest(hops)}. Do not edit.\n'
              '# First value wins: these hops are described first, the user\'s own files still apply after them.\n\n')
    footer = '\nHost *\n  Include ~/.ssh/config\n  Include /etc/ssh/ssh_config\n'
    return header + render_hops(hops, forward_agent=forward_agent, runtime=runtime) + footer


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


def render_host_block(resolved: ResolvedHost, *, forward_agent: bool = False, patterns: tuple[str, ...] = (),
                      ssh_executable: str = 'ssh', config_path: str | None = None) -> str:
    """The Host block of an inventory host itself, reached along its route (hops named by alias)."""
    route = route_option(resolved.hops, ssh_executable=ssh_executable, config_path=config_path)
    options = hop_options(resolved.endpoint, route, forward_agent=forward_agent)
    return render_block(resolved.endpoint.alias, options, patterns)


# --- ssh_config for people: one file for many inventory hosts ----------------------------------------------

# ControlPath DIR/mh-<10 hex>-%C; OpenSSH's %C is 40 hex digits.
_CONTROL_NAME_LEN = len('/mh-') + 10 + 1 + 40


@dataclass(frozen=True)
class ControlMasterSettings:
    """Connection sharing for people's ssh: one master per Host block, kept ``persist`` after the last session."""

    control_dir: str = '~/.ssh/cm'
    persist: str = '10m'


def validate_patterns(owner: str, patterns: object) -> tuple[str, ...]:
    """Extra Host patterns for ``owner``'s block, from the role's input."""
    if patterns is None or patterns == '':
        return ()
    if isinstance(patterns, str):
        patterns = [patterns]
    if not isinstance(patterns, (list, tuple)):
        raise MultihopError(f'host {owner}: extra Host patterns must be a list of strings')
    for pattern in patterns:
        if not isinstance(pattern, str) or len(pattern) > 253 or not gate.HOST_PATTERN_RE.match(pattern):
            raise MultihopError(f'host {owner}: invalid extra Host pattern {gate.shown(pattern)}: only letters, '
                                'digits, ".", '
                                '"-", "_", ":" and the wildcards "*" and "?" are allowed')
        if not any(c.isalnum() for c in pattern):
            raise MultihopError(f'host {owner}: extra Host pattern {pattern!r} would match every host')
    return tuple(patterns)


def control_master_options(alias: str, control: ControlMasterSettings) -> list[tuple[str, str]]:
    directory = gate.check_path(control.control_dir, 'ControlMaster directory', 'ssh_config')
    if not directory or not directory.startswith(('/', '~/')):
        raise MultihopError(f'ssh_config: the ControlMaster directory must be an absolute path or start with "~/", '
                            f'got {gate.shown(control.control_dir)}')
    if directory.startswith('/') and len(directory.rstrip('/').encode('utf-8')) + _CONTROL_NAME_LEN > \
            MAX_CONTROL_PATH:
        raise MultihopError(f'ssh_config: ControlMaster directory {gate.shown(directory)} is too long for a UNIX '
                            'socket')
    persist = gate.check_time(control.persist, 'ControlPersist', 'ssh_config')
    # %C (a hash of host, port and user) alone would let the same address behind two bastions share a master.
    tag = hashlib.sha256(alias.encode('utf-8')).hexdigest()[:10]
    return [('ControlMaster', 'auto'), ('ControlPath', f'{directory.rstrip("/")}/mh-{tag}-%C'),
            ('ControlPersist', persist)]


def render_inventory_config(hosts: list[ResolvedHost], *, patterns: Mapping[str, object] | None = None,
                            control: ControlMasterSettings | None = None, ssh_executable: str = 'ssh',
                            config_path: str | None = None) -> str:
    """Host blocks for ``hosts`` and every hop on their routes, each alias once, hops before what lies behind them.

    Every block is what the connection plugin writes for that hop (``hop_options``, ``route_option``),
    so ``ssh ALIAS`` takes the route Ansible takes. Agent forwarding is always off.
    """
    if patterns is not None and not isinstance(patterns, Mapping):
        raise MultihopError('ssh_config: extra Host patterns must be a mapping of inventory hostname to a list')
    patterns = dict(patterns or {})
    names = {resolved.endpoint.name for resolved in hosts}
    for owner in patterns:
        if owner not in names:
            raise MultihopError(f'host {owner}: extra Host patterns given for a host that is not rendered')
    entries: dict[str, tuple[str, list[tuple[str, str]]]] = {}  # alias -> (who it was first rendered for, options)
    for resolved in hosts:
        chain = (*resolved.hops, resolved.endpoint)
        for index, hop in enumerate(chain):
            if hop.type == 'socks5':
                continue  # a SOCKS proxy is no ssh server; the next hop's ProxyCommand names it
            route = route_option(chain[:index], ssh_executable=ssh_executable, config_path=config_path)
            options = hop_options(hop, route)
            owner = resolved.endpoint.name
            if hop.alias not in entries:
                entries[hop.alias] = (owner, options)
            elif entries[hop.alias][1] != options:
                label = hop_label(resolved.hops, index) if index < len(resolved.hops) else f'host {hop.name}'
                raise MultihopError(f'host {owner}: {label} is reached differently here than for '
                                    f'{entries[hop.alias][0]}; one ssh_config alias can describe only one route')
    taken = {alias.lower(): alias for alias in entries}
    if len(taken) != len(entries):
        raise MultihopError('ssh_config: two aliases differ only in case: ' + ', '.join(sorted(entries)))
    blocks = []
    claimed: dict[str, str] = {}
    for alias, (_owner, options) in entries.items():
        extra = validate_patterns(alias, patterns.get(alias))
        for pattern in extra:
            if claimed.setdefault(pattern.lower(), alias) != alias:
                raise MultihopError(f'host {alias}: extra Host pattern {pattern!r} is already given to '
                                    f'{claimed[pattern.lower()]}')
        for pattern in extra:
            clash = sorted(a for a in entries if a != alias and fnmatch.fnmatchcase(a.lower(), pattern.lower()))
            if clash:
                raise MultihopError(f'host {alias}: extra Host pattern {pattern!r} also matches {", ".join(clash)}')
        if control:
            options = options + control_master_options(alias, control)
        blocks.append(render_block(alias, options, extra))
    return '\n'.join(blocks)
