"""The real plugin, loaded by ansible-core; only the OpenSSH seam (opening hop masters) is faked."""

from __future__ import annotations

import pytest

from ansible.errors import AnsibleAuthenticationFailure, AnsibleConnectionFailure, AnsibleError
from ansible.playbook.play_context import PlayContext
from ansible.plugins.loader import connection_loader
from ansible.template import Templar
from ansible.utils.display import Display

from ansible_collections.jumphosts.multihop.plugins.connection.ssh import hop_failure
from ansible_collections.jumphosts.multihop.plugins.plugin_utils import _openssh
from ansible_collections.jumphosts.multihop.plugins.plugin_utils._errors import HopError
from ansible_collections.jumphosts.multihop.plugins.plugin_utils._render import render_plugin_config

HOSTVARS = {
    'bastion1': {'ansible_host': '10.203.1.2', 'ansible_user': 'jump1', 'ansible_ssh_private_key_file': '/k/jump1'},
}


def connect(tmp_path, variables, name='jumphosts.multihop.ssh', play_context=None):
    connection = connection_loader.get(name, play_context or PlayContext(), None)
    variables = dict({'inventory_hostname': 't01', 'ansible_host': '10.203.2.11', 'hostvars': HOSTVARS,
                      'ansible_control_path_dir': str(tmp_path)}, **variables)
    var_options = connection._resolve_option_variables(variables, Templar(loader=None, variables=variables))
    connection.set_options(var_options=var_options)
    connection.host = '10.203.2.11'
    return connection


@pytest.fixture
def prepared(monkeypatch):
    calls = []
    monkeypatch.setattr(_openssh.OpenSSHRoute, 'prepare', lambda route, **_: calls.append(route.hops))
    return calls


def test_without_a_chain_the_command_is_the_builtin_one(tmp_path, prepared):
    ours = connect(tmp_path, {})._build_command('ssh', 'ssh', '10.203.2.11', 'true')
    builtin = connect(tmp_path, {}, name='ansible.builtin.ssh')._build_command('ssh', 'ssh', '10.203.2.11', 'true')
    assert ours == builtin
    assert prepared == []


def test_chain_adds_private_config_and_route_right_after_the_binary(tmp_path, prepared):
    connection = connect(tmp_path, {'multihop_via': 'bastion1'})
    command = [arg.decode() for arg in connection._build_command('sftp', 'sftp', '10.203.2.11')]
    assert command[0] == 'sftp'
    assert command[1] == '-F' and command[2].startswith(str(tmp_path)) and command[2].endswith('.conf')
    assert command[3:7] == ['-o', 'ProxyJump=bastion1', '-o', 'ForwardAgent=no']
    assert [hop.name for hop in prepared[0]] == ['bastion1']


def control_path_of(connection):
    command = [arg.decode() for arg in connection._build_command('ssh', 'ssh', '10.203.2.11', 'true')]
    (path,) = [arg for arg in command if arg.startswith('ControlPath=')]
    return path


def test_control_path_covers_the_route(tmp_path, prepared):
    direct = control_path_of(connect(tmp_path, {}))
    behind_1 = control_path_of(connect(tmp_path, {'multihop_via': 'bastion1'}))
    behind_2 = control_path_of(connect(tmp_path, {'multihop_via': 'other@10.9.9.9'}))
    assert len({direct, behind_1, behind_2}) == 3
    assert behind_1.startswith(f'ControlPath="{tmp_path}/mh-')


def test_bad_chain_is_an_error_naming_host_and_hop(tmp_path, prepared):
    connection = connect(tmp_path, {'multihop_via': ['bastion1', {'host': 'x\nProxyCommand touch /tmp/p'}]})
    with pytest.raises(AnsibleError, match=r'host t01: multihop_via\[1\]: invalid host'):
        connection._build_command('ssh', 'ssh', '10.203.2.11', 'true')
    assert prepared == []


def test_hop_failure_is_unreachable_and_names_the_hop(tmp_path, monkeypatch):
    def refuse(route, **_):
        raise HopError('hop 1/2 bastion1 jump1@10.203.1.2:22', None, 'Connection refused', 0)

    monkeypatch.setattr(_openssh.OpenSSHRoute, 'prepare', refuse)
    connection = connect(tmp_path, {'multihop_via': 'bastion1'})
    with pytest.raises(AnsibleConnectionFailure, match='hop 1/2 bastion1 jump1@10.203.1.2:22: Connection refused'):
        connection._build_command('ssh', 'ssh', '10.203.2.11', 'true')


def test_forward_agent_warns(tmp_path, prepared, monkeypatch):
    warnings = []
    monkeypatch.setattr(Display, 'warning', lambda self, msg, *args, **kwargs: warnings.append(msg))
    connection = connect(tmp_path, {'multihop_via': 'bastion1', 'multihop_forward_agent': True})
    command = [arg.decode() for arg in connection._build_command('ssh', 'ssh', '10.203.2.11', 'true')]
    assert 'ForwardAgent=yes' in command
    assert 'root on a hop' in warnings[0]


def test_control_dir_too_long_for_a_socket_is_a_clear_error(tmp_path, prepared):
    long_dir = tmp_path / ('d' * 90)
    connection = connect(long_dir, {'multihop_via': 'bastion1'})
    with pytest.raises(AnsibleError, match='too long for a UNIX socket'):
        connection._build_command('ssh', 'ssh', '10.203.2.11', 'true')


@pytest.mark.parametrize('variable', ['ansible_pipelining', 'ansible_ssh_pipelining'])
def test_every_pipelining_variable_of_the_builtin_applies(tmp_path, variable):
    assert connect(tmp_path, {variable: True}).get_option('pipelining') is True


def test_a_task_delegated_from_the_bastion_takes_the_delegated_hosts_route(tmp_path, prepared):
    # ansible-core hands over the delegated host's variables with the delegating host's inventory_hostname.
    play_context = PlayContext()
    play_context.delegate_to = 't10'
    connection = connect(tmp_path, {'inventory_hostname': 'bastion1', 'multihop_via': 'bastion1'},
                         play_context=play_context)
    connection._build_command('ssh', 'ssh', '10.203.2.11', 'true')
    assert [hop.name for hop in prepared[0]] == ['bastion1']


def test_hostile_hop_values_fail_naming_host_and_hop_without_writing_anything(tmp_path):
    hostvars = {'evil': {'ansible_host': 'fe80::1%h"\nMatch exec "touch /tmp/F"\n#', 'ansible_user': 'jump'}}
    connection = connect(tmp_path, {'multihop_via': 'evil', 'hostvars': hostvars})
    with pytest.raises(AnsibleError, match=r'host t01: multihop_via\[0\] \(evil\): invalid host .*zone ids'):
        connection._build_command('ssh', 'ssh', '10.203.2.11', 'true')
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize('variables, message', [
    ({'multihop_control_persist': '60s\nMatch exec "touch /tmp/F"'}, 'invalid multihop_control_persist'),
    ({'ansible_control_path_dir': '/tmp/a b"c'}, 'invalid control_path_dir'),
])
def test_hostile_runtime_values_fail_naming_the_host(tmp_path, variables, message):
    connection = connect(tmp_path, dict({'multihop_via': 'bastion1'}, **variables))
    with pytest.raises(AnsibleError, match=f'host t01: .*{message}'):
        connection._build_command('ssh', 'ssh', '10.203.2.11', 'true')


def test_a_users_own_config_file_is_included_by_the_route_not_passed_with_f(tmp_path, prepared):
    connection = connect(tmp_path, {'multihop_via': 'bastion1', 'ansible_ssh_common_args': '-F /etc/teleport/ssh.cfg'})
    command = [arg.decode() for arg in connection._build_command('ssh', 'ssh', '10.203.2.11', 'true')]
    assert command.count('-F') == 1 and '/etc/teleport/ssh.cfg' not in command
    text = render_plugin_config(connection._route.hops, connection._route.runtime)
    assert text.endswith('Host *\n  Include /etc/teleport/ssh.cfg\n')
    assert 'Include ~/.ssh/config' not in text  # as with plain ssh -F


def test_a_hostile_config_file_argument_is_refused(tmp_path, prepared):
    connection = connect(tmp_path, {'multihop_via': 'bastion1', 'ansible_ssh_common_args': '"-F/x\nMatch all"'})
    with pytest.raises(AnsibleError, match=r"invalid ssh config file \(-F\)"):
        connection._build_command('ssh', 'ssh', '10.203.2.11', 'true')


def test_an_unwritable_control_directory_names_it_and_the_variable(tmp_path, prepared):
    blocker = tmp_path / 'file'
    blocker.write_text('')
    connection = connect(tmp_path, {'multihop_via': 'bastion1', 'ansible_control_path_dir': str(blocker / 'cp')})
    with pytest.raises(AnsibleError, match=rf'cannot create the control directory {blocker}/cp: .*'
                                           r'ANSIBLE_SSH_CONTROL_PATH_DIR'):
        connection._build_command('ssh', 'ssh', '10.203.2.11', 'true')


class TestHopFailures:
    """One mapping from a hop that could not be passed to an Ansible error, for both backends."""

    def test_an_auth_failure_is_an_authentication_failure_naming_the_hop(self):
        error = hop_failure(HopError('hop 2/3 bastion2 jump2@10.203.3.2:2222', 'auth', 'permission denied', 1))
        assert isinstance(error, AnsibleAuthenticationFailure)
        assert 'hop 2/3 bastion2 jump2@10.203.3.2:2222: Authentication failed: permission denied' in error.message

    def test_an_unreachable_hop_is_a_connection_failure(self):
        error = hop_failure(HopError('hop 1/2 bastion1 jump1@10.203.1.2:22', 'tcp', 'connection refused', 0))
        assert isinstance(error, AnsibleConnectionFailure) and not isinstance(error, AnsibleAuthenticationFailure)
        assert 'hop 1/2 bastion1 jump1@10.203.1.2:22: connection refused' in error.message

    def test_a_host_key_failure_says_so_as_openssh_does(self):
        error = hop_failure(HopError('hop 1/2 bastion1 jump1@10.203.1.2:22', 'hostkey', 'HOST KEY MISMATCH', 0))
        assert isinstance(error, AnsibleConnectionFailure) and not isinstance(error, AnsibleAuthenticationFailure)
        assert 'hop 1/2 bastion1 jump1@10.203.1.2:22: Host key verification failed: HOST KEY MISMATCH' in error.message

    def test_the_openssh_client_stage_is_unknown_and_its_words_are_kept(self):
        error = hop_failure(HopError('hop 1/2 bastion1 jump1@10.203.1.2:22', None, 'Connection refused', 0))
        assert error.message == 'jumphosts.multihop: hop 1/2 bastion1 jump1@10.203.1.2:22: Connection refused'
