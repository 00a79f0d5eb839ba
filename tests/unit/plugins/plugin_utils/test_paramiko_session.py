"""The paramiko backend's pure parts: target options, become watching, the pool's bookkeeping, error mapping.

No network here: the route itself is tested against real sshd in tests/integration.
"""

from __future__ import annotations

import pytest

from ansible.errors import AnsibleAuthenticationFailure, AnsibleConnectionFailure, AnsibleError
from ansible.playbook.play_context import PlayContext
from ansible.plugins.loader import become_loader, connection_loader
from ansible.template import Templar

from ansible_collections.jumphosts.multihop.plugins.plugin_utils import _paramiko_pool as paramiko_pool
from ansible_collections.jumphosts.multihop.plugins.plugin_utils import _paramiko_run as run
from ansible_collections.jumphosts.multihop.plugins.plugin_utils import _paramiko_session as session
from ansible_collections.jumphosts.multihop.plugins.plugin_utils._backend import Backend
from ansible_collections.jumphosts.multihop.plugins.plugin_utils._errors import HopError
from ansible_collections.jumphosts.multihop.plugins.plugin_utils._known_hosts import record_host_key
from ansible_collections.jumphosts.multihop.plugins.plugin_utils._openssh import OpenSSHBackend
from ansible_collections.jumphosts.multihop.plugins.plugin_utils._settings import DEFAULT_TIMEOUT, BackendSettings

LAB_ARGS = '-o UserKnownHostsFile=/var/lib/multihop-lab/known_hosts -o StrictHostKeyChecking=yes'


class TestTargetOptions:
    def test_lab_common_args(self):
        assert session.target_ssh_options(LAB_ARGS) == (
            ('UserKnownHostsFile', '/var/lib/multihop-lab/known_hosts'), ('StrictHostKeyChecking', 'yes'))

    def test_openssh_only_arguments_are_ignored_not_refused(self):
        args = ('-C -o ControlMaster=auto -o ControlPersist=60s', '-tt -o ProxyCommand="ssh -W %h:%p b" -v',
                '-oHostKeyAlias=web -i /k/admin -i/k/other -o "GlobalKnownHostsFile /g"', None, '')
        assert session.target_ssh_options(*args) == (
            ('HostKeyAlias', 'web'), ('IdentityFile', '/k/admin'), ('IdentityFile', '/k/other'),
            ('GlobalKnownHostsFile', '/g'))

    def test_unparsable_arguments_give_nothing(self):
        assert session.target_ssh_options('-o "unterminated') == ()

    def test_keyword_case_is_normalised(self):
        assert session.target_ssh_options('-o stricthostkeychecking=no') == (('StrictHostKeyChecking', 'no'),)

    def test_target_hop(self):
        hop = session.target_hop('t01', '10.203.2.11', '22', 'admin', private_key_file='/k/admin', password='pw',
                                 ssh_args=(LAB_ARGS,))
        assert (hop.name, hop.host, hop.port, hop.user, hop.private_key_file) == \
            ('t01', '10.203.2.11', 22, 'admin', '/k/admin')
        assert hop.address == 'admin@10.203.2.11:22'
        assert not hop.disables_host_key_checking
        assert 'pw' not in repr(hop) and 'pw' not in hop.identity

    def test_host_key_checking_off_from_the_option_or_the_args(self):
        assert session.target_hop('t', 'h', None, None, host_key_checking=False).disables_host_key_checking
        assert session.target_hop('t', 'h', None, None,
                                  ssh_args=('-o StrictHostKeyChecking=no',)).disables_host_key_checking


class TestHostKeys:
    def test_new_keys_only_when_asked(self):
        plain = session.target_hop('t', 'h', None, None, ssh_args=(LAB_ARGS,))
        accept_new = session.target_hop('t', 'h', None, None, ssh_args=('-o StrictHostKeyChecking=accept-new',))
        unchecked = session.target_hop('t', 'h', None, None, host_key_checking=False)
        assert not session.wants_new_host_keys(plain, False)
        assert session.wants_new_host_keys(plain, True)
        assert session.wants_new_host_keys(accept_new, False)
        assert not session.wants_new_host_keys(unchecked, True)

    def test_record_host_key_appends_once_to_the_default_file_with_a_newline_first(self, tmp_path, monkeypatch):
        monkeypatch.setenv('HOME', str(tmp_path))
        default = tmp_path / '.ssh' / 'known_hosts'
        default.parent.mkdir()
        default.write_text('old.example ssh-ed25519 AAAA')  # no final newline: the record must not join it
        hop = session.target_hop('t', '10.0.0.1', 2222, None)
        assert record_host_key(hop, ['[10.0.0.1]:2222'], _Key())
        assert record_host_key(hop, ['[10.0.0.1]:2222'], _Key())
        assert default.read_text() == ('old.example ssh-ed25519 AAAA\n'
                                       '[10.0.0.1]:2222 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExample\n')

    def test_record_host_key_never_writes_a_file_the_hop_names(self, tmp_path, monkeypatch):
        monkeypatch.setenv('HOME', str(tmp_path))
        chosen = tmp_path / 'authorized_keys'
        hop = session.target_hop('t', '10.0.0.1', 2222, None, ssh_args=(f'-o UserKnownHostsFile={chosen}',))
        assert not record_host_key(hop, ['[10.0.0.1]:2222'], _Key())
        assert not chosen.exists()
        assert not (tmp_path / '.ssh').exists()


class _Key:
    def get_name(self):
        return 'ssh-ed25519'

    def get_base64(self):
        return 'AAAAC3NzaC1lZDI1NTE5AAAAIExample'


class TestChoices:
    @pytest.mark.parametrize('option, method', [('smart', 'sftp'), ('sftp', 'sftp'), ('scp', 'sftp'),
                                                ('piped', 'piped'), (None, 'sftp')])
    def test_transfer_method(self, option, method):
        assert session.transfer_method(option) == method

    def test_pty_as_the_builtins_tt(self):
        assert run.use_pty(None, True, True)
        assert not run.use_pty(b'module', True, True)
        assert not run.use_pty(None, False, True)
        assert not run.use_pty(None, True, False)

    def test_backend_settings_are_read_once_from_the_plugin_options(self):
        options = {'timeout': 5, 'multihop_keepalive': 15, 'multihop_accept_new_host_keys': None,
                   'reconnection_retries': 2}
        assert BackendSettings.from_options(options.get) == BackendSettings(
            timeout=5.0, keepalive=15, accept_new_host_keys=False, reconnection_retries=2, tcp_nodelay=True,
            share_hops=True, control_persist='60s', control_dir='')
        assert BackendSettings.from_options({'multihop_tcp_nodelay': False}.get).tcp_nodelay is False
        assert BackendSettings.from_options({'multihop_share_hops': False}.get).share_hops is False
        assert BackendSettings.from_options({}.get).timeout == DEFAULT_TIMEOUT

    def test_a_connection_dropped_before_the_banner_is_retried_a_few_times(self):
        retries = session.BANNER_RETRIES
        assert all(session.should_retry('banner', attempt, 0) for attempt in range(1, retries + 1))
        assert not session.should_retry('banner', retries + 1, 0)
        assert session.should_retry('banner', retries + 1, retries + 1)

    def test_tcp_failures_only_as_the_builtin_option_says_and_logins_never(self):
        assert not session.should_retry('tcp', 1, 0)
        assert session.should_retry('tcp', 2, 2) and not session.should_retry('tcp', 3, 2)
        for stage in ('hostkey', 'auth', 'forward', None):
            assert not session.should_retry(stage, 1, 10)

    def test_retry_pause_grows_and_is_capped(self):
        assert [session.retry_pause(n, rand=lambda low, high: high) for n in (1, 2, 3, 4)] == [1.0, 2.0, 4.0, 5.0]
        assert session.retry_pause(1, rand=lambda low, high: low) == 0.25


def sudo(password):
    become = become_loader.get('sudo')
    become.set_options(direct={'become_pass': password} if password else {})
    become.build_become_command('/bin/sh -c true', None)  # sets the prompt and the success marker
    return become


class TestBecomeWatcher:
    def test_prompt_password_success_then_output(self):
        become = sudo('pw')
        watcher = run.BecomeWatcher(become, sudoable=True)
        assert watcher.state == watcher.AWAITING_PROMPT
        assert watcher.feed('stderr', become.prompt.encode()[:10]) == (b'', False)  # half a prompt: wait
        assert watcher.feed('stderr', become.prompt.encode()[10:]) == (b'', True)
        assert watcher.state == watcher.AWAITING_ESCALATION
        kept, send = watcher.feed('stdout', f'{become.success}\r\n{{"ok": 1}}\n'.encode())
        assert (kept, send, watcher.ready) == (b'{"ok": 1}\n', False, True)
        assert watcher.feed('stdout', b'more') == (b'more', False)

    def test_wrong_password(self):
        become = sudo('wrong')
        watcher = run.BecomeWatcher(become, sudoable=True)
        watcher.feed('stderr', become.prompt.encode())
        with pytest.raises(run.BecomeError, match='Incorrect sudo password'):
            watcher.feed('stderr', b'Sorry, try again.\n')

    def test_prompted_twice_is_a_wrong_password(self):
        become = sudo('wrong')
        watcher = run.BecomeWatcher(become, sudoable=True)
        watcher.feed('stderr', become.prompt.encode())
        with pytest.raises(run.BecomeError, match='Incorrect sudo password'):
            watcher.feed('stdout', b'\r\n' + become.prompt.encode())

    def test_without_password_waits_for_success_and_reports_missing(self):
        become = sudo(None)
        watcher = run.BecomeWatcher(become, sudoable=True)
        assert watcher.state == watcher.AWAITING_ESCALATION
        with pytest.raises(run.BecomeError, match='Missing sudo password'):
            watcher.feed('stderr', b'sudo: a password is required\n')

    def test_not_sudoable_or_no_become_is_ready(self):
        assert run.BecomeWatcher(sudo('pw'), sudoable=False).ready
        watcher = run.BecomeWatcher(None, sudoable=True)
        assert watcher.ready and watcher.feed('stdout', b'x') == (b'x', False)


class Fake:
    """Stands in for a session or transport: only its bookkeeping is tested here."""

    def __init__(self, alive=True):
        self.is_alive, self.closed = alive, False

    def alive(self):
        return self.is_alive

    def close(self):
        self.closed = True


class TestPool:
    def test_release_closes_hops_no_other_session_uses(self):
        pool = paramiko_pool.SessionPool()
        shared, own = Fake(), Fake()
        pool.hops.update(b1=shared, b2=own)
        first, second = Fake(), Fake()
        pool.add('t01', first, ('b1',))
        pool.add('deep1', second, ('b1', 'b2'))
        pool.release('deep1')
        assert second.closed and own.closed and not shared.closed
        assert pool.get('t01') is first
        pool.release('t01')
        assert first.closed and shared.closed and pool.hops == {}

    def test_release_closes_the_hops_of_a_route_that_failed_at_the_target(self):
        pool = paramiko_pool.SessionPool()
        hop, other = Fake(), Fake()
        pool.hops.update(b1=hop, b2=other)
        pool.release('t01', ('b1',))
        assert hop.closed and not other.closed and pool.hops == {'b2': other}

    def test_a_dead_session_is_released_not_returned(self):
        pool = paramiko_pool.SessionPool()
        dead = Fake(alive=False)
        pool.add('t01', dead, ())
        assert pool.get('t01') is None and dead.closed

    def test_a_forked_child_drops_its_parents_entries_unclosed(self):
        pids = iter([1, 1, 2])
        pool = paramiko_pool.SessionPool(getpid=lambda: next(pids))
        parents = Fake()
        pool.add('t01', parents, ())
        assert pool.get('t01') is None and not parents.closed

    def test_close_all(self):
        pool = paramiko_pool.SessionPool()
        hop, target = Fake(), Fake()
        pool.hops['b1'] = hop
        pool.add('t01', target, ('b1',))
        pool.close_all()
        assert hop.closed and target.closed and pool.sessions == {} and pool.hops == {}


class TestErrors:
    def raised(self, error):
        with pytest.raises(AnsibleError) as info, session._ansible_errors('target t01 admin@10.203.2.11:22'):
            raise error
        return info.value

    def test_a_hop_error_is_left_to_the_connection_plugin(self):
        with pytest.raises(HopError), session._ansible_errors('target t01 admin@10.203.2.11:22'):
            raise HopError('hop 1/2 bastion1 jump1@10.203.1.2:22', 'tcp', 'connection refused', 0)

    def test_a_broken_session_names_the_target(self):
        error = self.raised(EOFError())
        assert isinstance(error, AnsibleConnectionFailure) and not isinstance(error, AnsibleAuthenticationFailure)
        assert 'target t01 admin@10.203.2.11:22' in error.message

    def test_become_failure_is_a_task_error(self):
        error = self.raised(run.BecomeError('Incorrect sudo password'))
        assert not isinstance(error, AnsibleConnectionFailure) and 'Incorrect sudo password' in error.message


HOSTVARS = {'bastion1': {'ansible_host': '10.203.1.2', 'ansible_user': 'jump1',
                         'ansible_ssh_private_key_file': '/k/jump1', 'ansible_ssh_common_args': LAB_ARGS}}


def plugin(variables):
    connection = connection_loader.get('jumphosts.multihop.ssh', PlayContext(), None)
    variables = dict({'inventory_hostname': 't01', 'ansible_host': '10.203.2.11', 'hostvars': HOSTVARS,
                      'multihop_backend': 'paramiko', 'multihop_via': 'bastion1', 'ansible_user': 'admin',
                      'ansible_ssh_private_key_file': '~/k/admin', 'ansible_password': 'pw',
                      'ansible_ssh_common_args': LAB_ARGS}, **variables)
    var_options = connection._resolve_option_variables(variables, Templar(loader=None, variables=variables))
    connection.set_options(var_options=var_options)
    return connection


class TestPluginSeam:
    def test_paramiko_backend_gets_the_route_and_the_target_from_the_options(self):
        backend = plugin({})._backend_for()
        assert isinstance(backend, session.ParamikoBackend)
        assert [hop.name for hop in backend.hops] == ['bastion1']
        target = backend.target
        assert (target.name, target.host, target.user, target.password) == ('t01', '10.203.2.11', 'admin', 'pw')
        assert target.private_key_file.endswith('/k/admin') and not target.private_key_file.startswith('~')
        assert ('UserKnownHostsFile', '/var/lib/multihop-lab/known_hosts') in target.options
        assert backend.keepalive == 15 and backend.accept_new_host_keys is False
        assert backend.label == 'target t01 admin@10.203.2.11:22'

    def test_openssh_is_the_default_and_runs_the_builtins_code(self):
        backend = plugin({'multihop_backend': 'openssh'})._backend_for()
        assert isinstance(backend, OpenSSHBackend) and not backend.in_process

    @pytest.mark.parametrize('backend_class', [OpenSSHBackend, session.ParamikoBackend])
    def test_every_backend_implements_the_one_interface(self, backend_class):
        assert issubclass(backend_class, Backend) and not backend_class.__abstractmethods__
        assert backend_class.name in ('openssh', 'paramiko')

    def test_a_bad_chain_is_reported_before_connecting(self):
        connection = plugin({'multihop_via': [{'host': 'x\nProxyCommand touch /tmp/p'}]})
        with pytest.raises(AnsibleError, match=r'host t01: multihop_via\[0\]: invalid host'):
            connection._backend_for()

    def test_key_content_is_refused_with_a_way_out(self):
        with pytest.raises(AnsibleError, match='ansible_ssh_private_key_file'):
            plugin({'ansible_ssh_private_key': 'KEY'})._backend_for()

    def test_reset_without_a_connection_opens_nothing(self):
        connection = plugin({})
        connection.reset()
        assert session.POOL.sessions == {}
