"""Benchmark: many targets behind one bastion, measured side by side in one run on the lab.

Prints wall times, bastion logins and unreachable counts, and ratios between the methods:
- builtin:  ansible.builtin.ssh with a hand-written ProxyCommand "ssh -W" (what users write today)
- multihop: jumphosts.multihop.ssh with multihop_via (cold: no master connection exists at the start)
- multihop+preload: the same, with the jumphosts.multihop.preload vars plugin enabled (README quick start)
- paramiko: the same inventory with multihop_backend: paramiko (no OpenSSH client; every task's worker
            process logs in to the bastion once, so expect about targets x tasks bastion logins)
- mux:      ansible.builtin.ssh with ProxyJump through a bastion master opened before the clock starts
            (the route alone, without the plugin)
- direct:   ansible.builtin.ssh run from inside the bastion's namespace, no jump at all (the floor)

A second part runs many tasks one after the other on one host (forks 1), where each round trip's
latency counts: builtin, multihop, multihop with multihop_tcp_nodelay off, paramiko, and direct.

A third part measures resolution cost: the same play on a 5,000-host inventory and on the lab's
own small one, for ansible.builtin.ssh (ProxyCommand) and for jumphosts.multihop.ssh.

Usage (as root, with ansible-playbook on PATH and the collection installed):
    python3 tests/benchmarks/storm.py [--targets 50] [--rounds 3] [--sequence-tasks 20] [--big-inventory 5000]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
LAB = HERE.parent / 'lab' / 'lab.py'
RECAP = re.compile(r'^(\S+)\s+:\s+ok=\d+\s+changed=\d+\s+unreachable=(\d+)\s+failed=(\d+)', re.M)
PLAY = [{'name': 'storm', 'hosts': 'targets', 'gather_facts': False, 'tasks': [
    {'name': 'one', 'ansible.builtin.command': 'true', 'changed_when': False},
    {'name': 'two', 'ansible.builtin.ping': {}},
]}]
PRELOAD = {'ANSIBLE_VARS_ENABLED': 'host_group_vars,jumphosts.multihop.preload'}
RESOLUTION_PLAY = [{'name': 'resolution', 'hosts': 'timed', 'gather_facts': False, 'tasks': [
    {'name': f'ping {i}', 'ansible.builtin.ping': {}} for i in range(10)]}]


def bring_up_lab(targets: int) -> dict:
    status = subprocess.run([sys.executable, str(LAB), 'status'], capture_output=True, text=True, check=False)
    if status.returncode != 0 or json.loads(status.stdout).get('n_targets', 0) < targets:
        subprocess.run([sys.executable, str(LAB), 'up', '--targets', str(targets)], check=True)
        status = subprocess.run([sys.executable, str(LAB), 'status'], capture_output=True, text=True, check=True)
    return json.loads(Path(json.loads(status.stdout)['lab_json']).read_text())


def logins(lab: dict) -> int:
    text = Path(lab['hosts']['bastion1']['log']).read_text(errors='replace')
    return len(re.findall(r'Accepted \S+ for jump1 from', text))


def inventories(lab: dict, workdir: Path) -> dict[str, Path]:
    base = yaml.safe_load(Path(lab['inventory']).read_text())
    common = base['all']['vars']['ansible_ssh_common_args']
    jump1 = lab['users']['jump1']['key']
    bastion = lab['hosts']['bastion1']['address']
    targets_vars = base['all']['children']['targets']['vars']

    def write(name: str, data: dict) -> Path:
        path = workdir / f'{name}.yml'
        path.write_text(yaml.safe_dump(data))
        path.chmod(0o600)
        return path

    multihop = base
    builtin = json.loads(json.dumps(base))
    builtin['all']['vars']['ansible_connection'] = 'ansible.builtin.ssh'
    proxy = f'ssh -i {jump1} -o IdentitiesOnly=yes {common} -W %h:%p jump1@{bastion}'
    builtin['all']['children']['targets']['vars'] = dict(
        {k: v for k, v in targets_vars.items() if k != 'multihop_via'},
        ansible_ssh_common_args=f'{common} -o ProxyCommand="{proxy}"')
    direct = json.loads(json.dumps(builtin))
    direct['all']['children']['targets']['vars']['ansible_ssh_common_args'] = common
    paramiko = json.loads(json.dumps(base))
    paramiko['all']['vars']['multihop_backend'] = 'paramiko'
    # The route alone, without the plugin: builtin ssh, ProxyJump through a master opened beforehand.
    (workdir / 'mux.conf').write_text(
        f'Host bastion1\n  HostName {bastion}\n  User jump1\n  IdentityFile {jump1}\n  IdentitiesOnly yes\n'
        f'  UserKnownHostsFile {lab["known_hosts"]}\n  StrictHostKeyChecking yes\n  BatchMode yes\n'
        f'  ControlMaster auto\n  ControlPath {workdir}/mux.sock\n  ControlPersist 600\n')
    mux = json.loads(json.dumps(direct))
    mux['all']['children']['targets']['vars']['ansible_ssh_common_args'] = \
        f'{common} -F {workdir}/mux.conf -o ProxyJump=bastion1'
    return {'multihop': write('multihop', multihop), 'builtin': write('builtin', builtin),
            'direct': write('direct', direct), 'paramiko': write('paramiko', paramiko), 'mux': write('mux', mux)}


def big_inventory(source: Path, workdir: Path, name: str, hosts: int, timed: int) -> Path:
    """``source`` plus ``hosts`` unreachable filler hosts and a 'timed' group of ``timed`` real targets."""
    data = yaml.safe_load(source.read_text())
    targets = list(data['all']['children']['targets']['hosts'])[:timed]
    data['all']['children']['timed'] = {'hosts': {t: None for t in targets}}
    data['all']['children']['filler'] = {
        'hosts': {f'filler{i:05d}': {'ansible_host': f'filler{i}.invalid', 'multihop_via': 'bastion1'}
                  for i in range(hosts)},
        'vars': {'filler_note': '{{ inventory_hostname }} is never contacted'}}
    path = workdir / f'{name}.yml'
    path.write_text(yaml.safe_dump(data))
    path.chmod(0o600)
    return path


def run(inventory: Path, playbook: Path, forks: int, namespace: str | None = None,
        extra_env: dict | None = None) -> tuple[float, int, str]:
    control_dir = tempfile.mkdtemp(prefix='mhb', dir='/tmp')
    env = dict(os.environ, ANSIBLE_NOCOLOR='1', ANSIBLE_SSH_CONTROL_PATH_DIR=control_dir,
               ANSIBLE_HOST_KEY_CHECKING='True', **(extra_env or {}))
    command = ['ansible-playbook', '-i', str(inventory), str(playbook), '--forks', str(forks)]
    if namespace:
        command = ['ip', 'netns', 'exec', namespace, *command]
    start = time.monotonic()
    process = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    elapsed = time.monotonic() - start
    subprocess.run(['pkill', '-f', control_dir], capture_output=True, check=False)  # close this run's masters
    shutil.rmtree(control_dir, ignore_errors=True)
    unreachable = sum(int(m[2]) for m in RECAP.finditer(process.stdout))
    return elapsed, unreachable, process.stdout + process.stderr


def storm(lab: dict, workdir: Path, rounds: int, forks: int) -> dict[str, dict[str, list]]:
    playbook = workdir / 'storm.yml'
    playbook.write_text(yaml.safe_dump(PLAY))
    paths = inventories(lab, workdir)
    namespace = lab['hosts']['bastion1']['namespace']
    results: dict[str, dict[str, list]] = {m: {'wall': [], 'logins': [], 'unreachable': []} for m in (
        'builtin', 'multihop', 'multihop+preload', 'paramiko', 'mux', 'direct')}
    mux_master = ['ssh', '-F', str(workdir / 'mux.conf'), 'bastion1']
    for _round in range(rounds):
        for method in results:  # interleaved, so drift on this noisy machine hits every method alike
            if method == 'mux':  # opened before the clock starts: this row measures the route, not the login
                subprocess.run([*mux_master[:1], '-fN', *mux_master[1:]], check=True)
            before = logins(lab)
            wall, unreachable, output = run(paths[method.split('+')[0]], playbook, forks,
                                            namespace if method == 'direct' else None,
                                            PRELOAD if method.endswith('+preload') else None)
            if method == 'mux':
                subprocess.run([*mux_master[:1], '-O', 'exit', *mux_master[1:]], capture_output=True, check=False)
            results[method]['wall'].append(wall)
            results[method]['logins'].append(logins(lab) - before)
            results[method]['unreachable'].append(unreachable)
            if method not in ('builtin', 'direct') and unreachable:
                print(output[-3000:], file=sys.stderr)
    return results


def sequence(lab: dict, workdir: Path, rounds: int, tasks: int) -> dict[str, list[float]]:
    """``tasks`` tasks one after the other on one host: here a delay on each round trip is not hidden by forks."""
    playbook = workdir / 'sequence.yml'
    playbook.write_text(yaml.safe_dump([{'name': 'sequence', 'hosts': 't01', 'gather_facts': False, 'tasks': [
        {'name': f'ping {i}', 'ansible.builtin.ping': {}} for i in range(tasks)]}]))
    paths = inventories(lab, workdir)
    nodelay_off = yaml.safe_load(paths['multihop'].read_text())
    nodelay_off['all']['vars']['multihop_tcp_nodelay'] = False
    paths['multihop, tcp_nodelay off'] = workdir / 'nodelay-off.yml'
    paths['multihop, tcp_nodelay off'].write_text(yaml.safe_dump(nodelay_off))
    namespace = lab['hosts']['bastion1']['namespace']
    times: dict[str, list[float]] = {m: [] for m in (
        'builtin', 'multihop', 'multihop, tcp_nodelay off', 'paramiko', 'direct')}
    for _round in range(rounds):
        for method in times:
            wall, unreachable, output = run(paths[method], playbook, 1, namespace if method == 'direct' else None)
            if unreachable:
                print(output[-3000:], file=sys.stderr)
            times[method].append(wall)
    return times


def resolution(lab: dict, workdir: Path, rounds: int, hosts: int) -> dict[str, list[float]]:
    playbook = workdir / 'resolution.yml'
    playbook.write_text(yaml.safe_dump(RESOLUTION_PLAY))
    paths = inventories(lab, workdir)
    cases = {
        'builtin, small inventory': big_inventory(paths['builtin'], workdir, 'b-small', 0, 5),
        'builtin, big inventory': big_inventory(paths['builtin'], workdir, 'b-big', hosts, 5),
        'multihop, small inventory': big_inventory(paths['multihop'], workdir, 'm-small', 0, 5),
        'multihop, big inventory': big_inventory(paths['multihop'], workdir, 'm-big', hosts, 5),
    }
    times: dict[str, list[float]] = {case: [] for case in cases}
    for _round in range(rounds):
        for case, inventory in cases.items():
            wall, unreachable, output = run(inventory, playbook, 5)
            if unreachable:
                print(output[-3000:], file=sys.stderr)
            times[case].append(wall)
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n', maxsplit=1)[0])
    parser.add_argument('--targets', type=int, default=50)
    parser.add_argument('--rounds', type=int, default=3)
    parser.add_argument('--sequence-tasks', type=int, default=20)
    parser.add_argument('--big-inventory', type=int, default=5000)
    args = parser.parse_args()

    lab = bring_up_lab(args.targets)
    workdir = Path(tempfile.mkdtemp(prefix='multihop-bench-'))
    print(f'storm: {len(lab["targets"])} targets behind bastion1, forks {len(lab["targets"])}, '
          f'{args.rounds} interleaved rounds, default MaxStartups')
    results = storm(lab, workdir, args.rounds, len(lab['targets']))
    print(f'{"method":<17} {"median wall s":>14} {"bastion logins":>16} {"unreachable":>12}')
    for method, r in results.items():
        print(f'{method:<17} {statistics.median(r["wall"]):>14.2f} {str(r["logins"]):>16} {str(r["unreachable"]):>12}')
    ratio = [m / d for m, d in zip(results['multihop']['wall'], results['direct']['wall'], strict=True)]
    ratio_builtin = [m / b for m, b in zip(results['multihop']['wall'], results['builtin']['wall'], strict=True)]
    ratio_preload = [m / d for m, d in zip(results['multihop+preload']['wall'], results['direct']['wall'],
                                           strict=True)]
    print(f'ratio multihop+preload/direct per round: {", ".join(f"{r:.3f}" for r in ratio_preload)} '
          f'(median {statistics.median(ratio_preload):.3f}; target <= 1.05)')
    print(f'ratio multihop/direct per round:         {", ".join(f"{r:.3f}" for r in ratio)} '
          f'(median {statistics.median(ratio):.3f}; without the preload plugin)')
    print(f'ratio multihop/builtin per round: {", ".join(f"{r:.3f}" for r in ratio_builtin)}')
    ratio_mux = [m / d for m, d in zip(results['mux']['wall'], results['direct']['wall'], strict=True)]
    ratio_plugin = [m / x for m, x in zip(results['multihop']['wall'], results['mux']['wall'], strict=True)]
    print(f'ratio mux (the route alone)/direct per round: {", ".join(f"{r:.3f}" for r in ratio_mux)}')
    print(f'ratio multihop/mux (what the plugin adds) per round: {", ".join(f"{r:.3f}" for r in ratio_plugin)}')
    ratio_paramiko = [p / m for p, m in zip(results['paramiko']['wall'], results['multihop']['wall'], strict=True)]
    print(f'ratio paramiko/multihop (OpenSSH backend) per round: {", ".join(f"{r:.3f}" for r in ratio_paramiko)} '
          f'(median {statistics.median(ratio_paramiko):.3f}); paramiko bastion logins per round '
          f'{results["paramiko"]["logins"]} vs OpenSSH {results["multihop"]["logins"]}; paramiko unreachable '
          f'{results["paramiko"]["unreachable"]} (target: all 0)')

    print(f'\nsequence: {args.sequence_tasks} pings one after the other on t01, forks 1')
    seq = sequence(lab, workdir, args.rounds, args.sequence_tasks)
    for method, values in seq.items():
        print(f'{method:<28} median {statistics.median(values):6.2f} s  {[f"{v:.2f}" for v in values]}')
    direct = statistics.median(seq['direct'])
    print('ratio to direct: ' + ', '.join(f'{m} {statistics.median(v) / direct:.2f}' for m, v in seq.items()
                                          if m != 'direct'))

    print(f'\nresolution: 10 pings on 5 targets, inventory of {args.big_inventory} extra hosts vs none')
    times = resolution(lab, workdir, args.rounds, args.big_inventory)
    for case, values in times.items():
        print(f'{case:<28} median {statistics.median(values):6.2f} s  {[f"{v:.2f}" for v in values]}')
    big = statistics.median(times['multihop, big inventory']) / statistics.median(times['builtin, big inventory'])
    small = statistics.median(times['multihop, small inventory']) / statistics.median(times['builtin, small inventory'])
    size = statistics.median(times['multihop, big inventory']) / statistics.median(times['multihop, small inventory'])
    print(f'ratio multihop/builtin, big inventory:   {big:.3f} (target <= 1.10)')
    print(f'ratio multihop/builtin, small inventory: {small:.3f}')
    print(f'ratio multihop big/small inventory:      {size:.3f}')
    shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
