"""extensions/awx/credential_type_hop.yml against the schema AWX documents for custom credential types
(docs/custom_credential_types.md in AWX): inputs.fields, inputs.required, and env/extra_vars/file injectors."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from jinja2 import StrictUndefined
from jinja2.sandbox import ImmutableSandboxedEnvironment

CREDENTIAL_TYPE = Path(__file__).resolve().parents[3] / 'extensions' / 'awx' / 'credential_type_hop.yml'
FIELD_KEYS = {'id', 'label', 'type', 'help_text', 'format', 'secret', 'multiline', 'choices', 'default'}
INJECTOR_KINDS = {'env', 'extra_vars', 'file'}
NAME_RE = re.compile(r'[A-Za-z_][A-Za-z0-9_]*\Z')


@pytest.fixture(scope='module')
def credential_type():
    return yaml.safe_load(CREDENTIAL_TYPE.read_text())


def test_inputs_follow_the_documented_schema(credential_type):
    assert credential_type['kind'] in ('cloud', 'net')  # the only kinds a custom type may have
    fields = credential_type['inputs']['fields']
    ids = [field['id'] for field in fields]
    assert len(set(ids)) == len(ids) and len({f['label'] for f in fields}) == len(fields)
    for field in fields:
        assert set(field) <= FIELD_KEYS, field
        assert NAME_RE.match(field['id']) and isinstance(field['label'], str)
        assert field.get('type', 'string') in ('string', 'boolean')
        if field.get('type', 'string') != 'string':
            assert 'format' not in field and 'multiline' not in field
        assert field.get('format', 'ssh_private_key') == 'ssh_private_key'
        assert isinstance(field.get('secret', False), bool) and isinstance(field.get('multiline', False), bool)
    assert set(credential_type['inputs']['required']) <= set(ids)
    # The key is a secret, and AWX checks its format.
    key = next(f for f in fields if f['id'] == 'hop_ssh_key')
    assert key['secret'] and key['format'] == 'ssh_private_key'


def test_injectors_follow_the_documented_schema_and_render(credential_type):
    injectors = credential_type['injectors']
    assert set(injectors) <= INJECTOR_KINDS
    files = injectors.get('file', {})
    single, multiple = 'template' in files, any(k.startswith('template.') for k in files)
    assert not (single and multiple), 'AWX refuses single and multiple file syntax together'
    for kind in ('env', 'extra_vars'):
        for name in injectors.get(kind, {}):
            assert NAME_RE.match(name) and not name.startswith('ANSIBLE_'), name
    # Rendered as AWX renders them: a sandboxed Jinja environment with the inputs and tower.filename.
    environment = ImmutableSandboxedEnvironment(undefined=StrictUndefined)
    inputs = {'hop_user': 'jump1', 'hop_ssh_key': 'KEY', 'hop_known_hosts': '10.0.0.1 ssh-ed25519 AAAA'}
    tower = {'filename': {name.split('.', 1)[1]: f'/runner/env/{name}' for name in files}}
    rendered = {name: environment.from_string(text).render(inputs, tower=tower)
                for name, text in injectors['extra_vars'].items()}
    assert rendered == {'multihop_hop_user': 'jump1', 'multihop_hop_key_file': '/runner/env/template.hop_key',
                        'multihop_known_hosts': '10.0.0.1 ssh-ed25519 AAAA'}
