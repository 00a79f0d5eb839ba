# Copyright (c) 2026, jumphosts.multihop contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: ssh
short_description: ansible.builtin.ssh that reaches hosts through chains of bastions
description:
  - A drop-in replacement for C(ansible.builtin.ssh). Every option and behaviour of the builtin plugin is kept,
    and a host without O(multihop_via) is connected exactly as the builtin plugin would.
  - For a host with O(multihop_via), the chain of hops is resolved from inventory and rendered into a private
    ssh_config passed with C(-F), so each hop gets its own user, port, key, password and host-key settings.
    The user's C(~/.ssh/config) and C(/etc/ssh/ssh_config) still apply to everything the chain does not set.
  - Each hop keeps one authenticated master connection, opened under a lock and shared by every target behind
    it and by every fork, so a bastion sees one login per C(ControlPersist) window instead of one per task.
  - Agent forwarding is off on every hop and on the target unless O(multihop_forward_agent) is set.
author: jumphosts.multihop contributors (@jumphosts)
extends_documentation_fragment:
  - ansible.builtin.connection_pipelining
  - jumphosts.multihop._builtin_ssh
  - jumphosts.multihop._multihop
notes:
  - The options besides the C(multihop_*) ones are those of the installed C(ansible.builtin.ssh).
  - Host-key checking applies to every hop. A hop whose host-key checking is turned off explicitly causes a warning.
  - Hop passwords are handed to C(ssh) through C(SSH_ASKPASS) and a private FIFO, never on a command line or in a file.
  - Requires OpenSSH 8.4 or newer on the controller for hop passwords, and C(nc) with SOCKS support for socks5 hops.
seealso:
  - plugin: ansible.builtin.ssh
    plugin_type: connection
"""

EXAMPLES = r"""
# inventory.yml
# all:
#   vars:
#     ansible_connection: jumphosts.multihop.ssh
#   children:
#     bastions:
#       hosts:
#         bastion1: {ansible_host: 203.0.113.10, ansible_user: jump, ansible_ssh_private_key_file: ~/.ssh/jump}
#         bastion2: {ansible_host: 10.0.3.2, ansible_port: 2222, ansible_user: jump2, multihop_via: bastion1}
#     databases:
#       vars:
#         multihop_via: bastion2          # resolved recursively: bastion1, then bastion2
#       hosts:
#         db1: {ansible_host: 10.0.4.21}
#     legacy:
#       vars:
#         multihop_via:
#           - bastion1
#           - {host: 10.0.9.1, user: ops, type: netcat}   # a bastion that denies TCP forwarding
#       hosts:
#         old1: {ansible_host: 10.0.9.50}
"""

from ansible.errors import AnsibleConnectionFailure, AnsibleError
from ansible.module_utils.common.text.converters import to_bytes
from ansible.plugins.connection.ssh import Connection as BuiltinSSHConnection
from ansible.utils.display import Display
from ansible.utils.path import unfrackpath

from ansible_collections.jumphosts.multihop.plugins.plugin_utils._chain import MultihopError, resolve_hops
from ansible_collections.jumphosts.multihop.plugins.plugin_utils._inventory import hostvars_lookup
from ansible_collections.jumphosts.multihop.plugins.plugin_utils._openssh import HopConnectionError, OpenSSHRoute

display = Display()

FORWARD_AGENT_WARNING = ('multihop_forward_agent is on for {host}: anyone with root on a hop or on the target can '
                         'use your agent to log in as you while this connection is open.')
NO_HOST_KEY_CHECK_WARNING = ('host key checking is off for {hop} on the way to {host}: '
                             'a man in the middle would go unnoticed.')


class Connection(BuiltinSSHConnection):
    """ansible.builtin.ssh plus routes through bastions."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._hops = ()
        self._route = None
        self._route_error = None

    def _resolve_option_variables(self, variables, templar):
        # ansible-core hands us the task's variables here, the one place where other hosts' variables
        # (the inventory hops) can be read lazily: only the hops' own variables are templated.
        var_options = super()._resolve_option_variables(variables, templar)
        self._hops, self._route, self._route_error = (), None, None
        via = var_options.get('multihop_via')
        if via:
            owner = str(variables.get('inventory_hostname', self._play_context.remote_addr))
            try:
                self._hops = resolve_hops(owner, via, hostvars_lookup(variables.get('hostvars')))
            except MultihopError as e:
                self._route_error = e
        return var_options

    def _multihop_route(self):
        if self._route_error:
            raise AnsibleError(f'jumphosts.multihop: {self._route_error}')
        if not self._hops or self._route:
            return self._route
        forward_agent = self.get_option('multihop_forward_agent')
        if forward_agent:
            display.warning(FORWARD_AGENT_WARNING.format(host=self.host))
        for hop in self._hops:
            if hop.disables_host_key_checking:
                display.warning(NO_HOST_KEY_CHECK_WARNING.format(hop=hop.name, host=self.host))
        self._route = OpenSSHRoute(
            self._hops,
            unfrackpath(self.get_option('control_path_dir')),
            ssh_executable=self.get_option('ssh_executable'),
            connect_timeout=self.get_option('timeout'),
            control_persist=self.get_option('multihop_control_persist'),
            forward_agent=forward_agent,
        )
        return self._route

    def _build_command(self, binary, subsystem, *other_args):
        route = self._multihop_route()
        if route is None:
            return super()._build_command(binary, subsystem, *other_args)
        try:
            if not self.get_option('control_path'):
                # The same address behind different bastions is another host: the socket name covers the route.
                target = route.control_path(self.host, self.get_option('port'), self.get_option('remote_user'))
                self.set_option('control_path', target.replace('%', '%%'))
            command = super()._build_command(binary, subsystem, *other_args)
            if '-O' not in other_args:  # control commands (reset) talk to the local master only
                route.prepare()
        except HopConnectionError as e:
            raise AnsibleConnectionFailure(f'jumphosts.multihop: {e}') from e
        except ValueError as e:  # a setting that cannot work, such as a control_path_dir that is too long
            raise AnsibleError(f'jumphosts.multihop: host {self.host}: {e}') from e
        display.vvv(f'MULTIHOP ROUTE: {" -> ".join(h.name for h in self._hops)} -> {self.host}', host=self.host)
        return command[:1] + [to_bytes(arg) for arg in route.ssh_args()] + command[1:]
