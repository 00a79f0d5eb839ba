# Copyright (c) 2026, jumphosts.multihop contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The OpenSSH backend: a private ssh_config per route and one shared master connection per hop.

This is the I/O edge for the OpenSSH client. The connection plugin keeps running ssh, scp and
sftp the way ansible.builtin.ssh does; this module only adds the route to their command lines.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import socket
import stat
import subprocess
import tempfile
import threading
from collections.abc import Callable

from ansible.utils.path import unfrackpath

from ansible_collections.jumphosts.multihop.plugins.plugin_utils import _gate as gate
from ansible_collections.jumphosts.multihop.plugins.plugin_utils._backend import Backend
from ansible_collections.jumphosts.multihop.plugins.plugin_utils._chain import Hop, chain_digest, hop_label
from ansible_collections.jumphosts.multihop.plugins.plugin_utils._errors import HopError, MultihopError
from ansible_collections.jumphosts.multihop.plugins.plugin_utils._known_hosts import (
    PINNED_SOURCE,
    pinned_known_hosts_path,
    pinned_known_hosts_text,
)
from ansible_collections.jumphosts.multihop.plugins.plugin_utils._render import (
    RuntimeSettings,
    control_path,
    render_plugin_config,
    route_option,
)
from ansible_collections.jumphosts.multihop.plugins.plugin_utils._settings import DEFAULT_TIMEOUT
from ansible_collections.jumphosts.multihop.plugins.plugin_utils._ssh_args import target_arg_tokens

# ssh passes the prompt as $1. Only a password prompt gets the password; a host-key question,
# a passphrase or anything else gets no answer, so ssh gives up.
ASKPASS_SCRIPT = ('#!/bin/sh\n'
                  '# jumphosts.multihop: hands ssh one hop password through a private FIFO.\n'
                  'case "$1" in\n'
                  '  *[Pp]assword:|*[Pp]assword:\\ ) exec cat -- "$MULTIHOP_ASKPASS_FIFO" ;;\n'
                  'esac\n'
                  'exit 1\n')
# What ssh says when a forward through a shared master fails, without the reason.
_HIDDEN_BY_MUX = ('Stdio forwarding request failed', 'kex_exchange_identification', 'Connection closed by UNKNOWN')
_NOISE = ('Warning: Permanently added', 'Pseudo-terminal will not be allocated')


def check_private(path: str, what: str) -> None:
    """Refuse a file or directory that another user owns or that group or others may write.

    Someone who can write the control directory could plant a config or an askpass script there.
    """
    info = os.lstat(path)
    problems = []
    if info.st_uid != os.geteuid():
        problems.append(f'it is owned by uid {info.st_uid}, not by uid {os.geteuid()}')
    if stat.S_ISLNK(info.st_mode):
        problems.append('it is a symbolic link')
    if info.st_mode & 0o022:
        problems.append(f'group or others may write it (mode {stat.S_IMODE(info.st_mode):04o})')
    if problems:
        raise MultihopError(f'refusing to use {what} {path}: {"; ".join(problems)}')


def private_directory(path: str) -> None:
    """Create ``path`` (mode 0700) if it is missing, and check that it is private either way."""
    try:
        os.makedirs(path, mode=0o700, exist_ok=True)
    except OSError as e:
        raise MultihopError(f'cannot create the control directory {path}: {e.strerror}; set control_path_dir '
                            '(ANSIBLE_SSH_CONTROL_PATH_DIR) to a writable directory') from None
    check_private(path, 'control directory')


def write_pinned_known_hosts(control_dir: str, hop: Hop) -> str:
    """The file of a hop's (or target's) pinned keys in the private control directory; written once."""
    path = pinned_known_hosts_path(control_dir, hop)
    if os.path.lexists(path):
        check_private(path, 'pinned known_hosts file')
    else:
        write_private_file(path, pinned_known_hosts_text(hop))
    return path


def pinned_ssh_args(path: str) -> list[str]:
    """ssh arguments that check a target against its pinned keys alone (first value wins, so they go first)."""
    return ['-o', 'StrictHostKeyChecking=yes', '-o', f'UserKnownHostsFile={path}', '-o', 'GlobalKnownHostsFile=none',
            '-o', 'UpdateHostKeys=no']


def user_config_files(*arg_strings: str | None) -> tuple[str, ...]:
    """The files of ``-F FILE`` (or ``-FFILE``) in the target's ssh arguments, checked as paths.

    OpenSSH keeps the last -F, so a user's own would replace the route's config. The route's config
    includes them instead, after its own blocks, and they are taken off the command line.
    """
    tokens = target_arg_tokens(*arg_strings)
    files = []
    for index, token in enumerate(tokens):
        if token == '-F' and index + 1 < len(tokens):
            files.append(tokens[index + 1])
        elif token.startswith('-F') and len(token) > 2:
            files.append(token[2:])
    return tuple(gate.check_path(path, 'ssh config file (-F)', 'ssh arguments') for path in files)


def without_user_configs(command: list[bytes], files: tuple[str, ...]) -> list[bytes]:
    """``command`` without the ``-F FILE`` arguments of ``files``, which the route's config includes."""
    wanted = {os.fsencode(path) for path in files}
    result: list[bytes] = []
    skip = False
    for index, arg in enumerate(command):
        if skip:
            skip = False
            continue
        if arg == b'-F' and index + 1 < len(command) and command[index + 1] in wanted:
            skip = True
            continue
        if arg.startswith(b'-F') and arg[2:] in wanted:
            continue
        result.append(arg)
    return result


def write_private_file(path: str, text: str, mode: int = 0o600) -> None:
    """Write atomically with ``mode``, so no reader ever sees a half-written or too-open file."""
    directory = os.path.dirname(path)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix='.tmp-')
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, 'w', encoding='utf-8') as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def master_is_alive(path: str) -> bool:
    """A live master accepts connections on its socket; a stale file refuses them."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.settimeout(2)
        sock.connect(path)
        return True
    except OSError:
        return False
    finally:
        sock.close()


@contextlib.contextmanager
def file_lock(path: str, timeout: float):
    """An exclusive lock between forks, so one of them logs in to a hop while the others wait.

    The others block in flock (in a thread, for the timeout) instead of polling: with a hundred forks
    waiting for one login, polling every few milliseconds kept the CPUs busy that the login needed.
    """
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            if e.errno not in (errno.EAGAIN, errno.EACCES):
                raise
            _wait_for_lock(fd, path, timeout)
        yield
    finally:
        os.close(fd)  # also ends a waiting thread's claim: the lock belongs to the closed open file


def _wait_for_lock(fd: int, path: str, timeout: float) -> None:
    outcome: list[OSError | None] = []

    def take() -> None:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            outcome.append(None)
        except OSError as e:
            outcome.append(e)

    waiter = threading.Thread(target=take, daemon=True)
    waiter.start()
    waiter.join(timeout)
    if not outcome:
        raise OSError(errno.EAGAIN, f'waited {timeout:.0f} s for another process to log in to the hop', path)
    if outcome[0] is not None:
        raise outcome[0]


def summarize_ssh_error(stderr: str) -> str:
    lines = [line.strip() for line in stderr.splitlines()
             if line.strip() and not line.startswith(_NOISE) and not line.startswith('debug')]
    return lines[-1] if lines else 'ssh exited without an error message'


class _PasswordFifo:
    """Serves one password to SSH_ASKPASS through a FIFO in a private directory: never argv, never a file."""

    def __init__(self, control_dir: str, password: str):
        self._dir = tempfile.mkdtemp(prefix='mh-askpass-', dir=control_dir)
        self.path = os.path.join(self._dir, 'fifo')
        os.mkfifo(self.path, 0o600)
        self._data = (password + '\n').encode('utf-8')
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        with contextlib.suppress(OSError), open(self.path, 'wb') as fifo:
            fifo.write(self._data)

    def close(self) -> None:
        if self._thread.is_alive():
            # Nobody asked: open the reading end so the writer thread can finish.
            with contextlib.suppress(OSError):
                os.close(os.open(self.path, os.O_RDONLY | os.O_NONBLOCK))
            self._thread.join(2)
        with contextlib.suppress(OSError):
            os.unlink(self.path)
        with contextlib.suppress(OSError):
            os.rmdir(self._dir)


# The connection options a route is built from, besides its hops.
USER_ARG_OPTIONS = ('ssh_args', 'ssh_common_args', 'ssh_extra_args', 'scp_extra_args', 'sftp_extra_args')


def route_from_options(hops: tuple[Hop, ...], get_option: Callable[[str], object]) -> OpenSSHRoute:
    """The route the connection plugin uses for ``hops``, from its options; chain_info shows the same one.

    ``get_option`` is a configured jumphosts.multihop.ssh plugin's. Nothing is opened or written.
    """
    return OpenSSHRoute(
        hops,
        unfrackpath(get_option('control_path_dir')),
        ssh_executable=get_option('ssh_executable'),
        connect_timeout=get_option('timeout'),
        control_persist=get_option('multihop_control_persist'),
        forward_agent=get_option('multihop_forward_agent'),
        tcp_nodelay=get_option('multihop_tcp_nodelay'),
        user_configs=user_config_files(*(get_option(name) for name in USER_ARG_OPTIONS)),
    )


class OpenSSHRoute:
    """The hops in front of one target, as the OpenSSH client sees them."""

    def __init__(self, hops: tuple[Hop, ...], runtime_dir: str, *, ssh_executable: str = 'ssh',
                 connect_timeout: int | None = DEFAULT_TIMEOUT, control_persist: str = '60s',
                 forward_agent: bool = False, tcp_nodelay: bool = True, user_configs: tuple[str, ...] = ()):
        self.hops = hops
        runtime_dir = gate.check_path(runtime_dir, 'control_path_dir', 'control_path_dir')
        if not runtime_dir or not runtime_dir.startswith('/'):  # the caller's message names the host
            raise MultihopError('control_path_dir must be an absolute path')
        control_persist = gate.check_time(control_persist, 'multihop_control_persist', 'multihop_control_persist')
        gate.check_path(ssh_executable, 'ssh_executable', 'ssh_executable')
        self.runtime_dir = runtime_dir
        # Named after everything rendered into it, so a changed setting never reuses a stale file.
        digest = chain_digest(hops, forward_agent, control_persist, connect_timeout, ssh_executable, user_configs)
        self.config_path = os.path.join(runtime_dir, f'mh-{digest}.conf')
        self.runtime = RuntimeSettings(control_dir=runtime_dir, config_path=self.config_path,
                                       control_persist=control_persist, connect_timeout=connect_timeout,
                                       ssh_executable=ssh_executable, user_configs=user_configs)
        self.forward_agent = forward_agent
        self.tcp_nodelay = tcp_nodelay
        self.connect_timeout = connect_timeout or DEFAULT_TIMEOUT
        self._files_ready = False

    def ssh_args(self) -> list[str]:
        """Arguments for ssh, scp and sftp that send them along the route."""
        key, value = route_option(self.hops, ssh_executable=self.runtime.ssh_executable,
                                  config_path=self.config_path)
        return ['-F', self.config_path, '-o', f'{key}={value}',
                '-o', 'ForwardAgent=' + ('yes' if self.forward_agent else 'no')]

    def control_path(self, *target: object) -> str:
        return control_path(self.hops, self.runtime_dir, *target)

    def prepare(self, directory_checked: bool = False) -> None:
        """Write the route's config and make sure every hop has a live master connection.

        ``directory_checked``: the caller has just checked ``runtime_dir`` with ``private_directory``.
        The files are checked once per route object (one task's connection); the masters every time.
        """
        if not self._files_ready:
            if not directory_checked:
                private_directory(self.runtime_dir)
            if os.path.lexists(self.config_path):
                check_private(self.config_path, 'route config')
            else:
                write_private_file(self.config_path,
                                   render_plugin_config(self.hops, self.runtime, forward_agent=self.forward_agent))
            for hop in self.hops:
                if hop.known_hosts:
                    write_pinned_known_hosts(self.runtime_dir, hop)
            self._files_ready = True
        for index, hop in enumerate(self.hops):
            if hop.type == 'socks5':
                continue
            socket_path = control_path(self.hops[:index + 1], self.runtime_dir)
            if master_is_alive(socket_path):
                continue
            with file_lock(socket_path + '.lock', timeout=self.connect_timeout * 3 + 30):
                if not master_is_alive(socket_path):
                    self._start_master(index, socket_path)
                    if self.tcp_nodelay:
                        self._start_one_session(hop)

    def _start_master(self, index: int, socket_path: str) -> None:
        hop = self.hops[index]
        with contextlib.suppress(FileNotFoundError):
            os.unlink(socket_path)  # stale: its master is gone, and ssh will not replace it
        command = [self.runtime.ssh_executable, '-F', self.config_path, '-N', '-f', '-o', 'ControlMaster=yes']
        env = dict(os.environ)
        fifo = None
        if hop.password:
            fifo = _PasswordFifo(self.runtime_dir, hop.password)
            command += ['-o', 'BatchMode=no', '-o', 'NumberOfPasswordPrompts=1']
            env.update(SSH_ASKPASS=self._askpass_script(), SSH_ASKPASS_REQUIRE='force', MULTIHOP_ASKPASS_FIFO=fifo.path)
        command.append(hop.alias)
        try:
            # stderr goes to a file: with -f, the master keeps it open long after this call returns.
            with tempfile.TemporaryFile(dir=self.runtime_dir) as errors:
                process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                           stderr=errors, env=env, start_new_session=True)
                try:
                    returncode = process.wait(timeout=self.connect_timeout * 2 + 10)
                except subprocess.TimeoutExpired as e:
                    os.killpg(process.pid, 9)
                    process.wait()
                    raise HopError(hop_label(self.hops, index), None, 'timed out while logging in', index) from e
                errors.seek(0)
                stderr = errors.read().decode('utf-8', errors='replace')
        finally:
            if fifo:
                fifo.close()
        if returncode != 0 or not master_is_alive(socket_path):
            reason = summarize_ssh_error(stderr)
            if hop.known_hosts and 'Host key verification failed' in reason:
                reason += f' (checked against {PINNED_SOURCE}: {len(hop.known_hosts)} lines)'
            if index > 0 and self.hops[index - 1].type == 'ssh' and reason.startswith(_HIDDEN_BY_MUX):
                reason = self._forward_failure(index) or reason
            raise HopError(hop_label(self.hops, index), None, reason, index)

    def _start_one_session(self, hop: Hop) -> None:
        """Start ``true`` on the hop through its new master, in the background, and ignore the outcome.

        sshd turns TCP_NODELAY on for a connection only when a session starts on it. Without one, each
        round trip through the hop waits about 40 ms for a delayed TCP acknowledgement. Not waited for:
        the first connection through the master need not wait for this session's round trips, and
        the session ends on its own (ssh's ConnectTimeout and the master bound it).
        """
        command = [self.runtime.ssh_executable, '-F', self.config_path, '-T', '-o', 'ControlMaster=no',
                   '-o', 'BatchMode=yes', hop.alias, 'true']
        with contextlib.suppress(OSError):
            # Python reaps it when the next subprocess starts in this process, or init after the worker exits.
            subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             start_new_session=True)

    def _forward_failure(self, index: int) -> str | None:
        """Why the previous hop could not connect to this one.

        A forward through a shared master only says that it failed; the master knows why but logs
        elsewhere. On this failure path only, ask once more without the master to learn the reason.
        """
        hop, previous = self.hops[index], self.hops[index - 1]
        command = [self.runtime.ssh_executable, '-F', self.config_path, '-o', 'ControlMaster=no',
                   '-o', 'ControlPath=none', '-W', hop.destination, previous.alias]
        try:
            result = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True,
                                    timeout=self.connect_timeout * 2 + 5, check=False)
        except subprocess.TimeoutExpired:
            return None
        for line in result.stderr.decode('utf-8', errors='replace').splitlines():
            if 'open failed: ' in line:
                return f'{previous.name} could not open a connection to it: {line.split("open failed: ", 1)[1]}'
        return None

    def _askpass_script(self) -> str:
        # Named after its content, so a changed script is never confused with an older one.
        path = os.path.join(self.runtime_dir, 'mh-askpass-' + chain_digest((), ASKPASS_SCRIPT)[:8])
        if os.path.lexists(path):
            check_private(path, 'askpass script')
        else:
            write_private_file(path, ASKPASS_SCRIPT, mode=0o700)
        return path


class OpenSSHBackend(Backend):
    """ansible.builtin.ssh's own code, run for the plugin: the route reaches it through ``_build_command``."""

    name = 'openssh'
    in_process = False

    def __init__(self, connection, builtin):
        self._connection, self._builtin = connection, builtin

    def connect(self) -> None:
        self._builtin._connect(self._connection)

    def exec(self, command: str, in_data: bytes | None, sudoable: bool) -> tuple[int, bytes, bytes]:
        return self._builtin.exec_command(self._connection, command, in_data=in_data, sudoable=sudoable)

    def put(self, in_path: str, out_path: str) -> tuple[int, bytes, bytes]:
        return self._builtin.put_file(self._connection, in_path, out_path)

    def fetch(self, in_path: str, out_path: str) -> tuple[int, bytes, bytes]:
        return self._builtin.fetch_file(self._connection, in_path, out_path)

    def reset(self) -> None:
        self._builtin.reset(self._connection)

    def close(self) -> None:
        self._builtin.close(self._connection)
