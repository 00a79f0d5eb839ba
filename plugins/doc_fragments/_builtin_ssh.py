# Copyright (c) 2026, jumphosts.multihop contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Private: the options of the installed ansible.builtin.ssh, for the drop-in jumphosts.multihop.ssh.

Taken from the running ansible-core at load time rather than repeated here, so that the plugin
accepts exactly the options, variables and defaults of the builtin it replaces, on every
supported ansible-core version.
"""

from __future__ import annotations

import yaml

from ansible.plugins.connection import ssh as _builtin_ssh

# version_added of a builtin option means an ansible-core version, which would read as ours here.
_NOT_OURS = ('version_added', 'version_added_collection')


def _without_core_versions(node):
    if isinstance(node, dict):
        return {k: _without_core_versions(v) for k, v in node.items() if k not in _NOT_OURS}
    if isinstance(node, list):
        return [_without_core_versions(item) for item in node]
    return node


def _builtin_options() -> str:
    # Every worker process loads this; libyaml's parser, where present, makes that ten times cheaper.
    options = yaml.load(_builtin_ssh.DOCUMENTATION, Loader=getattr(yaml, 'CSafeLoader', yaml.SafeLoader))['options']
    return yaml.dump({'options': _without_core_versions(options)}, Dumper=getattr(yaml, 'CSafeDumper', yaml.SafeDumper),
                     sort_keys=True)


class ModuleDocFragment:
    """DOCUMENTATION is set below, outside the class body, where static checkers expect only string literals."""


ModuleDocFragment.DOCUMENTATION = _builtin_options()
