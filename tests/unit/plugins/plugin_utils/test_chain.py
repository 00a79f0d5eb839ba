from __future__ import annotations

import pytest

from ansible_collections.jumphosts.multihop.plugins.plugin_utils._chain import (
    MultihopError,
    chain_digest,
    endpoint_hop,
    hop_label,
    parse_hop_string,
    resolve_hops,
    resolve_host,
)
from ansible_collections.jumphosts.multihop.plugins.plugin_utils._ssh_args import parse_ssh_args

INVENTORY = {
    'bastion1': {'ansible_host': '10.203.1.2', 'ansible_user': 'jump1', 'ansible_ssh_private_key_file': '/k/jump1',
                 'ansible_ssh_common_args': '-o UserKnownHostsFile=/lab/known_hosts -o StrictHostKeyChecking=yes'},
    'bastion2': {'ansible_host': '10.203.3.2', 'ansible_port': 2222, 'ansible_user': 'jump2',
                 'ansible_password': 's3cret', 'multihop_via': 'bastion1'},
    'deep1': {'ansible_host': '10.203.4.2', 'multihop_via': 'bastion2'},
    't01': {'ansible_host': '10.203.2.11', 'multihop_via': 'bastion1'},
    'nc': {'ansible_host': '10.203.1.2', 'ansible_user': 'ncjump', 'multihop_type': 'netcat'},
    'loop_a': {'multihop_via': 'loop_b'},
    'loop_b': {'multihop_via': 'loop_a'},
}


def lookup(name):
    return INVENTORY.get(name)


def names(hops):
    return [hop.name for hop in hops]


class TestResolve:
    def test_no_via_means_no_hops(self):
        assert resolve_hops('t', None, lookup) == ()
        assert resolve_hops('t', [], lookup) == ()

    def test_inventory_hop_takes_its_own_connection_vars(self):
        (hop,) = resolve_hops('t01', 'bastion1', lookup)
        assert (hop.alias, hop.host, hop.port, hop.user, hop.private_key_file) == \
            ('bastion1', '10.203.1.2', None, 'jump1', '/k/jump1')
        assert hop.options == (('UserKnownHostsFile', '/lab/known_hosts'), ('StrictHostKeyChecking', 'yes'))
        assert ('host', 'hostvars[bastion1].ansible_host') in hop.sources

    def test_recursive_via_is_resolved_first(self):
        hops = resolve_hops('deep1', 'bastion2', lookup)
        assert names(hops) == ['bastion1', 'bastion2']
        assert hops[1].port == 2222 and hops[1].password == 's3cret'

    def test_list_order_wins_over_later_hops_own_via(self):
        assert names(resolve_hops('x', ['bastion1', 'bastion2'], lookup)) == ['bastion1', 'bastion2']

    def test_string_and_mapping_hops(self):
        hops = resolve_hops('x', ['ops@jump.example.com:2200', {'host': '2001:db8::1', 'port': '22', 'type': 'netcat'},
                                  '[2001:db8::2]:2022'], lookup)
        assert (hops[0].user, hops[0].host, hops[0].port) == ('ops', 'jump.example.com', 2200)
        assert (hops[1].host, hops[1].port, hops[1].type) == ('2001:db8::1', 22, 'netcat')
        assert (hops[2].host, hops[2].port) == ('2001:db8::2', 2022)
        assert all(hop.alias.startswith('multihop-') for hop in hops)
        assert hops[2].address == '[2001:db8::2]:2022'

    def test_resolve_host_gives_endpoint_and_route(self):
        resolved = resolve_host('deep1', lookup)
        assert resolved.endpoint.host == '10.203.4.2'
        assert names(resolved.hops) == ['bastion1', 'bastion2']

    def test_password_is_never_shown(self):
        hop = resolve_hops('deep1', 'bastion2', lookup)[1]
        assert 's3cret' not in repr(hop) and 's3cret' not in hop.identity


class TestBadInput:
    @pytest.mark.parametrize('via, message', [
        ('loop_a', 'cycle: x -> loop_a -> loop_b -> loop_a'),
        ('bastoin1', "'bastoin1' is not an inventory host"),
        (['bastion1', 'bastion1'], 'passes through bastion1 twice'),
        ({'host': 'h', 'bogus': 1}, "unknown key(s) 'bogus'"),
        (42, 'a hop must be an inventory hostname'),
        ('jump.example.com:22x', "invalid port '22x'"),
        ('jump.example.com:0', 'invalid port'),
        ('2001:db8::1', 'write IPv6 addresses in brackets'),
        ('user@host.example\nProxyCommand touch /tmp/pwned', 'whitespace is not allowed'),
        ({'host': 'h.example\nProxyCommand touch /tmp/pwned'}, 'invalid host'),
        ({'host': '-oProxyCommand=touch'}, 'invalid host'),
        ({'host': 'h.example', 'user': '-oProxyCommand=x'}, 'invalid user'),
        ({'host': 'h.example', 'user': 'a b'}, 'invalid user'),
        ({'host': 'h%h.example'}, 'invalid host'),
        ({'host': 'h.example', 'private_key_file': '/k\nProxyCommand x'}, 'invalid private key file'),
        ({'host': 'h.example', 'private_key_file': '/k/%d'}, 'invalid private key file'),
        ({'host': 'h.example', 'type': 'telnet'}, "unknown hop type 'telnet'"),
        ({'host': 'h.example', 'ssh_args': '-o ProxyCommand=touch /tmp/x'}, 'describe the route with multihop_via'),
        ({'host': 'h.example', 'ssh_args': '-o LocalCommand=id'}, 'LocalCommand is not allowed on a hop'),
        ({'host': 'h.example', 'ssh_args': '-o ForwardAgent=yes'}, 'set multihop_forward_agent instead'),
        ({'host': 'h.example', 'ssh_args': '-A'}, "unsupported ssh argument '-A'"),
        ({'host': 'h.example', 'ssh_args': '-o "UserKnownHostsFile=/a\nInclude /x"'}, 'invalid value'),
        (['bastion1', {'host': 'proxy.example', 'type': 'socks5'}], 'a socks5 hop must be the first hop'),
        ({'host': 'proxy.example', 'type': 'socks5', 'user': 'u'}, 'a socks5 hop takes only host and port'),
    ])
    def test_rejected_with_a_clear_message(self, via, message):
        with pytest.raises(MultihopError) as error:
            resolve_hops('x', via, lookup)
        assert message in str(error.value)
        assert str(error.value).startswith('host x')

    def test_error_names_the_host_and_the_hop(self):
        inventory = dict(INVENTORY, bad={'ansible_host': 'ok.example', 'ansible_user': 'x\ny'})
        with pytest.raises(MultihopError, match=r'^host t: multihop_via\[1\] \(bad\): invalid user'):
            resolve_hops('t', ['bastion1', 'bad'], inventory.get)

    def test_a_target_whose_values_may_be_templated_is_refused_without_showing_them(self):
        with pytest.raises(MultihopError, match=r'^host t: invalid user \(a string of 14 characters, not shown\)'):
            endpoint_hop('t', '10.0.0.1', 22, 'T4rget-S3cret\n', reveal=False)
        with pytest.raises(MultihopError, match=r"^host t: invalid host '10.0.0.1\\nx'"):
            endpoint_hop('t', '10.0.0.1\nx', 22, None)

    def test_error_inside_a_recursive_hop_names_both(self):
        inventory = dict(INVENTORY, mid={'multihop_via': 'nowhere'})
        with pytest.raises(MultihopError, match=r"^host t: multihop_via\[0\] of mid: 'nowhere'"):
            resolve_hops('t', 'mid', inventory.get)


class TestParsing:
    @pytest.mark.parametrize('spec, expected', [
        ('host.example', {'host': 'host.example', 'port': None, 'user': None}),
        ('u@10.0.0.1:2222', {'host': '10.0.0.1', 'port': '2222', 'user': 'u'}),
        ('[::1]', {'host': '::1', 'port': None, 'user': None}),
        ('u@[::1]:22', {'host': '::1', 'port': '22', 'user': 'u'}),
    ])
    def test_hop_string(self, spec, expected):
        assert parse_hop_string(spec, 'w') == expected

    def test_ssh_args_forms(self):
        assert parse_ssh_args('-o Compression=yes -oServerAliveInterval=5 -i "/keys/my key" -o "LogLevel ERROR"',
                              'w') == ((('Compression', 'yes'), ('ServerAliveInterval', '5'),
                                        ('IdentityFile', '/keys/my key'), ('LogLevel', 'ERROR')), ())

    def test_connection_sharing_and_target_only_options_are_ignored_on_hops(self):
        assert parse_ssh_args('-o ControlMaster=auto -o ControlPersist=60s -o Compression=no -o BatchMode=yes '
                              '-o RequestTTY=force -o ForwardAgent=no', 'w') == \
            ((('Compression', 'no'),), ('ControlMaster', 'ControlPersist', 'BatchMode', 'RequestTTY', 'ForwardAgent'))

    @pytest.mark.parametrize('args, message', [
        ('-o ForwardAgent=yes', 'set multihop_forward_agent instead'),
        ('-o KnownHostsCommand=/bin/true', 'runs a command on the controller'),
        ('-o PKCS11Provider=/lib/x.so', 'loads a library'),
        ('-o NoHostAuthenticationForLocalhost=yes', 'host-key checking'),
        ('-o NoSuchKeyword=1', 'ssh option NoSuchKeyword is not allowed on a hop'),
    ])
    def test_every_keyword_is_allowed_ignored_or_refused(self, args, message):
        with pytest.raises(MultihopError, match=message):
            parse_ssh_args(args, 'w')


class TestInlineHopsInherit:
    OWNER = {'ansible_ssh_common_args': '-o UserKnownHostsFile=/run/known_hosts -o BatchMode=yes',
             'ansible_ssh_extra_args': '-o ServerAliveInterval=5', 'ansible_host_key_checking': 'yes'}

    VIA = ['jump@10.0.0.1', {'host': '10.0.0.2', 'type': 'netcat', 'ssh_args': '-o ServerAliveInterval=9'}]

    def lookup(self, name):
        return {'t': dict(self.OWNER, multihop_via=self.VIA)}.get(name)

    def test_inline_hops_take_the_owners_defaults_after_their_own(self):
        string_hop, mapping_hop = resolve_hops('t', self.lookup('t')['multihop_via'], self.lookup)
        assert string_hop.options == (('UserKnownHostsFile', '/run/known_hosts'), ('ServerAliveInterval', '5'))
        assert string_hop.ignored_options == ('BatchMode',)
        assert string_hop.host_key_checking is True
        # Its own value comes first, and ssh takes the first.
        assert mapping_hop.options[0] == ('ServerAliveInterval', '9')
        assert ('options', 'hostvars[t].ansible_ssh_common_args (inherited)') in mapping_hop.sources

    def test_an_inherited_value_is_checked_and_named(self):
        def lookup(name):
            return {'t': {'ansible_ssh_common_args': '-o IdentityFile=/k/a%h'}}.get(name)
        with pytest.raises(MultihopError, match=r'host t: multihop_via\[0\] inherited ansible_ssh_common_args of t'):
            resolve_hops('t', ['jump@10.0.0.1'], lookup)

    def test_a_socks5_hop_inherits_nothing(self):
        (hop,) = resolve_hops('t', [{'host': '10.0.0.3', 'type': 'socks5'}], self.lookup)
        assert hop.options == () and hop.host_key_checking is None


class TestNaming:
    def test_digest_depends_on_the_whole_route(self):
        via_1 = resolve_hops('t', ['bastion1', '10.0.0.5'], lookup)
        via_2 = resolve_hops('t', ['nc', '10.0.0.5'], lookup)
        assert via_1[-1].identity == via_2[-1].identity
        assert chain_digest(via_1) != chain_digest(via_2)

    def test_hop_label_counts_the_target(self):
        hops = resolve_hops('deep1', 'bastion2', lookup)
        assert hop_label(hops, 1) == 'hop 2/3 bastion2 jump2@10.203.3.2:2222'


def test_flags_set_once_for_all_hosts_are_ignored_on_hops_but_not_in_a_hops_own_ssh_args():
    inventory = {'b1': {'ansible_host': '10.0.0.1', 'ansible_ssh_common_args': '-C -F /etc/my.cfg -o BatchMode=yes'},
                 't': {'ansible_ssh_common_args': '-C -v -o ServerAliveInterval=5'}}
    inventory_hop, inline = resolve_hops('t', ['b1', 'ops@10.0.0.9'], inventory.get)
    assert inventory_hop.options == () and inventory_hop.ignored_options == ('-C', '-F', 'BatchMode')
    assert inline.options == (('ServerAliveInterval', '5'),) and inline.ignored_options == ('-C', '-v')
    with pytest.raises(MultihopError, match="unsupported ssh argument '-C'"):
        resolve_hops('t', [{'host': '10.0.0.9', 'ssh_args': '-C'}], inventory.get)
