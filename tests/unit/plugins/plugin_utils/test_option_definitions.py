"""Registering the option definitions: only from the builtin's, and never over existing ones.

That they equal the parsed documentation is tested with the builtin options, in doc_fragments/test_builtin_ssh.py.
"""

from __future__ import annotations

import pytest

from ansible import constants as C

from ansible_collections.jumphosts.multihop.plugins.plugin_utils._option_definitions import (
    register_option_definitions,
)


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
