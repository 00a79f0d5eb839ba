# Copyright (c) 2026, jumphosts.multihop contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin of jumphosts.multihop.reachability_info: walk the host's chain from the controller."""

from __future__ import annotations

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

from ansible_collections.jumphosts.multihop.plugins.plugin_utils._chain import MultihopError, resolve_host
from ansible_collections.jumphosts.multihop.plugins.plugin_utils._inventory import hostvars_lookup
from ansible_collections.jumphosts.multihop.plugins.plugin_utils._paramiko_hops import WalkSettings, require_paramiko
from ansible_collections.jumphosts.multihop.plugins.plugin_utils._probe import probe_chain
from ansible_collections.jumphosts.multihop.plugins.plugin_utils._settings import DEFAULT_TIMEOUT

ARGUMENT_SPEC = {
    'timeout': {'type': 'float', 'default': DEFAULT_TIMEOUT},
    'audit': {'type': 'bool', 'default': True},
    'scan': {'type': 'bool', 'default': False},
}


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    # The probe opens its own connections; the host's connection plugin must not try first.
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        self._supports_check_mode = True  # it only looks
        self._supports_async = False
        result = super().run(tmp, task_vars)
        task_vars = task_vars or {}
        _validation, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        if args['timeout'] <= 0:
            raise AnsibleActionFail('timeout must be a positive number of seconds')
        try:
            require_paramiko()
        except RuntimeError as e:
            raise AnsibleActionFail(str(e)) from e
        name = task_vars.get('inventory_hostname')
        try:
            resolved = resolve_host(name, hostvars_lookup(task_vars.get('hostvars')))
        except MultihopError as e:
            raise AnsibleActionFail(f'jumphosts.multihop: {e}') from e

        # A scan takes a key it has never seen for this probe only (the playbook host_keys pins it after review);
        # a key that differs from a known or pinned one still stops the walk.
        settings = WalkSettings(timeout=args['timeout'],
                                accept_new_host_key=(lambda hop, names, key: True) if args['scan'] else None)
        report = probe_chain(resolved.hops, resolved.endpoint, settings=settings, audit=args['audit'])
        findings = [text for hop in report['hops'] for text in ((hop['audit'] or {}).get('findings') or [])]
        result.update(report, changed=False, route=[hop.name for hop in resolved.hops] + [name],
                      audit_findings=findings)
        return result
