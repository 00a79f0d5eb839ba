"""The pure parts of the hop walker: SOCKS5 bytes, stage bookkeeping."""

from __future__ import annotations

import pytest

from ansible_collections.jumphosts.multihop.plugins.plugin_utils._chain import Hop, hop_label
from ansible_collections.jumphosts.multihop.plugins.plugin_utils._errors import HopError
from ansible_collections.jumphosts.multihop.plugins.plugin_utils._paramiko_hops import (
    HopReport,
    describe_open_failure,
    describe_socks5_reply,
    socks5_connect_request,
    socks5_reply_length,
    summarize,
)


class FakeClock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


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
    assert str(error) == 'hop 1/2 bastion1 j@10.0.0.1:22: permission denied'
    assert (error.stage, error.reason, error.index) == ('auth', 'permission denied', 0)
