# Copyright (c) 2026, jumphosts.multihop contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Turn reachability results into a Markdown table and a Graphviz graph. Pure logic, no I/O.

Input: a mapping of inventory hostname to the registered result of jumphosts.multihop.reachability_info
(a failed task's result, e.g. an invalid chain, becomes a row with its message).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ansible_collections.jumphosts.multihop.plugins.plugin_utils._stages import is_through

CONTROLLER = 'controller'
# No inventory name contains "@", so the controller's node id never clashes with a host's.
CONTROLLER_ID = '@controller'
# Edge states, strongest first: one failing host makes a shared edge red.
EDGE_STYLES = {
    'failed': 'color="red", penwidth=2, fontcolor="red"',
    'unreached': 'color="gray", style=dashed',
    'ok': 'color="darkgreen"',
}
_EDGE_RANK = {state: rank for rank, state in enumerate(EDGE_STYLES)}


@dataclass(frozen=True)
class Step:
    """One element on a host's route as the report sees it."""

    name: str
    state: str  # 'ok', 'failed' or 'unreached'
    stage: str | None = None
    error: str | None = None


def route_steps(result: Mapping[str, object]) -> list[Step]:
    """The hops and the host of one result, each marked ok, failed or unreached."""
    reports = list(result.get('hops') or [])
    if result.get('target'):
        reports.append(result['target'])
    steps = []
    for report in reports:
        if is_through(str(report.get('role')), report.get('stage'), bool(report.get('ok'))):
            state = 'ok'
        elif report.get('stage') is None:
            state = 'unreached'
        else:
            state = 'failed'
        steps.append(Step(str(report.get('name')), state, report.get('stage'), report.get('error')))
    return steps


def _cell(value: object) -> str:
    text = '' if value is None else str(value)
    return text.replace('\\', '\\\\').replace('|', '\\|').replace('\r', ' ').replace('\n', ' ') or ' '


def markdown_table(results: Mapping[str, Mapping[str, object]]) -> str:
    """One row per host, sorted by name."""
    header = ['host', 'reachable', 'route', 'reachable through', 'failed hop', 'stage', 'error', 'audit findings']
    lines = ['| ' + ' | '.join(header) + ' |', '|' + '---|' * len(header)]
    for host in sorted(results):
        result = results[host] or {}
        if result.get('failed') and 'reachable' not in result:
            row = [host, 'error', '', '', '', '', result.get('msg', 'the task failed'), '']
        else:
            findings = result.get('audit_findings') or []
            row = [
                host,
                'yes' if result.get('reachable') else 'no',
                ' → '.join([CONTROLLER, *(result.get('route') or [host])]),
                ', '.join(result.get('reachable_through') or []),
                result.get('failed_hop') or '',
                result.get('failed_stage') or '',
                result.get('error') or '',
                '; '.join(findings),
            ]
        lines.append('| ' + ' | '.join(_cell(c) for c in row) + ' |')
    return '\n'.join(lines) + '\n'


def dot_quote(text: object) -> str:
    """A DOT double-quoted string."""
    escaped = str(text).replace('\\', '\\\\').replace('"', '\\"').replace('\r', '').replace('\n', '\\n')
    return f'"{escaped}"'


def _shorten(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[:limit - 1] + '…'


def dot_graph(results: Mapping[str, Mapping[str, object]]) -> str:
    """controller → bastions → hosts; green edges where the walk got through, red into the failing hop."""
    edges: dict[tuple[str, str], tuple[str, str | None]] = {}
    nodes: dict[str, dict[str, object]] = {}
    for host in sorted(results):
        result = results[host] or {}
        steps = route_steps(result)
        if not steps:  # the chain itself is invalid: show the host alone, marked
            nodes.setdefault(host, {'role': 'target', 'failed': None})
            nodes[host]['failed'] = f'invalid chain: {result.get("msg", "")}'
            continue
        previous = CONTROLLER_ID
        for index, step in enumerate(steps):
            role = 'target' if index == len(steps) - 1 else 'hop'
            node = nodes.setdefault(step.name, {'role': role, 'failed': None})
            if role == 'hop':
                node['role'] = 'hop'  # a host that is also someone's bastion is drawn as a bastion
            if step.state == 'failed':
                node['failed'] = f'{step.stage}: {step.error}' if step.error else step.stage
            label = step.stage if step.state == 'failed' else None
            key = (previous, step.name)
            if key not in edges or _EDGE_RANK[step.state] < _EDGE_RANK[edges[key][0]]:
                edges[key] = (step.state, label)
            previous = step.name

    lines = ['digraph multihop {', '  rankdir=LR;', '  node [fontname="Helvetica"];',
             '  edge [fontname="Helvetica", fontsize=10];',
             f'  {dot_quote(CONTROLLER_ID)} [label={dot_quote(CONTROLLER)}, shape=box, style="rounded,filled", '
             'fillcolor="lightgray"];']
    for name in sorted(nodes):
        node = nodes[name]
        shape = 'box' if node['role'] == 'hop' else 'ellipse'
        if node['failed']:
            label = f'{name}\n✗ {_shorten(str(node["failed"]))}'
            attrs = (f'shape={shape}, color="red", fontcolor="red", penwidth=2, peripheries=2, '
                     f'tooltip={dot_quote(node["failed"])}')
        else:
            label, attrs = name, f'shape={shape}'
        lines.append(f'  {dot_quote(name)} [label={dot_quote(label)}, {attrs}];')
    for (source, target), (state, label) in sorted(edges.items()):
        attrs = EDGE_STYLES[state] + (f', label={dot_quote(label)}' if label else '')
        lines.append(f'  {dot_quote(source)} -> {dot_quote(target)} [{attrs}];')
    lines.append('}')
    return '\n'.join(lines) + '\n'


def render(results: Mapping[str, Mapping[str, object]], fmt: str) -> str:
    if fmt == 'markdown':
        return markdown_table(results)
    if fmt == 'dot':
        return dot_graph(results)
    raise ValueError(f'unknown report format {fmt!r}, expected markdown or dot')
