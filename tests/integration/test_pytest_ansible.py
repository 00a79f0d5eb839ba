"""The collection driven by pytest-ansible's ``ansible_adhoc`` fixture, against the lab, on both backends.

pytest-ansible runs modules in this pytest process (a TaskQueueManager, as ``ansible`` ad hoc does) instead
of through ansible-playbook. ``ansible_adhoc(inventory=...)`` takes the lab's own inventory file plus a
one-line overlay that picks the backend; the lab inventory sets ``ansible_connection:
jumphosts.multihop.ssh`` and the ``multihop_via`` chains.

This is the only suite that uses pytest-ansible's fixtures. pytest-ansible is due to be retired:
CONTRIBUTING.md ("pytest-ansible") says how to drop this file with it.
"""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

import pytest
import yaml

BACKENDS = ['openssh', 'paramiko']

# What running ansible in this process brings, in this suite only: pytest-ansible's dispatcher configures the
# collection finder that --ansible-unit-inject-only already configured (same path), and ansible-core's task
# queue forks its workers while its result thread runs, as it does under ansible-playbook.
pytestmark = [
    pytest.mark.filterwarnings('ignore:AnsibleCollectionFinder has already been configured:UserWarning'),
    pytest.mark.filterwarnings(r'ignore:This process \(pid=\d+\) is multi-threaded, use of fork:DeprecationWarning'),
]


@pytest.fixture(autouse=True)
def _keep_stdio():
    """ansible-core's task queue, run in this process, leaves this process's stdin/stdout/stderr closed or
    replaced; put them back, or every later test's ansible-playbook starts with a bad descriptor."""
    saved = [os.dup(fd) for fd in (0, 1, 2)]
    try:
        yield
    finally:
        for fd, copy in zip((0, 1, 2), saved, strict=True):
            os.dup2(copy, fd)
            os.close(copy)


@pytest.fixture(params=BACKENDS)
def backend(request):
    return request.param


@pytest.fixture
def control_dir(monkeypatch):
    """A control directory of this test's own (short: it holds the OpenSSH backend's master sockets).

    The workers pytest-ansible forks inherit the environment, and the plugin reads the option when it connects.
    """
    path = Path(tempfile.mkdtemp(prefix='mh', dir='/tmp'))
    monkeypatch.setenv('ANSIBLE_SSH_CONTROL_PATH_DIR', str(path))
    return path


@pytest.fixture
def lab_hosts(lab, backend, control_dir, ansible_adhoc, tmp_path):
    """pytest-ansible's host manager over the lab inventory, with ``multihop_backend`` set for every host."""
    overlay = tmp_path / f'backend-{backend}.yml'
    overlay.write_text(yaml.safe_dump({'all': {'vars': {'multihop_backend': backend}}}))
    return ansible_adhoc(inventory=[lab['inventory'], str(overlay)])


def master_sockets(control_dir: Path) -> list[Path]:
    return [p for p in control_dir.iterdir() if stat.S_ISSOCK(p.lstat().st_mode)]


def test_ping_and_a_command_reach_targets_behind_one_and_two_bastions(lab_hosts, lab, backend, control_dir):
    pings = lab_hosts['t01:deep1'].ping()
    assert len(pings) == 2
    for host in ('t01', 'deep1'):
        assert pings[host].is_successful, dict(pings[host])
        assert pings[host]['ping'] == 'pong'

    # The controller has no route to deep1 (10.203.4.2, behind bastion2): its own address proves the chain.
    addresses = lab_hosts['deep1'].command('hostname -I')
    assert addresses['deep1'].is_successful, dict(addresses['deep1'])
    assert lab['hosts']['deep']['address'] in addresses['deep1']['stdout'].split()

    # The OpenSSH backend keeps a master per hop in the control directory; paramiko runs no ssh at all, and
    # keeps there the sockets of its hop processes, one per chain (bastion1; bastion1 then bastion2).
    sockets = master_sockets(control_dir)
    if backend == 'openssh':
        assert sockets and not [p for p in sockets if p.name.startswith('hop-')], sockets
    else:
        assert len(sockets) == 2 and all(p.name.startswith('hop-') for p in sockets), sockets


def test_chain_info_describes_the_two_hop_chain(lab_hosts, backend):
    result = getattr(lab_hosts['deep1'], 'jumphosts.multihop.chain_info')()
    deep1 = result['deep1']
    assert deep1.is_successful and not deep1.is_changed, dict(deep1)
    assert deep1['route'] == ['bastion1', 'bastion2', 'deep1']
    assert [hop['address'] for hop in deep1['hops']] == ['jump1@10.203.1.2:22', 'jump2@10.203.3.2:2222']
    assert deep1['target']['address'] == 'deep@10.203.4.2:22'
    assert deep1['ssh_args'][0] == '-F' and 'ProxyJump=bastion2' in deep1['ssh_args']


def test_reachability_info_walks_every_hop_and_audits_the_bastions(lab_hosts, backend):
    result = getattr(lab_hosts['deep1'], 'jumphosts.multihop.reachability_info')(timeout=15)
    deep1 = result['deep1']
    assert deep1.is_successful and not deep1.is_changed, dict(deep1)
    assert deep1['reachable'] is True, deep1['error']
    assert deep1['reachable_through'] == ['bastion1', 'bastion2']
    assert deep1['failed_hop'] is None and deep1['failed_stage'] is None
    assert [(hop['name'], hop['stage'], hop['ok']) for hop in deep1['hops']] == \
        [('bastion1', 'forward', True), ('bastion2', 'forward', True)]
    assert (deep1['target']['stage'], deep1['target']['ok']) == ('auth', True)
    # The lab's bastion1 accepts agent forwarding (and is flagged); bastion2 refuses it.
    bastion1, bastion2 = (hop['audit'] for hop in deep1['hops'])
    assert bastion1['agent_forwarding_accepted'] is True and bastion1['tcp_forwarding_allowed'] is True
    assert bastion2['agent_forwarding_accepted'] is False and bastion2['tcp_forwarding_allowed'] is True
    assert any(finding.startswith('bastion1 accepts agent forwarding') for finding in deep1['audit_findings'])
