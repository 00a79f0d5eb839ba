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
  - With O(multihop_backend=paramiko), no OpenSSH client is needed. The chain, the commands and the file copies run
    in-process with paramiko, as described under that option.
author: jumphosts.multihop contributors (@jumphosts)
extends_documentation_fragment:
  # In this order, as the builtin's own: where two define an option, the keys of the first win.
  - jumphosts.multihop._builtin_ssh
  - ansible.builtin.connection_pipelining
  - jumphosts.multihop._multihop
notes:
  - The options besides the C(multihop_*) ones are those of the installed C(ansible.builtin.ssh).
  - Host-key checking applies to every hop. A hop whose host-key checking is turned off explicitly causes a warning.
  - Hop passwords are handed to C(ssh) through C(SSH_ASKPASS) and a private FIFO, never on a command line or in a file.
  - The OpenSSH backend requires OpenSSH 8.4 or newer on the controller for hop passwords, and C(nc) with SOCKS
    support for socks5 hops. The paramiko backend requires the Python library paramiko
    (tested with paramiko 5.1) and C(nc) on netcat hops.
seealso:
  - plugin: ansible.builtin.ssh
    plugin_type: connection
"""

EXAMPLES = r"""
# An inventory (inventory.yml). Every host connects with jumphosts.multihop.ssh; hosts without
# multihop_via (here the first bastion) are connected exactly as ansible.builtin.ssh would.
all:
  vars:
    ansible_connection: jumphosts.multihop.ssh
  children:
    bastions:
      hosts:
        bastion1:
          ansible_host: 203.0.113.10
          ansible_user: jump
          ansible_ssh_private_key_file: ~/.ssh/jump_ed25519
          # Pinned host key: checked strictly, also in a fresh container without known_hosts.
          multihop_known_hosts:
            - 203.0.113.10 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHI2azcSN3pxUYByopN3kYB9kMAU+VVsh60Y5ekRbafF
        bastion2:
          ansible_host: 10.0.3.2
          ansible_port: 2222
          ansible_user: jump2
          multihop_via: bastion1  # bastion2 is itself reached through bastion1
    databases:
      vars:
        multihop_via: bastion2  # followed recursively: bastion1, then bastion2
      hosts:
        db1:
          ansible_host: 10.0.4.21
        db2:
          ansible_host: 10.0.4.22
    legacy:
      vars:
        multihop_via:
          - bastion1
          # A hop written in place: this bastion denies TCP forwarding, so it runs nc instead.
          - host: 10.0.9.1
            user: ops
            type: netcat
      hosts:
        old1:
          ansible_host: 10.0.9.50

---
# A playbook (site.yml) for that inventory: nothing in the plays names a bastion.
# ansible-playbook -i inventory.yml site.yml -vvv shows each route, e.g.
# "MULTIHOP ROUTE: bastion1 -> bastion2 -> 10.0.4.21".
- name: Check the databases, two bastions away
  hosts: databases
  gather_facts: false
  tasks:
    - name: Show the route and the ssh_config written for it, without connecting
      jumphosts.multihop.chain_info:
      register: route

    - name: Run a command on the database host itself
      ansible.builtin.command: uptime
      changed_when: false

- name: Reach the legacy hosts with the paramiko backend (no OpenSSH client needed)
  hosts: legacy
  gather_facts: false
  vars:
    multihop_backend: paramiko
  tasks:
    - name: Ping through bastion1 and the netcat hop
      ansible.builtin.ping:
"""

import contextlib
import os

from ansible.errors import AnsibleAuthenticationFailure, AnsibleConnectionFailure, AnsibleError
from ansible.module_utils.common.text.converters import to_bytes
from ansible.plugins.connection.ssh import Connection as BuiltinSSHConnection
from ansible.utils.display import Display
from ansible.utils.path import unfrackpath

from ansible_collections.jumphosts.multihop.plugins.plugin_utils._import_cache import bytecode_cache

# The helpers load from Python's bytecode cache instead of being compiled again in every worker.
with bytecode_cache():
    from ansible_collections.jumphosts.multihop.plugins.plugin_utils._chain import (
        MultihopError,
        endpoint_hop,
        resolve_hops,
    )
    from ansible_collections.jumphosts.multihop.plugins.plugin_utils._errors import HopError
    from ansible_collections.jumphosts.multihop.plugins.plugin_utils._inventory import hostvars_lookup
    from ansible_collections.jumphosts.multihop.plugins.plugin_utils._openssh import (
        OpenSSHBackend,
        pinned_ssh_args,
        private_directory,
        route_from_options,
        without_user_configs,
        write_pinned_known_hosts,
    )
    from ansible_collections.jumphosts.multihop.plugins.plugin_utils._option_definitions import (
        register_option_definitions,
    )
    from ansible_collections.jumphosts.multihop.plugins.plugin_utils._settings import BackendSettings

display = Display()

# Now, before ansible-core would parse this file's DOCUMENTATION again in this worker process; under the
# module's name, which is the name ansible-core looks the definitions up by.
register_option_definitions(__name__)

FORWARD_AGENT_WARNING = ('multihop_forward_agent is on for {host}: anyone with root on a hop or on the target can '
                         'use your agent to log in as you while this connection is open.')
NO_HOST_KEY_CHECK_WARNING = ('host key checking is off for {hop} on the way to {host}: '
                             'a man in the middle would go unnoticed.')
PARAMIKO_NO_FORWARD_AGENT_WARNING = ('multihop_forward_agent is ignored for {host}: the paramiko backend never '
                                     'forwards the agent.')


def hop_failure(error: HopError) -> AnsibleConnectionFailure:
    """The one place where a hop (or target) that could not be passed becomes an Ansible error, on both backends."""
    # The OpenSSH client's words for the two refusals, so that one message means one thing on both backends.
    prefix = {'hostkey': 'Host key verification failed: ', 'auth': 'Authentication failed: '}.get(error.stage, '')
    message = f'jumphosts.multihop: {error.label}: {prefix}{error.reason}'
    return AnsibleAuthenticationFailure(message) if error.stage == 'auth' else AnsibleConnectionFailure(message)


@contextlib.contextmanager
def _hop_failures():
    try:
        yield
    except HopError as e:
        # from None: Ansible appends a cause's message, and this one says all that HopError said.
        raise hop_failure(e) from None


def _paramiko():
    """The paramiko backend, imported on first use: paramiko costs each worker process about 0.2 s of CPU,
    which hosts on the OpenSSH backend never need to pay."""
    with bytecode_cache():
        from ansible_collections.jumphosts.multihop.plugins.plugin_utils import _paramiko_session

    return _paramiko_session


class Connection(BuiltinSSHConnection):
    """ansible.builtin.ssh plus routes through bastions.

    Longer than 150 lines because it is the whole surface ansible-core calls (options, _build_command,
    exec/put/fetch/reset/close), each method a few lines of option handling, warnings and error mapping.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._hops = ()
        self._route = None
        self._route_error = None
        self._backend = None
        self._inventory_name = None
        self._pins = None
        self._target = None

    def _resolve_option_variables(self, variables, templar):
        # ansible-core hands us the task's variables here, the one place where other hosts' variables
        # (the inventory hops) can be read lazily: only the hops' own variables are templated.
        var_options = super()._resolve_option_variables(variables, templar)
        self._hops, self._route, self._route_error, self._backend, self._pins = (), None, None, None, None
        self._target = None
        # With delegate_to, these are the delegated host's variables but inventory_hostname is still the
        # delegating host's: the route belongs to the host the task is delegated to.
        owner = getattr(self._play_context, 'delegate_to', None) or variables.get('inventory_hostname')
        self._inventory_name = str(owner or self._play_context.remote_addr)
        via = var_options.get('multihop_via')
        if via:
            try:
                lookup = hostvars_lookup(variables.get('hostvars'), self._inventory_name, variables)
                self._hops = resolve_hops(self._inventory_name, via, lookup)
            except MultihopError as e:
                self._route_error = e
        return var_options

    def _multihop_route(self):
        if self._route_error:
            raise AnsibleError(f'jumphosts.multihop: {self._route_error}')
        if not self._hops or self._route:
            return self._route
        forward_agent = self.get_option('multihop_forward_agent')
        name = self._inventory_name or self.host
        pins = self.get_option('multihop_known_hosts')
        try:  # the target with its pins, built once: _target_pins takes it from here
            self._target = self._endpoint(pins)
        except AnsibleError:
            if not pins:
                raise
            self._endpoint(None)  # a rejected host, port or user is reported first, then the route's errors
        try:
            route = route_from_options(self._hops, self.get_option)
        except MultihopError as e:
            raise AnsibleError(f'jumphosts.multihop: host {name}: {e}') from None
        if forward_agent:
            display.warning(FORWARD_AGENT_WARNING.format(host=self.host))
        self._warn_about_hop_host_keys()
        self._route = route
        return self._route

    def _warn_about_hop_host_keys(self):
        for hop in self._hops:
            if hop.disables_host_key_checking:
                display.warning(NO_HOST_KEY_CHECK_WARNING.format(hop=hop.name, host=self.host))
            if hop.known_hosts:
                display.vvv(f'MULTIHOP: {len(hop.known_hosts)} pinned host key lines for {hop.name}', host=self.host)
            if hop.ignored_options:
                display.vvv(f'MULTIHOP: {hop.name} ignores {", ".join(hop.ignored_options)} (they concern the '
                            'target only, or the plugin manages them on hops)', host=self.host)

    def _endpoint(self, known_hosts):
        """The target as a hop, checked by the same gate as its hops, on both backends. Its values reach us
        templated, so whether they came from a template is unknown here: a rejected one is not shown."""
        try:
            return endpoint_hop(self._inventory_name or self.host, self.host, self.get_option('port'),
                                self.get_option('remote_user'), known_hosts=known_hosts, reveal=False)
        except MultihopError as e:  # the message names the host; self.host is the rejected value itself
            raise AnsibleError(f'jumphosts.multihop: {e}') from None

    def _target_pins(self, directory):
        """ssh arguments that check the target against its pinned keys (multihop_known_hosts), or [].

        ``directory`` is the control directory, already checked by the caller.
        """
        if self._pins is not None:  # the file is written and checked once per task's connection
            return self._pins
        name = self._inventory_name or self.host
        target = self._target or self._endpoint(self.get_option('multihop_known_hosts'))
        try:
            path = write_pinned_known_hosts(directory, target)
        except MultihopError as e:
            raise AnsibleError(f'jumphosts.multihop: host {name}: {e}') from None
        display.vvv(f'MULTIHOP: {len(target.known_hosts)} pinned host key lines for {self.host} ({path})',
                    host=self.host)
        self._pins = pinned_ssh_args(path)
        return self._pins

    def _control_directory(self, route):
        """The control directory, created if missing and checked private: once per ssh command."""
        directory = route.runtime_dir if route else unfrackpath(self.get_option('control_path_dir'))
        try:
            # Before the builtin plugin tries: a read-only HOME (a fresh container) fails here with advice.
            private_directory(directory)
        except MultihopError as e:
            raise AnsibleError(f'jumphosts.multihop: host {self._inventory_name or self.host}: {e}') from None
        return directory

    def _build_command(self, binary, subsystem, *other_args):
        route = self._multihop_route()
        pinned = self.get_option('multihop_known_hosts')
        if route is None and not pinned:
            return super()._build_command(binary, subsystem, *other_args)
        directory = self._control_directory(route)
        pins = self._target_pins(directory) if pinned else []
        if route is None:
            command = super()._build_command(binary, subsystem, *other_args)
            return command[:1] + [to_bytes(arg) for arg in pins] + command[1:]
        try:
            if not self.get_option('control_path'):
                # The same address behind different bastions is another host: the socket name covers the route.
                target = route.control_path(self.host, self.get_option('port'), self.get_option('remote_user'))
                self.set_option('control_path', target.replace('%', '%%'))
            command = without_user_configs(super()._build_command(binary, subsystem, *other_args),
                                           route.runtime.user_configs)
            if '-O' not in other_args:  # control commands (reset) talk to the local master only
                route.prepare(directory_checked=True)
        except HopError as e:
            raise hop_failure(e) from None
        except MultihopError as e:  # a setting that cannot work, such as a control_path_dir that is too long
            raise AnsibleError(f'jumphosts.multihop: host {self._inventory_name or self.host}: {e}') from None
        display.vvv(f'MULTIHOP ROUTE: {" -> ".join(h.name for h in self._hops)} -> {self.host}', host=self.host)
        return command[:1] + [to_bytes(arg) for arg in pins + route.ssh_args()] + command[1:]

    # --- the backend seam: one interface (plugin_utils/_backend.py), chosen once per connection --------------

    def _backend_for(self):
        """The factory: the paramiko backend when multihop_backend says so, else the builtin's OpenSSH code."""
        if self._backend is None:
            if self.get_option('multihop_backend') == 'paramiko':
                self._backend = self._paramiko_backend()
            else:
                self._backend = OpenSSHBackend(self, BuiltinSSHConnection)
        return self._backend

    def _paramiko_backend(self):
        if self._route_error:
            raise AnsibleError(f'jumphosts.multihop: {self._route_error}')
        self.host = self.get_option('host') or self._play_context.remote_addr
        if self.get_option('multihop_forward_agent'):
            display.warning(PARAMIKO_NO_FORWARD_AGENT_WARNING.format(host=self.host))
        if self.get_option('private_key'):
            raise AnsibleError('jumphosts.multihop: the paramiko backend takes keys from files or an agent: '
                               'use ansible_ssh_private_key_file instead of ansible_ssh_private_key')
        self._warn_about_hop_host_keys()
        key_file = self.get_option('private_key_file')
        paramiko = _paramiko()
        try:
            target = paramiko.target_hop(
                self._inventory_name or self.host, self.host, self.get_option('port'), self.get_option('remote_user'),
                private_key_file=os.path.expanduser(key_file) if key_file else None,
                password=self.get_option('password'),
                ssh_args=tuple(self.get_option(o) for o in ('ssh_args', 'ssh_common_args', 'ssh_extra_args')),
                host_key_checking=self.get_option('host_key_checking'),
                known_hosts=self.get_option('multihop_known_hosts'))
        except MultihopError as e:
            raise AnsibleError(f'jumphosts.multihop: {e}') from None
        if target.known_hosts:
            display.vvv(f'MULTIHOP: {len(target.known_hosts)} pinned host key lines for {self.host}', host=self.host)
        try:
            backend = paramiko.ParamikoBackend(self._hops, target, BackendSettings.from_options(self.get_option), self)
        except RuntimeError as e:  # paramiko is missing
            raise AnsibleError(f'jumphosts.multihop: {e}') from e
        display.vvv(f'MULTIHOP ROUTE (paramiko): {" -> ".join([h.name for h in self._hops] + [self.host])}',
                    host=self.host)
        return backend

    def _connect(self):
        if not self._connected:
            backend = self._backend_for()
            with _hop_failures():
                backend.connect()
            self._connected = backend.in_process  # as the builtin, whose code keeps nothing open between calls
        return self

    def exec_command(self, cmd, in_data=None, sudoable=True):
        backend = self._backend_for()
        if backend.in_process:  # the builtin's code connects and says what it runs itself
            self._connect()
            display.vvv(f'EXEC ({backend.name}) {cmd}', host=self.host)
        with _hop_failures():
            return backend.exec(cmd, in_data, sudoable)

    def put_file(self, in_path, out_path):
        backend = self._backend_for()
        if backend.in_process:
            self._connect()
            display.vvv(f'PUT ({backend.name}) {in_path} TO {out_path}', host=self.host)
        with _hop_failures():
            return backend.put(in_path, out_path)

    def fetch_file(self, in_path, out_path):
        backend = self._backend_for()
        if backend.in_process:
            self._connect()
            display.vvv(f'FETCH ({backend.name}) {in_path} TO {out_path}', host=self.host)
        with _hop_failures():
            return backend.fetch(in_path, out_path)

    def reset(self):
        # Only this process's connections: the one that ran reset_connection holds none on paramiko.
        self._backend_for().reset()
        self._connected = False

    def close(self):
        if self._backend is not None:
            self._backend.close()
        self._connected = False
