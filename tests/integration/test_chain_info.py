"""jumphosts.multihop.chain_info on the lab inventory: the chain, the ssh arguments and the plugin's own config."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from ansible_run import add_hosts, lab_inventory, run_playbook


def chain_info(tmp_path: Path, inventory: dict, hosts: str, tasks_before: list | None = None, *args: str,
               control_dir: str | None = None):
    """Run chain_info on ``hosts`` (after ``tasks_before``) and return every host's registered result."""
    out = tmp_path / 'chains.json'
    plays = [
        {'name': 'describe', 'hosts': hosts, 'gather_facts': False, 'tasks': [
            *(tasks_before or []),
            {'name': 'chain_info', 'jumphosts.multihop.chain_info': {}, 'register': 'chain'}]},
        {'name': 'collect', 'hosts': 'localhost', 'gather_facts': False,
         'vars': {'ansible_connection': 'local', 'ansible_python_interpreter': '{{ ansible_playbook_python }}',
                  'described': "{{ groups['all'] | map('extract', hostvars) | selectattr('chain', 'defined')"
                               " | list }}"},
         'tasks': [{'name': 'write results', 'check_mode': False, 'ansible.builtin.copy': {
             'dest': str(out), 'mode': '0600',
             'content': "{{ dict(described | map(attribute='inventory_hostname') | zip(described"
                        " | map(attribute='chain'))) | to_json }}"}}]},
    ]
    result = run_playbook(tmp_path, inventory, plays, *args, control_dir=control_dir)
    return result, (json.loads(out.read_text()) if out.exists() else None)


def test_deep1_chain_with_sources_command_line_and_config(lab, tmp_path):
    result, chains = chain_info(tmp_path, lab_inventory(lab), 'deep1')
    result.assert_ok('deep1')
    deep1 = chains['deep1']
    assert deep1['changed'] is False
    assert deep1['route'] == ['bastion1', 'bastion2', 'deep1']
    bastion1, bastion2 = deep1['hops']
    assert (bastion1['name'], bastion1['host'], bastion1['port'], bastion1['user'], bastion1['type']) == \
        ('bastion1', '10.203.1.2', 22, 'jump1', 'ssh')
    assert (bastion2['name'], bastion2['host'], bastion2['port'], bastion2['user'], bastion2['type']) == \
        ('bastion2', '10.203.3.2', 2222, 'jump2', 'ssh')
    assert bastion2['address'] == 'jump2@10.203.3.2:2222'
    assert bastion2['sources'] == {
        'host': 'hostvars[bastion2].ansible_host', 'port': 'hostvars[bastion2].ansible_port',
        'user': 'hostvars[bastion2].ansible_user',
        'private_key_file': 'hostvars[bastion2].ansible_ssh_private_key_file',
        'options': 'hostvars[bastion2].ansible_ssh_common_args'}
    assert bastion2['options']['UserKnownHostsFile'] == lab['known_hosts']
    assert bastion2['has_password'] is False and 'password' not in bastion2
    assert deep1['target']['address'] == 'deep@10.203.4.2:22'

    config = deep1['ssh_config']
    block = config[config.index('Host bastion2\n'):]
    block = block[:block.index('\n\n')] if '\n\n' in block else block
    assert '  ProxyJump bastion1' in block and '  HostName 10.203.3.2' in block and '  Port 2222' in block
    assert 'Host bastion1\n' in config
    args = deep1['ssh_args']
    assert args[0] == '-F' and args[1] == deep1['ssh_config_path']
    assert 'ProxyJump=bastion2' in args and 'ForwardAgent=no' in args
    assert deep1['ssh_command'].startswith('ssh -F ') and deep1['ssh_command'].endswith('-l deep 10.203.4.2')
    assert 'Host deep1\n' in deep1['host_block'] and 'ProxyJump bastion2' in deep1['host_block']


def test_config_is_the_one_the_connection_plugin_writes(lab, tmp_path):
    control_dir = tempfile.mkdtemp(prefix='mh', dir='/tmp')
    ping = [{'name': 'connect through the chain', 'ansible.builtin.ping': {}}]
    result, chains = chain_info(tmp_path, lab_inventory(lab), 'deep1', ping, control_dir=control_dir)
    result.assert_ok('deep1')
    deep1 = chains['deep1']
    written = Path(deep1['ssh_config_path'])
    assert written.parent == Path(control_dir)
    assert written.read_text() == deep1['ssh_config']


def test_check_mode_and_a_direct_host(lab, tmp_path):
    direct1 = {'ansible_host': lab['hosts']['bastion1']['address'], 'ansible_user': 'jump1'}
    inventory = add_hosts(lab_inventory(lab), 'direct', {'direct1': direct1})
    result, chains = chain_info(tmp_path, inventory, 't01,direct1', None, '--check')
    result.assert_ok('t01', 'direct1')
    assert chains['t01']['route'] == ['bastion1', 't01'] and 'ProxyJump=bastion1' in chains['t01']['ssh_args']
    direct = chains['direct1']
    assert direct['hops'] == [] and direct['ssh_args'] == [] and direct['ssh_config'] is None
    assert direct['ssh_command'] == 'ssh -l jump1 10.203.1.2'


def test_hostile_inventory_value_fails_naming_host_and_hop(lab, tmp_path):
    inventory = lab_inventory(lab)
    inventory['all']['children']['bastions']['hosts']['bastion2']['ansible_user'] = '-oProxyCommand=touch /tmp/pwned'
    result, _chains = chain_info(tmp_path, inventory, 'deep1')
    assert result.rc != 0 and result.recap['deep1']['failed'] == 1, result.output
    assert "host deep1: multihop_via[0] (bastion2): invalid user '-oProxyCommand=touch /tmp/pwned'" in result.output
    assert not Path('/tmp/pwned').exists()
