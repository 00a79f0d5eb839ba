"""The option definitions registered from the builtin's equal those ansible-core parses from the docs."""

from __future__ import annotations

import pytest

from ansible import constants as C
from ansible.plugins.loader import connection_loader, fragment_loader
from ansible.utils.plugin_docs import get_docstring

from ansible_collections.jumphosts.multihop.plugins.connection import ssh as multihop_ssh
from ansible_collections.jumphosts.multihop.plugins.plugin_utils._option_definitions import (
    option_definitions,
    register_option_definitions,
)


def without_versions(node):
    if isinstance(node, dict):
        return {k: without_versions(v) for k, v in node.items() if not k.startswith('version_added')}
    if isinstance(node, list):
        return [without_versions(item) for item in node]
    return node


def test_definitions_equal_the_parsed_documentation():
    connection_loader.get('ssh', class_only=True)  # as ansible-playbook does before it forks
    builtin = C.config.get_configuration_definitions('connection', 'ssh')
    parsed = get_docstring(multihop_ssh.__file__, fragment_loader)[0]['options']
    assert without_versions(option_definitions(builtin)) == without_versions(parsed)
    assert 'multihop_via' in parsed and 'control_path_dir' in parsed


@pytest.fixture
def empty_config(monkeypatch):
    """A config manager that knows no connection plugins yet."""
    monkeypatch.setattr(C.config, '_plugins', {})
    return C.config


def test_nothing_is_registered_without_the_builtins_definitions(empty_config):
    assert register_option_definitions('some.module') is False
    assert not empty_config.has_configuration_definition('connection', 'some.module')


def test_registered_once_and_never_replaced(empty_config):
    empty_config.initialize_plugin_configuration_definitions('connection', 'ssh', {'port': {'type': 'int'}})
    assert register_option_definitions('some.module') is True
    definitions = empty_config.get_configuration_definitions('connection', 'some.module')
    assert definitions['port'] == {'type': 'int'} and 'multihop_via' in definitions
    assert register_option_definitions('some.module') is False
    assert empty_config.get_configuration_definitions('connection', 'some.module') is definitions
