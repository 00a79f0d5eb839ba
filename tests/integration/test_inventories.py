"""Odd but valid inventories, through real ansible-playbook and the lab: settings given once for all hosts,
hops of every kind, delegation from a bastion's own play, and a user's own ssh -F file."""

from __future__ import annotations

from pathlib import Path

import pytest

from ansible_run import run_playbook

BACKENDS = ['openssh', 'paramiko']


def play(hosts, tasks, **keywords):
    return dict({'name': 'inventory test', 'hosts': hosts, 'gather_facts': False, 'tasks': tasks}, **keywords)


WHOAMI = [
    {'name': 'who', 'ansible.builtin.command': 'id -un', 'register': 'login', 'changed_when': False},
    {'name': 'logged in as expected', 'ansible.builtin.assert': {'that': 'login.stdout == expected_user'}},
]


def base_inventory(lab, backend, common_args, hosts):
    return {'all': {'vars': {'ansible_connection': 'jumphosts.multihop.ssh', 'multihop_backend': backend,
                             'ansible_python_interpreter': '/usr/bin/python3',
                             'ansible_ssh_common_args': common_args},
                    'hosts': hosts}}


def key(lab, user):
    return lab['users'][user]['key']


@pytest.mark.parametrize('backend', BACKENDS)
def test_known_hosts_given_once_reaches_hops_of_every_kind(lab, backend, tmp_path):
    """The acceptance case: -o UserKnownHostsFile=FILE once for all hosts, and an empty ~/.ssh."""
    bastion1, bastion2 = lab['hosts']['bastion1'], lab['hosts']['bastion2']
    target = {'ansible_user': 'admin', 'ansible_ssh_private_key_file': key(lab, 'admin'), 'expected_user': 'admin'}
    hosts = {
        'bastion1': {'ansible_host': bastion1['address'], 'ansible_user': 'jump1',
                     'ansible_ssh_private_key_file': key(lab, 'jump1')},
        'via_inventory_hop': dict(target, ansible_host=lab['targets']['t01'], multihop_via='bastion1'),
        'via_string_hop': dict(target, ansible_host=lab['targets']['t02'],
                               multihop_via=[f"jump1@{bastion1['address']}:22"],
                               # a string hop has no key of its own: ssh takes the agent or defaults
                               ansible_ssh_common_args=f"-o UserKnownHostsFile={lab['known_hosts']} "
                                                       f"-o IdentityFile={key(lab, 'jump1')}"),
        'via_mapping_hops': dict(target, ansible_host=lab['hosts']['deep']['address'], ansible_user='deep',
                                 expected_user='deep', ansible_ssh_private_key_file=key(lab, 'deep'),
                                 multihop_via=[
                                     {'host': bastion1['address'], 'user': 'jump1',
                                      'private_key_file': key(lab, 'jump1')},
                                     {'host': bastion2['address'], 'port': bastion2['port'], 'user': 'jump2',
                                      'private_key_file': key(lab, 'jump2')}]),
        'via_netcat_mapping': dict(target, ansible_host=lab['targets']['t03'], multihop_via=[
            {'host': bastion1['address'], 'user': 'ncjump', 'private_key_file': key(lab, 'ncjump'),
             'type': 'netcat'}]),
    }
    common = f"-o UserKnownHostsFile={lab['known_hosts']} -o BatchMode=yes -o ServerAliveInterval=15"
    inventory = base_inventory(lab, backend, common, hosts)
    home = tmp_path / 'home'
    home.mkdir()
    names = 'via_inventory_hop,via_string_hop,via_mapping_hops,via_netcat_mapping'
    result = run_playbook(tmp_path, inventory, [play(names, WHOAMI)], env={'HOME': str(home)})
    result.assert_ok(*names.split(','))
    assert not (home / '.ssh' / 'known_hosts').exists()


def test_delegating_from_a_bastions_play_to_a_host_behind_it(lab, tmp_path):
    bastion1 = lab['hosts']['bastion1']
    hosts = {
        'bastion1': {'ansible_host': bastion1['address'], 'ansible_user': 'jump1',
                     'ansible_ssh_private_key_file': key(lab, 'jump1')},
        't10': {'ansible_host': lab['targets']['t01'], 'ansible_user': 'admin', 'multihop_via': 'bastion1',
                'ansible_ssh_private_key_file': key(lab, 'admin')},
    }
    inventory = base_inventory(lab, 'openssh', f"-o UserKnownHostsFile={lab['known_hosts']}", hosts)
    tasks = [{'name': 'on the host behind the bastion', 'ansible.builtin.command': 'id -un', 'register': 'login',
              'changed_when': False, 'delegate_to': 't10'},
             {'name': 'it ran there', 'ansible.builtin.assert': {'that': "login.stdout == 'admin'"}}]
    result = run_playbook(tmp_path, inventory, [play('bastion1', tasks)])
    result.assert_ok('bastion1')


def test_a_users_own_ssh_config_file_still_applies(lab, tmp_path):
    """Teleport and ansible-core's own tests set -F FILE; the route's hops must still resolve."""
    users_file = tmp_path / 'my_ssh_config'
    address = lab['targets']['t02']
    users_file.write_text(f"Host {address}\n  User admin\n  IdentityFile {key(lab, 'admin')}\n"
                          f"  UserKnownHostsFile {lab['known_hosts']}\n")
    hosts = {
        'bastion1': {'ansible_host': lab['hosts']['bastion1']['address'], 'ansible_user': 'jump1',
                     'ansible_ssh_private_key_file': key(lab, 'jump1'),
                     'ansible_ssh_common_args': f"-o UserKnownHostsFile={lab['known_hosts']}"},
        # No user or key in inventory: both come from the user's file.
        'configured': {'ansible_host': address, 'multihop_via': 'bastion1', 'expected_user': 'admin'},
    }
    inventory = base_inventory(lab, 'openssh', f'-F {users_file}', hosts)
    result = run_playbook(tmp_path, inventory, [play('configured', WHOAMI)])
    result.assert_ok('configured')
    assert 'Could not resolve hostname' not in result.output
    assert Path(users_file).exists()
