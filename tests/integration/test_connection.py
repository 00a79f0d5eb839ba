"""jumphosts.multihop.ssh through real OpenSSH servers in the lab (see tests/lab/README.md)."""

from __future__ import annotations

import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from ansible_run import add_hosts, count_logins, lab_inventory, run_playbook

LAB_SCRIPT = Path(__file__).resolve().parents[1] / 'lab' / 'lab.py'
BACKENDS = ['openssh', 'paramiko']


@pytest.fixture(params=BACKENDS)
def backend(request):
    """Every test runs on both backends, with the same inventory; only multihop_backend differs."""
    return request.param


def inventory_for(lab, backend):
    """The lab's inventory, run by ``backend``. OpenSSH is the default and is left unset, as users leave it."""
    inventory = lab_inventory(lab)
    if backend != 'openssh':
        inventory['all']['vars']['multihop_backend'] = backend
    return inventory


def play(hosts, tasks, **keywords):
    return dict({'name': 'multihop test', 'hosts': hosts, 'gather_facts': False, 'tasks': tasks}, **keywords)


def address_check(expected_user_var='ansible_user'):
    """Tasks proving the command ran on the host itself: its own address and login user."""
    return [
        {'name': 'read addresses', 'ansible.builtin.command': 'hostname -I', 'register': 'addresses',
         'changed_when': False},
        {'name': 'read user', 'ansible.builtin.command': 'id -un', 'register': 'login', 'changed_when': False},
        {'name': 'ran on the target as its user', 'ansible.builtin.assert': {'that': [
            'ansible_host in addresses.stdout.split()',
            f'login.stdout == {expected_user_var}',
        ]}},
    ]


def test_one_and_two_hop_chains_with_their_own_user_port_and_key(lab, backend, tmp_path):
    result = run_playbook(tmp_path, inventory_for(lab, backend), [play('t01,deep1,bastion2', address_check())])
    result.assert_ok('t01', 'deep1', 'bastion2')
    assert result.recap['deep1']['ok'] == 3


# OpenSSH 9's scp speaks SFTP, which takes the shell-quoted remote path literally: ansible.builtin.ssh
# cannot fetch a name that needs quoting (spaces, non-ASCII) over scp either, so scp fetches a plain name.
# Lab hosts share the machine's /tmp, so each writes into its own home.
REMOTE_PATHS = {'sftp': '~/multihop dir/sftp ünï ✓.txt', 'scp': '~/multihop_scp.txt',
                'piped': '~/multihop dir/piped ünï ✓.txt'}


def test_every_transfer_method_copies_and_fetches_unicode_names(lab, backend, tmp_path):
    source = tmp_path / 'ünïcödé file ✓.txt'
    source.write_text('multihop payload ✓\n', encoding='utf-8')
    fetched = tmp_path / 'fetched'
    tasks = [{'name': 'directory with a space', 'ansible.builtin.file': {
        'path': '~/multihop dir', 'state': 'directory', 'mode': '0755'}}]
    for method, remote in REMOTE_PATHS.items():
        method_vars = {'ansible_ssh_transfer_method': method}
        tasks += [
            {'name': f'copy with {method}', 'vars': method_vars,
             'ansible.builtin.copy': {'src': str(source), 'dest': remote, 'mode': '0644'}},
            {'name': f'fetch with {method}', 'vars': method_vars,
             'ansible.builtin.fetch': {'src': remote, 'dest': f'{fetched}/{method}/', 'flat': True}},
        ]
    result = run_playbook(tmp_path, inventory_for(lab, backend), [play('deep1', tasks)])
    result.assert_ok('deep1')
    for method, remote in REMOTE_PATHS.items():
        assert (fetched / method / Path(remote).name).read_text(encoding='utf-8') == 'multihop payload ✓\n'


def test_pipelining_reset_connection_and_wait_for_connection(lab, backend, tmp_path):
    tasks = [
        {'name': 'first', 'ansible.builtin.command': 'true', 'changed_when': False},
        {'name': 'reset', 'ansible.builtin.meta': 'reset_connection'},
        {'name': 'wait', 'ansible.builtin.wait_for_connection': {'timeout': 30}},
        {'name': 'after reset', 'ansible.builtin.ping': {}},
    ]
    result = run_playbook(tmp_path, inventory_for(lab, backend),
                          [play('t01,deep1', tasks, vars={'ansible_pipelining': True})])
    result.assert_ok('t01', 'deep1')


def test_delegate_to_a_host_behind_bastions_uses_its_chain(lab, backend, tmp_path):
    tasks = [{'name': 'on deep1', 'ansible.builtin.command': 'hostname -I', 'register': 'addresses',
              'changed_when': False, 'delegate_to': 'deep1'},
             {'name': 'ran on deep1', 'ansible.builtin.assert': {
                 'that': "hostvars['deep1'].ansible_host in addresses.stdout.split()"}}]
    result = run_playbook(tmp_path, inventory_for(lab, backend), [play('t01', tasks)])
    result.assert_ok('t01')


def test_one_master_per_hop_shared_by_all_targets_and_forks(lab, tmp_path):
    """OpenSSH only: its master connections outlive the worker processes."""
    targets = ','.join(lab['targets'])
    log = lab['hosts']['bastion1']['log']
    before = count_logins(log, 'jump1')
    tasks = [{'name': 'one', 'ansible.builtin.command': 'true', 'changed_when': False},
             {'name': 'two', 'ansible.builtin.ping': {}}]
    result = run_playbook(tmp_path, lab_inventory(lab), [play(targets, tasks)], '--forks', '10')
    result.assert_ok(*lab['targets'])
    assert count_logins(log, 'jump1') - before == 1


def count_sessions(log, user):
    path = Path(log)
    text = path.read_text(errors='replace') if path.exists() else ''
    return text.count(f'Starting session: command for {user} from')


@pytest.mark.parametrize('tcp_nodelay', [True, False])
def test_each_hop_login_starts_one_session_unless_told_not_to(lab, backend, tmp_path, tcp_nodelay):
    """sshd sets TCP_NODELAY when a session starts; docs/docsite/rst/connection.rst (Performance) has the timings.

    OpenSSH logs in to each hop once, for the whole run; paramiko once per chain (deep1's chain starts with
    bastion1 too) for the whole run.
    """
    logs = {'jump1': lab['hosts']['bastion1']['log'], 'jump2': lab['hosts']['bastion2']['log']}
    sessions_before = {user: count_sessions(log, user) for user, log in logs.items()}
    logins_before = {user: count_logins(log, user) for user, log in logs.items()}
    inventory = inventory_for(lab, backend)
    inventory['all']['vars']['multihop_tcp_nodelay'] = tcp_nodelay
    tasks = [{'name': 'one', 'ansible.builtin.command': 'true', 'changed_when': False},
             {'name': 'two', 'ansible.builtin.ping': {}}]
    result = run_playbook(tmp_path, inventory, [play('t01,t02,deep1', tasks)])
    result.assert_ok('t01', 't02', 'deep1')
    logins = {user: count_logins(log, user) - logins_before[user] for user, log in logs.items()}
    sessions = {user: count_sessions(log, user) - sessions_before[user] for user, log in logs.items()}
    assert logins == ({'jump1': 1, 'jump2': 1} if backend == 'openssh' else {'jump1': 2, 'jump2': 1})
    assert sessions == (logins if tcp_nodelay else {'jump1': 0, 'jump2': 0})


def test_preload_vars_plugin_keeps_group_vars_and_routes_working(lab, tmp_path):
    (tmp_path / 'group_vars').mkdir()
    (tmp_path / 'group_vars' / 'all.yml').write_text('from_group_vars_file: read\n')
    tasks = address_check() + [{'name': 'group_vars file still read', 'ansible.builtin.assert': {
        'that': "from_group_vars_file == 'read'"}}]
    result = run_playbook(tmp_path, lab_inventory(lab), [play('t01,deep1', tasks)],
                          env={'ANSIBLE_VARS_ENABLED': 'host_group_vars,jumphosts.multihop.preload'})
    result.assert_ok('t01', 'deep1')


def test_paramiko_logs_in_to_a_hop_once_for_a_play_of_several_tasks_on_several_targets(lab, tmp_path):
    """paramiko's counterpart: the hop's login is held by its hop process and shared by every task, target and
    fork; without pipelining the command module opens several channels per task."""
    targets = ','.join(lab['targets'])
    log = lab['hosts']['bastion1']['log']
    before = count_logins(log, 'jump1')
    tasks = [{'name': 'one', 'ansible.builtin.command': 'true', 'changed_when': False},
             {'name': 'two', 'ansible.builtin.ping': {}}]
    result = run_playbook(tmp_path, inventory_for(lab, 'paramiko'), [play(targets, tasks)], '--forks', '10',
                          env={'ANSIBLE_PIPELINING': '0'})
    result.assert_ok(*lab['targets'])
    assert len(lab['targets']) > 1
    assert count_logins(log, 'jump1') - before == 1


def test_different_passwords_on_bastion_and_target(lab, backend, tmp_path):
    users = lab['users']
    inventory = add_hosts(inventory_for(lab, backend), 'passwords', {
        'pwbastion': {'ansible_host': lab['hosts']['bastion1']['address'], 'ansible_user': 'pwjump',
                      'ansible_password': users['pwjump']['password']},
        'pwtarget': {'ansible_host': lab['targets']['t01'], 'ansible_user': 'admin',
                     'ansible_password': users['admin']['password'], 'multihop_via': 'pwbastion'},
    })
    if backend == 'openssh':  # paramiko takes the target's password directly
        inventory['all']['children']['passwords']['hosts']['pwtarget']['ansible_ssh_password_mechanism'] = \
            'ssh_askpass'
    assert users['pwjump']['password'] != users['admin']['password']
    result = run_playbook(tmp_path, inventory, [play('pwtarget', address_check())])
    result.assert_ok('pwtarget')
    assert users['pwjump']['password'] not in result.output


def test_wrong_bastion_password_names_the_hop(lab, backend, tmp_path):
    inventory = add_hosts(inventory_for(lab, backend), 'passwords', {
        'pwbastion': {'ansible_host': lab['hosts']['bastion1']['address'], 'ansible_user': 'pwjump',
                      'ansible_password': 'not-the-password'},
        'pwtarget': {'ansible_host': lab['targets']['t01'], 'multihop_via': 'pwbastion'},
    }, {'ansible_user': 'admin', 'ansible_ssh_private_key_file': lab['users']['admin']['key']})
    result = run_playbook(tmp_path, inventory, [play('pwtarget', [{'ansible.builtin.ping': {}}])])
    refusal = {'openssh': 'Permission denied',
               'paramiko': 'Authentication failed: permission denied for pwjump (tried'}[backend]
    result.assert_unreachable('pwtarget', 'hop 1/2 pwbastion pwjump@10.203.1.2:22', refusal)
    assert 'not-the-password' not in result.output


def test_password_hop_with_an_unknown_host_key_is_refused_before_any_password_is_sent(lab, backend, tmp_path):
    empty = tmp_path / 'empty_known_hosts'
    empty.write_text('')
    password = lab['users']['pwjump']['password']
    inventory = add_hosts(inventory_for(lab, backend), 'passwords', {
        'pwbastion': {'ansible_host': lab['hosts']['bastion1']['address'], 'ansible_user': 'pwjump',
                      'ansible_password': password, 'ansible_ssh_common_args': f'-o UserKnownHostsFile={empty}'},
        'pwtarget': {'ansible_host': lab['targets']['t01'], 'multihop_via': 'pwbastion'},
    }, {'ansible_user': 'admin', 'ansible_ssh_private_key_file': lab['users']['admin']['key']})
    before = count_logins(lab['hosts']['bastion1']['log'], 'pwjump')
    result = run_playbook(tmp_path, inventory, [play('pwtarget', [{'ansible.builtin.ping': {}}])])
    result.assert_unreachable('pwtarget', 'hop 1/2 pwbastion pwjump@10.203.1.2:22', 'Host key verification failed')
    assert count_logins(lab['hosts']['bastion1']['log'], 'pwjump') == before
    assert empty.read_text() == '' and password not in result.output


def test_netcat_hop_through_a_bastion_that_denies_tcp_forwarding(lab, backend, tmp_path):
    ncjump = {'ansible_host': lab['hosts']['bastion1']['address'], 'ansible_user': 'ncjump',
              'ansible_ssh_private_key_file': lab['users']['ncjump']['key']}
    target = {'ansible_host': lab['targets']['t02'], 'ansible_user': 'admin',
              'ansible_ssh_private_key_file': lab['users']['admin']['key']}
    inventory = add_hosts(inventory_for(lab, backend), 'netcat', {
        'ncbastion': dict(ncjump, multihop_type='netcat'),
        'jumpbastion': ncjump,
        'via_netcat': dict(target, multihop_via='ncbastion'),
        'via_proxyjump': dict(target, multihop_via='jumpbastion'),
    })
    result = run_playbook(tmp_path, inventory, [play('via_netcat,via_proxyjump', address_check())])
    assert result.recap['via_netcat'] == {'ok': 3, 'changed': 0, 'unreachable': 0, 'failed': 0}, result.output
    # The same bastion refuses ProxyJump: the netcat hop type is what makes the first one work.
    assert result.recap['via_proxyjump']['unreachable'] == 1, result.output


def test_socks5_hop(lab, backend, tmp_path):
    socks = lab['socks']
    inventory = add_hosts(inventory_for(lab, backend), 'socks', {
        'via_socks': {'ansible_host': lab['targets']['t03'],
                      'multihop_via': {'host': socks['host'], 'port': socks['port'], 'type': 'socks5'}},
    }, {'ansible_user': 'admin', 'ansible_ssh_private_key_file': lab['users']['admin']['key']})
    result = run_playbook(tmp_path, inventory, [play('via_socks', address_check())])
    result.assert_ok('via_socks')


def test_host_key_mismatch_on_a_hop_is_refused(lab, backend, tmp_path):
    wrong = tmp_path / 'wrong_known_hosts'
    bastion2_key = lab['hosts']['bastion2']['host_key']
    wrong.write_text(f"{lab['hosts']['bastion1']['address']} {bastion2_key}\n")
    inventory = inventory_for(lab, backend)
    inventory['all']['children']['bastions']['hosts']['bastion1']['ansible_ssh_common_args'] = \
        f'-o UserKnownHostsFile={wrong} -o StrictHostKeyChecking=yes'
    result = run_playbook(tmp_path, inventory, [play('t01', [{'ansible.builtin.ping': {}}])])
    result.assert_unreachable('t01', 'hop 1/2 bastion1 jump1@10.203.1.2:22', 'Host key verification failed')


def test_unknown_host_key_on_a_hop_is_refused_not_accepted(lab, backend, tmp_path):
    empty = tmp_path / 'empty_known_hosts'
    empty.write_text('')
    inventory = inventory_for(lab, backend)
    inventory['all']['children']['bastions']['hosts']['bastion1']['ansible_ssh_common_args'] = \
        f'-o UserKnownHostsFile={empty}'
    result = run_playbook(tmp_path, inventory, [play('t01', [{'ansible.builtin.ping': {}}])])
    result.assert_unreachable('t01', 'hop 1/2 bastion1', 'Host key verification failed')
    assert empty.read_text() == ''


def test_paramiko_records_an_unknown_hop_key_only_when_asked(lab, tmp_path):
    """Only into the default ~/.ssh/known_hosts (HOME is a scratch directory here): a known-hosts file that the
    inventory names is never written (tests/integration/test_hostile_inventory.py)."""
    home = tmp_path / 'home'
    home.mkdir()
    known_hosts = home / '.ssh' / 'known_hosts'
    inventory = inventory_for(lab, 'paramiko')
    inventory['all']['children']['bastions']['hosts']['bastion1']['ansible_ssh_common_args'] = ''
    ping = [play('t01', [{'ansible.builtin.ping': {}}])]
    result = run_playbook(tmp_path, inventory, ping, env={'HOME': str(home)})
    result.assert_unreachable('t01', 'hop 1/2 bastion1', 'is not in known_hosts')
    assert not known_hosts.exists()
    inventory['all']['vars']['multihop_accept_new_host_keys'] = True
    result = run_playbook(tmp_path, inventory, ping, env={'HOME': str(home)})
    result.assert_ok('t01')
    bastion1 = lab['hosts']['bastion1']
    assert known_hosts.read_text() == f"{bastion1['address']} {bastion1['host_key'].strip()}\n"


@pytest.fixture
def sshd_without_sftp(lab, tmp_path):
    """A private sshd on the controller's loopback with no SFTP subsystem, for root with the lab's admin key."""
    host_key = tmp_path / 'host_key'
    subprocess.run(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-f', str(host_key)], check=True)
    authorized = tmp_path / 'authorized_keys'
    authorized.write_text(lab['users']['admin']['public_key'].strip() + '\n')
    with socket.socket() as probe:
        probe.bind(('127.0.0.1', 0))
        port = probe.getsockname()[1]
    config = tmp_path / 'sshd_config'
    config.write_text(f'ListenAddress 127.0.0.1:{port}\nHostKey {host_key}\nPidFile none\nUsePAM no\n'
                      f'PermitRootLogin prohibit-password\nPasswordAuthentication no\nStrictModes no\n'
                      f'AuthorizedKeysFile {authorized}\n')
    # sshd refuses to start without its privilege separation directory /run/sshd, which the machine itself may
    # lack (only the lab's namespaces are sure to have one): this sshd gets a private /run in a mount namespace.
    private_run = 'mount -t tmpfs -o mode=0755 tmpfs /run && mkdir /run/sshd && exec "$@"'
    log = tmp_path / 'sshd.log'
    process = subprocess.Popen(['unshare', '--mount', '--propagation', 'private', 'sh', '-c', private_run, 'sshd',
                                '/usr/sbin/sshd', '-D', '-e', '-f', str(config)], stderr=log.open('wb'))
    deadline = time.monotonic() + 10
    while True:
        with socket.socket() as probe:
            if probe.connect_ex(('127.0.0.1', port)) == 0:
                break
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f'the private sshd did not come up (exit {process.poll()}):\n{log.read_text()}')
        time.sleep(0.1)
    known_hosts = tmp_path / 'known_hosts'
    known_hosts.write_text(f'[127.0.0.1]:{port} ' + ' '.join((tmp_path / 'host_key.pub').read_text().split()[:2]))
    yield {'ansible_host': '127.0.0.1', 'ansible_port': port, 'ansible_user': 'root',
           'ansible_ssh_private_key_file': lab['users']['admin']['key'],
           'ansible_ssh_common_args': f'-o UserKnownHostsFile={known_hosts}'}
    process.terminate()
    process.wait(10)


def test_paramiko_explains_a_target_without_sftp_and_pipes_when_asked(lab, tmp_path, sshd_without_sftp):
    inventory = add_hosts(inventory_for(lab, 'paramiko'), 'nosftp', {'nosftp': sshd_without_sftp})
    source = tmp_path / 'payload.txt'
    source.write_text('payload\n')
    remote = str(tmp_path / 'remote-copy.txt')
    copy = {'ansible.builtin.copy': {'src': str(source), 'dest': remote, 'mode': '0600'}}
    result = run_playbook(tmp_path, inventory, [play('nosftp', [copy])])
    assert result.recap['nosftp']['failed'] == 1, result.output
    assert 'target nosftp root@127.0.0.1' in result.output and 'the target has no SFTP subsystem' in result.output
    assert 'ansible_ssh_transfer_method: piped' in result.output
    piped = dict(copy, vars={'ansible_ssh_transfer_method': 'piped'})
    fetch = {'ansible.builtin.fetch': {'src': remote, 'dest': f'{tmp_path}/fetched', 'flat': True},
             'vars': {'ansible_ssh_transfer_method': 'piped'}}
    result = run_playbook(tmp_path, inventory, [play('nosftp', [piped, fetch])])
    result.assert_ok('nosftp')
    assert (tmp_path / 'fetched').read_text() == 'payload\n'


@pytest.fixture
def bastion2_down(lab):
    subprocess.run([sys.executable, str(LAB_SCRIPT), 'stop', 'bastion2'], check=True, capture_output=True)
    yield
    subprocess.run([sys.executable, str(LAB_SCRIPT), 'start', 'bastion2'], check=True, capture_output=True)


def test_a_bastion_that_is_down_is_named(lab, backend, tmp_path, bastion2_down):
    result = run_playbook(tmp_path, inventory_for(lab, backend), [play('deep1,t01', [{'ansible.builtin.ping': {}}])])
    where = {'openssh': 'hop 2/3 bastion2 jump2@10.203.3.2:2222: bastion1 could not open a connection',
             'paramiko': 'hop 2/3 bastion2 jump2@10.203.3.2:2222: bastion1 could not connect to 10.203.3.2:2222'}
    result.assert_unreachable('deep1', where[backend], 'Connection refused')
    assert result.recap['t01'] == {'ok': 1, 'changed': 0, 'unreachable': 0, 'failed': 0}, result.output


HOSTILE_HOPS = [
    pytest.param('10.203.1.2\nProxyCommand touch {marker}', 'whitespace is not allowed', id='newline-in-string-hop'),
    pytest.param({'host': '10.203.1.2\nProxyCommand touch {marker}'}, 'invalid host', id='newline-in-host'),
    pytest.param({'host': '-oProxyCommand=touch {marker}'}, 'invalid host', id='option-as-host'),
    pytest.param({'host': '10.203.1.2', 'user': '-oProxyCommand=touch {marker}'}, 'invalid user',
                 id='option-as-user'),
    pytest.param({'host': '10.203.1.2', 'port': '22 -oProxyCommand=touch {marker}'}, 'invalid port',
                 id='option-in-port'),
    pytest.param({'host': '10.203.1.2', 'ssh_args': '-o ProxyCommand="touch {marker}"'}, 'multihop_via instead',
                 id='proxycommand-in-ssh-args'),
    pytest.param({'host': '10.203.1.2', 'ssh_args': '-o "IdentityFile=/x\nProxyCommand touch {marker}"'},
                 'invalid value', id='newline-in-option'),
    pytest.param({'host': '10.203.1.2', 'private_key_file': '/k/%h{marker}'}, 'invalid private key file',
                 id='percent-token'),
]


@pytest.mark.parametrize('hop, message', HOSTILE_HOPS)
def test_hostile_inventory_values_never_reach_ssh(lab, backend, tmp_path, hop, message):
    marker = Path(tempfile.mkdtemp(prefix='mh-inject')) / 'pwned'
    if isinstance(hop, str):
        hop = hop.format(marker=marker)
    else:
        hop = {key: str(value).format(marker=marker) for key, value in hop.items()}
    inventory = add_hosts(inventory_for(lab, backend), 'hostile', {
        'victim': {'ansible_host': lab['targets']['t01'], 'multihop_via': hop},
    }, {'ansible_user': 'admin', 'ansible_ssh_private_key_file': lab['users']['admin']['key']})
    result = run_playbook(tmp_path, inventory, [play('victim', [{'ansible.builtin.ping': {}}])])
    assert result.rc != 0
    assert result.recap['victim']['failed'] == 1, result.output
    assert 'host victim: multihop_via' in result.output and message in result.output, result.output
    assert not marker.exists()


def test_hostile_value_in_a_hops_inventory_vars(lab, backend, tmp_path):
    marker = Path(tempfile.mkdtemp(prefix='mh-inject')) / 'pwned'
    inventory = add_hosts(inventory_for(lab, backend), 'hostile', {
        'evilbastion': {'ansible_host': lab['hosts']['bastion1']['address'],
                        'ansible_user': f'jump1\nProxyCommand touch {marker}'},
        'victim': {'ansible_host': lab['targets']['t01'], 'multihop_via': 'evilbastion'},
    })
    result = run_playbook(tmp_path, inventory, [play('victim', [{'ansible.builtin.ping': {}}])])
    assert result.recap['victim']['failed'] == 1, result.output
    assert 'host victim: multihop_via[0] (evilbastion): invalid user' in result.output
    assert not marker.exists()


def test_a_cycle_is_an_error(lab, backend, tmp_path):
    inventory = add_hosts(inventory_for(lab, backend), 'loop', {
        'loop_a': {'ansible_host': '10.203.1.2', 'multihop_via': 'loop_b'},
        'loop_b': {'ansible_host': '10.203.1.2', 'multihop_via': 'loop_a'},
    })
    result = run_playbook(tmp_path, inventory, [play('loop_a', [{'ansible.builtin.ping': {}}])])
    assert result.recap['loop_a']['failed'] == 1
    assert 'multihop_via has a cycle: loop_a -> loop_b -> loop_a' in result.output
