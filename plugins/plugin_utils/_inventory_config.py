# Copyright (c) 2026, jumphosts.multihop contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""ssh_config for people: one file with a Host block for many inventory hosts and every hop on their routes.

Pure logic, no I/O. Used by the ``ssh_config`` filter and role. Each block is built from the same
pieces as the connection plugin's route config (``_render``), without its run-time lines.
"""

from __future__ import annotations

import fnmatch
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass

from ansible_collections.jumphosts.multihop.plugins.plugin_utils import _gate as gate
from ansible_collections.jumphosts.multihop.plugins.plugin_utils._chain import MultihopError, ResolvedHost, hop_label
from ansible_collections.jumphosts.multihop.plugins.plugin_utils._render import (
    MAX_CONTROL_PATH,
    hop_options,
    render_block,
    route_option,
)

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
