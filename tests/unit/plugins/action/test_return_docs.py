"""RETURN of both modules documents exactly the keys their action plugins return: the
hops[] and target entries, and the stages failed_stage can name."""

from __future__ import annotations

import importlib

import pytest
import yaml

from ansible_collections.jumphosts.multihop.plugins.action.chain_info import describe_hop
from ansible_collections.jumphosts.multihop.plugins.plugin_utils._chain import resolve_host
from ansible_collections.jumphosts.multihop.plugins.plugin_utils._probe import HopReport
from ansible_collections.jumphosts.multihop.plugins.plugin_utils._stages import STAGES


def _return_doc(name):
    module = importlib.import_module(f'ansible_collections.jumphosts.multihop.plugins.modules.{name}')
    return yaml.safe_load(module.RETURN)


def test_chain_info_describes_hops_and_target_with_their_keys():
    inventory = {'bastion1': {'ansible_host': '192.0.2.1'},
                 'db1': {'ansible_host': '192.0.2.9', 'multihop_via': 'bastion1'}}
    resolved = resolve_host('db1', inventory.get)
    doc = _return_doc('chain_info')
    assert set(doc['hops']['contains']) == set(describe_hop(resolved.hops[0]))
    assert set(doc['target']['contains']) == set(describe_hop(resolved.endpoint))


@pytest.mark.parametrize('role', ['hop', 'target'])
def test_reachability_info_documents_each_report_key(role):
    doc = _return_doc('reachability_info')
    report = HopReport(name='x', address='x:22', type='ssh', role=role).as_dict()
    assert set(doc['hops' if role == 'hop' else 'target']['contains']) == set(report)


def test_reachability_info_failed_stage_choices_are_the_walk_stages():
    doc = _return_doc('reachability_info')
    assert doc['failed_stage']['choices'] == list(STAGES)
    assert doc['hops']['contains']['stage']['choices'] == list(STAGES)
