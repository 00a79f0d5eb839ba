"""Run real ansible-playbook against the lab and read its recap. No mocks here."""

from __future__ import annotations

import copy
import os
import re
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import yaml

RECAP_LINE = re.compile(r'^(\S+)\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)', re.M)


@dataclass
class PlaybookResult:
    rc: int
    output: str

    @property
    def recap(self) -> dict[str, dict[str, int]]:
        return {m[1]: {'ok': int(m[2]), 'changed': int(m[3]), 'unreachable': int(m[4]), 'failed': int(m[5])}
                for m in RECAP_LINE.finditer(self.output)}

    def assert_ok(self, *hosts: str) -> None:
        assert self.rc == 0, self.output
        for host in hosts:
            assert host in self.recap, f'{host} did not run:\n{self.output}'
            assert self.recap[host]['unreachable'] == 0 and self.recap[host]['failed'] == 0, self.output

    def assert_unreachable(self, host: str, *fragments: str) -> None:
        assert self.rc != 0, self.output
        assert self.recap[host]['unreachable'] == 1, self.output
        for fragment in fragments:
            assert fragment in self.output, f'{fragment!r} not in:\n{self.output}'


def lab_inventory(lab: dict) -> dict:
    """The lab's own inventory as a dict, to extend per test."""
    return copy.deepcopy(yaml.safe_load(Path(lab['inventory']).read_text()))


def add_hosts(inventory: dict, group: str, hosts: dict, group_vars: dict | None = None) -> dict:
    children = inventory['all'].setdefault('children', {})
    children[group] = {'hosts': hosts, 'vars': group_vars or {}}
    return inventory


def run_playbook(tmp_path: Path, inventory: dict, plays: list, *args: str, env: dict | None = None,
                 control_dir: str | None = None) -> PlaybookResult:
    """Write the inventory (0600: it holds lab passwords) and playbook, run ansible-playbook, return its output.

    Each run gets its own short control directory unless one is shared on purpose, so master
    connections from one test never make another pass.
    """
    inventory_file = tmp_path / 'inventory.yml'
    inventory_file.write_text(yaml.safe_dump(inventory))
    inventory_file.chmod(0o600)
    playbook_file = tmp_path / 'playbook.yml'
    playbook_file.write_text(yaml.safe_dump(plays, allow_unicode=True, sort_keys=False))
    control_dir = control_dir or tempfile.mkdtemp(prefix='mh', dir='/tmp')
    run_env = dict(os.environ, ANSIBLE_NOCOLOR='1', ANSIBLE_FORCE_COLOR='0', ANSIBLE_RETRY_FILES_ENABLED='0',
                   ANSIBLE_SSH_CONTROL_PATH_DIR=control_dir, ANSIBLE_DEPRECATION_WARNINGS='0',
                   ANSIBLE_LOCAL_TEMP=str(tmp_path / 'local-tmp'))
    run_env.update(env or {})
    process = subprocess.run(['ansible-playbook', '-i', str(inventory_file), str(playbook_file), *args],
                             capture_output=True, text=True, env=run_env, timeout=600, check=False,
                             stdin=subprocess.DEVNULL)
    return PlaybookResult(process.returncode, process.stdout + process.stderr)


def count_logins(log: str, user: str) -> int:
    """Successful SSH logins of ``user`` recorded in an sshd log."""
    path = Path(log)
    text = path.read_text(errors='replace') if path.exists() else ''
    return len(re.findall(rf'Accepted \S+ for {re.escape(user)} from', text))
