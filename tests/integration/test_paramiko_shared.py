"""The paramiko backend's shared hops in the lab (multihop_share_hops, on by default): one login per hop for the run.

The bastions' sshd logs are shared with whoever else uses the lab; run these under the lab lock. A login by
someone else in the same seconds would show as an extra login here.
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
import time

from ansible_run import add_hosts, count_logins, lab_inventory, run_playbook

# A task listing this run's hop processes: those listening on a socket in the run's control directory.
HOP_PROCESSES = 'ss -xlpn | grep -F " {{ control_dir }}/" | grep -o "pid=[0-9]*" | cut -d= -f2 | sort -u | paste -sd, -'
LIST_HOP_PROCESSES = {'name': 'hop processes', 'run_once': True,
                      'ansible.builtin.debug': {'msg': "HOP_PIDS={{ lookup('pipe', hop_processes) }}."},
                      'vars': {'hop_processes': HOP_PROCESSES}}


def paramiko_inventory(lab, **variables):
    inventory = lab_inventory(lab)
    inventory['all']['vars'].update({'multihop_backend': 'paramiko', **variables})
    return add_hosts(inventory, 'pwtargets', {
        'pwbastion': {'ansible_host': lab['hosts']['bastion1']['address'], 'ansible_user': 'pwjump',
                      'ansible_password': lab['users']['pwjump']['password']},
        **{f'pw{name}': {'ansible_host': address, 'multihop_via': 'pwbastion'}
           for name, address in sorted(lab['targets'].items())[:3]},
    }, {'ansible_user': 'admin', 'ansible_ssh_private_key_file': lab['users']['admin']['key']})


def play(hosts, tasks, **keywords):
    return dict({'name': 'shared hops', 'hosts': hosts, 'gather_facts': False, 'tasks': tasks}, **keywords)


def logins(lab):
    bastion1, bastion2 = lab['hosts']['bastion1']['log'], lab['hosts']['bastion2']['log']
    return {'pwjump': count_logins(bastion1, 'pwjump'), 'jump1': count_logins(bastion1, 'jump1'),
            'jump2': count_logins(bastion2, 'jump2')}


def since(before, after):
    return {user: after[user] - before[user] for user in before}


def hop_pids(output):
    listed = re.search(r'HOP_PIDS=([0-9,]*)\.', output)
    assert listed, output
    return [int(pid) for pid in listed[1].split(',') if pid]


def gone(pids, wait=5.0):
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        if not any(os.path.exists(f'/proc/{pid}') for pid in pids):
            return True
        time.sleep(0.1)
    return False


TASKS = [{'name': 'one', 'ansible.builtin.command': 'true', 'changed_when': False},
         {'name': 'two', 'ansible.builtin.ping': {}},
         {'name': 'three', 'ansible.builtin.command': 'sh -c "echo [$SSH_AUTH_SOCK]"', 'register': 'agent',
          'changed_when': False},
         {'name': 'no agent on the target', 'ansible.builtin.assert': {'that': "agent.stdout == '[]'"}}]


def test_one_login_per_hop_for_a_play_of_several_tasks_on_several_targets(lab, tmp_path):
    before = logins(lab)
    agent = subprocess.run(['ssh-agent', '-s'], capture_output=True, text=True, check=True)
    settings = [line.split(';')[0] for line in agent.stdout.splitlines()]
    agent_env = dict(setting.split('=', 1) for setting in settings if '=' in setting)
    try:
        control_dir = tempfile.mkdtemp(prefix='mh', dir='/tmp')
        # multihop_forward_agent is ignored by paramiko, with a warning: the agent is never forwarded.
        inventory = paramiko_inventory(lab, multihop_forward_agent=True, control_dir=control_dir)
        result = run_playbook(tmp_path, inventory, [play('pwt01,pwt02,pwt03,deep1', [*TASKS, LIST_HOP_PROCESSES])],
                              '--forks', '10', '-v', env=agent_env, control_dir=control_dir)
    finally:
        subprocess.run(['ssh-agent', '-k'], env=dict(os.environ, **agent_env), capture_output=True, check=False)
    result.assert_ok('pwt01', 'pwt02', 'pwt03', 'deep1')
    # deep1 is behind two hops (bastion1, then bastion2): its chain's process logs in to both, once.
    assert since(before, logins(lab)) == {'pwjump': 1, 'jump1': 1, 'jump2': 1}
    # One process per chain (pwbastion; bastion1 and bastion2), gone with the run.
    pids = hop_pids(result.output)
    assert len(pids) == 2, result.output
    assert gone(pids)
    assert not [name for name in os.listdir(control_dir) if not name.startswith('.')]  # their sockets too
    # The hop password reached the hop process through fork: not on a command line, not in the output.
    assert lab['users']['pwjump']['password'] not in result.output


def test_a_hop_idle_for_the_persist_time_ends_and_the_next_task_logs_in_again(lab, tmp_path):
    before = logins(lab)
    tasks = [{'name': 'before', 'ansible.builtin.ping': {}},
             {'name': 'idle', 'ansible.builtin.pause': {'seconds': 4}},
             {'name': 'after', 'ansible.builtin.ping': {}}]
    result = run_playbook(tmp_path, paramiko_inventory(lab, multihop_control_persist='1s'),
                          [play('pwt01,pwt02', tasks)])
    result.assert_ok('pwt01', 'pwt02')
    assert since(before, logins(lab))['pwjump'] == 2


def test_opting_out_logs_in_to_the_hop_once_per_task_and_target(lab, tmp_path):
    before = logins(lab)
    result = run_playbook(tmp_path, paramiko_inventory(lab, multihop_share_hops=False),
                          [play('pwt01,pwt02,pwt03', TASKS[:2])], '--forks', '10', env={'ANSIBLE_PIPELINING': '0'})
    result.assert_ok('pwt01', 'pwt02', 'pwt03')
    assert since(before, logins(lab))['pwjump'] == 6


def test_a_wrong_host_key_on_the_shared_hop_names_it(lab, tmp_path):
    wrong = tmp_path / 'wrong_known_hosts'
    wrong.write_text(f"{lab['hosts']['bastion1']['address']} {lab['hosts']['bastion2']['host_key']}\n")
    inventory = paramiko_inventory(lab)
    inventory['all']['children']['pwtargets']['hosts']['pwbastion']['ansible_ssh_common_args'] = \
        f'-o UserKnownHostsFile={wrong} -o StrictHostKeyChecking=yes'
    result = run_playbook(tmp_path, inventory, [play('pwt01', [{'ansible.builtin.ping': {}}])])
    result.assert_unreachable('pwt01', 'hop 1/2 pwbastion pwjump@10.203.1.2:22', 'Host key verification failed')
