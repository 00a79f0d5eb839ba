"""What a walk reports about each element, the host-level verdict, and the one hop error."""

from __future__ import annotations

import pytest

from ansible_collections.jumphosts.multihop.plugins.plugin_utils._chain import Hop, hop_label
from ansible_collections.jumphosts.multihop.plugins.plugin_utils._errors import HopError
from ansible_collections.jumphosts.multihop.plugins.plugin_utils._probe import HopReport, summarize


class FakeClock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


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
