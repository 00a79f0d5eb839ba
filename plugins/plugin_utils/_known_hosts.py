# Copyright (c) 2026, jumphosts.multihop contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""known_hosts in one place: parse and check lines, match names as OpenSSH does, verify a host key,
pin keys from inventory (``multihop_known_hosts``), and the paramiko backend's one writer.

Pure logic except ``load_known_hosts`` and ``record_host_key`` at the end, the file edge.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import fcntl
import hashlib
import hmac
import os
import re
import struct
from collections.abc import Iterable

from ansible_collections.jumphosts.multihop.plugins.plugin_utils._chain import Hop
from ansible_collections.jumphosts.multihop.plugins.plugin_utils._record import record

DEFAULT_KNOWN_HOSTS = ('~/.ssh/known_hosts', '~/.ssh/known_hosts2')
DEFAULT_GLOBAL_KNOWN_HOSTS = ('/etc/ssh/ssh_known_hosts', '/etc/ssh/ssh_known_hosts2')


def fingerprint_sha256(key_blob: bytes) -> str:
    """``SHA256:...`` as OpenSSH prints it: unpadded base64 of the key blob's digest."""
    digest = hashlib.sha256(key_blob).digest()
    return 'SHA256:' + base64.b64encode(digest).decode('ascii').rstrip('=')


def hop_option(hop: Hop, name: str) -> str | None:
    """The first value of an ssh_config keyword in the hop's options (first value wins, as in ssh)."""
    for key, value in hop.options:
        if key.lower() == name.lower():
            return value
    return None


def known_hosts_files(hop: Hop) -> tuple[list[str], list[str]]:
    """(user files, global files) to check the hop's host key against, ``~`` expanded."""
    user = hop_option(hop, 'UserKnownHostsFile')
    global_ = hop_option(hop, 'GlobalKnownHostsFile')
    user_files = user.split() if user else DEFAULT_KNOWN_HOSTS
    global_files = global_.split() if global_ else DEFAULT_GLOBAL_KNOWN_HOSTS
    return _expand_paths(user_files), _expand_paths(global_files)


def _expand_paths(paths: Iterable[str]) -> list[str]:
    return [os.path.expanduser(p) for p in paths if p.lower() != 'none']


def host_key_checking_enabled(hop: Hop) -> bool:
    """Unknown keys are rejected unless checking is explicitly off (never with pinned keys). A mismatch always is."""
    return bool(hop.known_hosts) or not hop.disables_host_key_checking


PINNED_SOURCE = 'the keys pinned by multihop_known_hosts'


def pinned_known_hosts_text(hop: Hop) -> str:
    return '\n'.join(hop.known_hosts) + '\n'


def pinned_known_hosts_path(control_dir: str, hop: Hop) -> str:
    """Where the plugin keeps a hop's pinned keys: named after them, so equal pins share one file."""
    digest = hashlib.sha256(pinned_known_hosts_text(hop).encode('ascii')).hexdigest()[:16]
    return os.path.join(control_dir, f'mh-{digest}.known_hosts')


def known_hosts_names(hop: Hop) -> list[str]:
    """The names ssh looks the host key up under: HostKeyAlias, else host or ``[host]:port``."""
    alias = hop_option(hop, 'HostKeyAlias')
    host = alias or hop.host
    port = hop.effective_port
    if port == 22:
        return [host]
    return [f'[{host}]:{port}']


@record
class KnownHost:
    """One line of a known_hosts file."""

    patterns: tuple[str, ...]
    key_type: str
    key_blob: bytes
    marker: str | None = None  # '@revoked' or '@cert-authority'


def parse_known_hosts(text: str) -> list[KnownHost]:
    """known_hosts lines; malformed ones are skipped, as ssh does."""
    entries = []
    for line in text.splitlines():
        fields = line.split()
        if not fields or fields[0].startswith('#'):
            continue
        marker = None
        if fields[0].startswith('@'):
            marker, fields = fields[0], fields[1:]
        if len(fields) < 3:
            continue
        try:
            blob = base64.b64decode(fields[2], validate=True)
        except (binascii.Error, ValueError):
            continue
        entries.append(KnownHost(tuple(fields[0].split(',')), fields[1], blob, marker))
    return entries


def _hashed_name_matches(pattern: str, name: str) -> bool:
    # |1|base64(salt)|base64(HMAC-SHA1(salt, name))
    parts = pattern.split('|')
    if len(parts) != 4 or parts[1] != '1':
        return False
    try:
        salt = base64.b64decode(parts[2])
        expected = base64.b64decode(parts[3])
    except (binascii.Error, ValueError):
        return False
    return hmac.compare_digest(hmac.new(salt, name.encode('utf-8'), hashlib.sha1).digest(), expected)


def wildcard_matches(pattern: str, name: str) -> bool:
    """OpenSSH's wildcards, case-insensitive: ``*`` any run, ``?`` one character; nothing else is special."""
    regex = ''.join('.*' if c == '*' else '.' if c == '?' else re.escape(c) for c in pattern.lower())
    return re.match(regex + r'\Z', name.lower(), re.DOTALL) is not None


def host_matches(patterns: Iterable[str], name: str) -> bool:
    """ssh's pattern-list rules: hashed names, ``*``/``?`` wildcards, ``!`` negation wins."""
    matched = False
    for pattern in patterns:
        negated = pattern.startswith('!')
        pattern = pattern[1:] if negated else pattern
        hit = _hashed_name_matches(pattern, name) if pattern.startswith('|') else wildcard_matches(pattern, name)
        if hit and negated:
            return False
        matched = matched or hit
    return matched


def key_type_of_blob(blob: bytes) -> str:
    """The key type named inside an SSH public key blob (the first length-prefixed string)."""
    if len(blob) < 4:
        return ''
    (length,) = struct.unpack('>I', blob[:4])
    return blob[4:4 + length].decode('ascii', errors='replace')


HOST_KEY_ACCEPTED = ('known', 'unchecked')


def verify_host_key(entries: Iterable[KnownHost], names: list[str], key_blob: bytes,
                    strict: bool, source: str = 'known_hosts') -> tuple[str, str]:
    """(verdict, message) for a server key against known_hosts entries, looked up under ``names``.

    verdict: ``known`` (matches), ``unchecked`` (unknown, checking is off), ``unknown`` (no key for
    the host), ``other-type`` (keys of other types only), ``mismatch`` or ``revoked``. Only the first
    two are acceptances; only ``unknown`` may ever be turned into one (by the caller recording it).
    """
    key_type = key_type_of_blob(key_blob)
    fingerprint = fingerprint_sha256(key_blob)
    known_types = set()
    for entry in entries:
        if not any(host_matches(entry.patterns, name) for name in names):
            continue
        if entry.marker == '@revoked' and entry.key_blob == key_blob:
            return 'revoked', f'{key_type} host key {fingerprint} is marked as revoked in {source}'
        if entry.marker:
            continue
        if entry.key_blob == key_blob:
            return 'known', f'host key matches {source}'
        known_types.add(key_type_of_blob(entry.key_blob) or entry.key_type)
    where = ' or '.join(names)
    if key_type in known_types:
        return 'mismatch', (f'HOST KEY MISMATCH for {where}: the server sent {key_type} {fingerprint}, which is '
                            f'not the key in {source} (a man in the middle, or the host was reinstalled)')
    if known_types:
        return 'other-type', (f'host key for {where} not known: the server sent {key_type} {fingerprint}, '
                              f'{source} has only {", ".join(sorted(known_types))} keys for it')
    if not strict:
        return 'unchecked', (f'host key {key_type} {fingerprint} is not in {source}; accepted because host key '
                             'checking is off')
    return 'unknown', (f'host key for {where} is not in {source} ({key_type} {fingerprint}); '
                       f'add it to {source} (nothing is added automatically)')


def preferred_host_key_types(known_types: Iterable[str], supported: Iterable[str]) -> list[str]:
    """Host key algorithms with those known_hosts has for this host first, as ssh orders them."""
    supported = list(supported)
    wanted: list[str] = []
    for key_type in known_types:
        names = ['rsa-sha2-512', 'rsa-sha2-256'] if key_type == 'ssh-rsa' else [key_type]
        wanted += [n for n in names if n in supported and n not in wanted]
    return wanted + [n for n in supported if n not in wanted]


def known_hosts_line(names: list[str], key_type: str, key_base64: str) -> str:
    """One known_hosts line; names were checked as hosts, the key's fields come from paramiko."""
    fields = [','.join(names), key_type, key_base64]
    if any(not f or any(c.isspace() for c in f) for f in fields):
        raise ValueError('refusing to write a malformed known_hosts line')
    return ' '.join(fields) + '\n'


# --- the file edge ----------------------------------------------------------------------------------

def known_host_entries(hop: Hop) -> tuple[list[KnownHost], str]:
    """(entries, where they come from) to check the hop's key against: its pinned keys alone, else its files."""
    if hop.known_hosts:
        return parse_known_hosts(pinned_known_hosts_text(hop)), PINNED_SOURCE
    user_files, global_files = known_hosts_files(hop)
    return load_known_hosts(user_files + global_files), 'known_hosts'


def load_known_hosts(paths: Iterable[str]) -> list[KnownHost]:
    entries: list[KnownHost] = []
    for path in paths:
        with contextlib.suppress(OSError), open(path, encoding='utf-8', errors='replace') as handle:
            entries += parse_known_hosts(handle.read())
    return entries


def record_host_key(hop: Hop, names: list[str], key) -> bool:
    """Append an unknown host key to ~/.ssh/known_hosts, under a lock; True when recorded.

    Only the default file is ever written: a hop that names its own known-hosts file (inventory may be
    hostile) gets its keys checked against that file, never written to it. Pinned keys are never extended.
    """
    if hop.known_hosts or hop_option(hop, 'UserKnownHostsFile') is not None:
        return False
    path = os.path.expanduser(DEFAULT_KNOWN_HOSTS[0])
    line = known_hosts_line(names, key.get_name(), key.get_base64())
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        with os.fdopen(os.dup(fd), 'r+', encoding='utf-8') as handle:
            text = handle.read()
            if line not in text.splitlines(True):  # another fork may have just recorded it
                handle.write(('' if not text or text.endswith('\n') else '\n') + line)
    finally:
        os.close(fd)
    return True


# --- a scan's findings against the pins -------------------------------------------------------------------

def merge_scanned_keys(scanned: Iterable[str], pinned: Iterable[str]) -> dict[str, list[str]]:
    """Pins after a scan: ``lines`` (the pins, plus keys never seen before), ``new`` and ``mismatched``.

    ``scanned`` are ``NAMES TYPE BASE64`` lines from reachability's scan; ``pinned`` are checked lines. A
    scanned key for a name whose pinned key of that type differs is ``mismatched``: reported, never written.
    """
    pins = list(dict.fromkeys(pinned))
    entries = parse_known_hosts('\n'.join(pins))
    new: list[str] = []
    mismatched: list[str] = []
    for line in dict.fromkeys(scanned):
        (found,) = parse_known_hosts(line) or (None,)
        if found is None:
            continue
        names = list(found.patterns)
        verdict, _message = verify_host_key(entries, names, found.key_blob, strict=True)
        if verdict == 'mismatch':
            mismatched.append(line)
        elif verdict in ('unknown', 'other-type'):
            new.append(line)
    return {'lines': pins + new, 'new': new, 'mismatched': mismatched}
