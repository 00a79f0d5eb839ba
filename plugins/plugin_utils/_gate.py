# Copyright (c) 2026, jumphosts.multihop contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one gate for text that reaches an ssh_config, an sshd_config, a ProxyCommand or a command line.

Pure logic, no I/O. Each kind of value has a strict grammar (``check_*``), and each target syntax
has one quoting function (``ssh_config_line``, ``proxy_command``, ``sshd_config_line``). The
grammars admit no character that any of those syntaxes gives a meaning to: no whitespace where one
word is meant, no quotes, backslashes, ``#``, ``%``, ``$`` or control characters, and nothing
outside ASCII. Anything else is refused with a :class:`MultihopError` naming where it came from.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
import shlex
import struct

from ansible_collections.jumphosts.multihop.plugins.plugin_utils._errors import MultihopError, shown

# --- grammars ---------------------------------------------------------------------------------------------


class LazyPattern:
    """A regular expression compiled on first use: this module runs again in every worker (once per task and
    host), and a task needs only a few of the grammars. Compiled once, then found in ``re``'s own cache."""

    def __init__(self, source: str):
        self.source = source

    def __getattr__(self, name: str):  # match, fullmatch, findall, pattern...
        return getattr(re.compile(self.source), name)


_HOSTNAME_RE = LazyPattern(r'[A-Za-z0-9_](?:[A-Za-z0-9._-]{0,251}[A-Za-z0-9_])?\Z')
_USER_RE = LazyPattern(r'[A-Za-z0-9_][A-Za-z0-9._-]{0,63}\$?\Z')
_ALIAS_RE = LazyPattern(r'[A-Za-z0-9_][A-Za-z0-9._-]{0,252}\Z')
_PORT_RE = LazyPattern(r'[0-9]{1,5}\Z')
# A path: ASCII letters, digits, ._+@,:/- and single inner spaces; "~" or "~/" may start it. No "%" or
# "$": OpenSSH expands %-tokens and ${VARIABLES} in paths.
_PATH_RE = LazyPattern(r'(?:~/?)?(?:[A-Za-z0-9._+@,:/-]| (?! )){0,4096}\Z')
_TIME_RE = LazyPattern(r'(?:[0-9]{1,9}[smhdwSMHDW]?)+\Z')
_TIME_PART_RE = LazyPattern(r'([0-9]+)([smhdwSMHDW]?)')
_TIME_UNITS = {'': 1, 's': 1, 'm': 60, 'h': 3600, 'd': 86400, 'w': 604800}
_MAX_TIME = 2**31 - 1  # OpenSSH's convtime() refuses more seconds than an int holds
# Host patterns: names and ssh wildcards only; never whitespace, quotes, "!", "%" or a leading "-".
HOST_PATTERN_RE = LazyPattern(r'[A-Za-z0-9_*?][A-Za-z0-9._*?:-]{0,252}\Z')
KEYWORD_RE = LazyPattern(r'[A-Za-z][A-Za-z0-9]{0,63}\Z')
_BOOL = ('yes', 'no')


def refused(where: str, what: str, value: object, rule: str, reveal: bool) -> MultihopError:
    """The error for a value that breaks its grammar; the value is shown escaped, or not at all."""
    return MultihopError(f'{where}: invalid {what} {shown(value, reveal)}: {rule}')


def check_host(value: object, where: str, *, reveal: bool = True) -> str:
    """A host name, an IPv4 address or an IPv6 address without a zone id (brackets are taken off)."""
    if not isinstance(value, str) or not value:
        raise refused(where, 'host', value, 'expected a non-empty string', reveal)
    candidate = value[1:-1] if value.startswith('[') and value.endswith(']') else value
    if '%' in candidate:
        raise refused(where, 'host', value, 'IPv6 zone ids ("%...") are not supported', reveal)
    if ':' in candidate:
        try:
            return str(ipaddress.IPv6Address(candidate))
        except ValueError:
            raise refused(where, 'host', value, 'not an IPv6 address (write IPv6 in brackets with a port, '
                          'like [2001:db8::1]:22)', reveal) from None
    if not _HOSTNAME_RE.match(candidate):
        raise refused(where, 'host', value, 'only ASCII letters, digits, ".", "-" and "_" are allowed, and it may '
                      'not start or end with "." or "-"', reveal)
    return candidate


def check_user(value: object, where: str, *, reveal: bool = True) -> str | None:
    if value is None or value == '':
        return None
    if not isinstance(value, str) or not _USER_RE.match(value):
        raise refused(where, 'user', value, 'only ASCII letters, digits, ".", "-" and "_" (and a final "$") '
                      'are allowed, up to 64, and it may not start with "-" or "."', reveal)
    return value


def check_port(value: object, where: str, *, reveal: bool = True) -> int | None:
    if value is None or value == '':
        return None
    text = value if isinstance(value, str) else str(value) if isinstance(value, int) and \
        not isinstance(value, bool) else None
    if text is None or not _PORT_RE.match(text) or not 0 < int(text) < 65536:
        raise refused(where, 'port', value, 'must be a number from 1 to 65535', reveal)
    return int(text)


def check_alias(value: object, where: str) -> str:
    """An inventory hostname used as a Host alias in ssh_config."""
    if not isinstance(value, str) or not _ALIAS_RE.match(value):
        raise refused(where, 'inventory hostname', value, 'it cannot be used as an ssh_config alias: only ASCII '
                      'letters, digits, ".", "-" and "_" are allowed', True)
    return value


def check_path(value: object, what: str, where: str, *, reveal: bool = True) -> str | None:
    """A file path as ssh_config and a command line take it: one word, "~" only at the start."""
    if value is None or value == '':
        return None
    if not isinstance(value, str) or value.startswith(('-', ' ')) or value.endswith(' ') or \
            not _PATH_RE.match(value):
        raise refused(where, what, value, 'a path may hold only ASCII letters, digits, ._+@,:/-, single spaces '
                      'inside it and "~" at the start, and may not start with "-"', reveal)
    return value


def check_time(value: object, what: str, where: str) -> str:
    """An OpenSSH time such as 60, 60s, 10m or 1h30m; ``yes`` and ``no`` too (ControlPersist).

    Returns the text to write: ``yes``/``no`` in lower case (OpenSSH takes no other spelling), and a
    time only if OpenSSH can hold it (at most 2**31 - 1 seconds).
    """
    text = str(value).strip() if isinstance(value, (str, int)) and not isinstance(value, bool) else None
    if text is not None and text.lower() in _BOOL:
        return text.lower()
    if text is None or not _TIME_RE.match(text) or time_seconds(text) > _MAX_TIME:
        raise refused(where, what, value, 'expected yes, no or a time such as 60s, 10m or 1h30m (at most 68 years)',
                      True)
    return text


def time_seconds(text: str) -> int:
    """Seconds in an OpenSSH time that ``check_time`` passed (not ``yes``/``no``)."""
    return sum(int(number) * _TIME_UNITS[unit.lower()] for number, unit in _TIME_PART_RE.findall(text))


def check_password(value: object, where: str) -> str | None:
    """Never rendered anywhere; only one line, so that an askpass answer cannot carry a second one."""
    if value is None or value == '':
        return None
    if not isinstance(value, str) or any(c in value for c in '\r\n\x00'):
        raise MultihopError(f'{where}: the password must be a single-line string (not shown)')
    return value


def check_destination(value: object, where: str, *, wildcards: bool = False) -> str:
    """``host:port`` as sshd's PermitOpen and ``ssh -W`` take it, IPv6 in brackets; ``*`` where allowed."""
    if not isinstance(value, str):
        raise refused(where, 'destination', value, 'expected host:port', True)
    host, colon, port = value.rpartition(':')
    if not colon or not host or not port:
        raise refused(where, 'destination', value, 'expected host:port', True)
    if not (wildcards and port == '*'):
        port = str(check_port(port, where))  # as a number: " 1" or "022" are not what sshd compares
    if wildcards and host == '*':
        return f'*:{port}'
    if host.startswith('['):
        if not host.endswith(']') or ':' not in host:
            raise refused(where, 'destination', value, 'IPv6 goes in brackets, like [2001:db8::1]:22', True)
        return f'[{check_host(host[1:-1], where)}]:{port}'
    if ':' in host:
        raise refused(where, 'destination', value, 'IPv6 goes in brackets, like [2001:db8::1]:22', True)
    return f'{check_host(host, where)}:{port}'


_KEY_TYPE_RE = LazyPattern(r'[A-Za-z0-9@.-]{1,64}\Z')
_KEY_RE = LazyPattern(r'[A-Za-z0-9+/]{16,16384}={0,2}\Z')
_HASHED_NAME_RE = LazyPattern(r'\|1\|[A-Za-z0-9+/]{1,64}={0,2}\|[A-Za-z0-9+/]{1,64}={0,2}\Z')
_KNOWN_HOSTS_PATTERN_RE = LazyPattern(r'!?(?:\[[A-Za-z0-9._*?:-]{1,253}\]:[0-9*?]{1,5}|[A-Za-z0-9._*?:-]{1,253})\Z')
KNOWN_HOSTS_MARKERS = ('@cert-authority', '@revoked')


def check_known_hosts_lines(value: object, where: str, *, reveal: bool = True) -> tuple[str, ...]:
    """Pinned host keys (``multihop_known_hosts``): known_hosts lines, as a list or one multi-line string.

    Each line is ``[@cert-authority|@revoked] PATTERNS KEY-TYPE BASE64-KEY [comment]``; the patterns are
    host patterns or hashed names, the key decodes and names its own type. Lines come back without
    their comments, one per item; blank lines and ``#`` comments are dropped.
    """
    if value is None or value == '' or value == []:
        return ()
    if isinstance(value, str):
        lines = value.splitlines()
    elif isinstance(value, (list, tuple)) and all(isinstance(line, str) for line in value):
        lines = [part for line in value for part in line.splitlines()]
    else:
        raise MultihopError(f'{where}: multihop_known_hosts must be a list of known_hosts lines or a string')
    checked = []
    for number, line in enumerate(lines, 1):
        fields = line.split()
        if not fields or fields[0].startswith('#'):
            continue
        what = f'multihop_known_hosts line {number}'
        marker = fields.pop(0) if fields[0].startswith('@') else None
        if marker is not None and marker not in KNOWN_HOSTS_MARKERS:
            raise refused(where, what, line, 'the only markers are @cert-authority and @revoked', reveal)
        if len(fields) < 3:
            raise refused(where, what, line, 'expected [marker] hosts key-type key', reveal)
        patterns, key_type, key = fields[:3]
        for pattern in patterns.split(','):
            if not (_HASHED_NAME_RE.match(pattern) or _KNOWN_HOSTS_PATTERN_RE.match(pattern)):
                raise refused(where, what, line, 'a host is a name, an address, [address]:port or a hashed name, '
                              'with the wildcards * and ?', reveal)
        if not _KEY_TYPE_RE.match(key_type) or not _KEY_RE.match(key) or _blob_type(key) != key_type:
            raise refused(where, what, line, 'the key is not base64 of a key of the type it names', reveal)
        checked.append(' '.join(([marker] if marker else []) + [patterns, key_type, key]))
    if not checked:
        raise MultihopError(f'{where}: multihop_known_hosts holds no known_hosts line')
    return tuple(checked)


def _blob_type(key: str) -> str | None:
    try:
        blob = base64.b64decode(key, validate=True)
    except (binascii.Error, ValueError):
        return None
    if len(blob) < 4:
        return None
    (length,) = struct.unpack('>I', blob[:4])
    return blob[4:4 + length].decode('ascii', errors='replace')


# --- quoting, one function per target syntax --------------------------------------------------------------

# "$" only for user names such as "host$"; "${" (an environment variable to OpenSSH) is refused below.
_SSH_CONFIG_SAFE_RE = LazyPattern(r'[A-Za-z0-9@._+,:^*/~$-]+(?: [A-Za-z0-9@._+,:^*/~$-]+)*\Z')
# Keywords whose value is several words; any other value with a space is one word, in double quotes.
MULTI_WORD_KEYWORDS = frozenset(('userknownhostsfile', 'globalknownhostsfile', 'ipqos', 'rekeylimit'))
# The only %-tokens the renderer writes, and only at the end of the value: the hash of a connection that
# ends people's ControlPath (DIR/mh-TAG-%C). Anywhere else, a "%" is refused like any other.
_SSH_CONFIG_TOKENS = {'controlpath': '%C'}
_SSHD_CONFIG_SAFE_RE = LazyPattern(r'[A-Za-z0-9@._+,:^*/\[\]-]+(?: [A-Za-z0-9@._+,:^*/\[\]-]+)*\Z')


def ssh_config_line(key: str, value: str) -> str:
    """``  Key value`` for an ssh_config Host block.

    Values were checked by their grammar; this refuses whatever could still end the line, start a
    comment, quote, or expand: a defect upstream must not become an injected line.
    """
    if not KEYWORD_RE.match(key):
        raise MultihopError(f'ssh_config: refusing to write keyword {shown(key)}')
    if key.lower() == 'proxycommand':
        if any(c in value for c in '\r\n\x00') or not value.isascii():
            raise MultihopError(f'ssh_config: refusing to write ProxyCommand {shown(value)}')
        return f'  {key} {value}'
    token = _SSH_CONFIG_TOKENS.get(key.lower())
    checked = value[:-len(token)] + 'C' if token and value.endswith(token) else value
    if not _SSH_CONFIG_SAFE_RE.match(checked) or '${' in value:
        raise MultihopError(f'ssh_config: refusing to write {key} {shown(value)}')
    if ' ' in value and key.lower() not in MULTI_WORD_KEYWORDS:
        value = f'"{value}"'
    return f'  {key} {value}'


def ssh_config_host_line(patterns: tuple[str, ...]) -> str:
    """``Host alias [pattern ...]``; every pattern was checked (aliases, or the role's extra patterns)."""
    for pattern in patterns:
        if not HOST_PATTERN_RE.match(pattern):
            raise MultihopError(f'ssh_config: refusing to write Host pattern {shown(pattern)}')
    return ' '.join(('Host', *patterns))


def shell_command(words: list[str]) -> str:
    """A command line for /bin/sh (a ProxyCommand, or ``nc`` on a netcat hop): each word quoted on its own.

    shlex.quote() leaves a word such as "=x" bare; quoted here, since zsh expands a leading "=" and ssh
    drops it from the start of a ProxyCommand (it takes it for the "Key=Value" separator).
    """
    for word in words:
        if not isinstance(word, str) or not word or any(c in word for c in '\r\n\x00') or not word.isascii():
            raise MultihopError(f'command line: refusing to write word {shown(word)}')
    return ' '.join(f"'{word}'" if shlex.quote(word) == word and word.startswith('=') else shlex.quote(word)
                    for word in words)


def proxy_command(words: list[str]) -> str:
    """A ProxyCommand: a shell command line with ``%`` doubled, so that ssh expands no token in it.

    The tokens meant for ssh are passed as the literal words ``%h`` and ``%p``. No backslash: before it
    hands the line to the shell, OpenSSH splits it into words of its own, where a backslash escapes a quote
    even inside single quotes, and refuses the whole file ("invalid quotes").
    """
    for word in words:
        if isinstance(word, str) and '\\' in word:
            raise MultihopError(f'command line: refusing to write word {shown(word)} in a ProxyCommand: OpenSSH '
                                'reads a backslash there as an escape')
    return ' '.join(word if word in ('%h', '%p') else shell_command([word]).replace('%', '%%') for word in words)


def sshd_config_line(key: str, values: list[str]) -> str:
    """``Key value ...`` for an sshd_config file; every value one unquoted word from a safe set."""
    if not KEYWORD_RE.match(key) or not values:
        raise MultihopError(f'sshd_config: refusing to write keyword {shown(key)}')
    for value in values:
        if not isinstance(value, str) or not _SSHD_CONFIG_SAFE_RE.match(value) or ' ' in value:
            raise MultihopError(f'sshd_config: refusing to write {key} value {shown(value)}')
    return f'{key} {" ".join(values)}'
