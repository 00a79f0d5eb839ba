"""Benchmark: targets behind one bastion, every method measured side by side in one run on the lab.

Methods, compared in interleaved rounds (each round runs every method once, so drift hits all alike):
- direct:   ansible.builtin.ssh run from inside the bastion's namespace, no jump at all (the floor)
- builtin:  ansible.builtin.ssh with a hand-written ProxyCommand "ssh -W" (what users write today)
- multihop: jumphosts.multihop.ssh, OpenSSH backend, cold (no master connection at the start)
- paramiko: the same inventory with multihop_backend: paramiko
and, in the storm scenario, multihop+preload and paramiko+preload (the preload vars plugin), and mux (builtin ssh
with ProxyJump through a bastion master opened before the clock starts: the route alone, without the plugin).

Scenarios (--only storm,fanout,bulk,sequence,fresh,resolution; all by default):
- storm:      a two-task play on --targets targets, forks = targets
- fanout:     the same play on --fanout targets, forks = --fanout
- bulk:       copy a --bulk-mib MiB file to --bulk-targets targets and fetch it back
- sequence:   --sequence-tasks pings one after the other on t01 (forks 1): each round trip's latency counts
- fresh:      one ad-hoc ``ansible -m ping`` on t01 through a fresh route (no master), on a 50-host and a
              --big-inventory host inventory
- resolution: ten pings on five targets, with --big-inventory extra hosts in the inventory and without
Each run reports bastion logins, unreachable hosts, the CPU time (user+system) of the OpenSSH hop master
(read from /proc before the run's masters are closed) and of bastion1's sshd (its processes and the
sessions they reaped).

PYTHONDONTWRITEBYTECODE is removed from the runs' environment, as in a default Python setup: ansible-core's
own modules come precompiled with the package, and the collection's helpers use the bytecode cache.

Usage (as root, with ansible-playbook and ansible on PATH and the collection installed):
    python3 tests/benchmarks/storm.py [--only storm,bulk] [--rounds 3] [--targets 50] [--fanout 150] ...
The lab grows to the largest target count needed; --restore-targets N rebuilds it to N at the end.
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
CORE = ('direct', 'builtin', 'multihop', 'paramiko')
PRELOAD = {'ANSIBLE_VARS_ENABLED': 'host_group_vars,jumphosts.multihop.preload'}
SCENARIOS = ('storm', 'fanout', 'bulk', 'sequence', 'fresh', 'resolution')
TICKS = os.sysconf('SC_CLK_TCK')


def two_tasks(hosts: str) -> list:
    return [{'name': 'storm', 'hosts': hosts, 'gather_facts': False, 'tasks': [
        {'name': 'one', 'ansible.builtin.command': 'true', 'changed_when': False},
        {'name': 'two', 'ansible.builtin.ping': {}}]}]


def pings(hosts: str, count: int) -> list:
    return [{'name': 'pings', 'hosts': hosts, 'gather_facts': False, 'tasks': [
        {'name': f'ping {i}', 'ansible.builtin.ping': {}} for i in range(count)]}]


def bulk_play(hosts: str, blob: Path, fetched: Path) -> list:
    remote = '/tmp/multihop-bench-{{ inventory_hostname }}.bin'
    return [{'name': 'bulk', 'hosts': hosts, 'gather_facts': False, 'tasks': [
        {'name': 'copy', 'ansible.builtin.copy': {'src': str(blob), 'dest': remote, 'mode': '0600'}},
        {'name': 'fetch', 'ansible.builtin.fetch': {'src': remote, 'dest': f'{fetched}/{{{{ inventory_hostname }}}}',
                                                    'flat': True}},
        {'name': 'clean up', 'ansible.builtin.file': {'path': remote, 'state': 'absent'}}]}]


def lab_status() -> dict:
    status = subprocess.run([sys.executable, str(LAB), 'status'], capture_output=True, text=True, check=False)
    return json.loads(status.stdout) if status.stdout.strip() else {}


def bring_up_lab(targets: int) -> dict:
    status = lab_status()
    if not status.get('up') or status.get('n_targets', 0) < targets:
        subprocess.run([sys.executable, str(LAB), 'up', '--targets', str(targets)], check=True)
        status = lab_status()
    return json.loads(Path(status['lab_json']).read_text())


def logins(lab: dict) -> int:
    text = Path(lab['hosts']['bastion1']['log']).read_text(errors='replace')
    return len(re.findall(r'Accepted \S+ for jump1 from', text))


def _stat(pid: int) -> tuple[int, list[str]]:
    fields = Path(f'/proc/{pid}/stat').read_text().rsplit(')', 1)[1].split()
    return int(fields[1]), fields  # ppid, fields from state on


def subtree_cpu(root: int) -> float:
    """CPU seconds of ``root`` and its live descendants, including the children each of them reaped."""
    children: dict[int, list[int]] = {}
    fields_of = {}
    for entry in os.listdir('/proc'):
        if entry.isdigit():
            try:
                ppid, fields = _stat(int(entry))
            except (OSError, IndexError):
                continue
            children.setdefault(ppid, []).append(int(entry))
            fields_of[int(entry)] = fields
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        if pid in fields_of:
            total += sum(int(v) for v in fields_of[pid][11:15])  # utime stime cutime cstime
        todo += children.get(pid, [])
    return total / TICKS


def master_cpu(control_dir: str) -> float | None:
    """utime+stime of this run's OpenSSH hop master(s): ssh processes with -N and ControlMaster=yes."""
    total = None
    for entry in os.listdir('/proc'):
        if not entry.isdigit():
            continue
        try:
            argv = Path(f'/proc/{entry}/cmdline').read_bytes().split(b'\0')
            if b'ControlMaster=yes' in argv and b'-N' in argv and any(control_dir.encode() in a for a in argv):
                fields = _stat(int(entry))[1]
                total = (total or 0) + (int(fields[11]) + int(fields[12])) / TICKS
        except OSError:
            continue
    return total


class Bench:
    def __init__(self, lab: dict, workdir: Path):
        self.lab, self.workdir = lab, workdir
        self.namespace = lab['hosts']['bastion1']['namespace']
        self.sshd = lab['pids']['bastion1']
        self.resident = self._sshd_children()  # sessions that are not ours, such as the lab's SOCKS proxy
        self.paths = self._inventories()
        self.ansible = shutil.which('ansible') or 'ansible'

    def _write(self, name: str, data) -> Path:
        path = self.workdir / f'{name}.yml'
        path.write_text(yaml.safe_dump(data))
        path.chmod(0o600)
        return path

    def _inventories(self) -> dict[str, Path]:
        lab = self.lab
        base = yaml.safe_load(Path(lab['inventory']).read_text())
        common = base['all']['vars']['ansible_ssh_common_args']
        jump1, bastion = lab['users']['jump1']['key'], lab['hosts']['bastion1']['address']
        targets_vars = base['all']['children']['targets']['vars']

        def copy(data):
            return json.loads(json.dumps(data))

        builtin = copy(base)
        builtin['all']['vars']['ansible_connection'] = 'ansible.builtin.ssh'
        proxy = f'ssh -i {jump1} -o IdentitiesOnly=yes {common} -W %h:%p jump1@{bastion}'
        builtin['all']['children']['targets']['vars'] = dict(
            {k: v for k, v in targets_vars.items() if k != 'multihop_via'},
            ansible_ssh_common_args=f'{common} -o ProxyCommand="{proxy}"')
        direct = copy(builtin)
        direct['all']['children']['targets']['vars']['ansible_ssh_common_args'] = common
        paramiko = copy(base)
        paramiko['all']['vars']['multihop_backend'] = 'paramiko'
        nodelay_off = copy(base)
        nodelay_off['all']['vars']['multihop_tcp_nodelay'] = False
        (self.workdir / 'mux.conf').write_text(
            f'Host bastion1\n  HostName {bastion}\n  User jump1\n  IdentityFile {jump1}\n  IdentitiesOnly yes\n'
            f'  UserKnownHostsFile {lab["known_hosts"]}\n  StrictHostKeyChecking yes\n  BatchMode yes\n'
            f'  ControlMaster auto\n  ControlPath {self.workdir}/mux.sock\n  ControlPersist 600\n')
        mux = copy(direct)
        mux['all']['children']['targets']['vars']['ansible_ssh_common_args'] = \
            f'{common} -F {self.workdir}/mux.conf -o ProxyJump=bastion1'
        return {name: self._write(name, data) for name, data in (
            ('multihop', base), ('builtin', builtin), ('direct', direct), ('paramiko', paramiko),
            ('mux', mux), ('multihop, tcp_nodelay off', nodelay_off))}

    def padded(self, method: str, extra: int, timed: int, keep: int | None = None) -> Path:
        """``method``'s inventory (its first ``keep`` targets) plus ``extra`` unreachable filler hosts and a
        'timed' group of ``timed`` targets."""
        data = yaml.safe_load(self.paths[method].read_text())
        group = data['all']['children']['targets']
        group['hosts'] = dict(list(group['hosts'].items())[:keep])
        targets = list(group['hosts'])[:timed]
        data['all']['children']['timed'] = {'hosts': dict.fromkeys(targets)}
        data['all']['children']['filler'] = {
            'hosts': {f'filler{i:05d}': {'ansible_host': f'filler{i}.invalid', 'multihop_via': 'bastion1'}
                      for i in range(extra)},
            'vars': {'filler_note': '{{ inventory_hostname }} is never contacted'}}
        return self._write(f'{method}-{extra}-{timed}', data)

    def run(self, method: str, command: list[str], inventory: Path | None = None) -> dict:
        """One timed run of ``command`` (ansible-playbook or ansible arguments, without -i) for ``method``."""
        control_dir = tempfile.mkdtemp(prefix='mhb', dir='/tmp')
        env = dict(os.environ, ANSIBLE_NOCOLOR='1', ANSIBLE_SSH_CONTROL_PATH_DIR=control_dir,
                   ANSIBLE_HOST_KEY_CHECKING='True', **(PRELOAD if method.endswith('+preload') else {}))
        env.pop('PYTHONDONTWRITEBYTECODE', None)
        inventory = inventory or self.paths[method.split('+')[0]]
        command = [command[0], '-i', str(inventory), *command[1:]]
        if method == 'direct':
            command = ['ip', 'netns', 'exec', self.namespace, *command]
        if method == 'mux':  # opened before the clock: this row measures the route alone
            subprocess.run(['ssh', '-F', str(self.workdir / 'mux.conf'), '-fN', 'bastion1'], check=True)
        before_logins, before_sshd = logins(self.lab), subtree_cpu(self.sshd)
        start = time.monotonic()
        process = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
        wall = time.monotonic() - start
        hop_cpu = master_cpu(control_dir)
        sshd_cpu = subtree_cpu(self.sshd) - before_sshd
        if method == 'mux':
            subprocess.run(['ssh', '-F', str(self.workdir / 'mux.conf'), '-O', 'exit', 'bastion1'],
                           capture_output=True, check=False)
        subprocess.run(['pkill', '-f', control_dir], capture_output=True, check=False)  # this run's masters
        shutil.rmtree(control_dir, ignore_errors=True)
        self._wait_for_bastion_sessions()
        # The play recap, or an ad-hoc command's "host | UNREACHABLE!" lines.
        unreachable = sum(int(m[2]) for m in RECAP.finditer(process.stdout)) + process.stdout.count('| UNREACHABLE!')
        if not RECAP.search(process.stdout) and '| SUCCESS' not in process.stdout:  # no host matched, or worse
            raise RuntimeError(f'[{method}] {" ".join(command)}: no host ran\n{process.stdout}{process.stderr}')
        if unreachable and method not in ('builtin', 'direct') or process.returncode not in (0, 4):
            print(f'[{method}] rc={process.returncode}\n{(process.stdout + process.stderr)[-2000:]}', file=sys.stderr)
        return {'wall': wall, 'logins': logins(self.lab) - before_logins, 'unreachable': unreachable,
                'hop_cpu': hop_cpu, 'sshd_cpu': sshd_cpu}

    def _wait_for_bastion_sessions(self, timeout: float = 10) -> None:
        """Let this run's sessions on bastion1 end before the next baseline: an sshd session's unprivileged
        child may outlive its parent, and its CPU would leave the listener's subtree uncounted."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not self._sshd_children() <= self.resident:
            time.sleep(0.1)

    def _sshd_children(self) -> set[str]:
        try:
            return set(Path(f'/proc/{self.sshd}/task/{self.sshd}/children').read_text().split())
        except OSError:
            return set()

    def compare(self, title: str, methods: tuple[str, ...], rounds: int, command: list[str],
                inventories: dict[str, Path] | None = None, builtin_ratio: bool = False) -> dict:
        print(f'\n== {title}, {rounds} interleaved rounds', flush=True)
        results: dict[str, list[dict]] = {m: [] for m in methods}
        for _round in range(rounds):
            for method in methods:
                results[method].append(self.run(method, command, (inventories or {}).get(method)))
        report(results, builtin_ratio)
        return results


def _cpu(values: list) -> str:
    return '-' if all(v is None for v in values) else ', '.join('-' if v is None else f'{v:.2f}' for v in values)


def report(results: dict[str, list[dict]], builtin_ratio: bool = False) -> None:
    print(f'{"method":<27} {"median s":>8}  {"wall s per round":<24} {"logins":<14} {"unreach.":<12} '
          f'{"hop master CPU s":<20} bastion sshd CPU s')
    for method, runs in results.items():
        walls = [r['wall'] for r in runs]
        print(f'{method:<27} {statistics.median(walls):8.2f}  {", ".join(f"{w:.2f}" for w in walls):<24} '
              f'{str([r["logins"] for r in runs]):<14} {str([r["unreachable"] for r in runs]):<12} '
              f'{_cpu([r["hop_cpu"] for r in runs]):<20} {_cpu([r["sshd_cpu"] for r in runs])}')
    for base in ('direct', 'builtin') if builtin_ratio else ('direct',):
        if base not in results:
            continue
        for method, runs in results.items():
            if method in (base, 'direct'):
                continue
            ratios = [r['wall'] / b['wall'] for r, b in zip(runs, results[base], strict=True)]
            print(f'ratio {method}/{base} per round: {", ".join(f"{x:.3f}" for x in ratios)} '
                  f'(median {statistics.median(ratios):.3f})')


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n', maxsplit=1)[0])
    parser.add_argument('--only', default=','.join(SCENARIOS), help=f'comma-separated, of {",".join(SCENARIOS)}')
    parser.add_argument('--rounds', type=int, default=3)
    parser.add_argument('--fanout-rounds', type=int, help='rounds for fanout (default: --rounds)')
    parser.add_argument('--fresh-rounds', type=int, default=5)
    parser.add_argument('--targets', type=int, default=50)
    parser.add_argument('--fanout', type=int, default=150)
    parser.add_argument('--bulk-targets', type=int, default=20)
    parser.add_argument('--bulk-mib', type=int, default=32)
    parser.add_argument('--sequence-tasks', type=int, default=20)
    parser.add_argument('--big-inventory', type=int, default=5000)
    parser.add_argument('--restore-targets', type=int, help='rebuild the lab with this many targets at the end')
    args = parser.parse_args()
    only = [s for s in args.only.split(',') if s]
    if unknown := set(only) - set(SCENARIOS):
        parser.error(f'unknown scenarios: {", ".join(sorted(unknown))}')
    need = max([args.targets if 'storm' in only else 1, args.fanout if 'fanout' in only else 1,
                args.bulk_targets if 'bulk' in only else 1])
    lab = bring_up_lab(need)
    workdir = Path(tempfile.mkdtemp(prefix='multihop-bench-'))
    bench = Bench(lab, workdir)
    version = subprocess.run(['ansible-playbook', '--version'], capture_output=True, text=True, check=False)
    print(f'{version.stdout.splitlines()[0]}, Python {sys.version.split()[0]}, {os.cpu_count()} cores, '
          f'lab of {len(lab["targets"])} targets behind bastion1, default MaxStartups on bastion1')

    def playbook(name: str, play: list) -> str:
        return str(bench._write(name, play))

    try:
        if 'storm' in only:
            bench.compare(f'storm: two tasks on {args.targets} targets, forks {args.targets}',
                          ('direct', 'builtin', 'multihop', 'multihop+preload', 'paramiko', 'paramiko+preload', 'mux'),
                          args.rounds,
                          ['ansible-playbook', playbook('storm', two_tasks(f'targets[0:{args.targets - 1}]')),
                           '--forks', str(args.targets)])
        if 'fanout' in only:
            bench.compare(f'fanout: two tasks on {args.fanout} targets, forks {args.fanout}', CORE,
                          args.fanout_rounds or args.rounds,
                          ['ansible-playbook', playbook('fanout', two_tasks(f'targets[0:{args.fanout - 1}]')),
                           '--forks', str(args.fanout)])
        if 'bulk' in only:
            blob, fetched = workdir / 'blob.bin', workdir / 'fetched'
            with blob.open('wb') as handle:
                handle.write(os.urandom(args.bulk_mib << 20))
            bench.compare(f'bulk: copy {args.bulk_mib} MiB to {args.bulk_targets} targets and fetch it back, '
                          f'forks {args.bulk_targets}', CORE, args.rounds,
                          ['ansible-playbook', playbook('bulk', bulk_play(f'targets[0:{args.bulk_targets - 1}]',
                                                                          blob, fetched)),
                           '--forks', str(args.bulk_targets)])
            shutil.rmtree(fetched, ignore_errors=True)
        first = next(iter(lab['targets']))  # t01, or t001 in a lab of 100 targets or more
        if 'sequence' in only:
            bench.compare(f'sequence: {args.sequence_tasks} pings one after the other on {first}, forks 1',
                          (*CORE, 'multihop, tcp_nodelay off'), args.rounds,
                          ['ansible-playbook', playbook('sequence', pings(first, args.sequence_tasks)),
                           '--forks', '1'])
        if 'fresh' in only:
            for size in (50, args.big_inventory):
                keep = min(size, len(lab['targets']))
                bench.compare(f'fresh: one ad-hoc ping on {first} through a fresh route, inventory of '
                              f'{size} hosts, no preload', CORE, args.fresh_rounds,
                              [bench.ansible, first, '-m', 'ping'],
                              {m: bench.padded(m, size - keep, 1, keep) for m in CORE}, builtin_ratio=True)
        if 'resolution' in only:
            for extra in (0, args.big_inventory):
                bench.compare(f'resolution: 10 pings on 5 targets, {extra} extra hosts in the inventory',
                              CORE, args.rounds, ['ansible-playbook', playbook('resolution', pings('timed', 10)),
                                                  '--forks', '5'],
                              {m: bench.padded(m, extra, 5) for m in CORE}, builtin_ratio=True)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        if args.restore_targets:
            subprocess.run([sys.executable, str(LAB), 'up', '--targets', str(args.restore_targets)], check=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
