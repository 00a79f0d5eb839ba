"""The drop-in's options are exactly the installed ansible.builtin.ssh's, minus core version numbers."""

from __future__ import annotations

import yaml

from ansible.plugins.connection import ssh as builtin_ssh

from ansible_collections.jumphosts.multihop.plugins.doc_fragments._builtin_ssh import (
    ModuleDocFragment,
    builtin_options_yaml,
)


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
