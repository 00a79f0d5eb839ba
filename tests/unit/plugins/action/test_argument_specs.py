"""Each action plugin validates exactly the options its module documents."""

from __future__ import annotations

import importlib

import pytest
import yaml

from ansible.plugins.loader import fragment_loader
from ansible.utils.plugin_docs import get_docstring

DOC_TYPES = {'str': 'str', 'float': 'float', 'bool': 'bool', 'int': 'int'}


@pytest.mark.parametrize('name', ['chain_info', 'reachability_info'])
def test_argument_spec_matches_documentation(name):
    module = importlib.import_module(f'ansible_collections.jumphosts.multihop.plugins.modules.{name}')
    action = importlib.import_module(f'ansible_collections.jumphosts.multihop.plugins.action.{name}')
    # As ansible-doc sees it: with the attributes and options of its doc fragments merged in.
    doc = get_docstring(module.__file__, fragment_loader, collection_name='jumphosts.multihop', is_module=True)[0]
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
