# Copyright (c) 2026, jumphosts.multihop contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The paramiko backend of jumphosts.multihop.ssh: the target side, for controllers without an OpenSSH client.

The route (every hop, and the login to the target with its host-key check) is opened by
``_paramiko_hops.open_chain``, the hop walker shared with the reachability module. This module keeps
what it opened for the rest of the worker process, and runs the session over the target's transport:
commands (pipelining, become with a password prompt), file copies (SFTP, or ``dd`` on the command
channel when the transfer method is ``piped``), reset and close.

Every failure leaves here as an Ansible error, mapped in one place (``_ansible_errors``): a hop or
the target that cannot be reached or refuses the login is UNREACHABLE and named.
"""

from __future__ import annotations

import contextlib
import errno
import os
import random
import shlex
import time
from collections.abc import Callable, Iterator

try:
    import paramiko
except ImportError:  # the import sanity test runs without paramiko; require_paramiko() says so at use
    paramiko = None

from ansible.errors import AnsibleConnectionFailure, AnsibleError, AnsibleFileNotFound
from ansible.module_utils.common.text.converters import to_bytes, to_text

from ansible_collections.jumphosts.multihop.plugins.plugin_utils import _hop_keywords as hop_keywords
from ansible_collections.jumphosts.multihop.plugins.plugin_utils._backend import Backend
from ansible_collections.jumphosts.multihop.plugins.plugin_utils._chain import Hop, chain_digest, endpoint_hop
from ansible_collections.jumphosts.multihop.plugins.plugin_utils._errors import HopError, MultihopError
from ansible_collections.jumphosts.multihop.plugins.plugin_utils._known_hosts import hop_option, record_host_key
from ansible_collections.jumphosts.multihop.plugins.plugin_utils._paramiko_hops import (
    WalkSettings,
    open_chain,
    require_paramiko,
)
from ansible_collections.jumphosts.multihop.plugins.plugin_utils._paramiko_pool import (
    POOL,
    SessionPool,
    close_transport,
)
from ansible_collections.jumphosts.multihop.plugins.plugin_utils._paramiko_run import (
    BUFSIZE,
    BecomeError,
    BecomeTimeout,
    BecomeWatcher,
    run_command,
    use_pty,
)
from ansible_collections.jumphosts.multihop.plugins.plugin_utils._paramiko_shared import (
    can_share,
    persist_seconds,
    shared_hop,
)
from ansible_collections.jumphosts.multihop.plugins.plugin_utils._settings import BackendSettings
from ansible_collections.jumphosts.multihop.plugins.plugin_utils._ssh_args import ssh_arg_options, target_arg_tokens

# An sshd over its MaxStartups drops new connections before its banner: forks that log in at the same moment
# meet that, so a walk that fails at an element's banner is tried again, after a random pause, this many times.
BANNER_RETRIES = 5
# ssh_config keywords in the target's ssh arguments that this backend honours; the others are the OpenSSH
# client's business (ControlMaster, ProxyCommand, -C, ...) and are ignored here.
TARGET_OPTIONS = {k.lower(): k for k in (
    'UserKnownHostsFile', 'GlobalKnownHostsFile', 'StrictHostKeyChecking', 'HostKeyAlias', 'IdentityFile',
)}
NO_SFTP = ('{label}: cannot copy {path}: the target has no SFTP subsystem ({reason}). The paramiko backend '
           'copies files over SFTP: enable "Subsystem sftp" in the target\'s sshd_config, or set '
           'ansible_ssh_transfer_method: piped to copy with dd over the command channel.')


class TransferError(Exception):
    """A copy failed; the message says what and why."""


# --- pure parts -------------------------------------------------------------------------------------------

def target_ssh_options(*arg_strings: str | None) -> tuple[tuple[str, str], ...]:
    """The ``-o Key=Value`` and ``-i FILE`` settings of the target's ssh arguments that this backend honours.

    The target's arguments are the builtin plugin's ``ssh_args``, ``ssh_common_args`` and ``ssh_extra_args``,
    written for the OpenSSH client: what paramiko has no use for is ignored, not refused.
    """
    options: list[tuple[str, str]] = []
    for key, value in ssh_arg_options(target_arg_tokens(*arg_strings)):
        if key and key.lower() in TARGET_OPTIONS and value:
            options.append((TARGET_OPTIONS[key.lower()], value))
    return tuple(options)


def target_hop(name: str, host: str, port: int | None, user: str | None, *, private_key_file: str | None = None,
               password: str | None = None, ssh_args: tuple[str | None, ...] = (),
               host_key_checking: bool = True, known_hosts: object = None) -> Hop:
    """The target as the hop walker sees it: the last element of the chain, checked by the same gate as hops.

    Its values reach the plugin templated, so a rejected one is never shown (it may have come from a template).
    """
    options = tuple(hop_keywords.check_option(key, value, f'host {name}', reveal=False)
                    for key, value in target_ssh_options(*ssh_args))
    return endpoint_hop(name, host, port, user, private_key_file=private_key_file, password=password,
                        options=options, host_key_checking=None if host_key_checking else False,
                        known_hosts=known_hosts, reveal=False)


def wants_new_host_keys(hop: Hop, accept_new: bool) -> bool:
    """Whether an unknown host key of ``hop`` may be recorded: the user asked, with the option or accept-new."""
    if hop.disables_host_key_checking or hop.known_hosts:
        return False  # nothing verified, nothing recorded; pinned keys are never extended
    strict = (hop_option(hop, 'StrictHostKeyChecking') or '').lower()
    return accept_new or strict == 'accept-new'


def should_retry(stage: str | None, attempt: int, reconnection_retries: int) -> bool:
    """Whether a walk that failed at ``stage`` on try ``attempt`` (from 1) is tried again.

    A dropped connection before the banner is retried ``BANNER_RETRIES`` times; any failure to connect
    (``tcp`` or ``banner``) as often as the builtin option ``reconnection_retries`` says. Host keys and
    logins are never retried.
    """
    if stage == 'banner':
        return attempt <= max(BANNER_RETRIES, reconnection_retries)
    return stage == 'tcp' and attempt <= reconnection_retries


def retry_pause(attempt: int, rand: Callable[[float, float], float] = random.uniform) -> float:
    """Seconds to wait before try ``attempt + 1``: growing, capped at 5, and random so that forks spread out."""
    return min(5.0, rand(0.25, 1.0) * 2 ** (attempt - 1))


def transfer_method(option: str | None) -> str:
    """``sftp`` or ``piped``. paramiko speaks no scp: ``scp`` and ``smart`` copy over SFTP, as OpenSSH 9's scp does."""
    return 'piped' if option == 'piped' else 'sftp'


# --- I/O --------------------------------------------------------------------------------------------------

class TargetSession:
    """The route to one target and the login to it, as opened by ``open_chain``."""

    def __init__(self, chain, transport, label: str):
        self.chain, self.transport, self.label = chain, transport, label
        self._sftp = None

    def alive(self) -> bool:
        return bool(self.transport.is_active() and self.transport.is_authenticated())

    def sftp(self, path: str):
        if self._sftp is None:
            try:
                self._sftp = self.transport.open_sftp_client()
            except (paramiko.SSHException, EOFError) as e:
                raise TransferError(NO_SFTP.format(label=self.label, path=path, reason=str(e) or 'refused')) from e
        return self._sftp

    def close(self) -> None:
        if self._sftp is not None:
            with contextlib.suppress(Exception):
                self._sftp.close()
        close_transport(self.transport)  # the target first: its goodbye travels through the hops
        with contextlib.suppress(Exception):
            self.chain.close()


@contextlib.contextmanager
def _ansible_errors(label: str) -> Iterator[None]:
    """The one place where the backend's failures become Ansible errors."""
    try:
        yield
    except (AnsibleError, HopError):
        raise  # a HopError is the connection plugin's to map, as it is for the OpenSSH backend
    except BecomeTimeout as e:  # unreachable, as on the builtin's code (the OpenSSH backend)
        raise AnsibleConnectionFailure(str(e)) from None
    except BecomeError as e:
        raise AnsibleError(str(e)) from None
    except TransferError as e:
        raise AnsibleError(f'jumphosts.multihop: {e}') from None
    except FileNotFoundError as e:
        raise AnsibleFileNotFound(f'jumphosts.multihop: {label}: {e.filename}: no such file') from e
    except (OSError, EOFError) as e:
        reason = getattr(e, 'strerror', None) or str(e) or 'the connection closed'
        raise AnsibleConnectionFailure(f'jumphosts.multihop: {label}: {reason}') from e
    except Exception as e:
        if paramiko is not None and isinstance(e, paramiko.SSHException):
            raise AnsibleConnectionFailure(f'jumphosts.multihop: {label}: {e}') from e
        raise


class ParamikoBackend(Backend):
    """connect / exec / put / fetch / reset / close for one target, through its hops, with paramiko."""

    name = 'paramiko'
    in_process = True

    def __init__(self, hops: tuple[Hop, ...], target: Hop, settings: BackendSettings, connection=None,
                 pool: SessionPool = POOL):
        require_paramiko()
        # The plugin: its become plugin and its use_tty and ssh_transfer_method options, read per call.
        self.connection = connection
        self.hops, self.target, self.pool = hops, target, pool
        self.timeout, self.keepalive = settings.timeout, settings.keepalive
        self.accept_new_host_keys = settings.accept_new_host_keys
        self.reconnection_retries = settings.reconnection_retries
        self.tcp_nodelay = settings.tcp_nodelay
        self.label = f'target {target.name} {target.address}'
        self.key = chain_digest(hops + (target,), 'paramiko')
        self._hop_keys = tuple(chain_digest(hops[:i + 1]) for i, hop in enumerate(hops) if hop.type != 'socks5')
        self.shared = None
        if settings.share_hops and can_share(hops):
            try:  # refused here, with the option named, rather than in the hop process
                persist_seconds(settings.control_persist)
            except MultihopError as e:
                raise AnsibleError(f'jumphosts.multihop: {e}') from None
            self.shared = {'timeout': self.timeout, 'keepalive': self.keepalive, 'tcp_nodelay': self.tcp_nodelay,
                           'accept_new_host_keys': self.accept_new_host_keys,
                           'control_persist': settings.control_persist, 'control_dir': settings.control_dir}

    def _accept_new(self, hop: Hop, names: list[str], key) -> bool:
        return wants_new_host_keys(hop, self.accept_new_host_keys) and record_host_key(hop, names, key)

    def _session(self) -> TargetSession:
        session = self.pool.get(self.key)
        if session is None:
            chain = self._open_chain()
            for transport in [*chain.transports, chain.target_transport]:
                transport.set_keepalive(self.keepalive)
            session = TargetSession(chain, chain.target_transport, self.label)
            self.pool.add(self.key, session, self._hop_keys)
        return session

    def _open_chain(self):
        settings = WalkSettings(timeout=self.timeout, accept_new_host_key=self._accept_new,
                                hop_session=self.tcp_nodelay)
        attempt = 1
        while True:
            if self.shared is not None:  # the walk reuses the last hop, held by its hop process
                self.pool.hops[self._hop_keys[-1]] = shared_hop(self.hops, self.shared)
            try:
                return open_chain(self.hops, (self.target.host, self.target.effective_port), settings=settings,
                                  pool=self.pool.hops, target=self.target)
            except HopError as e:
                if not should_retry(e.stage, attempt, self.reconnection_retries):
                    raise
                time.sleep(retry_pause(attempt))
                attempt += 1

    def connect(self) -> None:
        with _ansible_errors(self.label):
            self._session()

    def exec(self, command: str, in_data: bytes | None, sudoable: bool) -> tuple[int, bytes, bytes]:
        become = self.connection.become
        watcher = BecomeWatcher(become, sudoable)
        password = None
        if not watcher.ready and become.expect_prompt():
            password = become.get_option('become_pass', playcontext=self.connection._play_context)
        pty = use_pty(in_data, sudoable, self.connection.get_option('use_tty'))
        return self.run(command, in_data, pty=pty, watcher=watcher, become_password=password)

    def run(self, command: str, in_data: bytes | None, *, pty: bool, watcher: BecomeWatcher,
            become_password: str | None) -> tuple[int, bytes, bytes]:
        """Run ``command`` with the become handling already decided."""
        with _ansible_errors(self.label):
            return run_command(self._session().transport, command, in_data, pty=pty, watcher=watcher,
                               become_password=become_password, timeout=self.timeout)

    def _transfer_method(self) -> str:
        return transfer_method(self.connection.get_option('ssh_transfer_method'))

    def put(self, in_path: str, out_path: str) -> tuple[int, bytes, bytes]:
        with _ansible_errors(self.label):
            if not os.path.exists(to_bytes(in_path, errors='surrogate_or_strict')):
                raise AnsibleFileNotFound(f'file or module does not exist: {to_text(in_path)}')
            if self._transfer_method() == 'piped':
                with open(in_path, 'rb') as source:
                    data = source.read()
                self._piped(f'dd of={shlex.quote(out_path)} bs={BUFSIZE}', data, out_path)
                return 0, b'', b''
            try:
                self._session().sftp(out_path).put(in_path, out_path)
            except OSError as e:
                raise TransferError(f'{self.label}: cannot copy to {out_path}: {e.strerror or e}') from e
        return 0, b'', b''

    def fetch(self, in_path: str, out_path: str) -> tuple[int, bytes, bytes]:
        with _ansible_errors(self.label):
            if self._transfer_method() == 'piped':
                data = self._piped(f'dd if={shlex.quote(in_path)} bs={BUFSIZE}', None, in_path)
                with open(out_path, 'wb') as target:
                    target.write(data)
                return 0, b'', b''
            try:
                self._session().sftp(in_path).get(in_path, out_path)
            except OSError as e:
                if e.errno == errno.ENOENT:
                    raise AnsibleFileNotFound(f'jumphosts.multihop: {self.label}: {in_path} does not exist') from e
                raise TransferError(f'{self.label}: cannot fetch {in_path}: {e.strerror or e}') from e
        return 0, b'', b''

    def _piped(self, command: str, data: bytes | None, path: str) -> bytes:
        rc, out, err = run_command(self._session().transport, command, data, pty=False,
                                   watcher=BecomeWatcher(None, False), become_password=None, timeout=self.timeout)
        if rc != 0:
            raise TransferError(f'{self.label}: dd could not copy {path}: {to_text(err).strip() or f"status {rc}"}')
        return out

    def reset(self) -> None:
        self.pool.release(self.key, self._hop_keys)

    def close(self) -> None:
        self.pool.release(self.key, self._hop_keys)
