"""The filter as templates see it: a real inventory, real lazy hostvars, a real Templar."""

from __future__ import annotations

import pytest

from ansible.errors import AnsibleError
from ansible.inventory.manager import InventoryManager
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar, trust_as_template
from ansible.vars.hostvars import HostVars
from ansible.vars.manager import VariableManager

from ansible_collections.jumphosts.multihop.plugins.filter.ssh_config import ssh_config

INVENTORY = """
all:
  vars:
    ansible_ssh_common_args: "-o UserKnownHostsFile=/lab/known_hosts"
    keys: /lab/keys
  children:
    bastions:
      hosts:
        bastion1: {ansible_host: 10.203.1.2, ansible_user: jump1, ansible_ssh_private_key_file: "{{ keys }}/jump1"}
        bastion2: {ansible_host: 10.203.3.2, ansible_port: 2222, ansible_user: jump2, multihop_via: bastion1}
    targets:
      vars: {ansible_user: admin, multihop_via: bastion1}
      hosts:
        t01: {ansible_host: 10.203.2.11}
    deep:
      hosts:
        deep1: {ansible_host: 10.203.4.2, ansible_user: deep, multihop_via: bastion2}
        hostile: {ansible_host: 10.203.4.3, multihop_via: [bastion2, "{{ evil_hop }}"]}
        plain: {ansible_host: 10.203.4.4, multihop_via: [{host: 10.0.0.1, user: "x\\n  Match all #"}]}
        undefined: {ansible_host: 10.203.4.5, multihop_via: [brokenhop]}
        brokenhop: {ansible_user: "{{ undefined_variable }}"}
      vars:
        evil_hop: {host: 10.0.0.1, user: "x\\n  ProxyCommand touch /tmp/pwned"}
        broken: "{{ undefined_variable }}"
"""


@pytest.fixture
def render(tmp_path):
    source = tmp_path / 'inventory.yml'
    source.write_text(INVENTORY)
    loader = DataLoader()
    inventory = InventoryManager(loader=loader, sources=[str(source)])
    variable_manager = VariableManager(loader=loader, inventory=inventory)
    variables = {'hostvars': HostVars(inventory, variable_manager, loader), 'groups': inventory.get_groups_dict()}

    def render(expression):
        templar = Templar(loader=loader, variables=variables)
        return templar.template(trust_as_template('{{ ' + expression + ' }}'))

    return render


def test_the_filter_renders_templated_hostvars_with_hops_first(render):
    text = render("['deep1', 't01'] | jumphosts.multihop.ssh_config(hostvars, patterns={'t01': ['web1']})")
    assert [line for line in text.splitlines() if line.startswith('Host ')] == \
        ['Host bastion1', 'Host bastion2', 'Host deep1', 'Host t01 web1']
    assert '  IdentityFile /lab/keys/jump1\n' in text
    assert text.count('  UserKnownHostsFile /lab/known_hosts\n') == 4
    assert text.count('  ForwardAgent no\n') == 4


def test_the_filter_takes_one_name_and_control_master_settings(render):
    text = render("'t01' | jumphosts.multihop.ssh_config(hostvars, control_master=true, control_persist='1m')")
    assert text.startswith('Host bastion1\n')
    assert text.count('  ControlPersist 1m\n') == 2


def test_hostile_values_fail_the_filter_naming_host_and_hop(render):
    # A value that came from a template is never shown: a lookup may have put a secret there.
    with pytest.raises(AnsibleError, match=r"jumphosts.multihop.ssh_config: host hostile: multihop_via\[1\]: "
                                           r"invalid user \(a string of 33 characters, not shown\)"):
        render("['t01', 'hostile'] | jumphosts.multihop.ssh_config(hostvars)")
    # A value written as it is: shown escaped, so the newline is visible and cannot start a line.
    with pytest.raises(AnsibleError, match=r"host plain: multihop_via\[0\]: invalid user 'x\\n  Match all #'"):
        render("['plain'] | jumphosts.multihop.ssh_config(hostvars)")
    with pytest.raises(AnsibleError, match=r"host undefined: multihop_via\[0\] \(brokenhop\): variable ansible_user "
                                           r"of brokenhop cannot be templated"):
        render("['undefined'] | jumphosts.multihop.ssh_config(hostvars)")
    with pytest.raises(AnsibleError, match="host t01: invalid extra Host pattern"):
        render("'t01' | jumphosts.multihop.ssh_config(hostvars, patterns={'t01': ['a b']})")


def test_unknown_hosts_and_non_names_are_refused(render):
    with pytest.raises(AnsibleError, match='host nosuch: not in the inventory'):
        render("['nosuch'] | jumphosts.multihop.ssh_config(hostvars)")
    with pytest.raises(AnsibleError, match='expects a list of inventory hostnames'):
        ssh_config([1], {})
