"""The preload vars plugin loads the connection plugin (and its paramiko backend) when it is loaded, and provides
no variables."""

from __future__ import annotations

import json
import subprocess
import sys

# In a fresh interpreter, as in the ansible-playbook process: this one has loaded the plugin already.
LOAD_THE_VARS_PLUGIN = '''
import json, sys
from ansible import constants as C
from ansible.plugins.loader import init_plugin_loader, vars_loader
MODULE = 'ansible_collections.jumphosts.multihop.plugins.connection.ssh'
BACKEND = 'ansible_collections.jumphosts.multihop.plugins.plugin_utils._paramiko_session'
init_plugin_loader()
before = [MODULE in sys.modules, BACKEND in sys.modules, 'paramiko' in sys.modules]
plugin = vars_loader.get('jumphosts.multihop.preload')
print(json.dumps([before, MODULE in sys.modules, C.config.has_configuration_definition('connection', MODULE),
                  plugin.get_vars(None, '/nowhere', []), BACKEND in sys.modules and 'paramiko' in sys.modules]))
'''


def test_loading_it_loads_the_connection_plugin_and_its_options():
    output = subprocess.run([sys.executable, '-c', LOAD_THE_VARS_PLUGIN], capture_output=True, text=True, check=True)
    before, loaded, options_registered, variables, paramiko_backend = json.loads(output.stdout.splitlines()[-1])
    assert before == [False, False, False]
    assert loaded and options_registered
    assert variables == {}
    assert paramiko_backend  # the test venvs have paramiko: its backend is loaded before the fork too
