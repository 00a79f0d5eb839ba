"""Report rendering from reachability results: the table and the graph."""

from __future__ import annotations

import pytest

from ansible_collections.jumphosts.multihop.plugins.filter.reachability_report import reachability_report
from ansible_collections.jumphosts.multihop.plugins.plugin_utils._report import (
    dot_graph,
    dot_quote,
    markdown_table,
    render,
    route_steps,
)


def element(name, stage, ok=True, error=None, role='hop'):
    return {'name': name, 'stage': stage, 'ok': ok, 'error': error, 'role': role}


OK_T01 = {'reachable': True, 'reachable_through': ['bastion1'], 'failed_hop': None, 'failed_stage': None,
          'error': None, 'route': ['bastion1', 't01'], 'audit_findings': ['bastion1 accepts agent forwarding'],
          'hops': [element('bastion1', 'forward')], 'target': element('t01', 'auth', role='target')}
REFUSED = 'bastion1 could not connect to 10.203.3.2:2222: connect failed'
DOWN_DEEP1 = {'reachable': False, 'reachable_through': ['bastion1'], 'failed_hop': 'bastion2', 'failed_stage': 'tcp',
              'error': REFUSED,
              'route': ['bastion1', 'bastion2', 'deep1'], 'audit_findings': [],
              'hops': [element('bastion1', 'forward'),
                       element('bastion2', 'tcp', False, REFUSED)],
              'target': element('deep1', None, False, role='target')}
INVALID = {'failed': True, 'msg': 'jumphosts.multihop: host bad: multihop_via[0]: invalid user "-o|x"'}


def test_route_steps_marks_ok_failed_and_unreached():
    assert [(s.name, s.state) for s in route_steps(DOWN_DEEP1)] == [
        ('bastion1', 'ok'), ('bastion2', 'failed'), ('deep1', 'unreached')]
    assert route_steps(INVALID) == []


def test_markdown_table_has_a_row_per_host_sorted_and_escaped():
    table = markdown_table({'t01': OK_T01, 'deep1': DOWN_DEEP1, 'bad': INVALID})
    lines = table.splitlines()
    assert lines[0].startswith('| host | reachable | route |')
    assert [row.split(' | ')[0] for row in lines[2:]] == ['| bad', '| deep1', '| t01']
    assert lines[3] == ('| deep1 | no | controller → bastion1 → bastion2 → deep1 | bastion1 | bastion2 | tcp | '
                        'bastion1 could not connect to 10.203.3.2:2222: connect failed |   |')
    assert '| t01 | yes |' in lines[4] and 'bastion1 accepts agent forwarding' in lines[4]
    assert 'invalid user "-o\\|x"' in lines[2] and '| error |' in lines[2]


def test_dot_graph_edges_and_marked_failing_hop():
    dot = dot_graph({'t01': OK_T01, 'deep1': DOWN_DEEP1})
    assert dot.startswith('digraph multihop {') and dot.rstrip().endswith('}')
    assert '"@controller" -> "bastion1" [color="darkgreen"];' in dot
    assert '"bastion1" -> "t01" [color="darkgreen"];' in dot
    assert '"bastion1" -> "bastion2" [color="red", penwidth=2, fontcolor="red", label="tcp"];' in dot
    assert '"bastion2" -> "deep1" [color="gray", style=dashed];' in dot
    assert '"bastion2" [label="bastion2\\n✗ tcp: bastion1 could not connect to 10.203.3.2:2222: connect…", ' \
           'shape=box, color="red", fontcolor="red", penwidth=2, peripheries=2, ' \
           'tooltip="tcp: bastion1 could not connect to 10.203.3.2:2222: connect failed"];' in dot
    assert '"t01" [label="t01", shape=ellipse];' in dot


def test_a_failure_on_a_shared_edge_wins_over_success():
    denied = dict(OK_T01, reachable=False, hops=[element('bastion1', 'auth', False, 'denied')])
    t02 = dict(denied, route=['bastion1', 't02'], target=element('t02', None, False, role='target'))
    dot = dot_graph({'t01': OK_T01, 't02': t02})
    assert '"@controller" -> "bastion1" [color="red"' in dot


def test_invalid_chain_is_a_marked_lonely_node():
    dot = dot_graph({'bad': INVALID})
    assert '"bad" [label="bad\\n✗ invalid chain: jumphosts.multihop: host bad: multihop_via[0…"' in dot
    assert 'tooltip="invalid chain: jumphosts.multihop: host bad: multihop_via[0]: invalid user \\"-o|x\\""' in dot


def test_dot_quote_escapes():
    assert dot_quote('a "b" \\ c\nd') == '"a \\"b\\" \\\\ c\\nd"'


def test_render_and_filter():
    assert render({'t01': OK_T01}, 'markdown') == markdown_table({'t01': OK_T01})
    assert reachability_report({'t01': OK_T01}, 'dot') == dot_graph({'t01': OK_T01})
    with pytest.raises(ValueError):
        render({}, 'mermaid')
    from ansible.errors import AnsibleFilterError
    with pytest.raises(AnsibleFilterError):
        reachability_report(['t01'])
    with pytest.raises(AnsibleFilterError):
        reachability_report({}, 'svg')
