# Copyright (c) 2026, jumphosts.multihop contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The connection plugin's option definitions, built from those ansible-core already parsed.

ansible-core parses a plugin's DOCUMENTATION, fragments included, in every worker process, unless
the plugin's option definitions are already registered. ansible-playbook registers the builtin ssh
plugin's before it forks the workers, so the drop-in registers its own from them: the builtin's
options plus the multihop ones, which saves CPU per task and host (docs/performance.md). When the builtin's
are not registered (ansible ad hoc, ansible-doc), nothing is done and ansible-core parses the docs.
"""

from __future__ import annotations

import yaml

from ansible import constants as C

from ansible_collections.jumphosts.multihop.plugins.doc_fragments._multihop import ModuleDocFragment

_Loader = getattr(yaml, 'CSafeLoader', yaml.SafeLoader)


def option_definitions(builtin: dict) -> dict:
    """The builtin's options plus the multihop ones: what parsing this plugin's DOCUMENTATION gives."""
    own = yaml.load(ModuleDocFragment.DOCUMENTATION, Loader=_Loader)['options']
    return {**{name: dict(spec) for name, spec in builtin.items()}, **own}


def register_option_definitions(plugin_name: str) -> bool:
    """Register ``plugin_name``'s definitions unless ansible-core has them or would have to parse the builtin's."""
    config = C.config
    if (config.has_configuration_definition('connection', plugin_name)
            or not config.has_configuration_definition('connection', 'ssh')):
        return False
    builtin = config.get_configuration_definitions('connection', 'ssh')
    config.initialize_plugin_configuration_definitions('connection', plugin_name, option_definitions(builtin))
    return True
