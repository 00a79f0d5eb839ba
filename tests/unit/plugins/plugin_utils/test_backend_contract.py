"""The backend contract: one table of cases, each run through the connection plugin on both backends.

The I/O is faked at each backend's own seam, and nowhere else:

- OpenSSH: the processes that the builtin's code and ``OpenSSHRoute`` start. ``ssh_executable`` and
  ``sftp_executable`` are contract_remote.py; a hop that is up is a listening UNIX socket where its
  master connection would be (what ``master_is_alive`` asks).
- paramiko: the network under paramiko's API: ``socket.create_connection`` and ``paramiko.Transport``,
  whose session channels run contract_remote.py and whose SFTP client copies files on this machine.
  The hop walker, the pool, the session and the become handling are the real ones.

Both carry commands to the same fake remote (contract_remote.py), so a case expects the same outcome
from both; where the backends legitimately differ, the case says so and why.
"""

from __future__ import annotations

import base64
import contextlib
import errno
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import paramiko
import pytest

from ansible.errors import AnsibleAuthenticationFailure, AnsibleConnectionFailure, AnsibleError, AnsibleFileNotFound
from ansible.playbook.play_context import PlayContext
from ansible.plugins.loader import become_loader, connection_loader
from ansible.template import Templar

from ansible_collections.jumphosts.multihop.plugins.plugin_utils import _paramiko_session

REMOTE = str(Path(__file__).with_name('contract_remote.py'))
BACKENDS = ('openssh', 'paramiko')
HOP = ('10.203.1.2', 22)
TARGET = ('10.203.2.11', 22)
HOP_LABEL = 'hop 1/2 bastion1 jump1@10.203.1.2:22'
BECOME_PASSWORD = 'S3cret-become-pw'
# The plugin's timeout in the table: the builtin waits timeout + 2 s for a become prompt.
TIMEOUT = 1


@pytest.fixture(scope='module')
def keys(tmp_path_factory):
    """A login key for every element, and the host key every fake server shows (pinned in inventory)."""
    path = tmp_path_factory.mktemp('keys') / 'id_ed25519'
    subprocess.run(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-f', str(path)], check=True,
                   stdin=subprocess.DEVNULL, capture_output=True, timeout=60)
    key_type, key_base64 = path.with_suffix('.pub').read_text(encoding='ascii').split()[:2]
    return SimpleNamespace(private=str(path), type=key_type, base64=key_base64)


@pytest.fixture
def root(monkeypatch):
    """A short private directory (control sockets must fit in 108 bytes) and the remote's state."""
    directory = Path(tempfile.mkdtemp(prefix='mhc-', dir='/tmp'))
    (directory / 'remote').mkdir()
    monkeypatch.setenv('MH_REMOTE_STATE', str(directory / 'remote'))
    monkeypatch.setenv('MH_REMOTE_SUDO_PASSWORD', BECOME_PASSWORD)
    for tool in ('ssh', 'sftp'):
        wrapper = directory / tool
        wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{REMOTE}" {tool} "$@"\n', encoding='ascii')
        wrapper.chmod(0o700)
    yield directory
    shutil.rmtree(directory, ignore_errors=True)


# --- the OpenSSH seam: processes, and the hop master's socket ----------------------------------------------

class _Listener:
    """A live master connection as OpenSSH's clients see one: a socket that accepts."""

    def __init__(self, path: str):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.open = True
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        while self.open:
            try:
                self.sock.accept()[0].close()
            except OSError:
                continue

    def close(self):
        self.open = False
        self.thread.join(2)
        self.sock.close()


class OpenSSHSeam:
    name = 'openssh'
    hop_stage = None  # the OpenSSH client does not say at which stage a hop failed

    def __init__(self, root: Path, monkeypatch):
        self.root, self.monkeypatch = root, monkeypatch
        self.hop_up = True
        self.listeners: list[_Listener] = []

    def configured(self, connection):
        if self.hop_up:
            route = connection._multihop_route()
            os.makedirs(route.runtime_dir, mode=0o700, exist_ok=True)
            self.listeners.append(_Listener(route.control_path()))
        return connection

    def hop_refuses(self):
        self.hop_up = False
        self.monkeypatch.setenv('MH_REMOTE_HOP_ERROR', f'ssh: connect to host {HOP[0]} port {HOP[1]}: '
                                                       'Connection refused')

    def logins(self) -> int:
        path = self.root / 'remote' / 'logins'
        return len(path.read_text(encoding='ascii').splitlines()) if path.exists() else 0

    def close(self):
        for listener in self.listeners:
            listener.close()


# --- the paramiko seam: the network under paramiko's API ---------------------------------------------------

class _Stream:
    """A TCP connection or a forwarded channel: for the fake, only where it leads matters."""

    def __init__(self, address):
        self.address = tuple(address)

    def setsockopt(self, *args):
        pass

    def settimeout(self, timeout):
        pass

    def close(self):
        pass


class _HostKey:
    def __init__(self, keys):
        self.keys = keys

    def asbytes(self):
        return base64.b64decode(self.keys.base64)

    def get_name(self):
        return self.keys.type

    def get_base64(self):
        return self.keys.base64


class _Channel:
    """A session channel whose command runs in contract_remote.py; ``fileno`` wakes select() on output."""

    def __init__(self):
        self.process = self.reaper = self.status = None
        self.buffers = {'out': bytearray(), 'err': bytearray()}
        self.lock = threading.Lock()
        self.wake_r, self.wake_w = os.pipe()
        os.set_blocking(self.wake_r, False)
        self.pumps: list[threading.Thread] = []

    def get_pty(self, **options):
        pass

    def settimeout(self, timeout):
        pass

    def exec_command(self, command):
        self.process = subprocess.Popen([sys.executable, REMOTE, 'exec', command], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for name, pipe in (('out', self.process.stdout), ('err', self.process.stderr)):
            pump = threading.Thread(target=self._pump, args=(name, pipe), daemon=True)
            pump.start()
            self.pumps.append(pump)
        self.reaper = threading.Thread(target=self._reap, daemon=True)
        self.reaper.start()

    def _pump(self, name, pipe):
        for chunk in iter(lambda: os.read(pipe.fileno(), 65536), b''):
            with self.lock:
                self.buffers[name] += chunk
            os.write(self.wake_w, b'.')

    def _reap(self):
        for pump in self.pumps:
            pump.join()
        self.status = self.process.wait()
        os.write(self.wake_w, b'.')  # as paramiko's channel: the exit status wakes select() too

    def _ready(self, name):
        with contextlib.suppress(BlockingIOError):
            os.read(self.wake_r, 4096)
        with self.lock:
            return bool(self.buffers[name])

    def _take(self, name, size):
        with self.lock:
            data = bytes(self.buffers[name][:size])
            del self.buffers[name][:size]
        return data

    def recv_ready(self):
        return self._ready('out')

    def recv_stderr_ready(self):
        return self._ready('err')

    def recv(self, size):
        return self._take('out', size)

    def recv_stderr(self, size):
        return self._take('err', size)

    def exit_status_ready(self):
        return self.status is not None

    def recv_exit_status(self):
        self.reaper.join()
        return self.status

    def sendall(self, data):
        self.process.stdin.write(data)
        self.process.stdin.flush()

    def shutdown_write(self):
        self.process.stdin.close()

    def fileno(self):
        return self.wake_r

    def close(self):
        if self.process is not None:
            if self.process.poll() is None:
                self.process.kill()
            self.reaper.join(5)
            for pipe in (self.process.stdin, self.process.stdout, self.process.stderr):
                pipe.close()
            self.process = None
            os.close(self.wake_r)
            os.close(self.wake_w)


class _SFTP:
    """The target's files are this machine's."""

    def put(self, local, remote):
        shutil.copyfile(local, remote)

    def get(self, remote, local):
        if not os.path.exists(remote):
            raise FileNotFoundError(errno.ENOENT, 'No such file')
        shutil.copyfile(remote, local)

    def close(self):
        pass


class ParamikoSeam:
    name = 'paramiko'
    hop_stage = 'tcp'

    def __init__(self, root: Path, monkeypatch, keys):
        self.refused: set[tuple[str, int]] = set()
        self.transports: list[object] = []
        seam = self

        class Transport:
            """paramiko.Transport as the walker and the session use it: every key is the pinned one."""

            remote_version = None

            def __init__(self, sock):
                self.address, self.active, self.authenticated = sock.address, True, False
                seam.transports.append(self)

            def get_security_options(self):
                return SimpleNamespace(key_types=(keys.type,))

            def start_client(self, timeout=None):
                self.remote_version = 'SSH-2.0-OpenSSH_9.6 contract'

            def get_remote_server_key(self):
                return _HostKey(keys)

            def auth_publickey(self, user, key):
                self.authenticated = True
                return []

            def is_authenticated(self):
                return self.authenticated

            def is_active(self):
                return self.active

            def set_keepalive(self, interval):
                pass

            def open_session(self, timeout=None):
                return _Channel()

            def open_channel(self, kind, destination, source, timeout=None):
                return _Stream(destination)

            def open_sftp_client(self):
                return _SFTP()

            def close(self):
                self.active = False

        def create_connection(address, timeout=None, *args, **kwargs):
            if tuple(address) in self.refused:
                raise ConnectionRefusedError(errno.ECONNREFUSED, os.strerror(errno.ECONNREFUSED))
            return _Stream(address)

        monkeypatch.setattr(paramiko, 'Transport', Transport)
        monkeypatch.setattr(socket, 'create_connection', create_connection)

    def configured(self, connection):
        return connection

    def hop_refuses(self):
        self.refused.add(HOP)

    def logins(self) -> int:
        return sum(1 for t in self.transports if t.address == TARGET and t.authenticated)

    def close(self):
        _paramiko_session.POOL.close_all()


# --- the plugin, as ansible-core configures it ------------------------------------------------------------

class Harness:
    def __init__(self, seam, root: Path, keys, monkeypatch):
        self.seam, self.root, self.keys, self.monkeypatch = seam, root, keys, monkeypatch
        self.name = seam.name

    def logins(self) -> int:
        """How many times the target was logged in to so far."""
        return self.seam.logins()

    def pins(self, address):
        """multihop_known_hosts for ``address``: the one host key every fake server shows."""
        return [f'{address} {self.keys.type} {self.keys.base64}']

    def connection(self, **variables):
        pins = self.pins
        hostvars = {'bastion1': {'ansible_host': HOP[0], 'ansible_user': 'jump1',
                                 'ansible_ssh_private_key_file': self.keys.private,
                                 'multihop_known_hosts': pins(HOP[0])}}
        variables = dict({
            'inventory_hostname': 't01', 'ansible_host': TARGET[0], 'ansible_user': 'admin', 'hostvars': hostvars,
            'multihop_via': 'bastion1', 'multihop_backend': self.name, 'multihop_known_hosts': pins(TARGET[0]),
            'ansible_ssh_private_key_file': self.keys.private, 'ansible_ssh_timeout': TIMEOUT,
            'ansible_control_path_dir': str(self.root / 'cp'), 'ansible_ssh_executable': str(self.root / 'ssh'),
            'ansible_sftp_executable': str(self.root / 'sftp'), 'ansible_ssh_transfer_method': 'sftp',
            # paramiko walks in this process, at the seam; its hop processes are tested in the lab
            # (tests/integration/test_paramiko_shared.py).
            'multihop_share_hops': False,
        }, **variables)
        connection = connection_loader.get('jumphosts.multihop.ssh', PlayContext(), None)
        var_options = connection._resolve_option_variables(variables, Templar(loader=None, variables=variables))
        connection.set_options(var_options=var_options)
        connection.host = TARGET[0]
        return self.seam.configured(connection)

    @staticmethod
    def with_sudo(connection, command, password=BECOME_PASSWORD):
        """``command`` wrapped as the action plugin wraps it, with sudo as the connection's become plugin."""
        become = become_loader.get('sudo')
        become.set_options(direct={'become_pass': password, 'become_user': 'root'})
        connection.set_become_plugin(become)
        return become.build_become_command(command, connection._shell)

    def file(self, name, content=b''):
        path = self.root / name
        path.write_bytes(content)
        return str(path)


@pytest.fixture(params=BACKENDS)
def harness(request, root, keys, monkeypatch):
    seam = OpenSSHSeam(root, monkeypatch) if request.param == 'openssh' else ParamikoSeam(root, monkeypatch, keys)
    yield Harness(seam, root, keys, monkeypatch)
    seam.close()


# --- the table: its cases, then CASES ---------------------------------------------------------------------

def exec_gives_rc_stdout_and_stderr(h):
    connection = h.connection()
    assert connection.exec_command('printf out; printf err >&2; exit 3') == (3, b'out', b'err')
    assert h.logins() == 1


def exec_pipes_input_in(h):
    connection = h.connection()
    assert connection.exec_command('cat; printf done', in_data=b'module source\n') == (
        0, b'module source\ndone', b'')


def later_commands_reuse_the_login(h):
    connection = h.connection()
    for word in ('one', 'two', 'three'):
        assert connection.exec_command(f'printf {word}') == (0, word.encode(), b'')
    assert h.logins() == 1


def put_copies_a_file_to_the_target(h):
    source, destination = h.file('local.txt', b'copied\x00bytes\n'), str(h.root / 'remote' / 'put.txt')
    rc, _out, _err = h.connection().put_file(source, destination)
    assert rc == 0 and Path(destination).read_bytes() == b'copied\x00bytes\n'


def put_of_a_missing_local_file_is_file_not_found(h):
    missing = str(h.root / 'no-such-file')
    with pytest.raises(AnsibleFileNotFound) as info:
        h.connection().put_file(missing, str(h.root / 'remote' / 'x'))
    # The builtin's words; AnsibleFileNotFound adds its own, which differ between ansible-core versions.
    assert info.value.message == AnsibleFileNotFound(f'file or module does not exist: {missing}').message
    assert not os.path.exists(h.root / 'remote' / 'x')


def fetch_copies_a_file_from_the_target(h):
    source, destination = h.file('remote/fetch.txt', b'fetched\n'), str(h.root / 'fetched.txt')
    rc, _out, _err = h.connection().fetch_file(source, destination)
    assert rc == 0 and Path(destination).read_bytes() == b'fetched\n'


def _command_after(h, let_go):
    """A command, then ``reset`` or ``close``, then another: disconnected in between, and the second one works."""
    connection = h.connection()
    connection.exec_command('true')
    getattr(connection, let_go)()
    assert not connection._connected
    assert connection.exec_command('printf again') == (0, b'again', b'')


def reset_makes_the_next_command_log_in_again(h):
    _command_after(h, 'reset')
    assert h.logins() == 2


def close_lets_go_and_the_next_command_works(h):
    _command_after(h, 'close')
    # The builtin's close keeps the ControlPersist master for the next task; paramiko's closes what it holds.
    assert h.logins() == {'openssh': 1, 'paramiko': 2}[h.name]


def a_hop_that_refuses_is_unreachable_naming_the_hop_and_stage(h):
    h.seam.hop_refuses()
    connection = h.connection()
    failures = []  # the HopError that reached the plugin's one mapping, hop_failure
    module = sys.modules[type(connection).__module__]
    mapped = module.hop_failure
    h.monkeypatch.setattr(module, 'hop_failure', lambda error: failures.append(error) or mapped(error))
    with pytest.raises(AnsibleConnectionFailure) as info:
        connection.exec_command('printf never')
    assert not isinstance(info.value, AnsibleAuthenticationFailure)
    assert re.search(rf'\Ajumphosts\.multihop: {re.escape(HOP_LABEL)}: .*Connection refused\Z', info.value.message)
    (error,) = failures
    assert (error.label, error.stage, error.index) == (HOP_LABEL, h.seam.hop_stage, 0)
    assert h.logins() == 0


def become_sends_the_password_when_prompted(h):
    connection = h.connection()
    command = h.with_sudo(connection, "/bin/sh -c 'printf escalated'")
    rc, out, err = connection.exec_command(command)
    assert (rc, out) == (0, b'escalated')
    assert BECOME_PASSWORD.encode() not in out + err


def become_with_a_wrong_password_fails_the_task(h):
    connection = h.connection()
    command = h.with_sudo(connection, '/bin/sh -c true', password='wrong-password')
    with pytest.raises(AnsibleError) as info:
        connection.exec_command(command)
    assert not isinstance(info.value, AnsibleConnectionFailure)
    assert re.search(r'Incorrect sudo password\Z', info.value.message)
    assert 'wrong-password' not in info.value.message


def a_become_prompt_that_never_comes_is_unreachable_after_timeout_plus_2(h):
    h.monkeypatch.setenv('MH_REMOTE_SUDO', 'silent')
    connection = h.connection()
    command = h.with_sudo(connection, '/bin/sh -c true')
    started = time.monotonic()
    with pytest.raises(AnsibleConnectionFailure) as info:
        connection.exec_command(command)
    waited = time.monotonic() - started
    assert re.search(rf'\ATimeout \({TIMEOUT + 2}s\) waiting for privilege escalation prompt:\Z',
                     info.value.message)
    assert BECOME_PASSWORD not in info.value.message
    assert TIMEOUT + 2 <= waited < TIMEOUT + 4, waited


CASES = (
    exec_gives_rc_stdout_and_stderr,
    exec_pipes_input_in,
    later_commands_reuse_the_login,
    put_copies_a_file_to_the_target,
    put_of_a_missing_local_file_is_file_not_found,
    fetch_copies_a_file_from_the_target,
    reset_makes_the_next_command_log_in_again,
    close_lets_go_and_the_next_command_works,
    a_hop_that_refuses_is_unreachable_naming_the_hop_and_stage,
    become_sends_the_password_when_prompted,
    become_with_a_wrong_password_fails_the_task,
    a_become_prompt_that_never_comes_is_unreachable_after_timeout_plus_2,
)


@pytest.mark.parametrize('case', CASES, ids=lambda case: case.__name__)
def test_backend_contract(case, harness):
    case(harness)
