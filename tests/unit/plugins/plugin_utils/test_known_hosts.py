"""known_hosts: parsing, OpenSSH's name matching, host-key verdicts, and keys pinned from inventory."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import struct

import pytest

from ansible_collections.jumphosts.multihop.plugins.plugin_utils import _gate as gate
from ansible_collections.jumphosts.multihop.plugins.plugin_utils._chain import Hop, resolve_hops
from ansible_collections.jumphosts.multihop.plugins.plugin_utils._errors import MultihopError
from ansible_collections.jumphosts.multihop.plugins.plugin_utils._known_hosts import (
    HOST_KEY_ACCEPTED,
    fingerprint_sha256,
    host_key_checking_enabled,
    host_matches,
    key_type_of_blob,
    known_host_entries,
    known_hosts_files,
    known_hosts_names,
    merge_scanned_keys,
    parse_known_hosts,
    pinned_known_hosts_path,
    preferred_host_key_types,
    verify_host_key,
)
from ansible_collections.jumphosts.multihop.plugins.plugin_utils._render import RuntimeSettings, render_plugin_config


def blob(key_type: str, payload: bytes) -> bytes:
    return struct.pack('>I', len(key_type)) + key_type.encode() + struct.pack('>I', len(payload)) + payload


ED_A = blob('ssh-ed25519', b'A' * 32)
ED_B = blob('ssh-ed25519', b'B' * 32)
RSA = blob('ssh-rsa', b'R' * 64)


def line(hosts: str, key: bytes, marker: str = '') -> str:
    return f'{marker} {hosts} {key_type_of_blob(key)} {base64.b64encode(key).decode()}'.strip()


def hashed(name: str, salt: bytes = b's' * 20) -> str:
    digest = hmac.new(salt, name.encode(), hashlib.sha1).digest()
    return f'|1|{base64.b64encode(salt).decode()}|{base64.b64encode(digest).decode()}'


def test_fingerprint_is_openssh_sha256_without_padding():
    expected = base64.b64encode(hashlib.sha256(ED_A).digest()).decode().rstrip('=')
    assert fingerprint_sha256(ED_A) == 'SHA256:' + expected
    assert '=' not in fingerprint_sha256(ED_A)


def test_parse_known_hosts_skips_comments_and_garbage_and_keeps_markers():
    text = '\n'.join(['# comment', '', 'onlytwo fields', 'host ssh-ed25519 !!notbase64!!',
                      line('a,b', ED_A), line('*.lab', ED_B, '@cert-authority'), line('c', RSA, '@revoked')])
    entries = parse_known_hosts(text)
    assert [(e.patterns, e.marker) for e in entries] == [(('a', 'b'), None), (('*.lab',), '@cert-authority'),
                                                         (('c',), '@revoked')]
    assert entries[0].key_blob == ED_A


@pytest.mark.parametrize('patterns, name, expected', [
    (['10.0.0.1'], '10.0.0.1', True),
    (['[10.0.0.1]:2222'], '[10.0.0.1]:2222', True),
    (['10.0.0.1'], '[10.0.0.1]:2222', False),
    (['*.example.com'], 'db.example.com', True),
    (['*.example.com', '!secret.example.com'], 'secret.example.com', False),
    (['web?'], 'web1', True),
    (['Host.Example'], 'host.example', True),
    ([hashed('10.0.0.1')], '10.0.0.1', True),
    ([hashed('[10.0.0.1]:2222')], '[10.0.0.1]:2222', True),
    ([hashed('10.0.0.1')], '10.0.0.2', False),
    (['|1|garbage'], '10.0.0.1', False),
    # "[" is no character class to OpenSSH: "[10.0.0.1]:2222" must not match "1" or "0".
    (['[10.0.0.1]:2222'], '1:2222', False),
    (['[10.0.0.1]:*'], '[10.0.0.1]:2222', True),
    (['[ab]'], 'a', False),
    (['a*'], 'a\nb', True),
])
def test_host_matches(patterns, name, expected):
    assert host_matches(patterns, name) is expected


def test_verify_host_key_verdicts():
    entries = parse_known_hosts('\n'.join([line('a', ED_A), line('r', RSA), line('gone', ED_B, '@revoked'),
                                           line('gone', ED_A)]))
    assert verify_host_key(entries, ['a'], ED_A, strict=True)[0] == 'known'
    verdict, message = verify_host_key(entries, ['a'], ED_B, strict=True)
    assert verdict == 'mismatch' and 'HOST KEY MISMATCH for a' in message and fingerprint_sha256(ED_B) in message
    assert verify_host_key(entries, ['a'], ED_B, strict=False)[0] == 'mismatch'  # never accepted
    assert verify_host_key(entries, ['r'], ED_A, strict=True)[0] == 'other-type'
    assert verify_host_key(entries, ['new'], ED_A, strict=True)[0] == 'unknown'
    assert verify_host_key(entries, ['new'], ED_A, strict=False)[0] == 'unchecked'
    assert verify_host_key(entries, ['gone'], ED_B, strict=False)[0] == 'revoked'
    assert set(HOST_KEY_ACCEPTED) == {'known', 'unchecked'}


def test_known_hosts_files_names_and_checking_come_from_the_hop():
    plain = Hop(name='b', alias='b', host='10.0.0.1')
    assert known_hosts_files(plain) == ([os.path.expanduser('~/.ssh/known_hosts'),
                                         os.path.expanduser('~/.ssh/known_hosts2')],
                                        ['/etc/ssh/ssh_known_hosts', '/etc/ssh/ssh_known_hosts2'])
    assert known_hosts_names(plain) == ['10.0.0.1']
    assert host_key_checking_enabled(plain)
    custom = Hop(name='b', alias='b', host='10.0.0.1', port=2222, options=(
        ('UserKnownHostsFile', '/lab/kh ~/other'), ('GlobalKnownHostsFile', 'none'),
        ('StrictHostKeyChecking', 'no')))
    assert known_hosts_files(custom) == (['/lab/kh', os.path.expanduser('~/other')], [])
    assert known_hosts_names(custom) == ['[10.0.0.1]:2222']
    assert not host_key_checking_enabled(custom)
    aliased = Hop(name='b', alias='b', host='10.0.0.1', port=2222, options=(('HostKeyAlias', 'bastion'),))
    assert known_hosts_names(aliased) == ['[bastion]:2222']
    assert not host_key_checking_enabled(Hop(name='b', alias='b', host='h', host_key_checking=False))


def test_preferred_host_key_types_puts_known_types_first():
    supported = ['ssh-ed25519', 'ecdsa-sha2-nistp256', 'rsa-sha2-512', 'rsa-sha2-256']
    assert preferred_host_key_types(['ssh-rsa'], supported) == ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-ed25519',
                                                                'ecdsa-sha2-nistp256']
    assert preferred_host_key_types([], supported) == supported
    assert preferred_host_key_types(['ssh-dss'], supported) == supported


# --- keys pinned from inventory (multihop_known_hosts) ----------------------------------------------------

PIN_A = line('10.0.0.1,[10.0.0.1]:2222', ED_A)
PIN_CA = line('*.example.com', ED_B, '@cert-authority')


def test_pinned_lines_are_checked_and_comments_dropped():
    text = f'# fleet keys\n{PIN_A} bastion1 key\n\n{PIN_CA}\n'
    assert gate.check_known_hosts_lines(text, 'w') == (PIN_A, PIN_CA)
    assert gate.check_known_hosts_lines([PIN_A], 'w') == (PIN_A,)


@pytest.mark.parametrize('value, message', [
    ('10.0.0.1 ssh-ed25519', 'expected'),
    (PIN_A.replace('ssh-ed25519', 'ssh-rsa'), 'not base64 of a key of the type'),
    ('@trusted ' + PIN_A, 'markers'),
    (PIN_A.replace('10.0.0.1,', 'a"b,'), 'a host is'),
    ([PIN_A, 5], 'must be a list'),
    ('# only a comment\n', 'holds no known_hosts line'),
    (PIN_A + '\nMatch exec "touch /tmp/F"', 'line 2'),
])
def test_bad_pins_are_refused(value, message):
    with pytest.raises(MultihopError, match=message):
        gate.check_known_hosts_lines(value, 'host t')


INVENTORY = {
    'bastion1': {'ansible_host': '10.0.0.1', 'multihop_known_hosts': [PIN_A],
                 'ansible_host_key_checking': False},
    't': {'multihop_known_hosts': PIN_CA, 'multihop_via': ['bastion1', 'ops@10.0.0.9']},
}


def test_pins_win_over_checking_off_and_inline_hops_inherit_them():
    bastion, inline = resolve_hops('t', INVENTORY['t']['multihop_via'], INVENTORY.get)
    assert bastion.known_hosts == (PIN_A,) and not bastion.disables_host_key_checking
    assert host_key_checking_enabled(bastion)
    assert inline.known_hosts == (PIN_CA,)
    assert ('known_hosts', 'hostvars[t].multihop_known_hosts (inherited)') in inline.sources


def test_the_plugin_config_checks_pinned_hops_against_their_file_alone(tmp_path):
    hops = resolve_hops('t', INVENTORY['t']['multihop_via'], INVENTORY.get)
    runtime = RuntimeSettings(control_dir=str(tmp_path), config_path=str(tmp_path / 'c.conf'))
    text = render_plugin_config(hops, runtime)
    block = text.split('Host bastion1\n')[1].split('\n\n')[0]
    pinned = pinned_known_hosts_path(str(tmp_path), hops[0])
    assert '  StrictHostKeyChecking yes\n' in block and f'  UserKnownHostsFile {pinned}\n' in block
    assert '  GlobalKnownHostsFile none' in block and 'StrictHostKeyChecking no' not in block


def test_paramiko_checks_pinned_hops_against_the_pins_alone():
    (bastion,) = resolve_hops('t', ['bastion1'], INVENTORY.get)
    entries, source = known_host_entries(bastion)
    assert source == 'the keys pinned by multihop_known_hosts'
    assert verify_host_key(entries, known_hosts_names(bastion), ED_A, strict=True, source=source)[0] == 'known'
    verdict, message = verify_host_key(entries, known_hosts_names(bastion), ED_B, strict=True, source=source)
    assert verdict == 'mismatch' and 'pinned by multihop_known_hosts' in message


def test_a_scan_adds_new_keys_and_reports_changed_ones_without_writing_them():
    pinned = [line('10.0.0.1', ED_A)]
    scanned = [line('10.0.0.1', ED_A), line('10.0.0.1', ED_B), line('[10.0.0.2]:2222', ED_B), line('10.0.0.1', RSA)]
    merged = merge_scanned_keys(scanned, pinned)
    assert merged['mismatched'] == [line('10.0.0.1', ED_B)]
    assert merged['new'] == [line('[10.0.0.2]:2222', ED_B), line('10.0.0.1', RSA)]
    assert merged['lines'] == pinned + merged['new']
