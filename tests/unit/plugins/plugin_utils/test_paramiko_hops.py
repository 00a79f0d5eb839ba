"""The pure parts of the hop walker: known_hosts, fingerprints, SOCKS5 bytes, stage bookkeeping."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import struct

import pytest

from ansible_collections.jumphosts.multihop.plugins.plugin_utils._chain import Hop, hop_label
from ansible_collections.jumphosts.multihop.plugins.plugin_utils._paramiko_hops import (
    HOST_KEY_ACCEPTED,
    HopError,
    HopReport,
    describe_open_failure,
    describe_socks5_reply,
    fingerprint_sha256,
    host_key_checking_enabled,
    host_matches,
    key_type_of_blob,
    known_hosts_files,
    known_hosts_names,
    parse_known_hosts,
    preferred_host_key_types,
    socks5_connect_request,
    socks5_reply_length,
    summarize,
    verify_host_key,
)


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


class FakeClock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


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


def test_socks5_request_bytes():
    assert socks5_connect_request('10.0.0.1', 22) == b'\x05\x01\x00\x01\x0a\x00\x00\x01\x00\x16'
    assert socks5_connect_request('::1', 2222) == b'\x05\x01\x00\x04' + b'\x00' * 15 + b'\x01' + b'\x08\xae'
    assert socks5_connect_request('db.lab', 22) == b'\x05\x01\x00\x03\x06db.lab\x00\x16'
    with pytest.raises(ValueError):
        socks5_connect_request('a' * 256, 22)


def test_socks5_reply_parsing():
    assert socks5_reply_length(b'\x05\x00\x00\x01\x00') == 10
    assert socks5_reply_length(b'\x05\x00\x00\x04\x00') == 22
    assert socks5_reply_length(b'\x05\x00\x00\x03\x05') == 4 + 1 + 5 + 2
    with pytest.raises(ValueError):
        socks5_reply_length(b'\x05\x00\x00\x09\x00')
    assert describe_socks5_reply(5) == ('connection refused', True)
    assert describe_socks5_reply(2) == ('connection not allowed by ruleset', False)
    assert describe_socks5_reply(99) == ('SOCKS5 reply code 99', False)


def test_channel_open_failures_blame_the_right_element():
    assert describe_open_failure(1) == ('administratively prohibited', False)
    assert describe_open_failure(2) == ('connect failed', True)  # the next hop refused: its tcp stage
    assert describe_open_failure(42) == ('open failure code 42', False)


def test_hop_report_bookkeeping_and_latency():
    clock = FakeClock()
    report = HopReport(name='b1', address='u@h:22', type='ssh', clock=clock)
    report.begin('tcp')
    clock.now += 0.0123
    report.passed()
    assert report.latency_ms == 12.3 and report.stage_ms == {'tcp': 12.3}
    report.begin('banner')
    report.failed('no SSH banner')
    assert (report.stage, report.ok, report.error, report.complete) == ('banner', False, 'no SSH banner', False)
    as_dict = report.as_dict()
    assert as_dict['stage'] == 'banner' and 'clock' not in as_dict and '_started' not in as_dict
    with pytest.raises(ValueError):
        report.begin('dns')


def passed(name, role='hop', last=None):
    report = HopReport(name=name, address='', type='ssh', role=role)
    for stage in ('tcp', 'banner', 'hostkey', 'auth', 'forward'):
        if stage == 'forward' and role == 'target':
            break
        report.begin(stage)
        report.passed(1.0)
        if stage == last:
            break
    return report


def test_summarize():
    assert summarize([passed('b1'), passed('b2'), passed('t', 'target')]) == {
        'reachable': True, 'reachable_through': ['b1', 'b2'], 'failed_hop': None, 'failed_stage': None,
        'error': None}
    broken = passed('b2', last='hostkey')
    broken.begin('auth')
    broken.failed('permission denied')
    unreached = HopReport(name='t', address='', type='ssh', role='target')
    assert summarize([passed('b1'), broken, unreached]) == {
        'reachable': False, 'reachable_through': ['b1'], 'failed_hop': 'b2', 'failed_stage': 'auth',
        'error': 'permission denied'}
    target_only = passed('t', 'target', last='banner')
    assert summarize([target_only])['failed_hop'] == 't'
    assert summarize([], 'x')['failed_hop'] == 'x'


def test_hop_error_names_hop_and_stage():
    hops = (Hop(name='bastion1', alias='bastion1', host='10.0.0.1', user='j'),)
    error = HopError(hop_label(hops, 0), 'auth', 'permission denied', 0)
    assert str(error) == 'hop 1/2 bastion1 j@10.0.0.1:22: auth: permission denied'
    assert (error.stage, error.reason, error.index) == ('auth', 'permission denied', 0)
