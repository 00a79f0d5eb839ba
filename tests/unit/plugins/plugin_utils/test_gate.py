"""The gate: one grammar per kind of value, one quoting function per target syntax."""

from __future__ import annotations

import shlex

import pytest

from ansible_collections.jumphosts.multihop.plugins.plugin_utils import _gate as gate
from ansible_collections.jumphosts.multihop.plugins.plugin_utils import _hop_keywords as hop_keywords
from ansible_collections.jumphosts.multihop.plugins.plugin_utils._errors import MultihopError, shown

ZONE_PAYLOAD = 'fe80::1%h"\nMatch exec "touch /tmp/F"\n#'


class TestHosts:
    @pytest.mark.parametrize('value, expected', [
        ('bastion.example.com', 'bastion.example.com'), ('10.0.0.1', '10.0.0.1'), ('[2001:db8::1]', '2001:db8::1'),
        ('2001:DB8:0::1', '2001:db8::1'), ('host_1', 'host_1'),
    ])
    def test_accepted(self, value, expected):
        assert gate.check_host(value, 'host t') == expected

    @pytest.mark.parametrize('value', [
        ZONE_PAYLOAD, 'fe80::1%eth0', 'fe80::1%x]:22 *:* [::1', 'a b', '-oProxyCommand=x', 'h\n', 'h.', '.h',
        'bästion', '１０.0.0.1', '', 'a;b', 'a$b', '[::1', 'x' * 254, 1, None,
    ])
    def test_refused(self, value):
        with pytest.raises(MultihopError, match='^host t: invalid host'):
            gate.check_host(value, 'host t')


class TestScalars:
    @pytest.mark.parametrize('value', ['²', '22\n', '-1', '0', '65536', '0x16', True, 22.0, ' ', '２２'])
    def test_bad_ports(self, value):
        with pytest.raises(MultihopError, match='invalid port'):
            gate.check_port(value, 'host t')

    def test_good_ports(self):
        assert gate.check_port('2222', 'w') == gate.check_port(2222, 'w') == 2222
        assert gate.check_port(None, 'w') is None

    @pytest.mark.parametrize('value', ['a b', 'x\n', '-root', '.x', 'ü', 'a@b', 'a$b', 'a"b', 'x' * 66])
    def test_bad_users(self, value):
        with pytest.raises(MultihopError, match='invalid user'):
            gate.check_user(value, 'host t')

    def test_user_may_end_in_a_dollar(self):
        assert gate.check_user('host$', 'w') == 'host$'

    @pytest.mark.parametrize('value', ['/k/%d', '/k/${HOME}', '/k/a\nb', '-i', '/k/"a', '/k/a#b', ' /k', '/k ',
                                       '/k/a  b', '/k/ä', '/k/a\\b', '/k/a=b'])
    def test_bad_paths(self, value):
        with pytest.raises(MultihopError, match='invalid private key file'):
            gate.check_path(value, 'private key file', 'host t')

    @pytest.mark.parametrize('value', ['~/.ssh/id', '/k/jump 1', 'keys/id_ed25519', '~', '/a/b-c_d.e+f@g,h:i'])
    def test_good_paths(self, value):
        assert gate.check_path(value, 'private key file', 'host t') == value

    @pytest.mark.parametrize('value', ['60s', '10m', '1h30m', 'yes', 'no', '0', 600])
    def test_times(self, value):
        assert gate.check_time(value, 'ControlPersist', 'w') == str(value)

    @pytest.mark.parametrize('value', ['60s\nMatch exec "touch F"', '1 h', '', 'forever', True, '10x'])
    def test_bad_times(self, value):
        with pytest.raises(MultihopError, match='invalid ControlPersist'):
            gate.check_time(value, 'ControlPersist', 'w')

    def test_passwords_are_never_shown(self):
        with pytest.raises(MultihopError) as error:
            gate.check_password('hunter2\nsecond', 'host t')
        assert 'hunter2' not in str(error.value)


class TestOptions:
    @pytest.mark.parametrize('key, value', [
        ('StrictHostKeyChecking', 'accept-new'), ('UserKnownHostsFile', '/a /b'), ('IPQoS', 'af21 cs1'),
        ('Ciphers', '-*cbc,+aes128-ctr'), ('ServerAliveInterval', '15'), ('HostKeyAlias', 'bastion.example'),
        ('RekeyLimit', '1G 1h'), ('IdentityAgent', 'SSH_AUTH_SOCK'),
    ])
    def test_accepted(self, key, value):
        assert hop_keywords.check_option(key, value, 'w') == (key, value)

    @pytest.mark.parametrize('key, value, message', [
        ('KnownHostsCommand', '/bin/x', 'not allowed on a hop'),
        ('LocalCommand', 'x', 'not allowed on a hop'),
        ('Include', '/etc/x', 'not allowed on a hop'),
        ('StrictHostKeyChecking', 'maybe', 'expected one of'),
        ('ServerAliveInterval', '15\nMatch all', 'not a valid'),
        ('HostKeyAlias', '*', 'invalid host'),
        ('UserKnownHostsFile', '/a  /b', 'single spaces'),
        ('Ciphers', 'aes128-ctr aes256-ctr', 'not a valid'),
        ('Bad Key', 'x', 'invalid ssh option'),
    ])
    def test_refused(self, key, value, message):
        with pytest.raises(MultihopError, match=message):
            hop_keywords.check_option(key, value, 'w')


class TestHostKeyChecking:
    @pytest.mark.parametrize('options, off', [
        ((), False),
        ((('StrictHostKeyChecking', 'no'),), True),
        ((('StrictHostKeyChecking', 'OFF'),), True),
        ((('StrictHostKeyChecking', 'false'),), True),
        ((('StrictHostKeyChecking', 'accept-new'),), False),
        ((('StrictHostKeyChecking', 'accept-new'), ('UserKnownHostsFile', '/dev/null')), True),
        ((('UserKnownHostsFile', 'none'), ('StrictHostKeyChecking', 'Accept-New')), True),
        ((('UserKnownHostsFile', '/dev/null /k'), ('StrictHostKeyChecking', 'accept-new')), False),
        # First value wins, as in ssh.
        ((('StrictHostKeyChecking', 'yes'), ('StrictHostKeyChecking', 'no')), False),
    ])
    def test_every_spelling(self, options, off):
        assert hop_keywords.host_key_checking_off(options, None) is off

    def test_the_host_key_checking_variable(self):
        assert hop_keywords.host_key_checking_off((), False)


class TestQuoting:
    def test_ssh_config_line_quotes_one_path_with_a_space(self):
        assert gate.ssh_config_line('IdentityFile', '/k/jump 1') == '  IdentityFile "/k/jump 1"'
        assert gate.ssh_config_line('UserKnownHostsFile', '/a /b') == '  UserKnownHostsFile /a /b'

    @pytest.mark.parametrize('value', ['x\nMatch all', 'x"', 'a#b', '%h', '${HOME}', 'a\\b', 'ä'])
    def test_ssh_config_line_refuses_what_could_escape(self, value):
        with pytest.raises(MultihopError, match='refusing to write'):
            gate.ssh_config_line('User', value)

    def test_control_path_may_hold_only_its_own_token(self):
        assert gate.ssh_config_line('ControlPath', '~/.ssh/cm/mh-ab-%C') == '  ControlPath ~/.ssh/cm/mh-ab-%C'
        with pytest.raises(MultihopError):
            gate.ssh_config_line('ControlPath', '/x/%h')

    def test_proxy_command_quotes_for_the_shell_and_doubles_percent(self):
        command = gate.proxy_command(['/opt/my ssh', '-F', '/run/50%/c', 'alias', 'nc', '%h', '%p'])
        assert command == "'/opt/my ssh' -F /run/50%%/c alias nc %h %p"
        words = ['/opt/my ssh', '-F', '/run/50%/c', 'alias', 'nc', '%h', '%p']
        assert shlex.split(command.replace('%%', '%')) == words

    def test_shell_and_proxy_command_refuse_newlines(self):
        for build in (gate.shell_command, gate.proxy_command):
            with pytest.raises(MultihopError):
                build(['nc', 'a\nb'])

    def test_sshd_config_line(self):
        assert gate.sshd_config_line('PermitOpen', ['10.0.0.1:22', '[::1]:22']) == 'PermitOpen 10.0.0.1:22 [::1]:22'
        for bad in (['a b:22'], ['x:22\nMatch all'], ['"x":22'], []):
            with pytest.raises(MultihopError):
                gate.sshd_config_line('PermitOpen', bad)

    @pytest.mark.parametrize('value, expected', [
        ('10.0.0.1:22', '10.0.0.1:22'), ('[2001:DB8::1]:2222', '[2001:db8::1]:2222'), ('h.example:22', 'h.example:22'),
    ])
    def test_destinations(self, value, expected):
        assert gate.check_destination(value, 'w') == expected

    @pytest.mark.parametrize('value', ['[fe80::1%x]:22 *:* [::1]:22', 'h:22\nMatch all', '::1:22', 'h', '*:*',
                                       'h:0', '[::1:22'])
    def test_bad_destinations(self, value):
        with pytest.raises(MultihopError):
            gate.check_destination(value, 'w')

    def test_wildcards_only_where_allowed(self):
        assert gate.check_destination('*:22', 'w', wildcards=True) == '*:22'
        assert gate.check_destination('h:*', 'w', wildcards=True) == 'h:*'


class TestShown:
    def test_escaped_and_shortened(self):
        assert shown('a\nb') == "'a\\nb'"
        assert shown('x' * 100).endswith("'...") and len(shown('x' * 100)) < 50

    def test_hidden(self):
        assert shown('hunter2', reveal=False) == '(a string of 7 characters, not shown)'
        assert shown(['hunter2'], reveal=False) == '(not shown)'


class TestKnownHostsWrites:
    @pytest.mark.parametrize('options', [
        (('StrictHostKeyChecking', 'accept-new'), ('UserKnownHostsFile', '/root/.ssh/authorized_keys')),
        (('UserKnownHostsFile', '/dev/null /etc/sudoers.d/x'), ('StrictHostKeyChecking', 'Accept-New')),
        (('UpdateHostKeys', 'yes'), ('UserKnownHostsFile', '/k/known')),
        (('UpdateHostKeys', 'ask'), ('UserKnownHostsFile', '/k/known')),
    ])
    def test_writes_into_a_file_inventory_names_are_refused(self, options):
        with pytest.raises(MultihopError, match='ssh would write host keys into that file'):
            hop_keywords.check_known_hosts_writes(options, 'host t: multihop_via[0] (b)')

    @pytest.mark.parametrize('options', [
        (('StrictHostKeyChecking', 'accept-new'),),  # the user's own ~/.ssh/known_hosts
        (('StrictHostKeyChecking', 'accept-new'), ('UserKnownHostsFile', '/dev/null')),
        (('StrictHostKeyChecking', 'yes'), ('UserKnownHostsFile', '/k/known')),
        (('StrictHostKeyChecking', 'yes'), ('StrictHostKeyChecking', 'accept-new'), ('UserKnownHostsFile', '/k')),
    ])
    def test_everything_else_is_fine(self, options):
        hop_keywords.check_known_hosts_writes(options, 'w')
