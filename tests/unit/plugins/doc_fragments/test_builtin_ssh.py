"""The drop-in's options are exactly the installed ansible.builtin.ssh's, minus core version numbers."""

from __future__ import annotations

import yaml

from ansible import constants as C
from ansible.plugins.connection import ssh as builtin_ssh
from ansible.plugins.loader import connection_loader, fragment_loader
from ansible.utils.plugin_docs import get_docstring

from ansible_collections.jumphosts.multihop.plugins.connection import ssh as multihop_ssh
from ansible_collections.jumphosts.multihop.plugins.doc_fragments._builtin_ssh import (
    ModuleDocFragment,
    builtin_options_yaml,
)
from ansible_collections.jumphosts.multihop.plugins.plugin_utils._option_definitions import option_definitions


def without_versions(node):
    if isinstance(node, dict):
        return {k: without_versions(v) for k, v in node.items() if not k.startswith('version_added')}
    if isinstance(node, list):
        return [without_versions(item) for item in node]
    return node


def test_text_cut_equals_the_parsed_options_of_the_installed_builtin():
    parsed = yaml.safe_load(builtin_ssh.DOCUMENTATION)['options']
    assert yaml.safe_load(ModuleDocFragment.DOCUMENTATION) == {'options': without_versions(parsed)}
    assert 'version_added' not in ModuleDocFragment.DOCUMENTATION


def test_registered_definitions_equal_the_parsed_documentation():
    """What workers use (built from the builtin's definitions) is what ansible-core would parse from our docs."""
    connection_loader.get('ssh', class_only=True)  # as ansible-playbook does before it forks
    builtin = C.config.get_configuration_definitions('connection', 'ssh')
    parsed = get_docstring(multihop_ssh.__file__, fragment_loader)[0]['options']
    assert without_versions(option_definitions(builtin)) == without_versions(parsed)
    assert 'multihop_via' in parsed and 'control_path_dir' in parsed


def test_block_ends_at_the_next_top_level_key():
    documentation = '''
    name: x
    options:
      a:
        description: first
        version_added: '2.7'
        vars:
          - name: ansible_a
            version_added: '2.9'
    notes:
      - not an option
'''
    assert yaml.safe_load(builtin_options_yaml(documentation)) == {
        'options': {'a': {'description': 'first', 'vars': [{'name': 'ansible_a'}]}}}
