"""jumphosts.multihop.reachability_info and the report playbook, through real sshd in the lab (tests/lab/README.md)."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import yaml

from ansible_run import add_hosts, lab_inventory, run_playbook

LAB_SCRIPT = Path(__file__).resolve().parents[1] / 'lab' / 'lab.py'


def fingerprint(public_key_line: str) -> str:
    blob = base64.b64decode(public_key_line.split()[1])
    return 'SHA256:' + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip('=')


def probe(tmp_path: Path, inventory: dict, hosts: str, *args: str, task_args: dict | None = None):
    """Run reachability on ``hosts``; return the recap and every host's registered result."""
    out = tmp_path / 'results.json'
    plays = [
        {'name': 'probe', 'hosts': hosts, 'gather_facts': False, 'tasks': [
            {'name': 'reachability', 'jumphosts.multihop.reachability_info': task_args or {}, 'register': 'reach'}]},
        {'name': 'collect', 'hosts': 'localhost', 'gather_facts': False,
         'vars': {'ansible_connection': 'local', 'ansible_python_interpreter': '{{ ansible_playbook_python }}',
                  'probed': "{{ groups['all'] | map('extract', hostvars) | selectattr('reach', 'defined') | list }}"},
         'tasks': [{'name': 'write results', 'check_mode': False, 'ansible.builtin.copy': {
             'dest': str(out), 'mode': '0600',
             'content': "{{ dict(probed | map(attribute='inventory_hostname') | zip(probed | map(attribute='reach')))"
                        " | to_json }}"}}]},
    ]
    result = run_playbook(tmp_path, inventory, plays, *args)
    assert out.exists(), result.output
    return result, json.loads(out.read_text())


def hop(result: dict, name: str) -> dict:
    return next(h for h in result['hops'] if h['name'] == name)


@pytest.fixture
def bastion2_down(lab):
    """bastion2's sshd stopped for the test, always started again (the lab is shared)."""
    subprocess.run([sys.executable, str(LAB_SCRIPT), 'stop', 'bastion2'], check=True, capture_output=True, timeout=120)
    try:
        yield
    finally:
        subprocess.run([sys.executable, str(LAB_SCRIPT), 'start', 'bastion2'], check=True, capture_output=True,
                       timeout=120)


def test_everything_up_stages_versions_fingerprints_and_agent_audit(lab, tmp_path):
    result, results = probe(tmp_path, lab_inventory(lab), 't01,deep1')
    result.assert_ok('t01', 'deep1')
    t01, deep1 = results['t01'], results['deep1']
    assert t01['reachable'] is True and t01['reachable_through'] == ['bastion1'] and t01['failed_hop'] is None
    assert deep1['reachable'] is True and deep1['reachable_through'] == ['bastion1', 'bastion2']
    assert deep1['route'] == ['bastion1', 'bastion2', 'deep1']
    assert t01['changed'] is False
    for name in ('bastion1', 'bastion2'):
        report = hop(deep1, name)
        assert report['stage'] == 'forward' and report['ok'] is True and report['error'] is None, report
        assert set(report['stage_ms']) == {'tcp', 'banner', 'hostkey', 'auth', 'forward'}
        assert report['latency_ms'] is not None and report['latency_ms'] >= 0
        assert report['server_version'].startswith('SSH-2.0-OpenSSH_')
        assert report['host_key_type'] == 'ssh-ed25519'
        assert report['host_key_fingerprint'] == fingerprint(lab['hosts'][name]['host_key'])
    assert deep1['target']['stage'] == 'auth' and deep1['target']['ok'] is True
    assert deep1['target']['host_key_fingerprint'] == fingerprint(lab['hosts']['deep']['host_key'])

    # The audit: bastion1 (unhardened) accepts an agent-forwarding request, bastion2 (AllowAgentForwarding no)
    # refuses; both allow TCP forwarding.
    audit1, audit2 = hop(deep1, 'bastion1')['audit'], hop(deep1, 'bastion2')['audit']
    assert audit1['agent_forwarding_accepted'] is True and audit1['agent_forwarding_error'] is None
    assert audit2['agent_forwarding_accepted'] is False and audit2['agent_forwarding_error'] is None
    assert audit1['tcp_forwarding_allowed'] is True and audit2['tcp_forwarding_allowed'] is True
    assert any('bastion1 accepts agent forwarding' in f for f in deep1['audit_findings'])
    assert not any('bastion2' in f for f in deep1['audit_findings'])


def test_old_name_reachability_still_works_and_warns(lab, tmp_path):
    plays = [{'name': 'probe', 'hosts': 't01', 'gather_facts': False,
              'tasks': [{'name': 'old name', 'jumphosts.multihop.reachability': {}, 'register': 'reach'},
                        {'ansible.builtin.assert': {'that': ['reach.reachable',
                                                             "reach.route == ['bastion1', 't01']"]}}]}]
    result = run_playbook(tmp_path, lab_inventory(lab), plays, env={'ANSIBLE_DEPRECATION_WARNINGS': '1'})
    result.assert_ok('t01')
    assert 'jumphosts.multihop.reachability has been deprecated' in result.output, result.output
    assert 'Use jumphosts.multihop.reachability_info instead' in result.output, result.output


def test_check_mode_gives_the_same_report(lab, tmp_path):
    result, results = probe(tmp_path, lab_inventory(lab), 'deep1', '--check')
    result.assert_ok('deep1')
    assert results['deep1']['reachable'] is True
    assert results['deep1']['reachable_through'] == ['bastion1', 'bastion2']


def test_bastion2_down_fails_deep1_at_bastion2_and_keeps_t01_reachable(lab, tmp_path, bastion2_down):
    result, results = probe(tmp_path, lab_inventory(lab), 't01,deep1')
    result.assert_ok('t01', 'deep1')  # reported, never failed
    deep1 = results['deep1']
    assert deep1['reachable'] is False
    assert deep1['failed_hop'] == 'bastion2' and deep1['failed_stage'] == 'tcp'
    assert deep1['reachable_through'] == ['bastion1']
    assert hop(deep1, 'bastion1')['stage'] == 'forward' and hop(deep1, 'bastion1')['ok'] is True
    assert hop(deep1, 'bastion2')['ok'] is False and 'bastion1 could not connect' in hop(deep1, 'bastion2')['error']
    assert deep1['target']['stage'] is None
    assert results['t01']['reachable'] is True


def test_wrong_key_on_a_hop_stops_at_auth(lab, tmp_path):
    inventory = lab_inventory(lab)
    inventory['all']['children']['bastions']['hosts']['bastion1']['ansible_ssh_private_key_file'] = \
        lab['users']['deep']['key']
    result, results = probe(tmp_path, inventory, 'deep1')
    result.assert_ok('deep1')
    deep1 = results['deep1']
    assert deep1['reachable'] is False and deep1['failed_hop'] == 'bastion1' and deep1['failed_stage'] == 'auth'
    bastion1 = hop(deep1, 'bastion1')
    assert bastion1['stage'] == 'auth' and bastion1['ok'] is False
    assert 'permission denied for jump1' in bastion1['error']
    assert bastion1['server_version'] and bastion1['host_key_fingerprint']  # got that far
    assert deep1['reachable_through'] == []


def test_host_key_mismatch_stops_at_hostkey(lab, tmp_path):
    # bastion2's key, filed under bastion1's address.
    known_hosts = tmp_path / 'known_hosts'
    known_hosts.write_text(f"{lab['hosts']['bastion1']['address']} {lab['hosts']['bastion2']['host_key']}\n")
    inventory = lab_inventory(lab)
    inventory['all']['children']['bastions']['hosts']['bastion1']['ansible_ssh_common_args'] = \
        f'-o UserKnownHostsFile={known_hosts} -o StrictHostKeyChecking=yes'
    result, results = probe(tmp_path, inventory, 't01')
    result.assert_ok('t01')
    t01 = results['t01']
    assert t01['failed_hop'] == 'bastion1' and t01['failed_stage'] == 'hostkey'
    assert 'HOST KEY MISMATCH' in t01['error']
    assert hop(t01, 'bastion1')['host_key_fingerprint'] == fingerprint(lab['hosts']['bastion1']['host_key'])


def test_unknown_host_key_is_rejected_and_never_added(lab, tmp_path):
    known_hosts = tmp_path / 'empty_known_hosts'
    known_hosts.write_text('')
    inventory = lab_inventory(lab)
    inventory['all']['children']['bastions']['hosts']['bastion1']['ansible_ssh_common_args'] = \
        f'-o UserKnownHostsFile={known_hosts}'
    result, results = probe(tmp_path, inventory, 't01')
    result.assert_ok('t01')
    assert results['t01']['failed_stage'] == 'hostkey' and 'not in known_hosts' in results['t01']['error']
    assert known_hosts.read_text() == ''


def test_hop_that_denies_tcp_forwarding_stops_at_forward_and_netcat_gets_through(lab, tmp_path):
    bastion1 = lab['hosts']['bastion1']['address']
    target = lab['targets']['t01']
    ncjump = {'ansible_host': bastion1, 'ansible_user': 'ncjump',
              'ansible_ssh_private_key_file': lab['users']['ncjump']['key']}
    admin = {'ansible_host': target, 'ansible_user': 'admin',
             'ansible_ssh_private_key_file': lab['users']['admin']['key']}
    inventory = add_hosts(lab_inventory(lab), 'nc', {
        'ncb_ssh': ncjump,
        'ncb_netcat': dict(ncjump, multihop_type='netcat'),
        'via_ssh': dict(admin, multihop_via='ncb_ssh'),
        'via_netcat': dict(admin, multihop_via='ncb_netcat'),
        'via_socks': dict(admin, multihop_via=[{'host': lab['socks']['host'], 'port': lab['socks']['port'],
                                                'type': 'socks5'}]),
    })
    result, results = probe(tmp_path, inventory, 'via_ssh,via_netcat,via_socks')
    result.assert_ok('via_ssh', 'via_netcat', 'via_socks')
    denied = results['via_ssh']
    assert denied['failed_hop'] == 'ncb_ssh' and denied['failed_stage'] == 'forward'
    report = hop(denied, 'ncb_ssh')
    assert report['stage'] == 'forward' and report['ok'] is False and 'administratively prohibited' in report['error']
    assert report['audit']['tcp_forwarding_allowed'] is False
    assert any('denies TCP forwarding' in f for f in denied['audit_findings'])
    assert results['via_netcat']['reachable'] is True
    assert results['via_netcat']['reachable_through'] == ['ncb_netcat']
    assert results['via_socks']['reachable'] is True
    socks = results['via_socks']['hops'][0]
    assert socks['type'] == 'socks5' and socks['stage'] == 'forward' and socks['ok'] is True


def test_invalid_chain_fails_the_task_with_the_hop_named(lab, tmp_path):
    inventory = add_hosts(lab_inventory(lab), 'bad', {
        'bad1': {'ansible_host': '10.203.2.11',
                 'multihop_via': ['bastion1', {'host': '10.203.2.12', 'user': '-oProxyCommand=x'}]},
    })
    plays = [{'name': 'probe', 'hosts': 'bad1', 'gather_facts': False,
              'tasks': [{'name': 'reachability', 'jumphosts.multihop.reachability_info': {}}]}]
    result = run_playbook(tmp_path, inventory, plays)
    assert result.rc != 0 and result.recap['bad1']['failed'] == 1, result.output
    assert 'host bad1: multihop_via[1]' in result.output and 'invalid user' in result.output


# --- the report playbook ----------------------------------------------------------------------------------

def run_report(tmp_path: Path, inventory: dict, report_dir: Path):
    """``ansible-playbook jumphosts.multihop.report``, exactly as documented."""
    inventory_file = tmp_path / 'inventory.yml'
    inventory_file.write_text(yaml.safe_dump(inventory))
    inventory_file.chmod(0o600)
    env = dict(os.environ, ANSIBLE_NOCOLOR='1', ANSIBLE_RETRY_FILES_ENABLED='0',
               ANSIBLE_SSH_CONTROL_PATH_DIR=tempfile.mkdtemp(prefix='mh', dir='/tmp'),
               ANSIBLE_LOCAL_TEMP=str(tmp_path / 'local-tmp'))
    process = subprocess.run(['ansible-playbook', 'jumphosts.multihop.report', '-i', str(inventory_file),
                              '-e', f'multihop_report_dir={report_dir}'],
                             capture_output=True, text=True, env=env, timeout=600, check=False, cwd=tmp_path,
                             stdin=subprocess.DEVNULL)
    return process.returncode, process.stdout + process.stderr


def test_report_playbook_marks_bastion2_red_when_it_is_down(lab, tmp_path, bastion2_down):
    inventory = lab_inventory(lab)
    report_dir = tmp_path / 'report'
    rc, output = run_report(tmp_path, inventory, report_dir)
    assert rc == 0, output
    table = (report_dir / 'report.md').read_text()
    rows = [line for line in table.splitlines() if line.startswith('| ') and not line.startswith('| host ')]
    hosts = [row.split('|')[1].strip() for row in rows]
    expected = sorted(h for group in inventory['all']['children'].values() for h in group.get('hosts', {}))
    assert hosts == expected
    deep1 = next(row for row in rows if row.startswith('| deep1 '))
    assert '| no |' in deep1 and '| bastion2 | tcp |' in deep1
    t01 = next(row for row in rows if row.startswith('| t01 '))
    assert '| yes |' in t01
    dot = (report_dir / 'report.dot').read_text()
    assert '"bastion1" -> "bastion2" [color="red"' in dot
    assert '"bastion2" -> "deep1" [color="gray", style=dashed]' in dot
    assert '"bastion1" -> "t01" [color="darkgreen"]' in dot
    assert '"bastion2" [label="bastion2\\n✗ tcp:' in dot and 'peripheries=2' in dot
    svg = (report_dir / 'report.svg').read_text()
    assert svg.lstrip().startswith('<?xml') and '<svg' in svg and 'bastion2' in svg
