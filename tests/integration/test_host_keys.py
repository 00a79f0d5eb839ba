"""The playbook jumphosts.multihop.host_keys against the lab: keys collected once, pinned, never replaced."""

from __future__ import annotations

from pathlib import Path

import yaml

from ansible_run import run_playbook


def inventory(lab, pinned=None):
    users, hosts = lab['users'], lab['hosts']
    group_vars = {'ansible_connection': 'jumphosts.multihop.ssh', 'ansible_python_interpreter': '/usr/bin/python3'}
    if pinned is not None:
        group_vars['multihop_known_hosts'] = pinned
    return {'all': {'vars': group_vars, 'hosts': {
        'bastion1': {'ansible_host': hosts['bastion1']['address'], 'ansible_user': 'jump1',
                     'ansible_ssh_private_key_file': users['jump1']['key']},
        'bastion2': {'ansible_host': hosts['bastion2']['address'], 'ansible_port': hosts['bastion2']['port'],
                     'ansible_user': 'jump2', 'ansible_ssh_private_key_file': users['jump2']['key'],
                     'multihop_via': 'bastion1'},
        'deep1': {'ansible_host': hosts['deep']['address'], 'ansible_user': 'deep',
                  'ansible_ssh_private_key_file': users['deep']['key'], 'multihop_via': 'bastion2'},
    }}}


def scan(lab, tmp_path, pinned=None):
    home = tmp_path / 'home'
    home.mkdir(parents=True, exist_ok=True)  # no ~/.ssh: nothing is known before the scan
    output = tmp_path / 'multihop_known_hosts.yml'
    plays = [{'ansible.builtin.import_playbook': 'jumphosts.multihop.host_keys'}]
    result = run_playbook(tmp_path, inventory(lab, pinned), plays, '-e', f'multihop_host_keys_file={output}',
                          env={'HOME': str(home)})
    return result, output


def lab_keys(lab):
    """The lab's real host keys of bastion1, bastion2 and deep, as known_hosts lines."""
    wanted = {lab['hosts']['bastion1']['address'], f"[{lab['hosts']['bastion2']['address']}]:2222",
              lab['hosts']['deep']['address']}
    return {line for line in Path(lab['known_hosts']).read_text().splitlines() if line.split(' ', 1)[0] in wanted}


def test_a_scan_collects_every_key_on_every_chain_once(lab, tmp_path):
    result, output = scan(lab, tmp_path)
    assert result.rc == 0, result.output
    assert set(yaml.safe_load(output.read_text())['multihop_known_hosts']) == lab_keys(lab)
    assert not (tmp_path / 'home' / '.ssh').exists()  # nothing was written anywhere else
    # The file pins them: the next run of a play with it checks the hops strictly.
    result, second = scan(lab, tmp_path / 'again', pinned=yaml.safe_load(output.read_text())['multihop_known_hosts'])
    assert result.rc == 0 and '0 new key(s), 0 changed' in result.output, result.output


def test_a_key_that_changed_is_reported_and_not_written(lab, tmp_path):
    real = sorted(lab_keys(lab))
    bastion1 = lab['hosts']['bastion1']['address']
    deep_key = next(line for line in real if line.startswith(lab['hosts']['deep']['address'] + ' ')).split(' ', 1)[1]
    forged = f'{bastion1} {deep_key}'
    result, output = scan(lab, tmp_path, pinned=[forged])
    assert result.rc != 0 and 'differ from the pinned ones and were not written' in result.output, result.output
    written = yaml.safe_load(output.read_text())['multihop_known_hosts']
    real_bastion1 = next(line for line in real if line.startswith(bastion1 + ' '))
    assert forged in written and real_bastion1 not in written
