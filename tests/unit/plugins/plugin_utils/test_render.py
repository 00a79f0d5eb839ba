from __future__ import annotations

import pytest

from ansible_collections.jumphosts.multihop.plugins.plugin_utils._chain import (
    Hop,
    MultihopError,
    resolve_hops,
    resolve_host,
)
from ansible_collections.jumphosts.multihop.plugins.plugin_utils._inventory_config import (
    ControlMasterSettings,
    render_inventory_config,
)
from ansible_collections.jumphosts.multihop.plugins.plugin_utils._permit_open import permit_open
from ansible_collections.jumphosts.multihop.plugins.plugin_utils._render import (
    RuntimeSettings,
    control_path,
    hop_options,
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
                                    'IdentitiesOnly yes', 'ForwardAgent no', 'StrictHostKeyChecking yes']
    assert rendered['bastion2'] == ['HostName 10.203.3.2', 'Port 2222', 'User jump2', 'ProxyJump bastion1',
                                    'ForwardAgent no', 'StrictHostKeyChecking yes']


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
                                 '  ProxyJump bastion2', '  ForwardAgent no', '  StrictHostKeyChecking yes']
    # bastion2 as a host of its own renders exactly as it does as a hop of db1.
    assert render_host_block(resolve_host('bastion2', inventory.get)) in render_hops(hops('bastion2'))


# --- render_inventory_config: the ssh_config role's file -------------------------------------------------

PEOPLE = dict(
    INVENTORY,
    t01={'ansible_host': '10.203.2.11', 'ansible_user': 'admin', 'multihop_via': 'bastion1'},
    deep1={'ansible_host': '10.203.4.2', 'ansible_user': 'deep', 'multihop_via': 'bastion2'},
    legacy={'ansible_host': '10.9.0.5',
            'multihop_via': ['bastion1', {'host': '10.9.0.1', 'port': 2200, 'user': 'ops', 'type': 'netcat'}]},
    socked={'ansible_host': '10.8.0.5', 'multihop_via': 'proxy'},
)


def inventory_config(*names, inventory=None, **kwargs):
    lookup = (inventory or PEOPLE).get
    return render_inventory_config([resolve_host(n, lookup) for n in names], **kwargs)


def test_inventory_config_has_every_host_and_hop_once_hops_first():
    text = inventory_config('deep1', 't01', 'bastion2')
    aliases = [line[5:] for line in text.splitlines() if line.startswith('Host ')]
    assert aliases == ['bastion1', 'bastion2', 'deep1', 't01']
    rendered = blocks(text)
    assert rendered['deep1'] == ['HostName 10.203.4.2', 'User deep', 'ProxyJump bastion2', 'ForwardAgent no',
                                 'StrictHostKeyChecking yes']
    assert rendered['t01'][-3:] == ['ProxyJump bastion1', 'ForwardAgent no', 'StrictHostKeyChecking yes']


def test_inventory_config_blocks_are_the_plugins_blocks_without_runtime_lines():
    text = inventory_config('deep1')
    plugin = blocks(render_plugin_config(hops('bastion2'), RUNTIME))
    runtime = ('ControlMaster', 'ControlPath', 'ControlPersist', 'BatchMode', 'ConnectTimeout',
               'PasswordAuthentication', 'KbdInteractiveAuthentication')
    for alias in ('bastion1', 'bastion2'):
        assert blocks(text)[alias] == [line for line in plugin[alias] if not line.startswith(runtime)]
    assert render_host_block(resolve_host('deep1', PEOPLE.get)) in text


def test_inventory_config_inline_netcat_hop_gets_its_own_alias_and_the_config_path():
    text = inventory_config('legacy', config_path='/home/u/.ssh/config.d/multihop.conf')
    rendered = blocks(text)
    assert rendered['multihop-10.9.0.1-2200'][:4] == ['HostName 10.9.0.1', 'Port 2200', 'User ops',
                                                      'ProxyJump bastion1']
    assert rendered['legacy'][1] == ('ProxyCommand ssh -F /home/u/.ssh/config.d/multihop.conf '
                                     'multihop-10.9.0.1-2200 nc %h %p')


def test_inventory_config_socks_proxy_gets_no_block():
    text = inventory_config('socked', 'proxy')
    assert list(blocks(text)) == ['socked']
    assert 'ProxyCommand nc -X 5 -x 10.203.1.2:1080 %h %p' in blocks(text)['socked']


def test_inventory_config_extra_patterns_follow_the_alias():
    text = inventory_config('t01', 'deep1', patterns={'t01': ['t01.lab', 'web-?'], 'deep1': 'deep1.*'})
    assert 'Host t01 t01.lab web-?\n' in text
    assert 'Host deep1 deep1.*\n' in text


@pytest.mark.parametrize('pattern, message', [
    ('evil\n  ProxyCommand touch /tmp/x', 'invalid extra Host pattern'),
    ('a b', 'invalid extra Host pattern'),
    ('!t01', 'invalid extra Host pattern'),
    ('-oProxyCommand', 'invalid extra Host pattern'),
    ('"q"', 'invalid extra Host pattern'),
    ('%h', 'invalid extra Host pattern'),
    ('*', 'would match every host'),
    ('*.*', 'would match every host'),
    ('bastion1', 'also matches bastion1'),
    ('bastion?', 'also matches bastion1, bastion2'),
    ('DEEP1', 'also matches deep1'),
])
def test_inventory_config_refuses_bad_or_overlapping_patterns(pattern, message):
    with pytest.raises(MultihopError, match=message) as info:
        inventory_config('t01', 'deep1', patterns={'t01': [pattern]})
    assert str(info.value).startswith('host t01: ')


def test_inventory_config_refuses_a_pattern_given_to_two_hosts_or_to_an_unrendered_host():
    with pytest.raises(MultihopError, match="'db' is already given to t01"):
        inventory_config('t01', 'deep1', patterns={'t01': ['db'], 'deep1': ['db']})
    with pytest.raises(MultihopError, match='host db9: extra Host patterns given for a host that is not rendered'):
        inventory_config('t01', patterns={'db9': ['db']})
    with pytest.raises(MultihopError, match='must be a list'):
        inventory_config('t01', patterns={'t01': {'a': 1}})


def test_inventory_config_refuses_one_alias_with_two_routes():
    # As a later hop of x, bastion2 is reached through bastion1; on its own, through ncjump.
    inventory = dict(PEOPLE, bastion2=dict(PEOPLE['bastion2'], multihop_via='ncjump'),
                     x={'ansible_host': '10.0.0.9', 'multihop_via': ['bastion1', 'bastion2']})
    with pytest.raises(MultihopError, match='host x: hop 2/3 bastion2 .* reached differently here than for '
                                            'bastion2'):
        inventory_config('bastion2', 'x', inventory=inventory)


def test_inventory_config_control_master_lines_are_per_alias():
    text = inventory_config('t01', 'deep1', control=ControlMasterSettings('~/.ssh/cm', '5m'))
    rendered = blocks(text)
    paths = {alias: next(line for line in lines if line.startswith('ControlPath ')) for alias, lines in
             rendered.items()}
    assert len(set(paths.values())) == len(paths)
    assert all(p.startswith('ControlPath ~/.ssh/cm/mh-') and p.endswith('-%C') for p in paths.values())
    assert rendered['t01'][-3::2] == ['ControlMaster auto', 'ControlPersist 5m']
    assert 'ControlMaster' not in inventory_config('t01')


@pytest.mark.parametrize('control, message', [
    (ControlMasterSettings('relative/dir'), 'absolute path'),
    (ControlMasterSettings('/a\nb'), 'invalid ControlMaster directory'),
    (ControlMasterSettings('/tmp/%d'), 'invalid ControlMaster directory'),
    (ControlMasterSettings('/' + 'x' * 60), 'too long'),
    (ControlMasterSettings(persist='10m\n  ProxyCommand x'), 'invalid ControlPersist'),
])
def test_inventory_config_refuses_bad_control_master_settings(control, message):
    with pytest.raises(MultihopError, match=message):
        inventory_config('t01', control=control)


def test_inventory_config_rejects_hostile_inventory_values_naming_host_and_hop():
    inventory = dict(PEOPLE, bastion1=dict(PEOPLE['bastion1'], ansible_user='jump1\n  ProxyCommand touch /tmp/x'))
    with pytest.raises(MultihopError, match=r"host t01: multihop_via\[0\] \(bastion1\): invalid user"):
        inventory_config('t01', inventory=inventory)


def test_host_key_checking_is_explicit_unless_the_hop_sets_it():
    inventory = dict(INVENTORY, relaxed={'ansible_host': 'r.example',
                                         'ansible_ssh_common_args': '-o StrictHostKeyChecking=accept-new'})
    (hop,) = resolve_hops('t', 'relaxed', inventory.get)
    lines = blocks(render_hops((hop,)))['relaxed']
    assert 'StrictHostKeyChecking accept-new' in lines and 'StrictHostKeyChecking yes' not in lines
    assert 'StrictHostKeyChecking yes' in blocks(render_hops(hops('bastion1')))['bastion1']


def test_permit_open_lists_what_follows_the_bastion_as_openssh_dials_it():
    inventory = dict(INVENTORY, db1={'ansible_host': '10.203.4.21', 'multihop_via': 'bastion2'},
                     v6={'ansible_host': '2001:db8::5', 'multihop_via': 'bastion1'})
    routed = [resolve_host(name, inventory.get) for name in ('db1', 'v6')]
    assert permit_open(routed, {'bastion1'}, set()) == ['10.203.3.2:2222', '[2001:db8::5]:22']
    assert permit_open(routed, set(), {'10.203.3.2'}) == ['10.203.4.21:22']


def test_permit_open_refuses_a_netcat_route_through_the_bastion():
    inventory = dict(INVENTORY, old={'ansible_host': '10.9.0.9', 'multihop_via': 'ncjump'})
    with pytest.raises(ValueError, match='uses ncjump as a netcat hop'):
        permit_open([resolve_host('old', inventory.get)], {'ncjump'}, set())


def test_ssh_never_adds_keys_to_a_file_the_inventory_names():
    named = Hop(name='b', alias='b', host='10.0.0.1', options=(('UserKnownHostsFile', '/root/.ssh/authorized_keys'),))
    lines = hop_options(named, None)
    assert ('UpdateHostKeys', 'no') in lines
    off = Hop(name='b', alias='b', host='10.0.0.1', host_key_checking=False,
              options=(('UserKnownHostsFile', '/root/.ssh/authorized_keys'),))
    lines = hop_options(off, None)
    first = {}
    for key, value in lines:
        first.setdefault(key, value)
    # Checking off, as asked, but whatever ssh learns goes nowhere.
    assert first['StrictHostKeyChecking'] == 'no' and first['UserKnownHostsFile'] == '/dev/null'
