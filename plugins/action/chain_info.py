# Copyright (c) 2026, jumphosts.multihop contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin of jumphosts.multihop.chain_info: describe a host's chain, open nothing."""

from __future__ import annotations

import shlex
from collections import ChainMap

from ansible import constants as C
from ansible.errors import AnsibleActionFail, AnsibleError
from ansible.plugins.action import ActionBase

from ansible_collections.jumphosts.multihop.plugins.plugin_utils._chain import (
    Hop,
    MultihopError,
    resolve_host,
)
from ansible_collections.jumphosts.multihop.plugins.plugin_utils._inventory import hostvars_lookup
from ansible_collections.jumphosts.multihop.plugins.plugin_utils._openssh import route_from_options
from ansible_collections.jumphosts.multihop.plugins.plugin_utils._render import (
    render_host_block,
    render_plugin_config,
)
from ansible_collections.jumphosts.multihop.plugins.plugin_utils._settings import CONNECTION_PLUGIN

ARGUMENT_SPEC = {
    'host': {'type': 'str'},
}


def describe_hop(hop: Hop) -> dict[str, object]:
    """A hop as task output: every setting and its source, never the password."""
    return {
        'name': hop.name,
        'alias': hop.alias,
        'type': hop.type,
        'host': hop.host,
        'port': hop.effective_port,
        'user': hop.user,
        'address': hop.address,
        'private_key_file': hop.private_key_file,
        'has_password': bool(hop.password),
        'host_key_checking': hop.host_key_checking,
        'known_hosts': list(hop.known_hosts),
        'options': dict(hop.options),
        'sources': dict(hop.sources),
    }


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False  # everything happens on the controller, from inventory alone

    def run(self, tmp=None, task_vars=None):
        self._supports_check_mode = True
        self._supports_async = False
        result = super().run(tmp, task_vars)
        task_vars = task_vars or {}
        _validation, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        name = args['host'] or task_vars.get('inventory_hostname')
        hostvars = task_vars.get('hostvars')
        try:
            resolved = resolve_host(name, hostvars_lookup(hostvars))
        except MultihopError as e:
            raise AnsibleActionFail(f'jumphosts.multihop: {e}') from e

        target = describe_hop(resolved.endpoint)
        result.update(
            changed=False,
            host=name,
            route=[hop.name for hop in resolved.hops] + [name],
            hops=[describe_hop(hop) for hop in resolved.hops],
            target=target,
            ssh_args=[],
            ssh_config_path=None,
            ssh_config=None,
            host_block=render_host_block(resolved),
        )
        ssh_executable = 'ssh'
        if resolved.hops:
            variables = task_vars if name == task_vars.get('inventory_hostname') else \
                ChainMap({'inventory_hostname': name, 'hostvars': hostvars}, hostvars[name])
            route = self._plugin_route(name, resolved.hops, variables)
            ssh_executable = route.runtime.ssh_executable
            result.update(
                ssh_args=route.ssh_args(),
                ssh_config_path=route.config_path,
                # The text the plugin's OpenSSHRoute.prepare() writes to ssh_config_path.
                ssh_config=render_plugin_config(route.hops, route.runtime, forward_agent=route.forward_agent),
            )
        command = [ssh_executable, *result['ssh_args']]
        if resolved.endpoint.port:
            command += ['-p', str(resolved.endpoint.port)]
        if resolved.endpoint.user:
            command += ['-l', resolved.endpoint.user]
        result['ssh_command'] = shlex.join([*command, resolved.endpoint.host])
        return result

    def _plugin_route(self, name, hops, variables):
        """The connection plugin's own route for ``name``: its options, through the public plugin API.

        The plugin is only configured, never connected: nothing is opened or written.
        """
        connection = self._shared_loader_obj.connection_loader.get(CONNECTION_PLUGIN, self._play_context)
        if connection is None:
            raise AnsibleActionFail(f'jumphosts.multihop: cannot load the connection plugin {CONNECTION_PLUGIN}')
        # The variable names ansible-core itself reads this plugin's options from (as its TaskExecutor does).
        names = C.config.get_plugin_vars('connection', connection._load_name)
        try:
            connection.set_options(var_options={var: self._templar.template(variables[var])
                                                for var in names if var in variables})
            return route_from_options(hops, connection.get_option)
        except (AnsibleError, MultihopError) as e:
            raise AnsibleActionFail(f'jumphosts.multihop: host {name}: {e}') from None
