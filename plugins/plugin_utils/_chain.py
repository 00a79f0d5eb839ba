# Copyright (c) 2026, jumphosts.multihop contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The chain model: parse, validate and resolve ``multihop_via`` into hops.

Pure logic, no I/O. Everything that comes from inventory is untrusted: it is
validated here, before it can reach an ssh command line or a config file.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
import shlex
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

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
}
HOP_ARGS_VARS = ('ansible_ssh_common_args', 'ansible_ssh_extra_args')
VIA_VAR = 'multihop_via'
MAPPING_KEYS = frozenset(('host', 'port', 'user', 'private_key_file', 'password', 'ssh_args', 'type',
                          'host_key_checking'))

# ssh_config keywords a hop may set through ssh_args. Anything that runs a command, changes the
# route or includes files is refused; connection sharing is ours to manage.
ALLOWED_HOP_OPTIONS = frozenset(k.lower() for k in (
    'AddressFamily', 'BindAddress', 'CASignatureAlgorithms', 'CertificateFile', 'CheckHostIP', 'Ciphers',
    'Compression', 'ConnectionAttempts', 'ConnectTimeout', 'FingerprintHash', 'GSSAPIAuthentication',
    'HashKnownHosts', 'HostbasedAcceptedAlgorithms', 'HostKeyAlgorithms', 'HostKeyAlias', 'IdentitiesOnly',
    'IdentityAgent', 'IdentityFile', 'IPQoS', 'KbdInteractiveAuthentication', 'KexAlgorithms', 'LogLevel',
    'MACs', 'NumberOfPasswordPrompts', 'PasswordAuthentication', 'PreferredAuthentications',
    'PubkeyAcceptedAlgorithms', 'PubkeyAcceptedKeyTypes', 'PubkeyAuthentication', 'RekeyLimit',
    'RequiredRSASize', 'ServerAliveCountMax', 'ServerAliveInterval', 'StrictHostKeyChecking', 'TCPKeepAlive',
    'UpdateHostKeys', 'UserKnownHostsFile', 'VerifyHostKeyDNS',
))
MANAGED_HOP_OPTIONS = frozenset(('controlmaster', 'controlpath', 'controlpersist'))
ROUTE_OPTIONS = frozenset(('proxycommand', 'proxyjump'))

_HOSTNAME_RE = re.compile(r'^[A-Za-z0-9_](?:[A-Za-z0-9._-]*[A-Za-z0-9_])?$')
_USER_RE = re.compile(r'^[A-Za-z0-9_][A-Za-z0-9._-]*\$?$')
_ALIAS_RE = re.compile(r'^[A-Za-z0-9_][A-Za-z0-9._-]*$')
_OPTION_KEY_RE = re.compile(r'^[A-Za-z][A-Za-z0-9]*$')
_UNSAFE_VALUE_RE = re.compile(r'[\x00-\x1f\x7f"%]')
_TRUE = frozenset(('1', 'true', 'yes', 'on', 'y', 't'))
_FALSE = frozenset(('0', 'false', 'no', 'off', 'n', 'f'))


class MultihopError(ValueError):
    """Bad chain definition. The message names the host and, where known, the hop."""


@dataclass(frozen=True)
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
    sources: tuple[tuple[str, str], ...] = field(default=(), compare=False)

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
                     self.host_key_checking, self.password is not None))

    @property
    def disables_host_key_checking(self) -> bool:
        if self.host_key_checking is False:
            return True
        return any(k.lower() == 'stricthostkeychecking' and v.lower() in ('no', 'off')
                   for k, v in self.options)


@dataclass(frozen=True)
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

def validate_host(value: object, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise MultihopError(f'{where}: host must be a non-empty string, got {value!r}')
    candidate = value[1:-1] if value.startswith('[') and value.endswith(']') else value
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        pass
    if len(candidate) > 253 or not _HOSTNAME_RE.match(candidate):
        raise MultihopError(f'{where}: invalid host {value!r}: only letters, digits, ".", "-" and "_" are '
                            'allowed, and it may not start with "-"')
    return candidate


def validate_user(value: object, where: str) -> str | None:
    if value is None or value == '':
        return None
    if not isinstance(value, str) or len(value) > 64 or not _USER_RE.match(value):
        raise MultihopError(f'{where}: invalid user {value!r}: only letters, digits, ".", "-" and "_" are '
                            'allowed, and it may not start with "-"')
    return value


def validate_port(value: object, where: str) -> int | None:
    if value is None or value == '':
        return None
    if isinstance(value, bool):
        raise MultihopError(f'{where}: invalid port {value!r}')
    text = str(value).strip()
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise MultihopError(f'{where}: invalid port {value!r}: must be a number from 1 to 65535')
    return int(text)


def validate_value(value: object, what: str, where: str) -> str | None:
    """A free-form value (a path, an option value) that ends up in ssh_config."""
    if value is None or value == '':
        return None
    if not isinstance(value, str):
        raise MultihopError(f'{where}: {what} must be a string, got {type(value).__name__}')
    if _UNSAFE_VALUE_RE.search(value) or value.startswith('-'):
        raise MultihopError(f'{where}: invalid {what} {value!r}: control characters, double quotes, "%" and a '
                            'leading "-" are not allowed')
    return value


def validate_password(value: object, where: str) -> str | None:
    if value is None or value == '':
        return None
    if not isinstance(value, str) or '\n' in value or '\x00' in value:
        raise MultihopError(f'{where}: the password must be a single-line string')
    return value


def validate_bool(value: object, what: str, where: str) -> bool | None:
    if value is None or value == '':
        return None
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise MultihopError(f'{where}: {what} must be a boolean, got {value!r}')


def validate_type(value: object, where: str) -> str:
    if value is None or value == '':
        return 'ssh'
    if value not in HOP_TYPES:
        raise MultihopError(f'{where}: unknown hop type {value!r}, expected one of {", ".join(HOP_TYPES)}')
    return str(value)


def ssh_arg_options(tokens: list[str]):
    """``(key, value)`` for each ``-o Key=Value``, ``-o "Key Value"`` or ``-i FILE`` in ssh arguments.

    Any other argument gives ``(None, argument)``: callers decide whether to refuse or ignore it.
    """
    tokens = list(reversed(tokens))
    while tokens:
        token = tokens.pop()
        if token in ('-o', '-i') and tokens:
            option = tokens.pop() if token == '-o' else 'IdentityFile=' + tokens.pop()
        elif token.startswith(('-o', '-i')) and len(token) > 2:
            option = token[2:] if token.startswith('-o') else 'IdentityFile=' + token[2:]
        else:
            yield None, token
            continue
        key, sep, value = option.partition('=')
        if not sep:
            key, sep, value = option.strip().partition(' ')
        yield key.strip(), value.strip()


def parse_ssh_args(args: object, where: str) -> tuple[tuple[str, str], ...]:
    """Turn ``-o Key=Value`` arguments into ssh_config options, refusing anything else."""
    if args is None or args == '':
        return ()
    if isinstance(args, str):
        try:
            tokens = shlex.split(args)
        except ValueError as e:
            raise MultihopError(f'{where}: cannot parse ssh arguments {args!r}: {e}') from e
    elif isinstance(args, (list, tuple)) and all(isinstance(a, str) for a in args):
        tokens = list(args)
    else:
        raise MultihopError(f'{where}: ssh arguments must be a string or a list of strings')

    options = []
    for key, value in ssh_arg_options(tokens):
        if key is None:
            raise MultihopError(f'{where}: unsupported ssh argument {value!r}: a hop accepts only "-o Key=Value" '
                                'and "-i FILE"')
        if not _OPTION_KEY_RE.match(key) or not value:
            raise MultihopError(f'{where}: malformed ssh option {key}={value!r}, expected Key=Value')
        lowered = key.lower()
        if lowered in MANAGED_HOP_OPTIONS:
            continue  # hops always share one master connection; see the openssh backend
        if lowered in ROUTE_OPTIONS:
            raise MultihopError(f'{where}: {key} is not allowed in a hop\'s ssh arguments; describe the route '
                                'with multihop_via instead')
        if lowered == 'forwardagent':
            raise MultihopError(f'{where}: ForwardAgent is not allowed in a hop\'s ssh arguments; set '
                                'multihop_forward_agent instead')
        if lowered not in ALLOWED_HOP_OPTIONS:
            raise MultihopError(f'{where}: ssh option {key} is not allowed on a hop')
        options.append((key, validate_value(value, f'value of {key}', where)))
    return tuple(options)


# --- resolution -------------------------------------------------------------------------------------------

HostLookup = Callable[[str], 'Mapping[str, object] | None']


def _first(hostvars: Mapping[str, object], names: tuple[str, ...]) -> tuple[object, str | None]:
    for name in names:
        if name in hostvars:
            value = hostvars[name]
            if value is not None and value != '':
                return value, name
    return None, None


def _is_bare_name(spec: str) -> bool:
    """A name with no user, port or domain is meant to be an inventory host, never DNS."""
    if any(c in spec for c in '@:.[]'):
        return False
    try:
        ipaddress.ip_address(spec)
    except ValueError:
        return True
    return False


def _alias_for(name: str, where: str) -> str:
    if not _ALIAS_RE.match(name):
        raise MultihopError(f'{where}: inventory hostname {name!r} cannot be used as an ssh_config alias: '
                            'only letters, digits, ".", "-" and "_" are allowed')
    return name


def _inline_alias(host: str, port: int | None) -> str:
    return 'multihop-' + re.sub(r'[^A-Za-z0-9.-]', '-', host) + (f'-{port}' if port else '')


def parse_hop_string(spec: str, where: str) -> dict[str, object]:
    """``[user@]host[:port]``, IPv6 addresses in brackets."""
    if not spec or spec != spec.strip() or any(c.isspace() for c in spec):
        raise MultihopError(f'{where}: invalid hop {spec!r}: whitespace is not allowed')
    user, at, rest = spec.rpartition('@')
    if not at:
        user, rest = '', spec
    port: object = None
    if rest.startswith('['):
        host, bracket, tail = rest[1:].partition(']')
        if not bracket or (tail and not tail.startswith(':')):
            raise MultihopError(f'{where}: invalid hop {spec!r}: expected [IPv6] or [IPv6]:port')
        port = tail[1:] if tail else None
    elif rest.count(':') > 1:
        raise MultihopError(f'{where}: invalid hop {spec!r}: write IPv6 addresses in brackets, like [::1]:22')
    else:
        host, colon, port_text = rest.partition(':')
        port = port_text if colon else None
        if colon and not port_text:
            raise MultihopError(f'{where}: invalid hop {spec!r}: empty port')
    return {'host': host, 'port': port, 'user': user or None}


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
            if isinstance(spec, str) and self.vars_of(spec) is not None:
                if spec in stack:
                    raise MultihopError(f'host {stack[0]}: {VIA_VAR} has a cycle: '
                                        + ' -> '.join(stack + (spec,)))
                if index == 0:
                    # Only the first hop's own route applies; later hops are reached through the list itself.
                    hops.extend(self.hops_for(spec, self.vars_of(spec).get(VIA_VAR), stack + (spec,)))
                hops.append(self.inventory_hop(spec, where))
            elif isinstance(spec, str):
                if _is_bare_name(spec):
                    raise MultihopError(f'{where}: {spec!r} is not an inventory host (to use a DNS name '
                                        'directly, write it as user@name, name:port or {host: name})')
                hops.append(self.inline_hop(parse_hop_string(spec, where), where, 'string'))
            elif isinstance(spec, Mapping):
                unknown = sorted(set(spec) - MAPPING_KEYS)
                if unknown:
                    raise MultihopError(f'{where}: unknown key(s) {", ".join(map(str, unknown))} in hop; allowed: '
                                        + ', '.join(sorted(MAPPING_KEYS)))
                hops.append(self.inline_hop(spec, where, 'mapping'))
            else:
                raise MultihopError(f'{where}: a hop must be an inventory hostname, a "[user@]host[:port]" string '
                                    f'or a mapping, got {type(spec).__name__}')
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

    def inventory_hop(self, name: str, where: str) -> Hop:
        where = f'{where} ({name})'
        values: dict[str, object] = {}
        sources = []
        hostvars = self.vars_of(name) or {}
        for key, names in HOP_VARS.items():
            value, source = _first(hostvars, names)
            values[key] = value
            if source:
                sources.append((key, f'hostvars[{name}].{source}'))
        if values['host'] is None:
            values['host'] = name
            sources.append(('host', 'inventory_hostname'))
        options: tuple[tuple[str, str], ...] = ()
        for var in HOP_ARGS_VARS:
            if hostvars.get(var):
                options += parse_ssh_args(hostvars[var], f'{where} {var}')
                sources.append(('options', f'hostvars[{name}].{var}'))
        return self.make_hop(name, _alias_for(name, where), values, options, tuple(sources), where)

    def inline_hop(self, spec: Mapping[str, object], where: str, kind: str) -> Hop:
        values = {key: spec.get(key) for key in HOP_VARS}
        host = validate_host(values['host'], where)
        port = validate_port(values['port'], where)
        options = parse_ssh_args(spec.get('ssh_args'), f'{where} ssh_args')
        sources = tuple((key, f'{VIA_VAR} ({kind})') for key in HOP_VARS if spec.get(key) is not None)
        return self.make_hop(host, _inline_alias(host, port), values, options, sources, where)

    @staticmethod
    def make_hop(name: str, alias: str, values: Mapping[str, object], options: tuple[tuple[str, str], ...],
                 sources: tuple[tuple[str, str], ...], where: str) -> Hop:
        hop_type = validate_type(values['type'], where)
        hop = Hop(
            name=name,
            alias=alias,
            host=validate_host(values['host'], where),
            port=validate_port(values['port'], where),
            user=validate_user(values['user'], where),
            private_key_file=validate_value(values['private_key_file'], 'private key file', where),
            password=validate_password(values['password'], where),
            type=hop_type,
            options=options,
            host_key_checking=validate_bool(values['host_key_checking'], 'host key checking', where),
            sources=sources,
        )
        if hop_type == 'socks5' and (hop.user or hop.password or hop.private_key_file or hop.options):
            raise MultihopError(f'{where}: a socks5 hop takes only host and port')
        return hop


def resolve_hops(owner: str, via: object, lookup: HostLookup) -> tuple[Hop, ...]:
    """The hops in front of ``owner``, whose ``multihop_via`` is ``via``.

    ``lookup(name)`` returns an inventory host's variables (templated on access) or None when
    ``name`` is not an inventory host.
    """
    return _Resolver(lookup).hops_for(owner, via, (owner,))


def resolve_host(name: str, lookup: HostLookup) -> ResolvedHost:
    """An inventory host as an endpoint, with its whole route; used to render ssh_config for it."""
    resolver = _Resolver(lookup)
    hostvars = resolver.vars_of(name)
    if hostvars is None:
        raise MultihopError(f'host {name}: not in the inventory')
    hops = resolver.hops_for(name, hostvars.get(VIA_VAR), (name,))
    return ResolvedHost(endpoint=resolver.inventory_hop(name, f'host {name}'), hops=hops)
