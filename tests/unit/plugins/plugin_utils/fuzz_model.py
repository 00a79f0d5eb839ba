"""What test_fuzz_rendering.py expects: the settings an inventory means, derived without the collection's code.

Only used once the collection has accepted an inventory: a value it accepted must mean exactly what it says.
"""

from __future__ import annotations

import ipaddress
import os
import pwd
import re
import shlex
import socket
from dataclasses import dataclass, field

# The classification of keywords for hops is policy, not rendering: the model takes it from the gate.
from ansible_collections.jumphosts.multihop.plugins.plugin_utils._hop_keywords import IGNORED_ON_HOPS

NO_KNOWN_HOSTS = frozenset(('/dev/null', 'none'))
MULTI_WORD = frozenset(('userknownhostsfile', 'globalknownhostsfile', 'ipqos', 'rekeylimit'))
TRUE = frozenset(('1', 'true', 'yes', 'on', 'y', 't'))
# How ssh -G prints StrictHostKeyChecking, and the keywords it prints under another name.
STRICT = {'yes': 'true', 'true': 'true', 'no': 'false', 'off': 'false', 'false': 'false', 'ask': 'ask',
          'accept-new': 'accept-new'}
PRINTED_AS = {'pubkeyacceptedkeytypes': 'pubkeyacceptedalgorithms'}
# Keywords whose value also changes the default of others (BatchMode yes: ServerAliveInterval 300...).
ALSO_SETS = {'batchmode': ('serveraliveinterval',), 'userknownhostsfile': ('updatehostkeys',),
             'verifyhostkeydns': ('updatehostkeys',)}
# Stands for %h and %p in a ProxyCommand's words: a character no accepted word can hold (they are ASCII).
TOKEN = '\ue000'


class Words(tuple):
    """A ProxyCommand, as the words its shell must see (%h and %p as TOKEN + 'h' / 'p')."""


@dataclass(frozen=True)
class ControlPath:
    """A ControlPath whose file name the renderer chooses: ``regex`` is what ssh -G must print."""

    regex: str


@dataclass
class Want:
    """One ssh server on a route (a hop or the target), as the inventory describes it."""

    name: str
    alias: str
    host: str
    port: int | None = None
    user: str | None = None
    key: str | None = None
    type: str = 'ssh'
    hkc: bool | None = None
    password: str | None = None
    options: list = field(default_factory=list)

    @property
    def destination(self) -> str:
        port = self.port or (1080 if self.type == 'socks5' else 22)
        return f'[{self.host}]:{port}' if ':' in self.host else f'{self.host}:{port}'


def set_value(value):
    return None if value is None or value == '' else value


def host(value: str) -> str:
    """An accepted host as OpenSSH should get it: brackets off, IPv6 in its canonical form."""
    value = value[1:-1] if value.startswith('[') and value.endswith(']') else value
    return str(ipaddress.IPv6Address(value)) if ':' in value else value


def same_host(printed: str, wanted: str) -> bool:
    """ssh -G lowercases names, and writes numeric hosts (0, 127.1, ::ffff:0:0) its own way."""
    if printed.lower() == wanted.lower():
        return True
    try:
        addresses = ipaddress.ip_address(printed), ipaddress.ip_address(wanted)
        return len({getattr(a, 'ipv4_mapped', None) or a for a in addresses}) == 1  # ssh writes ::ffff:a.b.c.d as IPv4
    except ValueError:
        pass
    try:
        return socket.inet_ntoa(socket.inet_aton(wanted)) == printed
    except OSError:
        return False


def time(value) -> str:
    text = str(value).strip()
    return text.lower() if text.lower() in ('yes', 'no') else text


def port(value) -> int | None:
    return None if set_value(value) is None else int(str(value).strip())


def boolean(value) -> bool | None:
    if set_value(value) is None or isinstance(value, bool):
        return set_value(value)
    return str(value).strip().lower() in TRUE


def options(args, only_options: bool = True) -> list[tuple[str, str]]:
    """``-o Key=Value`` and ``-i FILE`` as ssh reads them from its command line, less what hops ignore.

    Any other word is refused where it was written for the hop (``only_options``) and ignored in
    ``ansible_ssh_common_args`` and ``ansible_ssh_extra_args``.
    """
    if not args:  # nothing to read, whatever its type
        return []
    tokens = shlex.split(args) if isinstance(args, str) else list(args)
    result = []
    while tokens:
        token = tokens.pop(0)
        if token[:2] not in ('-o', '-i') or (token in ('-o', '-i') and not tokens):
            assert not only_options, f'accepted ssh argument {token!r}'
            continue
        text = token[2:] or tokens.pop(0)
        if token.startswith('-i'):
            result.append(('IdentityFile', text))
            continue
        key, sep, value = text.partition('=')
        if not sep:
            key, _space, value = text.strip().partition(' ')
        key, value = key.strip(), value.strip()
        if key.lower() in ('bindaddress', 'hostkeyalias'):  # the host grammar: as HostName
            value = host(value)
        if key.lower() in IGNORED_ON_HOPS or (key.lower() == 'forwardagent' and value.lower() == 'no'):
            continue
        result.append((key, value))
    return result


def args_of(values: dict) -> list[tuple[str, str]]:
    """A host's ansible_ssh_common_args and ansible_ssh_extra_args, as its hops read them."""
    return (options(values.get('ansible_ssh_common_args'), only_options=False)
            + options(values.get('ansible_ssh_extra_args'), only_options=False))


def inline_alias(hop_host: str, hop_port: int | None) -> str:
    return 'multihop-' + re.sub(r'[^A-Za-z0-9.-]', '-', hop_host) + (f'-{hop_port}' if hop_port else '')


def from_vars(name: str, values: dict, with_options: bool = True) -> Want:
    """An inventory host (a hop or a target); the connection plugin leaves a target's ssh arguments to ssh."""
    def first(*names):
        return next((values[n] for n in names if set_value(values.get(n)) is not None), None)

    return Want(name, name, host(first('ansible_host', 'ansible_ssh_host') or name),
                port(first('ansible_port', 'ansible_ssh_port')), set_value(first('ansible_user', 'ansible_ssh_user')),
                set_value(first('ansible_ssh_private_key_file')), set_value(values.get('multihop_type')) or 'ssh',
                boolean(first('ansible_ssh_host_key_checking', 'ansible_host_key_checking')),
                set_value(values.get('ansible_password')), args_of(values) if with_options else [])


def from_spec(spec, owner: dict) -> Want:
    """A hop that is not an inventory host: a mapping or ``[user@]host[:port]``. Unless it is a SOCKS proxy, it
    inherits the ssh arguments and host-key checking of the host that names it (``owner``), after its own."""
    if isinstance(spec, str):
        user, at, rest = spec.rpartition('@')
        if rest.startswith('['):
            hop_host, _bracket, tail = rest[1:].partition(']')
        else:
            hop_host, _colon, tail = rest.partition(':')
            tail = ':' + tail if tail else ''
        spec = {'host': hop_host, 'user': user if at else None, 'port': tail[1:] or None}
    hop_host, hop_port = host(spec['host']), port(spec.get('port'))
    hop_type = set_value(spec.get('type')) or 'ssh'
    hkc = boolean(spec.get('host_key_checking'))
    own = options(spec.get('ssh_args'))
    if hop_type != 'socks5':
        own += args_of(owner)
        if hkc is None:
            hkc = boolean(next((owner[n] for n in ('ansible_ssh_host_key_checking', 'ansible_host_key_checking')
                                if set_value(owner.get(n)) is not None), None))
    return Want(hop_host, inline_alias(hop_host, hop_port), hop_host, hop_port, set_value(spec.get('user')),
                set_value(spec.get('private_key_file')), hop_type, hkc, set_value(spec.get('password')), own)


def chain(via, inventory: dict, owner: dict) -> list[Want]:
    """The hops a ``multihop_via`` stands for; only the first hop's own route is followed. ``owner`` is the
    variables of the host whose ``multihop_via`` it is."""
    specs = via if isinstance(via, list) else [via] if set_value(via) is not None else []
    hops = []
    for index, spec in enumerate(specs):
        if isinstance(spec, str) and spec in inventory:
            hops += chain(inventory[spec].get('multihop_via'), inventory, inventory[spec]) if index == 0 else []
            hops.append(from_vars(spec, inventory[spec]))
        else:
            hops.append(from_spec(spec, owner))
    return hops


def route(prev: Want | None, ssh_executable: str, config_path: str | None):
    if prev is None:
        return None
    if prev.type == 'ssh':
        return 'ProxyJump', prev.alias
    if prev.type == 'socks5':
        return 'ProxyCommand', Words(('nc', '-X', '5', '-x', prev.destination, TOKEN + 'h', TOKEN + 'p'))
    config = ['-F', config_path] if config_path else []
    return 'ProxyCommand', Words((ssh_executable, *config, prev.alias, 'nc', TOKEN + 'h', TOKEN + 'p'))


def block(hop: Want, prev: Want | None, *, forward_agent: bool = False, ssh_executable: str = 'ssh',
          config_path: str | None = None) -> list[tuple[str, object]]:
    """The lines of a hop's Host block, in order: ssh keeps the first value of most keywords."""
    lines: list[tuple[str, object]] = [('HostName', hop.host)]
    lines += [('Port', str(hop.port))] if hop.port else []
    lines += [('User', hop.user)] if hop.user else []
    lines += [('IdentityFile', hop.key), ('IdentitiesOnly', 'yes')] if hop.key else []
    lines += [r for r in [route(prev, ssh_executable, config_path)] if r]
    lines.append(('ForwardAgent', 'yes' if forward_agent else 'no'))
    first = {}
    for key, value in hop.options:
        first.setdefault(key.lower(), value)
    named = [f for f in first.get('userknownhostsfile', '').split() if f not in NO_KNOWN_HOSTS]
    strict = first.get('stricthostkeychecking', '').lower()
    off = hop.hkc is False or strict in ('no', 'off', 'false') or (
        strict == 'accept-new' and 'userknownhostsfile' in first and not named)
    if named:  # ssh must never add keys to a file the inventory names
        lines.append(('UpdateHostKeys', 'no'))
    if off and named:
        lines += [('StrictHostKeyChecking', 'no'), ('UserKnownHostsFile', '/dev/null')]
    elif hop.hkc is False:
        lines.append(('StrictHostKeyChecking', 'no'))
    elif 'stricthostkeychecking' not in first:
        lines.append(('StrictHostKeyChecking', 'yes'))
    return lines + hop.options


def expand_home(path: str) -> str:
    """``~/`` and ``~user/`` as ssh expands them (from the password database, not $HOME)."""
    if not path.startswith('~'):
        return path
    name, slash, rest = path[1:].partition('/')
    try:
        home = pwd.getpwnam(name).pw_dir if name else pwd.getpwuid(os.getuid()).pw_dir
    except KeyError:
        return path  # ssh refuses it: "No such user"
    return home + slash + rest


def unquoted(text: str) -> str:
    return text[1:-1] if len(text) > 1 and text[0] == text[-1] == '"' else text


def runtime_lines(hop: Want, control_dir: str, persist: str, connect_timeout) -> list[tuple[str, object]]:
    """What the connection plugin adds to a hop's block."""
    lines = [('ControlMaster', 'auto'),
             ('ControlPath', ControlPath(re.escape(os.path.join(expand_home(control_dir), 'mh-')) + '[0-9a-f]{16}')),
             ('ControlPersist', time(persist)), ('BatchMode', 'yes')]
    lines += [('ConnectTimeout', str(connect_timeout))] if connect_timeout else []
    return lines + ([] if hop.password else [('PasswordAuthentication', 'no'), ('KbdInteractiveAuthentication', 'no')])


def control_lines(control_dir: str, persist) -> list[tuple[str, object]]:
    """What the ssh_config filter adds to every block with control_master on (%C: 40 hex digits)."""
    directory = re.escape(expand_home(control_dir).rstrip('/'))
    return [('ControlMaster', 'auto'), ('ControlPath', ControlPath(directory + '/mh-[0-9a-f]{10}-[0-9a-f]{40}')),
            ('ControlPersist', time(persist))]


def percent_expand(command: str, host: str, port: str) -> str:
    """A ProxyCommand as ssh hands it to the shell: %% is %, %h and %p the host and port, nothing else allowed."""
    text, index = [], 0
    while index < len(command):
        if command[index] == '%':
            token = command[index + 1:index + 2]
            assert token in ('%', 'h', 'p'), f'ssh would expand %{token} in ProxyCommand {command!r}'
            text.append({'%': '%', 'h': host, 'p': port}[token])
            index += 2
        else:
            text.append(command[index])
            index += 1
    return ''.join(text)


def proxy_words(command: str) -> tuple[str, ...]:
    """The words the shell sees in a ProxyCommand (shlex), %h and %p kept as TOKEN + 'h' / 'p'."""
    return tuple(shlex.split(percent_expand(command, TOKEN + 'h', TOKEN + 'p')))


def ssh_option(key: str, value: str) -> str:
    """``Key=Value`` for ``ssh -o``, where a value of one word with spaces needs double quotes."""
    quoted = ' ' in value and key.lower() not in MULTI_WORD and key.lower() != 'proxycommand'
    return f'{key}="{value}"' if quoted else f'{key}={value}'
