"""The backend contract in the lab: one table of cases, each run by real ansible-playbook on both backends.

The unit table (tests/unit/plugins/plugin_utils/test_backend_contract.py) fakes the I/O; this one
runs against the lab's sshd, bastions and sudo. A case expects the same outcome from both backends.
"""

from __future__ import annotations

import time

import pytest

from ansible_run import add_hosts, lab_inventory, run_playbook

BACKENDS = ('openssh', 'paramiko')
# The connection timeout of the become-timeout case: ansible.builtin.ssh waits timeout + 2 s for a prompt.
TIMEOUT = 3


class Run:
    """One case on one backend: the lab's inventory with ``multihop_backend`` set, and a play on t01."""

    def __init__(self, lab, backend, tmp_path):
        self.lab, self.backend, self.tmp_path = lab, backend, tmp_path
        self.inventory = lab_inventory(lab)
        self.inventory['all']['vars']['multihop_backend'] = backend
        self.become_password = self.inventory['all']['children']['targets']['vars']['ansible_become_password']

    def play(self, tasks, hosts='t01', **keywords):
        plays = [dict({'name': 'contract', 'hosts': hosts, 'gather_facts': False, 'tasks': tasks}, **keywords)]
        return run_playbook(self.tmp_path, self.inventory, plays)


def check(name, that):
    return {'name': name, 'ansible.builtin.assert': {'that': that}}


def command_gives_rc_stdout_and_stderr(run):
    result = run.play([
        {'name': 'run', 'ansible.builtin.command': {'argv': ['sh', '-c', 'printf out; printf err >&2; exit 3']},
         'register': 'r', 'failed_when': False},
        check('rc, stdout and stderr', ['r.rc == 3', "r.stdout == 'out'", "r.stderr == 'err'"]),
    ])
    result.assert_ok('t01')
    assert result.recap['t01']['ok'] == 2, result.output


def copy_puts_a_file_on_the_target(run):
    source = run.tmp_path / 'put.txt'
    source.write_bytes(b'put through the hops\n')
    remote = f'~/contract-put-{run.backend}.txt'
    result = run.play([
        {'name': 'copy', 'ansible.builtin.copy': {'src': str(source), 'dest': remote, 'mode': '0600'}},
        {'name': 'read back', 'ansible.builtin.command': f'cat {remote}', 'register': 'r', 'changed_when': False},
        check('same content', ["r.stdout == 'put through the hops'"]),
        {'name': 'clean up', 'ansible.builtin.file': {'path': remote, 'state': 'absent'}},
    ])
    result.assert_ok('t01')


def fetch_gets_a_file_from_the_target(run):
    remote = f'~/contract-fetch-{run.backend}.txt'
    result = run.play([
        {'name': 'write', 'ansible.builtin.shell': f'printf "fetched through the hops\\n" > {remote}',
         'changed_when': False},
        {'name': 'fetch', 'ansible.builtin.fetch': {'src': remote, 'dest': f'{run.tmp_path}/fetched', 'flat': True}},
        {'name': 'clean up', 'ansible.builtin.file': {'path': remote, 'state': 'absent'}},
    ])
    result.assert_ok('t01')
    assert (run.tmp_path / 'fetched').read_bytes() == b'fetched through the hops\n'


def reset_connection_makes_the_next_task_log_in_again(run):
    # The client's address and port, as the target's sshd sees it: a new login comes from a new port.
    where = {'ansible.builtin.command': 'sh -c "echo $SSH_CLIENT"', 'changed_when': False}
    result = run.play([
        dict(where, name='before', register='before'),
        {'name': 'reset', 'ansible.builtin.meta': 'reset_connection'},
        dict(where, name='after', register='after'),
        check('another connection', ['before.stdout.split()[1] != after.stdout.split()[1]']),
    ])
    result.assert_ok('t01')


def become_answers_the_sudo_password_prompt(run):
    result = run.play([
        {'name': 'whoami', 'ansible.builtin.command': 'id -u', 'register': 'uid', 'changed_when': False},
        check('root', ["uid.stdout == '0'"]),
    ], hosts='t01,deep1', become=True)  # t01: sudo asks for the password; deep1: passwordless sudo
    result.assert_ok('t01', 'deep1')
    assert run.become_password not in result.output


def a_hop_that_refuses_is_unreachable_naming_the_hop(run):
    # bastion1's address, on a port where nothing listens.
    add_hosts(run.inventory, 'refusing', {
        'refusing_hop': {'ansible_host': '10.203.1.2', 'ansible_port': 1, 'ansible_user': 'jump1',
                         'ansible_ssh_private_key_file': run.inventory['all']['children']['bastions']['hosts']
                         ['bastion1']['ansible_ssh_private_key_file']},
        'behind_refusing': {'ansible_host': '10.203.2.11', 'multihop_via': 'refusing_hop',
                            'ansible_user': 'admin'},
    })
    result = run.play([{'name': 'ping', 'ansible.builtin.ping': {}}], hosts='behind_refusing')
    result.assert_unreachable('behind_refusing', 'hop 1/2 refusing_hop jump1@10.203.1.2:1: ', 'Connection refused')


def a_become_prompt_that_never_comes_is_unreachable_after_timeout_plus_2(run):
    started = time.monotonic()
    result = run.play([{'name': 'become', 'ansible.builtin.command': 'id -u', 'changed_when': False}],
                      become=True, vars={'ansible_ssh_timeout': TIMEOUT, 'ansible_become_exe': 'sleep 30; sudo'})
    took = time.monotonic() - started
    result.assert_unreachable('t01', f'Timeout ({TIMEOUT + 2}s) waiting for privilege escalation prompt')
    assert run.become_password not in result.output
    assert took >= TIMEOUT + 2, took
    print(f'{run.backend}: UNREACHABLE after a playbook of {took:.1f} s')


CASES = (
    command_gives_rc_stdout_and_stderr,
    copy_puts_a_file_on_the_target,
    fetch_gets_a_file_from_the_target,
    reset_connection_makes_the_next_task_log_in_again,
    become_answers_the_sudo_password_prompt,
    a_hop_that_refuses_is_unreachable_naming_the_hop,
    a_become_prompt_that_never_comes_is_unreachable_after_timeout_plus_2,
)


@pytest.mark.parametrize('backend', BACKENDS)
@pytest.mark.parametrize('case', CASES, ids=lambda case: case.__name__)
def test_backend_contract(case, backend, lab, tmp_path):
    case(Run(lab, backend, tmp_path))
