"""Each action plugin validates exactly the options its module documents."""

from __future__ import annotations

import importlib

import pytest
import yaml

DOC_TYPES = {'str': 'str', 'float': 'float', 'bool': 'bool', 'int': 'int'}


@pytest.mark.parametrize('name', ['chain_info', 'reachability'])
def test_argument_spec_matches_documentation(name):
    module = importlib.import_module(f'ansible_collections.jumphosts.multihop.plugins.modules.{name}')
    action = importlib.import_module(f'ansible_collections.jumphosts.multihop.plugins.action.{name}')
    doc = yaml.safe_load(module.DOCUMENTATION)
    assert doc['module'] == name and doc['version_added'] == '0.1.0'
    assert doc['attributes']['check_mode']['support'] == 'full'
    assert doc['attributes']['diff_mode']['support'] == 'none'
    documented = {key: {'type': DOC_TYPES[value['type']], **({'default': value['default']} if 'default' in value
                                                             else {})}
                  for key, value in doc['options'].items()}
    assert documented == action.ARGUMENT_SPEC
    yaml.safe_load(module.EXAMPLES)
    yaml.safe_load(module.RETURN)
    assert action.ActionModule._requires_connection is False
