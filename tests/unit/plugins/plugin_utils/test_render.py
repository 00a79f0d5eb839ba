from __future__ import annotations

import pytest

from ansible_collections.jumphosts.multihop.plugins.plugin_utils._chain import resolve_hops, resolve_host
from ansible_collections.jumphosts.multihop.plugins.plugin_utils._render import (
    RuntimeSettings,
    control_path,
    render_hops,
    render_host_block,
    render_plugin_config,
    route_option,
)

INVENTORY = {
    'bastion1': {'ansible_host': '10.203.1.2', 'ansible_user': 'jump1', 'ansible_ssh_private_key_file': '/k/jump 1'},
    'bastion2': {'ansible_host': '10.203.3.2', 'ansible_port': 2222, 'ansible_user': 'jump2',
                 'multihop_via': 'bastion1'},
    'ncjump': {'ansible_host': '10.203.1.2', 'ansible_user': 'ncjump', 'multihop_type': 'netcat'},
    'proxy': {'ansible_host': '10.203.1.2', 'ansible_port': 1080, 'multihop_type': 'socks5'},
}
RUNTIME = RuntimeSettings(control_dir='/cp', config_path='/cp/route.conf', connect_timeout=7)


def hops(via):
    return resolve_hops('target', via, INVENTORY.get)


def blocks(text):
    """{alias: [lines]} of an ssh_config text."""
    result, current = {}, None
    for line in text.splitlines():
        if line.startswith('Host '):
            current = result.setdefault(line[5:], [])
        elif line.startswith('  ') and current is not None:
            current.append(line.strip())
    return result


def test_ssh_chain_is_proxyjump_by_alias():
    chain = hops('bastion2')
    assert route_option(chain) == ('ProxyJump', 'bastion2')
    rendered = blocks(render_hops(chain))
    assert rendered['bastion1'] == ['HostName 10.203.1.2', 'User jump1', 'IdentityFile "/k/jump 1"',
                                    'IdentitiesOnly yes', 'ForwardAgent no']
    assert rendered['bastion2'] == ['HostName 10.203.3.2', 'Port 2222', 'User jump2', 'ProxyJump bastion1',
                                    'ForwardAgent no']


def test_netcat_hop_becomes_proxycommand_that_runs_nc_on_the_hop():
    assert route_option(hops('ncjump')) == ('ProxyCommand', 'ssh ncjump nc %h %p')
    assert route_option(hops('ncjump'), config_path='/cp/a%b c.conf') == \
        ('ProxyCommand', "ssh -F '/cp/a%%b c.conf' ncjump nc %h %p")


def test_socks5_hop_becomes_proxycommand_and_gets_no_block():
    chain = hops(['proxy', 'bastion1'])
    assert 'Host proxy' not in render_hops(chain)
    assert blocks(render_hops(chain))['bastion1'][4] == 'ProxyCommand nc -X 5 -x 10.203.1.2:1080 %h %p'


def test_a_block_never_holds_both_proxyjump_and_proxycommand():
    for chain in (hops(['ncjump', 'bastion2']), hops(['proxy', 'bastion2']), hops('bastion2')):
        for lines in blocks(render_plugin_config(chain, RUNTIME)).values():
            keys = {line.split()[0] for line in lines}
            assert not {'ProxyJump', 'ProxyCommand'} <= keys


def test_runtime_lines_share_one_master_per_hop():
    chain = hops('bastion2')
    rendered = blocks(render_plugin_config(chain, RUNTIME))
    assert f'ControlPath {control_path(chain[:1], "/cp")}' in rendered['bastion1']
    assert f'ControlPath {control_path(chain, "/cp")}' in rendered['bastion2']
    for lines in (rendered['bastion1'], rendered['bastion2']):
        assert {'ControlMaster auto', 'ControlPersist 60s', 'BatchMode yes', 'ConnectTimeout 7',
                'PasswordAuthentication no'} <= set(lines)


def test_users_own_config_still_applies_after_the_chain():
    text = render_plugin_config(hops('bastion1'), RUNTIME)
    assert text.rstrip().endswith('Host *\n  Include ~/.ssh/config\n  Include /etc/ssh/ssh_config')


def test_forward_agent_only_when_asked():
    assert 'ForwardAgent yes' in render_hops(hops('bastion1'), forward_agent=True)
    assert 'ForwardAgent yes' not in render_hops(hops('bastion1'))


def test_explicitly_disabled_host_key_checking_is_rendered():
    inventory = dict(INVENTORY, lax={'ansible_host': 'lax.example', 'ansible_host_key_checking': False})
    (hop,) = resolve_hops('t', 'lax', inventory.get)
    assert hop.disables_host_key_checking
    assert 'StrictHostKeyChecking no' in render_hops((hop,))


def test_control_path_differs_for_the_same_address_behind_different_bastions():
    behind_1 = hops(['bastion1', '10.0.0.5'])
    behind_2 = hops(['ncjump', '10.0.0.5'])
    assert control_path(behind_1, '/cp') != control_path(behind_2, '/cp')


def test_control_path_too_long_is_refused():
    with pytest.raises(ValueError, match='too long'):
        control_path(hops('bastion1'), '/' + 'x' * 100)


def test_host_block_of_an_inventory_host_uses_the_same_lines_as_a_hop():
    inventory = dict(INVENTORY, db1={'ansible_host': '10.203.4.21', 'ansible_user': 'dba', 'multihop_via': 'bastion2'})
    text = render_host_block(resolve_host('db1', inventory.get), patterns=('db1.internal',))
    assert text.splitlines() == ['Host db1 db1.internal', '  HostName 10.203.4.21', '  User dba',
                                 '  ProxyJump bastion2', '  ForwardAgent no']
    # bastion2 as a host of its own renders exactly as it does as a hop of db1.
    assert render_host_block(resolve_host('bastion2', inventory.get)) in render_hops(hops('bastion2'))
