# Copyright (c) 2026, jumphosts.multihop contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: reachability_report
short_description: Render jumphosts.multihop.reachability_info results as a Markdown table or a Graphviz graph
version_added: 0.1.0
description:
  - Takes a dictionary of inventory hostname to the registered result of M(jumphosts.multihop.reachability_info)
    and renders it.
  - V(markdown) is a table with one row per host. V(dot) is a Graphviz graph of controller, bastions and
    hosts, with green edges where the walk got through, red edges into the hop that failed, which is marked
    red, and dashed grey edges to what was never reached.
  - A failed task result (an invalid chain) becomes a row with its message.
author: jumphosts.multihop contributors (@jumphosts)
positional: _input, format
options:
  _input:
    description: Inventory hostname to registered reachability result.
    type: dict
    required: true
  format:
    description: What to render.
    type: str
    choices: [markdown, dot]
    default: markdown
seealso:
  - module: jumphosts.multihop.reachability_info
"""

EXAMPLES = r"""
- name: Write a table and a graph of what is reachable
  vars:
    results: "{{ dict(groups['all'] | zip(groups['all'] | map('extract', hostvars, 'reach'))) }}"
  block:
    - name: Table
      ansible.builtin.copy:
        content: "{{ results | jumphosts.multihop.reachability_report('markdown') }}"
        dest: /tmp/report.md
        mode: "0644"
    - name: Graph
      ansible.builtin.copy:
        content: "{{ results | jumphosts.multihop.reachability_report('dot') }}"
        dest: /tmp/report.dot
        mode: "0644"
"""

RETURN = r"""
_value:
  description: The rendered report.
  type: str
"""

from collections.abc import Mapping

from ansible.errors import AnsibleFilterError

from ansible_collections.jumphosts.multihop.plugins.plugin_utils._report import render


def reachability_report(results, format='markdown'):
    if not isinstance(results, Mapping):
        raise AnsibleFilterError('reachability_report expects a dictionary of hostname to reachability result, '
                                 f'got {type(results).__name__}')
    try:
        return render(results, format)
    except ValueError as e:
        raise AnsibleFilterError(str(e)) from e


class FilterModule:
    def filters(self):
        return {'reachability_report': reachability_report}
