"""Plain regression tests for what the rendering fuzzer (test_fuzz_rendering.py) found."""

from __future__ import annotations

from ansible_collections.jumphosts.multihop.plugins.plugin_utils._chain import resolve_host
from ansible_collections.jumphosts.multihop.plugins.plugin_utils._render import render_inventory_config


def test_a_hop_option_naming_a_bracketed_address_is_written_without_brackets():
    # The host grammar took "[::1]" but handed on the value with its brackets, which the ssh_config quoting
    # then refused with a message that named no host: BindAddress or HostKeyAlias in brackets could not be used.
    inventory = {'bastion': {'ansible_host': '10.0.0.2', 'ansible_ssh_common_args': '-o BindAddress=[::1]'},
                 't0': {'ansible_host': '10.0.0.5', 'multihop_via': 'bastion',
                        'ansible_ssh_common_args': '-o HostKeyAlias=[2001:DB8::1]'}}
    text = render_inventory_config([resolve_host('t0', inventory.get)])
    assert '  BindAddress ::1\n' in text
    assert '  HostKeyAlias 2001:db8::1\n' in text
