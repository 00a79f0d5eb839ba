"""Hostile inventory values through the public surfaces, with real ansible-playbook, ssh and sshd (issue 12).

Every payload names a canary file in a fresh directory: the canary must never appear, the run must fail for
the host with a message naming the host and the hop, no Python traceback may reach the output, and a value
that came from a template (a fake secret) must not appear anywhere in it.
"""

from __future__ import annotations

import json
import os
import pwd
import re
import shutil
import tempfile
from pathlib import Path

import pytest

from ansible_run import add_hosts, count_logins, lab_inventory, run_playbook

BACKENDS = ['openssh', 'paramiko']
NOBODY = pwd.getpwnam('nobody').pw_uid
LOCAL = {'ansible_connection': 'local', 'ansible_python_interpreter': '{{ ansible_playbook_python }}'}


@pytest.fixture
def canary():
    """A file that a payload tries to create; its directory is fresh and must stay empty."""
    directory = Path(tempfile.mkdtemp(prefix='mh-canary-', dir='/tmp'))
    yield directory / 'pwned'
    assert list(directory.iterdir()) == [], 'a payload ran or wrote next to the canary'
    shutil.rmtree(directory)


def ping(hosts):
    return [{'name': 'hostile', 'hosts': hosts, 'gather_facts': False, 'tasks': [{'ansible.builtin.ping': {}}]}]


def chain_info(hosts):
    return [{'name': 'describe', 'hosts': hosts, 'gather_facts': False,
             'tasks': [{'jumphosts.multihop.chain_info': {}, 'register': 'chain'}]}]


def hostile_inventory(lab, backend, hosts, **group_vars):
    """The lab's inventory plus a group of hostile hosts (key login as the targets' admin unless overridden)."""
    inventory = lab_inventory(lab)
    if backend == 'paramiko':
        inventory['all']['vars']['multihop_backend'] = 'paramiko'
    defaults = {'ansible_user': 'admin', 'ansible_ssh_private_key_file': lab['users']['admin']['key']}
    return add_hosts(inventory, 'hostile', hosts, dict(defaults, **group_vars))


def assert_refused(result, host, *fragments, secrets=(), unreachable=False):
    """The run failed for ``host`` with every fragment in its output (whitespace folded), cleanly."""
    assert result.rc != 0, result.output
    recap = result.recap[host]
    assert (recap['unreachable'], recap['failed']) == ((1, 0) if unreachable else (0, 1)), result.output
    flat = ' '.join(result.output.split())
    for fragment in fragments:
        assert fragment in flat, f'{fragment!r} not in:\n{result.output}'
    assert 'Traceback' not in result.output, result.output
    for secret in secrets:
        assert secret not in result.output, result.output


# --- 1. an IPv6 zone id carrying ssh_config lines, on every surface --------------------------------------

def zone_payload(canary):
    return f'fe80::1%h"\nMatch exec "touch {canary}"\n#'


ZONE = 'IPv6 zone ids ("%...") are not supported'
ZONE_SURFACES = [('plugin', 'openssh'), ('plugin', 'paramiko'), ('socks5 hop', 'openssh'),
                 ('socks5 hop', 'paramiko'), ('target behind netcat', 'openssh'),
                 ('target behind netcat', 'paramiko'), ('chain_info', 'openssh'), ('ssh_config role', 'openssh')]


@pytest.mark.parametrize('surface, backend', ZONE_SURFACES, ids=[f'{s}-{b}'.replace(' ', '-')
                                                                 for s, b in ZONE_SURFACES])
def test_zone_id_in_a_host_never_reaches_ssh(lab, tmp_path, canary, surface, backend):
    payload = zone_payload(canary)
    bastion1_log = lab['hosts']['bastion1']['log']
    hosts = {
        'zonehop': {'ansible_host': payload, 'ansible_user': 'jump1',
                    'ansible_ssh_private_key_file': lab['users']['jump1']['key']},
        'victim': {'ansible_host': lab['targets']['t01'], 'multihop_via': 'zonehop'},
    }
    expected = ['host victim: multihop_via[0] (zonehop): invalid host', ZONE]
    if surface == 'socks5 hop':
        hosts['zonehop'] = {'ansible_host': payload, 'ansible_port': lab['socks']['port'], 'multihop_type': 'socks5'}
    elif surface == 'target behind netcat':
        hosts['zonehop'] = {'ansible_host': lab['hosts']['bastion1']['address'], 'ansible_user': 'ncjump',
                            'ansible_ssh_private_key_file': lab['users']['ncjump']['key'], 'multihop_type': 'netcat'}
        hosts['victim']['ansible_host'] = payload
        # The target's own values reach the plugin templated: a rejected one is never shown.
        expected = [f'host victim: invalid host (a string of {len(payload)} characters, not shown)', ZONE]
    inventory = hostile_inventory(lab, backend, hosts)
    logins = count_logins(bastion1_log, 'ncjump')
    home, host = tmp_path / 'home', 'victim'
    if surface == 'chain_info':
        result = run_playbook(tmp_path, inventory, chain_info('victim'))
    elif surface == 'ssh_config role':
        role_vars = {'ssh_config_user': 'root', 'ssh_config_home': str(home), 'ssh_config_hosts': ['victim']}
        result = run_playbook(tmp_path, inventory, [
            {'name': 'ssh_config role', 'hosts': 'localhost', 'gather_facts': False, 'vars': LOCAL, 'tasks': [
                {'ansible.builtin.include_role': {'name': 'jumphosts.multihop.ssh_config'}, 'vars': role_vars}]}])
        host, expected = 'localhost', [f'jumphosts.multihop.ssh_config: {expected[0]}', ZONE]
    else:
        result = run_playbook(tmp_path, inventory, ping('victim'))
    assert_refused(result, host, *expected)
    assert payload not in result.output  # only ever shown escaped and cut, never as the lines it holds
    assert not (home / '.ssh' / 'config.d' / 'multihop.conf').exists()
    assert count_logins(bastion1_log, 'ncjump') == logins


# --- 2. PermitOpen on a bastion, from hostile chains -----------------------------------------------------

AUDIT_BASTION3 = [
    {'name': 'audit bastion3', 'hosts': 'bastion3', 'gather_facts': False, 'become': True, 'tasks': [
        {'name': 'effective settings for root', 'changed_when': False, 'register': 'effective',
         'ansible.builtin.command': {'argv': ['/usr/sbin/sshd', '-T', '-C', 'user=root,host=audit,addr=10.203.5.1']}},
        {'name': 'every file and directory under /etc/ssh', 'changed_when': False, 'register': 'files',
         'ansible.builtin.shell': 'cd /etc/ssh && find . -type f -exec sha256sum {} + | sort && find . -type d | sort'},
    ]},
    {'name': 'collect', 'hosts': 'localhost', 'gather_facts': False, 'vars': LOCAL, 'tasks': [
        {'ansible.builtin.copy': {'dest': '{{ audit_file }}', 'mode': '0600', 'content': (
            "{{ {'effective': hostvars.bastion3.effective.stdout_lines, 'files': hostvars.bastion3.files.stdout}"
            " | to_json }}")}}]},
]


def audit_bastion3(lab, tmp_path):
    out = tmp_path / 'audit.json'
    run_playbook(tmp_path, lab_inventory(lab), AUDIT_BASTION3, '-e', f'audit_file={out}').assert_ok('bastion3')
    audit = json.loads(out.read_text())
    out.unlink()
    return dict(line.split(' ', 1) for line in audit['effective'])['permitrootlogin'], audit['files']


@pytest.mark.parametrize('address', ['fe80::1%x]:22 *:* [::1', '10.203.6.10\nMatch all\n PermitRootLogin yes'],
                         ids=['zone-id-widening-permitopen', 'match-all-permitrootlogin'])
def test_bastion_role_refuses_hostile_chains_before_installing_anything(lab, tmp_path, address):
    root_login, files = audit_bastion3(lab, tmp_path)
    inventory = add_hosts(lab_inventory(lab), 'hostile', {
        'evil_target': {'ansible_host': address, 'ansible_user': 'admin', 'multihop_via': 'bastion3_jump'}})
    play = {'name': 'harden bastion3', 'hosts': 'bastion3', 'gather_facts': False, 'become': True,
            'roles': [{'role': 'jumphosts.multihop.bastion', 'vars': {'bastion_permit_open_from_inventory': True}}]}
    result = run_playbook(tmp_path, inventory, [play])
    assert_refused(result, 'bastion3', 'bastion_permitopen: host evil_target (evil_target): invalid host')
    assert ascii(address[:40]) in result.output  # a literal value: shown escaped and cut, never as lines
    assert '\n' not in address or address not in result.output
    for task in ('Render the new drop-in', 'Write the drop-in', 'Install the managed blocks', 'Reload sshd'):
        assert task not in result.output, result.output
    assert audit_bastion3(lab, tmp_path) == (root_login, files)


# --- 3. run-time settings of the OpenSSH backend (paramiko runs no ssh client and has no use for them) ------

RUNTIME = {
    'control-persist-newline': ('multihop_control_persist', '60s\nMatch exec "touch {canary}"',
                                'host victim: multihop_control_persist: invalid multihop_control_persist'),
    'control-path-dir-newline': ('ansible_control_path_dir', '{dir}/cp\nMatch exec "touch {canary}"',
                                 'host victim: control_path_dir: invalid control_path_dir'),
    'control-path-dir-space-quote': ('ansible_control_path_dir', '{dir}/cp dir" -oProxyCommand="touch {canary}',
                                     'host victim: control_path_dir: invalid control_path_dir'),
}


@pytest.mark.parametrize('case', list(RUNTIME))
def test_hostile_runtime_values_are_refused_naming_the_host(lab, tmp_path, canary, case):
    variable, value, message = RUNTIME[case]
    value = value.format(canary=canary, dir=canary.parent)
    inventory = hostile_inventory(lab, 'openssh', {
        'victim': {'ansible_host': lab['targets']['t01'], 'multihop_via': 'bastion1', variable: value}})
    result = run_playbook(tmp_path, inventory, ping('victim'))
    assert_refused(result, 'victim', message)  # the canary fixture checks that no directory was made


# --- 4. every spelling of "host key checking off" on a hop is noticed ---------------------------------------

SPELLINGS = {
    'false': ('-o StrictHostKeyChecking=false', True),
    'OFF': ('-o StrictHostKeyChecking=OFF', True),
    'accept-new-dev-null': ('-o UserKnownHostsFile=/dev/null -o StrictHostKeyChecking=accept-new', True),
    'yes-real-file': ('-o StrictHostKeyChecking=yes', False),  # checked: the control case
}


@pytest.mark.parametrize('backend', BACKENDS)
@pytest.mark.parametrize('spelling', list(SPELLINGS))
def test_every_spelling_of_host_key_checking_off_warns(lab, tmp_path, backend, spelling):
    args, off = SPELLINGS[spelling]
    if '/dev/null' not in args:  # the lab's known_hosts has the key: ssh never needs to write one
        args += f" -o UserKnownHostsFile={lab['known_hosts']}"
    inventory = hostile_inventory(lab, backend, {})
    inventory['all']['children']['bastions']['hosts']['bastion1']['ansible_ssh_common_args'] = args
    result = run_playbook(tmp_path, inventory, ping('t01'))
    result.assert_ok('t01')
    warning = f"host key checking is off for bastion1 on the way to {lab['targets']['t01']}"
    assert (warning in ' '.join(result.output.split())) is off, result.output


# --- 5. no backend ever writes host keys into a file the inventory names ---------------------------------

@pytest.mark.parametrize('backend', BACKENDS)
@pytest.mark.parametrize('existing', [True, False], ids=['existing-file', 'missing-file'])
def test_host_keys_are_never_written_into_a_file_named_by_inventory(lab, tmp_path, backend, existing):
    victim = tmp_path / 'authorized_keys'
    before = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl operator\n'
    if existing:
        victim.write_text(before)
    home = tmp_path / 'home'
    home.mkdir()
    inventory = hostile_inventory(lab, backend, {})
    inventory['all']['vars']['multihop_accept_new_host_keys'] = True
    # "restrict KEY" in an authorized_keys file would let the hop's host key log in.
    inventory['all']['children']['bastions']['hosts']['bastion1']['ansible_ssh_common_args'] = (
        f'-o StrictHostKeyChecking=accept-new -o UserKnownHostsFile={victim} -o HostKeyAlias=restrict '
        '-o HashKnownHosts=no')
    result = run_playbook(tmp_path, inventory, ping('t01'), env={'HOME': str(home)})
    assert_refused(result, 't01', 'host t01: multihop_via[0] (bastion1):', 'ssh would write host keys into that file')
    assert (victim.read_text() == before) if existing else not victim.exists()
    assert not (home / '.ssh').exists()


@pytest.mark.parametrize('backend', BACKENDS)
def test_checking_off_with_a_file_named_by_inventory_writes_nothing_there(lab, tmp_path, backend):
    victim = tmp_path / 'authorized_keys'
    inventory = hostile_inventory(lab, backend, {})
    inventory['all']['children']['bastions']['hosts']['bastion1']['ansible_ssh_common_args'] = (
        f'-o StrictHostKeyChecking=no -o UserKnownHostsFile={victim} -o HostKeyAlias=restrict')
    result = run_playbook(tmp_path, inventory, ping('t01'))
    result.assert_ok('t01')  # checking is off, as asked, and warned about
    assert 'host key checking is off for bastion1' in ' '.join(result.output.split()), result.output
    assert not victim.exists()


# --- 6. crashes and leaks --------------------------------------------------------------------------------

@pytest.mark.parametrize('backend', BACKENDS)
def test_odd_values_give_clean_errors_naming_host_and_hop(lab, tmp_path, backend):
    inventory = hostile_inventory(lab, backend, {
        'porthop': {'ansible_host': lab['hosts']['bastion1']['address'], 'ansible_port': '²'},
        'undefhop': {'ansible_host': lab['hosts']['bastion1']['address'], 'ansible_user': '{{ no_such_var }}'},
        'v_port': {'ansible_host': lab['targets']['t01'], 'multihop_via': 'porthop'},
        'v_intkey': {'ansible_host': lab['targets']['t01'], 'multihop_via': [{'host': '10.0.0.1', 1: 'x'}]},
        'v_undef': {'ansible_host': lab['targets']['t01'], 'multihop_via': 'undefhop'},
    })
    result = run_playbook(tmp_path, inventory, ping('v_port,v_intkey,v_undef'))
    assert_refused(result, 'v_port', "host v_port: multihop_via[0] (porthop): invalid port '\\xb2'")
    assert_refused(result, 'v_intkey', 'host v_intkey: multihop_via[0]: unknown key(s) 1 in hop')
    assert_refused(result, 'v_undef',
                   'host v_undef: multihop_via[0] (undefhop): variable ansible_user of undefhop cannot be templated')


SECRETS = ('S3cr3t-Value', 'hunter2-secret', 'T4rget-S3cret')


@pytest.mark.parametrize('surface', ['openssh', 'paramiko', 'chain_info'])
def test_templated_secrets_in_rejected_values_are_never_printed(lab, tmp_path, surface):
    bastion1 = lab['hosts']['bastion1']['address']
    inventory = hostile_inventory(lab, 'paramiko' if surface == 'paramiko' else 'openssh', {
        'literalhop': {'ansible_host': bastion1, 'ansible_user': "{{ 'S3cr3t-Value\n' }}"},
        'varhop': {'ansible_host': bastion1, 'ansible_user': '{{ secret_user }}', 'secret_user': 'hunter2-secret\nx'},
        'v_literal': {'ansible_host': lab['targets']['t01'], 'multihop_via': 'literalhop'},
        'v_var': {'ansible_host': lab['targets']['t01'], 'multihop_via': 'varhop'},
        'v_target': {'ansible_host': lab['targets']['t01'], 'multihop_via': 'bastion1',
                     'ansible_user': "{{ 'T4rget-S3cret\n' }}"},
    })
    hosts = 'v_literal,v_var,v_target'
    result = run_playbook(tmp_path, inventory, chain_info(hosts) if surface == 'chain_info' else ping(hosts))
    hidden = 'invalid user (a string of {} characters, not shown)'
    assert_refused(result, 'v_literal', 'host v_literal: multihop_via[0] (literalhop): ' + hidden.format(13),
                   secrets=SECRETS)
    assert_refused(result, 'v_var', 'host v_var: multihop_via[0] (varhop): ' + hidden.format(16), secrets=SECRETS)
    assert_refused(result, 'v_target', hidden.format(14), secrets=SECRETS)
    assert re.search(r'host v_target(?: \(v_target\))?: invalid user', result.output), result.output


@pytest.fixture
def control_dir():
    path = tempfile.mkdtemp(prefix='mh', dir='/tmp')
    yield Path(path)
    shutil.rmtree(path)


@pytest.mark.parametrize('problem', ['group-writable', 'owned-by-nobody'])
def test_a_control_directory_others_could_write_is_refused(lab, tmp_path, control_dir, problem):
    if problem == 'group-writable':
        control_dir.chmod(0o777)
        why = 'group or others may write it (mode 0777)'
    else:
        os.chown(control_dir, NOBODY, -1)
        why = f'it is owned by uid {NOBODY}, not by uid {os.geteuid()}'
    result = run_playbook(tmp_path, lab_inventory(lab), ping('t01'), control_dir=str(control_dir))
    assert_refused(result, 't01', f'host t01: refusing to use control directory {control_dir}: {why}')
    assert list(control_dir.iterdir()) == []


def test_a_config_planted_in_the_control_directory_is_refused(lab, tmp_path, control_dir, canary):
    out = tmp_path / 'chain.json'
    describe = chain_info('t01') + [{'name': 'save', 'hosts': 'localhost', 'gather_facts': False, 'vars': LOCAL,
                                     'tasks': [{'ansible.builtin.copy': {
                                         'dest': str(out), 'mode': '0600',
                                         'content': '{{ hostvars.t01.chain | to_json }}'}}]}]
    run_playbook(tmp_path, lab_inventory(lab), describe, control_dir=str(control_dir)).assert_ok('t01')
    planted = Path(json.loads(out.read_text())['ssh_config_path'])
    assert planted.parent == control_dir and not planted.exists()
    planted.write_text(f'Host *\n  ProxyCommand touch {canary}\n  LocalCommand touch {canary}\n')
    os.chown(planted, NOBODY, -1)
    result = run_playbook(tmp_path, lab_inventory(lab), ping('t01'), control_dir=str(control_dir))
    assert_refused(result, 't01', f'host t01: refusing to use route config {planted}: it is owned by uid {NOBODY}')
    assert sorted(p.name for p in control_dir.iterdir()) == [planted.name]


# --- 7. the target's own address ---------------------------------------------------------------------------

@pytest.mark.parametrize('backend', BACKENDS)
def test_a_target_address_with_a_newline_is_refused_before_any_hop_is_dialled(lab, tmp_path, canary, backend):
    log = lab['hosts']['bastion1']['log']
    connections = Path(log).read_text(errors='replace').count('Connection from')
    address = f"{lab['targets']['t01']}\nProxyCommand touch {canary}"
    inventory = hostile_inventory(lab, backend, {'victim': {'ansible_host': address, 'multihop_via': 'bastion1'}})
    result = run_playbook(tmp_path, inventory, ping('victim'))
    assert_refused(result, 'victim', f'host victim: invalid host (a string of {len(address)} characters, not shown)')
    assert address not in result.output
    assert Path(log).read_text(errors='replace').count('Connection from') == connections
