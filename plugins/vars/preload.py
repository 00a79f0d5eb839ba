# Copyright (c) 2026, jumphosts.multihop contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: preload
short_description: Loads jumphosts.multihop.ssh once, before Ansible starts its worker processes
description:
  - Optional, for speed only. It provides no variables.
  - Ansible runs each task on each host in a new worker process. It loads a connection plugin from a collection
    afresh in every one of them. C(jumphosts.multihop.ssh) takes its helper modules from Python's bytecode cache,
    but still runs their code in every worker, a few ms of CPU per task and host.
    ansible-core's own connection plugins are loaded once, before the workers start, and the workers inherit them.
  - Enabled, this plugin gives C(jumphosts.multihop.ssh) the same treatment. Ansible loads vars plugins before it
    starts any worker, and this one loads the connection plugin when it is itself loaded, and its paramiko backend
    with the paramiko library when paramiko is installed.
  - Like any vars plugin from a collection, it runs only when enabled, for example in C(ansible.cfg).
    Keep C(host_group_vars) in the list, or group_vars and host_vars files stop being read.
extends_documentation_fragment:
  - ansible.builtin.vars_plugin_staging
author: jumphosts.multihop contributors (@jumphosts)
seealso:
  - plugin: jumphosts.multihop.ssh
    plugin_type: connection
"""

EXAMPLES = r"""
# ansible.cfg
# [defaults]
# vars_plugins_enabled = host_group_vars, jumphosts.multihop.preload
#
# or, for one run:
# ANSIBLE_VARS_ENABLED=host_group_vars,jumphosts.multihop.preload ansible-playbook -i inventory.yml site.yml
"""

import importlib
import importlib.util

from ansible.plugins.loader import connection_loader
from ansible.plugins.vars import BaseVarsPlugin

from ansible_collections.jumphosts.multihop.plugins.plugin_utils._import_cache import bytecode_cache
from ansible_collections.jumphosts.multihop.plugins.plugin_utils._settings import CONNECTION_PLUGIN

PARAMIKO_BACKEND = 'ansible_collections.jumphosts.multihop.plugins.plugin_utils._paramiko_session'


class VarsModule(BaseVarsPlugin):
    REQUIRES_ENABLED = True
    is_stateless = True

    def __init__(self):
        super().__init__()
        # Loaded here, in the process that forks the workers: each of them inherits the module,
        # its compiled code and its option definitions instead of loading them again.
        connection_loader.get(CONNECTION_PLUGIN, class_only=True)
        if importlib.util.find_spec('paramiko') is not None:
            # The paramiko backend too (paramiko alone is about 80 ms of CPU per worker), when it can be used.
            with bytecode_cache():
                importlib.import_module(PARAMIKO_BACKEND)

    def get_vars(self, loader, path, entities, cache=True):
        return {}
