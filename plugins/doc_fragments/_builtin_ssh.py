# Copyright (c) 2026, jumphosts.multihop contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Private: the options of the installed ansible.builtin.ssh, for the drop-in jumphosts.multihop.ssh.

Taken from the running ansible-core at load time rather than repeated here, so that the plugin
accepts exactly the options, variables and defaults of the builtin it replaces, on every
supported ansible-core version.
"""

from __future__ import annotations

import re
import textwrap

from ansible.plugins.connection import ssh as _builtin_ssh

# version_added of a builtin option means an ansible-core version, which would read as ours here.
_CORE_VERSION_LINE = re.compile(r'^\s*version_added(_collection)?:')


def builtin_options_yaml(documentation: str) -> str:
    """The ``options:`` block of the builtin's DOCUMENTATION, as text, without version_added lines.

    Every worker process loads this fragment, and ansible-core parses the text once more anyway:
    cutting the block out as text is cheap where a YAML round trip is not (docs/performance.md).
    """
    lines = documentation.splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == 'options:')
    indent = len(lines[start]) - len(lines[start].lstrip())
    block = []
    for line in lines[start:]:
        if block and line.strip() and len(line) - len(line.lstrip()) <= indent:
            break  # the next top-level key: the options block has ended
        if not _CORE_VERSION_LINE.match(line):
            block.append(line)
    return textwrap.dedent('\n'.join(block)) + '\n'


class ModuleDocFragment:
    """DOCUMENTATION is set below, outside the class body, where static checkers expect only string literals."""


ModuleDocFragment.DOCUMENTATION = builtin_options_yaml(_builtin_ssh.DOCUMENTATION)
