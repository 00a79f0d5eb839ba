"""A job run as AWX runs it: ansible-runner, a private data directory, a read-only HOME with no ~/.ssh.

The target's key comes through runner's env/ssh_key (runner loads it into an ssh-agent); the hop's user,
key and pinned host keys come through the custom credential type in extensions/awx, whose injectors are
rendered as AWX renders them; ANSIBLE_HOST_KEY_CHECKING=False, as AWX sets it.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

import ansible_runner
import pytest
import yaml
from jinja2 import StrictUndefined
from jinja2.sandbox import ImmutableSandboxedEnvironment

CREDENTIAL_TYPE = Path(__file__).resolve().parents[2] / 'extensions' / 'awx' / 'credential_type_hop.yml'
PLAYBOOK = [{'name': 'an AWX job', 'hosts': 't01:deep1', 'gather_facts': False, 'tasks': [
    {'name': 'who and where', 'ansible.builtin.command': 'id -un', 'register': 'login', 'changed_when': False},
    {'name': 'logged in as the inventory says', 'ansible.builtin.assert': {'that': 'login.stdout == expected_user'}},
]}]


@pytest.fixture
def read_only_home(tmp_path):
    """An empty HOME that not even root can write: a read-only tmpfs."""
    home = tmp_path / 'home'
    home.mkdir()
    subprocess.run(['mount', '-t', 'tmpfs', '-o', 'ro,size=64k,mode=0555', 'multihop-home', str(home)], check=True)
    yield home
    subprocess.run(['umount', str(home)], check=True)


def inject(private_data_dir: Path, inputs: dict) -> dict:
    """What AWX does with a credential of our type: render its injectors, write its files (0600)."""
    injectors = yaml.safe_load(CREDENTIAL_TYPE.read_text())['injectors']
    environment = ImmutableSandboxedEnvironment(undefined=StrictUndefined)
    filenames = {}
    for name, template in injectors['file'].items():
        path = private_data_dir / 'env' / f'tmp_{name.split(".", 1)[1]}'
        path.write_text(environment.from_string(template).render(inputs))
        path.chmod(0o600)
        filenames[name.split('.', 1)[1]] = str(path)
    return {name: environment.from_string(template).render(inputs, tower={'filename': filenames})
            for name, template in injectors['extra_vars'].items()}


def run_job(lab, tmp_path, home, backend, known_hosts):
    users, hosts = lab['users'], lab['hosts']
    data = tmp_path / 'runner'
    for folder in ('env', 'inventory', 'project'):
        (data / folder).mkdir(parents=True, exist_ok=True)
    extravars = inject(data, {'hop_user': 'jump1', 'hop_ssh_key': Path(users['jump1']['key']).read_text(),
                              'hop_known_hosts': known_hosts})
    inventory = {'all': {
        'vars': {'ansible_connection': 'jumphosts.multihop.ssh', 'ansible_python_interpreter': '/usr/bin/python3',
                 'multihop_backend': backend},
        'hosts': {
            # The hop's credentials come from the credential type; nothing else names them.
            'bastion1': {'ansible_host': hosts['bastion1']['address'], 'ansible_user': '{{ multihop_hop_user }}',
                         'ansible_ssh_private_key_file': '{{ multihop_hop_key_file }}'},
            'bastion2': {'ansible_host': hosts['bastion2']['address'], 'ansible_port': hosts['bastion2']['port'],
                         'ansible_user': 'jump2', 'ansible_ssh_private_key_file': users['jump2']['key'],
                         'multihop_via': 'bastion1'},
            # The target's user and key come from the job's Machine credential: -u and the agent.
            't01': {'ansible_host': lab['targets']['t01'], 'multihop_via': 'bastion1', 'expected_user': 'admin'},
            'deep1': {'ansible_host': hosts['deep']['address'], 'ansible_user': 'deep', 'expected_user': 'deep',
                      'ansible_ssh_private_key_file': users['deep']['key'], 'multihop_via': 'bastion2'},
        }}}
    (data / 'inventory' / 'hosts.yml').write_text(yaml.safe_dump(inventory))
    (data / 'project' / 'job.yml').write_text(yaml.safe_dump(PLAYBOOK, sort_keys=False))
    (data / 'env' / 'extravars').write_text(yaml.safe_dump(extravars))
    (data / 'env' / 'ssh_key').write_text(Path(users['admin']['key']).read_text())
    (data / 'env' / 'cmdline').write_text('-u admin')
    # In an execution environment the private data directory is /runner and this is /runner/cp; a socket
    # path must stay short, so the test's is under /tmp.
    control_dir = tempfile.mkdtemp(prefix='mh', dir='/tmp')
    envvars = {'HOME': str(home), 'ANSIBLE_HOST_KEY_CHECKING': 'False', 'ANSIBLE_NOCOLOR': '1',
               'ANSIBLE_SSH_CONTROL_PATH_DIR': control_dir, 'ANSIBLE_LOCAL_TEMP': str(data / 'tmp'),
               'ANSIBLE_COLLECTIONS_PATH': os.environ['ANSIBLE_COLLECTIONS_PATH'], 'PATH': os.environ['PATH']}
    (data / 'env' / 'envvars').write_text(yaml.safe_dump(envvars))
    result = ansible_runner.run(private_data_dir=str(data), playbook='job.yml', verbosity=3, quiet=True)
    return result, result.stdout.read()


@pytest.mark.parametrize('backend', ['openssh', 'paramiko'])
def test_a_job_with_pinned_host_keys_and_no_home(lab, tmp_path, read_only_home, backend):
    known_hosts = Path(lab['known_hosts']).read_text()
    result, output = run_job(lab, tmp_path, read_only_home, backend, known_hosts)
    assert result.status == 'successful', output
    assert result.stats['ok'].get('t01') == 2 and result.stats['ok'].get('deep1') == 2, output
    assert not result.stats['failures'] and not result.stats['dark'], output
    pinned = len([line for line in known_hosts.splitlines() if line.strip()])
    for hop in ('bastion1', 'bastion2'):
        assert f'MULTIHOP: {pinned} pinned host key lines for {hop}' in output, output
    assert list(read_only_home.iterdir()) == []
    # The hop key was read from the injected file only.
    assert (tmp_path / 'runner' / 'env' / 'tmp_hop_key').stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize('backend', ['openssh', 'paramiko'])
def test_a_changed_hop_key_is_refused_even_with_host_key_checking_off(lab, tmp_path, read_only_home, backend):
    real = Path(lab['known_hosts']).read_text().splitlines()
    bastion1 = lab['hosts']['bastion1']['address']
    # bastion1 pinned to deep's key: a man in the middle, as far as the job can tell.
    deep_key = next(line.split(None, 1)[1] for line in real if line.startswith(lab['hosts']['deep']['address'] + ' '))
    forged = [line for line in real if not line.startswith(bastion1 + ' ')] + [f'{bastion1} {deep_key}']
    result, output = run_job(lab, tmp_path, read_only_home, backend, '\n'.join(forged))
    assert result.status == 'failed', output
    assert result.stats['dark'].get('t01') == 1 and result.stats['dark'].get('deep1') == 1, output
    assert 'bastion1' in output and 'pinned by multihop_known_hosts' in output, output
