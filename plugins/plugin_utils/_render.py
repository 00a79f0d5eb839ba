# Copyright (c) 2026, jumphosts.multihop contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Render resolved chains as ssh_config text: the route config the connection plugin passes with -F.

Pure logic, no I/O. Its building blocks (``hop_options``, ``route_option``, ``render_block``) are
also what ``_inventory_config`` writes for people, so plain ``ssh`` takes the route Ansible takes.
"""

from __future__ import annotations

import os

from ansible_collections.jumphosts.multihop.plugins.plugin_utils import _gate as gate
from ansible_collections.jumphosts.multihop.plugins.plugin_utils import _hop_keywords as hop_keywords
from ansible_collections.jumphosts.multihop.plugins.plugin_utils._chain import (
    Hop,
    MultihopError,
    ResolvedHost,
    chain_digest,
)
from ansible_collections.jumphosts.multihop.plugins.plugin_utils._known_hosts import pinned_known_hosts_path
from ansible_collections.jumphosts.multihop.plugins.plugin_utils._record import record

# OpenSSH appends ".XXXXXXXXXXXXXXXX" to a ControlPath while it creates the socket; sun_path holds 108 bytes.
MAX_CONTROL_PATH = 108 - 1 - 17


@record
class RuntimeSettings:
    """Lines that only matter when the plugin itself runs ssh."""

    control_dir: str
    config_path: str
    control_persist: str = '60s'
    connect_timeout: int | None = None
    ssh_executable: str = 'ssh'
    # The user's own -F files: they replace ~/.ssh/config and /etc/ssh/ssh_config, as -F does for plain ssh.
    user_configs: tuple[str, ...] = ()


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


def hop_options(hop: Hop, route: tuple[str, str] | None, *, forward_agent: bool = False,
                pinned_file: str | None = None) -> list[tuple[str, str]]:
    """The lines that describe one hop, for people and for the plugin alike.

    ``pinned_file`` holds the hop's pinned keys (multihop_known_hosts): then they are the only keys it may
    have, checked strictly, ahead of anything the hop's own options say (ssh takes the first value).
    """
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
    named_files = hop_keywords.named_known_hosts_files(hop.options)
    if pinned_file or named_files:
        # ssh must never add keys to pins or to a file the inventory names, whatever the user's config says.
        options.append(('UpdateHostKeys', 'no'))
    if pinned_file:
        options += [('StrictHostKeyChecking', 'yes'), ('UserKnownHostsFile', pinned_file),
                    ('GlobalKnownHostsFile', 'none')]
    elif hop.disables_host_key_checking and named_files:
        # Checking off makes ssh add every key it sees to the first known-hosts file: not to one inventory named.
        options += [('StrictHostKeyChecking', 'no'), ('UserKnownHostsFile', '/dev/null')]
    elif hop.host_key_checking is False:
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
        pinned = pinned_known_hosts_path(runtime.control_dir, hop) if runtime and hop.known_hosts else None
        options = hop_options(hop, route, forward_agent=forward_agent, pinned_file=pinned)
        if runtime:
            options += runtime_options(hops[:index + 1], runtime)
        blocks.append(render_block(hop.alias, options))
    return '\n'.join(blocks)


def render_plugin_config(hops: tuple[Hop, ...], runtime: RuntimeSettings, *, forward_agent: bool = False) -> str:
    """The private config the plugin passes with ``-F``; the user's own files still apply after it."""
    header = (f'# Generated by jumphosts.multihop for route {chain_digest(hops)}. Do not edit.\n'
              '# First value wins: these hops are described first, the user\'s own files still apply after them.\n\n')
    user_files = runtime.user_configs or ('~/.ssh/config', '/etc/ssh/ssh_config')
    footer = '\nHost *\n' + ''.join(gate.ssh_config_line('Include', path) + '\n' for path in user_files)
    return header + render_hops(hops, forward_agent=forward_agent, runtime=runtime) + footer


def render_host_block(resolved: ResolvedHost, *, forward_agent: bool = False, patterns: tuple[str, ...] = (),
                      ssh_executable: str = 'ssh', config_path: str | None = None) -> str:
    """The Host block of an inventory host itself, reached along its route (hops named by alias)."""
    route = route_option(resolved.hops, ssh_executable=ssh_executable, config_path=config_path)
    options = hop_options(resolved.endpoint, route, forward_agent=forward_agent)
    return render_block(resolved.endpoint.alias, options, patterns)
