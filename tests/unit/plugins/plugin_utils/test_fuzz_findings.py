"""Plain regression tests for what the rendering fuzzer (test_fuzz_rendering.py) found."""

from __future__ import annotations

import pytest

from ansible_collections.jumphosts.multihop.plugins.plugin_utils._chain import (
    MultihopError,
    resolve_hops,
    resolve_host,
)
from ansible_collections.jumphosts.multihop.plugins.plugin_utils._gate import (
    check_time,
    proxy_command,
    shell_command,
    ssh_config_line,
)
from ansible_collections.jumphosts.multihop.plugins.plugin_utils._inventory_config import (
    ControlMasterSettings,
    render_inventory_config,
)
from ansible_collections.jumphosts.multihop.plugins.plugin_utils._openssh import OpenSSHRoute
from ansible_collections.jumphosts.multihop.plugins.plugin_utils._permit_open import sshd_permit_open
from ansible_collections.jumphosts.multihop.plugins.plugin_utils._render import RuntimeSettings, render_plugin_config

INVENTORY = {'bastion': {'ansible_host': '10.0.0.2'}, 't0': {'ansible_host': '10.0.0.5', 'multihop_via': 'bastion'}}


def test_a_hop_option_naming_a_bracketed_address_is_written_without_brackets():
    # The host grammar took "[::1]" but handed on the value with its brackets, which the ssh_config quoting
    # then refused with a message that named no host: BindAddress or HostKeyAlias in brackets could not be used.
    inventory = {'bastion': {'ansible_host': '10.0.0.2', 'ansible_ssh_common_args': '-o BindAddress=[::1]'},
                 't0': {'ansible_host': '10.0.0.5', 'multihop_via': 'bastion',
                        'ansible_ssh_common_args': '-o HostKeyAlias=[2001:DB8::1]'}}
    text = render_inventory_config([resolve_host('t0', inventory.get)])
    assert '  BindAddress ::1\n' in text
    assert '  HostKeyAlias 2001:db8::1\n' in text


def test_control_persist_given_as_a_number_is_written():
    # ControlMasterSettings(persist=600), as the ssh_config role passes `ssh_config_control_persist: 600`, wrote the
    # unchecked int: TypeError in the ssh_config quoting instead of a line.
    text = render_inventory_config([resolve_host('t0', INVENTORY.get)], control=ControlMasterSettings('/cm', 600))
    assert text.count('  ControlPersist 600\n') == 2


@pytest.mark.parametrize(('value', 'written'), [('YES', 'yes'), (' No ', 'no'), ('2147483647', '2147483647'),
                                                ('1h30M', '1h30M'), (3600, '3600')])
def test_control_persist_is_written_as_openssh_reads_it(value, written):
    # OpenSSH takes only a lower-case yes or no: "ControlPersist YES" made ssh refuse the whole file.
    assert check_time(value, 'ControlPersist', 'ssh_config') == written
    text = render_inventory_config([resolve_host('t0', INVENTORY.get)], control=ControlMasterSettings('/cm', value))
    assert f'  ControlPersist {written}\n' in text
    hops = resolve_hops('t0', 'bastion', INVENTORY.get)
    text = render_plugin_config(hops, RuntimeSettings(control_dir='/cp', config_path='/cp/c', control_persist=value))
    assert f'  ControlPersist {written}\n' in text


@pytest.mark.parametrize('value', ['2147483648', '999999999w', '99999999999999999', '35791395m'])
def test_control_persist_beyond_what_openssh_holds_is_refused(value):
    # More seconds than an int holds: OpenSSH refused the rendered file ("Bad ControlPersist argument").
    with pytest.raises(MultihopError, match='invalid ControlPersist'):
        render_inventory_config([resolve_host('t0', INVENTORY.get)], control=ControlMasterSettings('/cm', value))
    with pytest.raises(MultihopError, match='invalid multihop_control_persist'):
        OpenSSHRoute(resolve_hops('t0', 'bastion', INVENTORY.get), '/cp', control_persist=value)


def test_an_inventory_hostname_with_a_newline_gives_a_one_line_error():
    # The name of a hop that is an inventory host went into the message as it was: one error, several lines.
    name = 'x\nMatch exec "touch /tmp/canary"\n#'
    inventory = {name: {'ansible_host': '10.0.0.2'}, 't0': {'multihop_via': name}}
    with pytest.raises(MultihopError) as error:
        resolve_hops('t0', name, inventory.get)
    assert str(error.value).isprintable()
    assert str(error.value).startswith('host t0: multihop_via[0] (x\\nMatch exec "touch /tmp/canary"\\n#): invalid '
                                       'inventory hostname')


def test_permit_open_destinations_are_written_with_their_port_as_a_number():
    # check_destination() checked the port but returned the text as given: "*: 1" (a wildcard host) went on
    # to sshd_config_line(), which refused it with a message of its own; "h:022" was written as it was.
    assert sshd_permit_open(['*:1', 'h.example:022', '[::1]:2222', '*:*']) == '*:1 h.example:22 [::1]:2222 *:*'
    # A port with blanks or a newline is refused, as everywhere else.
    for destination in ('*: 1', '[::1]:2222\n'):
        with pytest.raises(MultihopError, match='invalid port'):
            sshd_permit_open([destination])


@pytest.mark.parametrize('destination', ['h.example:', '*:', '[::1]:'])
def test_a_permit_open_destination_without_a_port_is_refused(destination):
    # An empty port passed (check_port takes '' for "not set"), and sshd refused "PermitOpen h.example:".
    with pytest.raises(MultihopError, match='expected host:port'):
        sshd_permit_open([destination])


def test_a_control_path_token_is_written_only_where_the_renderer_puts_it():
    # ControlPath was allowed "%C" anywhere in its value: a control directory holding "%C" was expanded by ssh.
    assert ssh_config_line('ControlPath', '~/.ssh/cm/mh-0123456789-%C') == '  ControlPath ~/.ssh/cm/mh-0123456789-%C'
    hops = resolve_hops('t0', 'bastion', INVENTORY.get)
    with pytest.raises(MultihopError, match="refusing to write ControlPath '/cp/%C/mh-"):
        render_plugin_config(hops, RuntimeSettings(control_dir='/cp/%C', config_path='/cp/c'))


@pytest.mark.parametrize('config_path', ['/etc/ssh/x\\', '/etc/ssh/a\\b'])
def test_a_proxy_command_word_with_a_backslash_is_refused(config_path):
    # shlex.quote() leaves a backslash as it is inside single quotes, as /bin/sh does, but OpenSSH splits each
    # config line into words first and takes "\'" for an escaped quote: "ProxyCommand ssh -F '/etc/ssh/x\' ..."
    # made ssh refuse the whole file ("invalid quotes"). The config_path of the ssh_config filter, or an
    # unchecked RuntimeSettings.ssh_executable, reached it.
    inventory = {'nc': {'ansible_host': '10.0.0.2', 'multihop_type': 'netcat'}, 't0': {'multihop_via': 'nc'}}
    with pytest.raises(MultihopError, match='backslash'):
        render_inventory_config([resolve_host('t0', inventory.get)], config_path=config_path)


def test_a_command_word_starting_with_equals_is_quoted():
    # shlex.quote('=x') is '=x': as the first word of a ProxyCommand, ssh dropped the "=" (read as the
    # "Key=Value" separator) and ran "x"; "ProxyCommand =" alone made ssh refuse the file; zsh expands "=x".
    assert proxy_command(['=x', '-F', '=', '%h', '%p']) == "'=x' -F '=' %h %p"
    assert shell_command(['nc', '=', 'a=b']) == "nc '=' a=b"
