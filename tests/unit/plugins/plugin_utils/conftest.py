"""The real OpenSSH parsers for test_fuzz_rendering.py: ``ssh -G`` and ``sshd -t``/``sshd -T``, offline.

Nothing here connects anywhere or listens: ``ssh -G`` prints the settings a connection would use and
exits (it does run ``Match exec``, which is what the fuzzer looks for), and ``sshd -T`` prints the
settings of a configuration file for a given user and address and exits.
"""

from __future__ import annotations

import collections
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

# test_fuzz_rendering.py imports its helpers fuzz_inputs and fuzz_model from this folder by name.
sys.path.insert(0, str(Path(__file__).parent))

SSHD = '/usr/sbin/sshd'
PATH = '/usr/sbin:/usr/bin:/sbin:/bin'
# sh -c SSHD_TEST SSHD FILE: check FILE, then print its settings for root connecting from 127.0.0.1.
SSHD_TEST = '"$0" -t -f "$1" && exec "$0" -T -f "$1" -C user=root,host=fuzz,addr=127.0.0.1'
# sshd, started as root, insists on its privilege separation directory; the lab gives each of its
# daemons a private /run, and so does this, so that the host's /run is left alone.
SSHD_IN_PRIVATE_RUN = 'mount -t tmpfs -o mode=0755 tmpfs /run && mkdir /run/sshd && ' + SSHD_TEST
# ssh -G prints "keyword value", one per line; "line N:" and the file name differ between a file and -o.
_WHERE_RE = re.compile(r'^.*? line \d+: ')
_NOISE = ('Pseudo-terminal will not be allocated',)
_TERMINATING_RE = re.compile(r': terminating, \d+ bad configuration options\Z')


class OpenSSH:
    """Runs ssh -G and sshd -T on rendered text, and counts what the fuzzer did."""

    def __init__(self, root: Path):
        missing = [tool for tool in ('ssh', 'ssh-keygen', 'sh') if not shutil.which(tool, path=PATH)]
        missing += [SSHD] if not os.access(SSHD, os.X_OK) else []
        if missing:
            pytest.fail(f'the rendering fuzzer needs OpenSSH: {", ".join(missing)} not found; '
                        'install openssh-client and openssh-server (make deps)', pytrace=False)
        self.root = root
        self.home = root / 'home'  # empty: ~/.ssh/config does not exist
        self.home.mkdir()
        self.env = {'HOME': str(self.home), 'PATH': PATH, 'SHELL': '/bin/sh', 'LC_ALL': 'C'}
        self.host_key = root / 'host_key'
        subprocess.run(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-f', str(self.host_key)], check=True,
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=60)
        if os.geteuid() != 0 or os.path.isdir('/run/sshd'):
            self.sshd_prefix = ['sh', '-c', SSHD_TEST]
        elif shutil.which('unshare', path=PATH):
            self.sshd_prefix = ['unshare', '--mount', '--propagation', 'private', 'sh', '-c', SSHD_IN_PRIVATE_RUN]
        else:
            pytest.fail('sshd needs /run/sshd when run as root, and unshare (util-linux) is missing to give it a '
                        'private one', pytrace=False)
        self.stats = collections.Counter()
        self._baselines: dict[tuple[str, ...], dict[str, list[str]]] = {}
        self.sshd_baseline = self.sshd_settings('PermitOpen 127.0.0.1:22', rendered=False)

    def write(self, text: str, name: str = 'rendered.conf') -> Path:
        """Put ``text`` in a file of the session's directory (the same name is overwritten by the next example)."""
        path = self.root / name
        path.write_text(text, encoding='utf-8')
        return path

    def ssh_g(self, config: Path | str, host: str, *args: str, rendered: bool = False):
        """``ssh -G -F CONFIG ARGS HOST``: its settings (None if ssh refused the configuration) and its errors.

        ``rendered``: CONFIG is the collection's output (counted), not a reference or a baseline.
        """
        result = subprocess.run(['ssh', '-G', '-F', str(config), *args, '--', host], env=self.env,
                                stdin=subprocess.DEVNULL, capture_output=True, timeout=30, check=False)
        self.stats['ssh'] += rendered
        errors = '\n'.join(_WHERE_RE.sub('', line) for line in result.stderr.decode(errors='replace').splitlines()
                           if not line.startswith(_NOISE) and not _TERMINATING_RE.search(line))
        if result.returncode != 0:
            return None, errors or f'ssh -G exited {result.returncode}'
        settings: dict[str, list[str]] = {}
        for line in result.stdout.decode('utf-8', errors='surrogateescape').split('\n'):
            if line:
                key, _sep, value = line.partition(' ')
                settings.setdefault(key, []).append(value)
        return settings, errors

    def baseline(self, base: Path | str, *args: str) -> dict[str, list[str]]:
        """What ssh -G says for an alias no rendered block describes, with the same base configuration."""
        key = (str(base), *args)
        if key not in self._baselines:
            settings, errors = self.ssh_g(base, 'fuzz-baseline', *args)
            assert settings is not None, errors
            self._baselines[key] = settings
        return self._baselines[key]

    def shell_words(self, command: str) -> list[str]:
        """The words /bin/sh makes of ``command``, as the arguments of ``set --``."""
        result = subprocess.run(['sh', '-c', f'set -- {command}\nprintf "%s\\0" "$@"'], env=self.env,
                                stdin=subprocess.DEVNULL, capture_output=True, timeout=30, check=False)
        assert result.returncode == 0, result.stderr
        return result.stdout.decode('ascii').split('\0')[:-1]

    def sshd_settings(self, line: str, rendered: bool = True) -> list[str]:
        """``sshd -t`` then ``sshd -T`` on a minimal sshd_config whose Match block ends with ``line``."""
        text = (f'HostKey {self.host_key}\nPidFile none\n'
                'Match Group root\n    AllowTcpForwarding local\n'
                f'    {line}\n')
        path = self.write(text, 'rendered.sshd_config')
        result = subprocess.run([*self.sshd_prefix, SSHD, str(path)], env=self.env, stdin=subprocess.DEVNULL,
                                capture_output=True, timeout=30, check=False)
        self.stats['sshd'] += rendered
        assert result.returncode == 0, f'sshd refused {text!r}: {result.stderr.decode(errors="replace")}'
        return sorted(result.stdout.decode('utf-8', errors='surrogateescape').splitlines())


@pytest.fixture(scope='session')
def openssh(tmp_path_factory, request):
    harness = OpenSSH(tmp_path_factory.mktemp('fuzz-openssh'))
    request.config.stash[_STATS] = harness.stats
    return harness


_STATS = pytest.StashKey[collections.Counter]()


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    stats = config.stash.get(_STATS, None)
    if stats is not None:
        terminalreporter.write_line(
            f"fuzz: {stats['inputs']} inputs generated, {stats['refused']} refused, {stats['rendered']} rendered; "
            f"{stats['ssh']} ssh -G parses, {stats['sshd']} sshd -T parses, {stats['canaries']} canaries")
