"""The jumphosts.multihop.ssh_config role run by real ansible-playbook on localhost (no lab needed).

The lab-facing part (plain ssh through the written file, equivalence with the plugin's config)
is the molecule scenario extensions/molecule/ssh_config.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ansible_run import run_playbook

SEED = '# mine\nHost example.org\n  User someone\n'


def inventory(**overrides):
    hosts = {
        'bastion1': {'ansible_host': '10.203.1.2', 'ansible_user': 'jump1'},
        'db1': {'ansible_host': '10.203.4.21', 'ansible_user': 'dba', 'multihop_via': 'bastion1'},
    }
    for name, values in overrides.items():
        hosts[name] = dict(hosts.get(name, {}), **values)
    return {'all': {'hosts': hosts}}


def apply_role(tmp_path: Path, inv: dict, *args: str, **role_vars):
    home = tmp_path / 'home'
    role_vars = dict({'ssh_config_user': 'root', 'ssh_config_home': str(home)}, **role_vars)
    play = {'name': 'ssh_config role', 'hosts': 'localhost', 'connection': 'local', 'gather_facts': False,
            'tasks': [{'name': 'apply', 'ansible.builtin.include_role': {'name': 'jumphosts.multihop.ssh_config'},
                       'vars': role_vars}]}
    return run_playbook(tmp_path, inv, [play], *args)


@pytest.fixture
def home(tmp_path):
    ssh_dir = tmp_path / 'home' / '.ssh'
    (ssh_dir / 'config.d').mkdir(parents=True)
    (ssh_dir / 'config').write_text(SEED)
    (ssh_dir / 'config.d' / 'multihop.conf').write_text('# the previous version\n')
    return ssh_dir


def test_writes_blocks_and_include_then_is_idempotent(tmp_path, home):
    first = apply_role(tmp_path, inventory(), '--diff')
    first.assert_ok('localhost')
    assert first.recap['localhost']['changed'] >= 2
    text = (home / 'config.d' / 'multihop.conf').read_text()
    assert 'Host db1\n  HostName 10.203.4.21\n  User dba\n  ProxyJump bastion1\n  ForwardAgent no\n' in text
    assert text.startswith('#\n# Ansible managed\n')
    assert (home / 'config').read_text() == f'Include {home}/config.d/multihop.conf\n' + SEED
    assert {oct(p.stat().st_mode & 0o777) for p in (home, home / 'config.d')} == {'0o700'}
    assert {oct(p.stat().st_mode & 0o777) for p in (home / 'config', home / 'config.d' / 'multihop.conf')} == \
        {'0o600'}
    again = apply_role(tmp_path, inventory())
    again.assert_ok('localhost')
    assert again.recap['localhost']['changed'] == 0


def test_check_mode_shows_the_diff_and_writes_nothing(tmp_path, home):
    result = apply_role(tmp_path, inventory(), '--check', '--diff')
    result.assert_ok('localhost')
    assert '+Host db1' in result.output and f'+Include {home}/config.d/multihop.conf' in result.output
    assert (home / 'config.d' / 'multihop.conf').read_text() == '# the previous version\n'
    assert (home / 'config').read_text() == SEED


def test_an_include_inside_a_host_block_moves_to_the_top(tmp_path, home):
    line = f'Include {home}/config.d/multihop.conf\n'
    (home / 'config').write_text(SEED + line)
    apply_role(tmp_path, inventory()).assert_ok('localhost')
    assert (home / 'config').read_text() == line + SEED


# Each case: (inventory overrides, role vars) for a marker file that must never be created, and the error.
HOSTILE = {
    'hop user with a newline': (
        lambda m: ({'bastion1': {'ansible_user': f'jump1\n  ProxyCommand touch {m}'}}, {'ssh_config_hosts': ['db1']}),
        r"host db1: multihop_via\[0\] \(bastion1\): invalid user 'jump1\\n  ProxyCommand touch"),
    'ProxyCommand in an inline hop': (
        lambda m: ({'db1': {'multihop_via': ['bastion1', {'host': '10.0.0.1',
                                                          'ssh_args': f'-o ProxyCommand=touch {m}'}]}}, {}),
        r'host db1: multihop_via\[1\] ssh_args: ProxyCommand is not allowed'),
    'key path with a newline': (
        lambda m: ({'db1': {'ansible_ssh_private_key_file': f'/k\n  LocalCommand touch {m}'}}, {}),
        r'host db1 \(db1\): invalid private key file'),
    'pattern with a newline': (
        lambda m: ({}, {'ssh_config_patterns': {'db1': [f'db1\n  ProxyCommand touch {m}']}}),
        r'host db1: invalid extra Host pattern'),
    'pattern for every host': (
        lambda m: ({}, {'ssh_config_patterns': {'db1': ['*']}}),
        r"host db1: extra Host pattern '\*' would match every host"),
    'include file with a newline': (
        lambda m: ({}, {'ssh_config_include_file': f'/tmp/x\nProxyCommand touch {m}'}),
        r'must be empty or an absolute path'),
    'value the gate refuses': (
        lambda m: ({'bastion1': {'ansible_ssh_common_args': '-o StrictHostKeyChecking=maybe'}}, {}),
        r"host bastion1 \(bastion1\) ansible_ssh_common_args: invalid value of StrictHostKeyChecking 'maybe'"),
    # Valid as far as the renderer can tell, but ssh itself refuses it: the ssh -G check catches it.
    'value ssh refuses': (
        lambda m: ({'bastion1': {'ansible_ssh_common_args': '-o KexAlgorithms=no-such-kex'}}, {}),
        r'failed to validate'),
}


@pytest.mark.parametrize('case', list(HOSTILE))
def test_hostile_or_invalid_values_fail_and_leave_the_files_alone(tmp_path, home, case):
    make, message = HOSTILE[case]
    marker = tmp_path / 'pwned'
    overrides, role_vars = make(marker)
    result = apply_role(tmp_path, inventory(**overrides), **role_vars)
    assert result.rc != 0 and result.recap['localhost']['failed'] == 1, result.output
    assert re.search(message, result.output), result.output
    assert (home / 'config.d' / 'multihop.conf').read_text() == '# the previous version\n'
    assert (home / 'config').read_text() == SEED
    assert not marker.exists()


def test_a_group_brings_only_hosts_reached_over_ssh(tmp_path, home):
    inv = inventory(box={'ansible_connection': 'local', 'ansible_ssh_common_args': '-o LocalCommand=id'})
    apply_role(tmp_path, inv).assert_ok('localhost')
    text = (home / 'config.d' / 'multihop.conf').read_text()
    assert 'Host db1\n' in text and 'Host box' not in text
    # Named by itself it counts, and its arguments are checked like any hop's.
    result = apply_role(tmp_path, inv, ssh_config_hosts=['db1', 'box'])
    assert result.rc != 0 and 'host box (box) ansible_ssh_common_args: LocalCommand is not allowed on a hop' in \
        ' '.join(result.output.split()), result.output
