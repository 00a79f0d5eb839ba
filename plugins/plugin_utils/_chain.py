# Copyright (c) 2026, jumphosts.multihop contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The chain model: parse, validate and resolve ``multihop_via`` into hops.

Pure logic, no I/O. Everything that comes from inventory is untrusted: it is
validated here, before it can reach an ssh command line or a config file.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Callable, Mapping

from ansible_collections.jumphosts.multihop.plugins.plugin_utils import _gate as gate
from ansible_collections.jumphosts.multihop.plugins.plugin_utils import _hop_keywords as hop_keywords
from ansible_collections.jumphosts.multihop.plugins.plugin_utils._errors import MultihopError, VariableError, shown
from ansible_collections.jumphosts.multihop.plugins.plugin_utils._hop_string import (
    inline_alias,
    is_bare_name,
    parse_hop_string,
)
from ansible_collections.jumphosts.multihop.plugins.plugin_utils._record import field, record
from ansible_collections.jumphosts.multihop.plugins.plugin_utils._ssh_args import parse_ssh_args

HOP_TYPES = ('ssh', 'netcat', 'socks5')
DEFAULT_SOCKS_PORT = 1080

# Inventory variables a hop that is an inventory host takes its settings from, first match wins.
HOP_VARS = {
    'host': ('ansible_host', 'ansible_ssh_host'),
    'port': ('ansible_port', 'ansible_ssh_port'),
    'user': ('ansible_user', 'ansible_ssh_user'),
    'private_key_file': ('ansible_ssh_private_key_file', 'ansible_private_key_file'),
    'password': ('ansible_password', 'ansible_ssh_pass', 'ansible_ssh_password'),
    'host_key_checking': ('ansible_ssh_host_key_checking', 'ansible_host_key_checking'),
    'type': ('multihop_type',),
    'known_hosts': ('multihop_known_hosts',),
}
HOP_ARGS_VARS = ('ansible_ssh_common_args', 'ansible_ssh_extra_args')
VIA_VAR = 'multihop_via'
MAPPING_KEYS = frozenset(('host', 'port', 'user', 'private_key_file', 'password', 'ssh_args', 'type',
                          'host_key_checking', 'known_hosts'))

_TRUE = frozenset(('1', 'true', 'yes', 'on', 'y', 't'))
_FALSE = frozenset(('0', 'false', 'no', 'off', 'n', 'f'))


@record
class Hop:
    """One server on the way to a host, in order from the controller outward."""

    name: str
    alias: str
    host: str
    port: int | None = None
    user: str | None = None
    private_key_file: str | None = None
    password: str | None = field(default=None, repr=False, compare=False)
    type: str = 'ssh'
    options: tuple[tuple[str, str], ...] = ()
    host_key_checking: bool | None = None
    # Pinned host keys (multihop_known_hosts), checked lines: when set, the only keys this hop may have.
    known_hosts: tuple[str, ...] = ()
    sources: tuple[tuple[str, str], ...] = field(default=(), compare=False)
    # What the hop's ssh arguments hold that only concerns a target's session: keywords (see
    # _hop_keywords.IGNORED_ON_HOPS) and flags such as -C or -F.
    ignored_options: tuple[str, ...] = field(default=(), compare=False)

    @property
    def effective_port(self) -> int:
        return self.port or (DEFAULT_SOCKS_PORT if self.type == 'socks5' else 22)

    @property
    def destination(self) -> str:
        """``host:port`` as OpenSSH dials it, IPv6 in brackets."""
        host = f'[{self.host}]' if ':' in self.host else self.host
        return f'{host}:{self.effective_port}'

    @property
    def address(self) -> str:
        """``user@host:port`` as shown in messages."""
        return f'{self.user}@{self.destination}' if self.user else self.destination

    @property
    def identity(self) -> str:
        """What makes two hops the same connection; says whether a password is set, never what it is."""
        return repr((self.type, self.host, self.port, self.user, self.private_key_file, self.options,
                     self.host_key_checking, self.known_hosts, self.password is not None))

    @property
    def disables_host_key_checking(self) -> bool:
        """Any setting that makes OpenSSH accept an unknown or changed key, whatever its spelling.

        Pinned keys win over such settings: the hop is then checked strictly against them alone.
        """
        return not self.known_hosts and hop_keywords.host_key_checking_off(self.options, self.host_key_checking)


@record
class ResolvedHost:
    """An inventory host with the hops in front of it."""

    endpoint: Hop
    hops: tuple[Hop, ...]


def chain_digest(hops: tuple[Hop, ...], *extra: object) -> str:
    """A short stable name for a route, used for control sockets and config files."""
    text = '\n'.join([h.identity for h in hops] + [repr(e) for e in extra])
    return hashlib.sha256(text.encode('utf-8')).hexdigest()[:16]


def hop_label(hops: tuple[Hop, ...], index: int) -> str:
    """``hop 2/3 bastion2 jump2@10.0.0.2:2222``: counts the target as the last element."""
    hop = hops[index]
    return f'hop {index + 1}/{len(hops) + 1} {hop.name} {hop.address}'


# --- validation -------------------------------------------------------------------------------------------

def validate_bool(value: object, what: str, where: str, *, reveal: bool = True) -> bool | None:
    if value is None or value == '':
        return None
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower() if isinstance(value, (str, int)) else None
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise MultihopError(f'{where}: {what} must be a boolean, got {shown(value, reveal)}')


def validate_type(value: object, where: str) -> str:
    if value is None or value == '':
        return 'ssh'
    if not isinstance(value, str) or value not in HOP_TYPES:
        raise MultihopError(f'{where}: unknown hop type {shown(value)}, expected one of {", ".join(HOP_TYPES)}')
    return value


# --- resolution -------------------------------------------------------------------------------------------

HostLookup = Callable[[str], 'Mapping[str, object] | None']
TEMPLATE_MARKERS = ('{{', '{%')


def _first(hostvars: Mapping[str, object], names: tuple[str, ...]) -> tuple[object, str | None]:
    for name in names:
        if name in hostvars:
            value = hostvars[name]
            if value is not None and value != '':
                return value, name
    return None, None


def is_templated(hostvars: Mapping[str, object], name: str | None) -> bool:
    """Whether a variable came from a template: then a rejected value is not shown (a lookup may hold a secret).

    A lookup that knows the raw value offers ``templated(name)`` (see ``_inventory``); a plain mapping,
    as in tests, holds values as written.
    """
    templated = getattr(hostvars, 'templated', None)
    return bool(name and templated and templated(name))


@record
class _HopInput:
    """A hop's raw settings, where they came from, and which of them may be shown in an error."""

    values: Mapping[str, object]
    options: tuple[tuple[str, str], ...]
    sources: tuple[tuple[str, str], ...]
    hidden: frozenset[str] = frozenset()
    ignored: tuple[str, ...] = ()


class _Resolver:
    """Walks ``multihop_via`` recursively, detecting cycles and unknown hosts."""

    def __init__(self, lookup: HostLookup):
        self._lookup = lookup
        self._cache: dict[str, Mapping[str, object] | None] = {}

    def vars_of(self, name: str) -> Mapping[str, object] | None:
        if name not in self._cache:
            self._cache[name] = self._lookup(name)
        return self._cache[name]

    def hops_for(self, owner: str, via: object, stack: tuple[str, ...]) -> tuple[Hop, ...]:
        if via is None or via == '' or via == []:
            return ()
        specs = via if isinstance(via, (list, tuple)) else [via]
        hops: list[Hop] = []
        for index, spec in enumerate(specs):
            where = f'host {stack[0]}: {VIA_VAR}[{index}] of {owner}' if len(stack) > 1 else \
                f'host {owner}: {VIA_VAR}[{index}]'
            with guarded(where):
                hops.extend(self._hops_of_spec(owner, spec, index, stack, where))
        seen: set[str] = set()
        for hop in hops:
            if hop.alias in seen:
                raise MultihopError(f'host {stack[0]}: {VIA_VAR} passes through {hop.name} twice')
            seen.add(hop.alias)
        for index, hop in enumerate(hops):
            if hop.type == 'socks5' and index != 0:
                raise MultihopError(f'host {stack[0]}: {hop_label(tuple(hops), index)}: a socks5 hop must be the '
                                    'first hop, reached directly from the controller')
        return tuple(hops)

    def _hops_of_spec(self, owner: str, spec: object, index: int, stack: tuple[str, ...], where: str) -> list[Hop]:
        """The hops one entry of ``multihop_via`` stands for: an inventory host's own route, then the host."""
        reveal = not is_templated(self.vars_of(owner) or {}, VIA_VAR)
        if isinstance(spec, str) and self.vars_of(spec) is not None:
            if spec in stack:
                raise MultihopError(f'host {stack[0]}: {VIA_VAR} has a cycle: ' + ' -> '.join(stack + (spec,)))
            hops: list[Hop] = []
            if index == 0:
                # Only the first hop's own route applies; later hops are reached through the list itself.
                hops.extend(self.hops_for(spec, self.vars_of(spec).get(VIA_VAR), stack + (spec,)))
            return [*hops, self.inventory_hop(spec, where)]
        if isinstance(spec, str):
            if is_bare_name(spec):
                raise MultihopError(f'{where}: {shown(spec, reveal)} is not an inventory host (to use a DNS name '
                                    'directly, write it as user@name, name:port or {host: name})')
            return [self.inline_hop(parse_hop_string(spec, where, reveal=reveal), where, 'string', reveal, owner)]
        if isinstance(spec, Mapping):
            unknown = sorted(shown(key, reveal) for key in set(spec) - MAPPING_KEYS)
            if unknown:
                raise MultihopError(f'{where}: unknown key(s) {", ".join(unknown)} in hop; allowed: '
                                    + ', '.join(sorted(MAPPING_KEYS)))
            return [self.inline_hop(spec, where, 'mapping', reveal, owner)]
        raise MultihopError(f'{where}: a hop must be an inventory hostname, a "[user@]host[:port]" string '
                            f'or a mapping, got {type(spec).__name__}')

    def inventory_hop(self, name: str, where: str) -> Hop:
        where = f'{where} ({name})'
        values: dict[str, object] = {}
        sources = []
        hidden = set()
        hostvars = self.vars_of(name) or {}
        with guarded(where):
            for key, names in HOP_VARS.items():
                value, source = _first(hostvars, names)
                values[key] = value
                if source:
                    sources.append((key, f'hostvars[{name}].{source}'))
                if is_templated(hostvars, source):
                    hidden.add(key)
            if values['host'] is None:
                values['host'] = name
                sources.append(('host', 'inventory_hostname'))
            options, ignored, arg_sources = _ssh_args_of(name, hostvars, where)
            hop_input = _HopInput(values, options, tuple(sources) + arg_sources, frozenset(hidden), ignored)
            return self.make_hop(name, gate.check_alias(name, where), hop_input, where)

    def inline_hop(self, spec: Mapping[str, object], where: str, kind: str, reveal: bool, owner: str) -> Hop:
        """A hop written in place. It has no variables of its own, so it inherits the connection defaults of
        the host that names it (its ssh arguments, host-key checking and pinned keys); its own come first and win."""
        values = {key: spec.get(key) for key in HOP_VARS}
        host = gate.check_host(values['host'], where, reveal=reveal)
        port = gate.check_port(values['port'], where, reveal=reveal)
        options, ignored = parse_ssh_args(spec.get('ssh_args'), f'{where} ssh_args', reveal=reveal)
        sources = tuple((key, f'{VIA_VAR} ({kind})') for key in HOP_VARS if spec.get(key) is not None)
        hidden = set() if reveal else set(HOP_VARS)
        if values['type'] != 'socks5':  # a SOCKS proxy takes no ssh settings
            owner_vars = self.vars_of(owner) or {}
            inherited, inherited_ignored, inherited_sources = _ssh_args_of(owner, owner_vars, where, 'inherited ')
            options, ignored, sources = options + inherited, ignored + inherited_ignored, sources + inherited_sources
            for key in ('host_key_checking', 'known_hosts'):
                if values[key] is None:
                    values[key], source = _first(owner_vars, HOP_VARS[key])
                    if source:
                        sources += ((key, f'hostvars[{owner}].{source} (inherited)'),)
                        if is_templated(owner_vars, source):
                            hidden.add(key)
        hop_input = _HopInput(values, options, sources, frozenset(hidden), ignored)
        return self.make_hop(host, inline_alias(host, port), hop_input, where)

    @staticmethod
    def make_hop(name: str, alias: str, hop_input: _HopInput, where: str) -> Hop:
        values = hop_input.values

        def reveal(key: str) -> bool:
            return key not in hop_input.hidden

        hop_type = validate_type(values['type'], where)
        hop = Hop(
            name=name,
            alias=alias,
            host=gate.check_host(values['host'], where, reveal=reveal('host')),
            port=gate.check_port(values['port'], where, reveal=reveal('port')),
            user=gate.check_user(values['user'], where, reveal=reveal('user')),
            private_key_file=gate.check_path(values['private_key_file'], 'private key file', where,
                                             reveal=reveal('private_key_file')),
            password=gate.check_password(values['password'], where),
            type=hop_type,
            options=hop_input.options,
            ignored_options=hop_input.ignored,
            host_key_checking=validate_bool(values['host_key_checking'], 'host key checking', where,
                                            reveal=reveal('host_key_checking')),
            known_hosts=gate.check_known_hosts_lines(values['known_hosts'], where, reveal=reveal('known_hosts')),
            sources=hop_input.sources,
        )
        hop_keywords.check_known_hosts_writes(hop.options, where)
        if hop_type == 'socks5' and (hop.user or hop.password or hop.private_key_file or hop.options
                                     or hop.known_hosts):
            raise MultihopError(f'{where}: a socks5 hop takes only host and port')
        return hop


def _ssh_args_of(name: str, hostvars: Mapping[str, object], where: str, how: str = ''):
    """(options, ignored keywords, sources) from a host's ``ansible_ssh_common_args`` and ``ansible_ssh_extra_args``."""
    options: tuple[tuple[str, str], ...] = ()
    ignored: tuple[str, ...] = ()
    sources: tuple[tuple[str, str], ...] = ()
    for var in HOP_ARGS_VARS:
        if hostvars.get(var):
            label = f'{where} {how}{var} of {name}' if how else f'{where} {var}'
            more, dropped = parse_ssh_args(hostvars[var], label, reveal=not is_templated(hostvars, var),
                                           only_options=False)
            options, ignored = options + more, ignored + dropped
            sources += (('options', f'hostvars[{name}].{var}' + (' (inherited)' if how else '')),)
    return options, ignored, sources


@contextlib.contextmanager
def guarded(where: str):
    """Any other failure while reading or checking a hop becomes a MultihopError that says where, never what."""
    try:
        yield
    except MultihopError:
        raise
    except VariableError as e:
        raise MultihopError(f'{where}: {e}') from None
    except (ValueError, TypeError, LookupError, AttributeError) as e:
        raise MultihopError(f'{where}: cannot use this hop ({type(e).__name__})') from None


def resolve_hops(owner: str, via: object, lookup: HostLookup) -> tuple[Hop, ...]:
    """The hops in front of ``owner``, whose ``multihop_via`` is ``via``.

    ``lookup(name)`` returns an inventory host's variables (templated on access) or None when
    ``name`` is not an inventory host.
    """
    return _Resolver(lookup).hops_for(owner, via, (owner,))


def resolve_host(name: str, lookup: HostLookup) -> ResolvedHost:
    """An inventory host as an endpoint, with its whole route; used to render ssh_config for it."""
    resolver = _Resolver(lookup)
    with guarded(f'host {name}'):
        hostvars = resolver.vars_of(name)
        if hostvars is None:
            raise MultihopError(f'host {name}: not in the inventory')
        hops = resolver.hops_for(name, hostvars.get(VIA_VAR), (name,))
    return ResolvedHost(endpoint=resolver.inventory_hop(name, f'host {name}'), hops=hops)


def endpoint_hop(name: str, host: object, port: object, user: object, *, private_key_file: object = None,
                 password: object = None, options: tuple[tuple[str, str], ...] = (),
                 host_key_checking: bool | None = None, known_hosts: object = None, reveal: bool = True) -> Hop:
    """A target that is not read from inventory (the connection's own settings), checked as hops are.

    ``reveal=False`` when the values may have come from a template: then a rejected one is not shown.
    """
    where = f'host {name}'
    with guarded(where):
        values = {'host': host, 'port': port, 'user': user, 'private_key_file': private_key_file,
                  'password': password, 'type': 'ssh', 'host_key_checking': host_key_checking,
                  'known_hosts': known_hosts}
        hidden = frozenset() if reveal else frozenset(values)
        return _Resolver.make_hop(name, 'target', _HopInput(values, options, (), hidden), where)
