# Copyright (c) 2026, jumphosts.multihop contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Walk a chain of hops with paramiko, one hop and one stage at a time.

Shared by the reachability module (``probe_chain``: reports, never raises) and the paramiko
backend (``open_chain``: raises ``HopError`` naming the hop and stage, returns a socket-like
channel to the destination).

Stages of one hop, in order:

- ``tcp``: a byte stream to the hop exists (a TCP connection for the first hop; for later hops,
  the previous hop opened its forward to this one).
- ``banner``: the server sent its SSH version and key exchange finished.
- ``hostkey``: the server's host key matches known_hosts.
- ``auth``: logged in.
- ``forward``: the hop agreed to forward to the next hop or the destination. A hop that tries
  but cannot connect onwards ("connect failed", connection refused) did its part: that is the
  next element's ``tcp`` failure.

A report's ``stage`` is the last stage reached, ``ok`` says whether it succeeded, ``error`` why not.
A socks5 hop has only ``tcp`` and ``forward``; the destination (an inventory host probed as the
last element) has no ``forward``.

Never forwards an agent, never writes known_hosts, never runs a command (the netcat hop type
runs ``nc HOST PORT`` on the hop, which is what that type means).
"""

from __future__ import annotations

import contextlib
import getpass
import logging
import os
import socket
import time
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass, field

try:
    import paramiko
except ImportError as e:  # the import sanity test runs without paramiko
    paramiko = None
    PARAMIKO_IMPORT_ERROR: ImportError | None = e
else:
    PARAMIKO_IMPORT_ERROR = None
    # Failures are reported per hop; without a handler, paramiko's transport threads would print
    # their tracebacks to stderr through logging's last-resort handler.
    logging.getLogger('paramiko').addHandler(logging.NullHandler())

from ansible_collections.jumphosts.multihop.plugins.plugin_utils import _gate as gate
from ansible_collections.jumphosts.multihop.plugins.plugin_utils._bastion_audit import audit_hops
from ansible_collections.jumphosts.multihop.plugins.plugin_utils._chain import (
    Hop,
    chain_digest,
    hop_label,
)
from ansible_collections.jumphosts.multihop.plugins.plugin_utils._errors import HopError
from ansible_collections.jumphosts.multihop.plugins.plugin_utils._hop_report import HopReport, summarize
from ansible_collections.jumphosts.multihop.plugins.plugin_utils._known_hosts import (
    HOST_KEY_ACCEPTED,
    fingerprint_sha256,
    host_key_checking_enabled,
    host_matches,
    key_type_of_blob,
    known_host_entries,
    known_hosts_names,
    preferred_host_key_types,
    verify_host_key,
)
from ansible_collections.jumphosts.multihop.plugins.plugin_utils._paramiko_errors import (
    describe_open_failure,
    error_text,
)
from ansible_collections.jumphosts.multihop.plugins.plugin_utils._settings import DEFAULT_TIMEOUT
from ansible_collections.jumphosts.multihop.plugins.plugin_utils._socks5 import (
    describe_socks5_reply,
    socks5_connect_request,
    socks5_reply_length,
)

DEFAULT_IDENTITIES = ('~/.ssh/id_ed25519', '~/.ssh/id_ecdsa', '~/.ssh/id_rsa')
# Exit codes of the shell when nc itself cannot run on a netcat hop.
_NC_MISSING = (126, 127)


def require_paramiko() -> None:
    if paramiko is None:
        raise RuntimeError(f'jumphosts.multihop needs the Python library paramiko on the controller: '
                           f'{PARAMIKO_IMPORT_ERROR}')


# --- pure helpers -----------------------------------------------------------------------------------------

class _StageFailure(Exception):
    """Internal: the walk stopped; which element (index into the reports) and why."""

    def __init__(self, index: int, reason: str):
        super().__init__(reason)
        self.index, self.reason = index, reason


# --- I/O --------------------------------------------------------------------------------------------------

def _recv_exact(sock: socket.socket, size: int) -> bytes:
    data = b''
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise EOFError('connection closed by the SOCKS5 proxy')
        data += chunk
    return data


def _tcp_connect(host: str, port: int, timeout: float) -> socket.socket:
    sock = socket.create_connection((host, port), timeout=timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def _load_private_key(path: str):
    try:
        return paramiko.PKey.from_path(os.path.expanduser(path))
    except paramiko.PasswordRequiredException as e:
        raise _KeyProblem(f'private key {path} is encrypted; load it into an ssh-agent instead') from e
    except (OSError, paramiko.SSHException, ValueError) as e:
        raise _KeyProblem(f'cannot load private key {path}: {e}') from e


class _KeyProblem(Exception):
    pass


@dataclass
class WalkSettings:
    """How hard to try. ``timeout`` bounds every single step (connect, banner, login, channel open).

    ``accept_new_host_key(hop, names, key) -> bool`` is asked only about a host that has no key at
    all in known_hosts while checking is on (never about a mismatch); True accepts the key (the
    callback records it). None, the default, rejects unknown keys.
    """

    timeout: float = DEFAULT_TIMEOUT
    allow_agent: bool = True
    default_identities: tuple[str, ...] = DEFAULT_IDENTITIES
    accept_new_host_key: Callable[[Hop, list[str], object], bool] | None = None
    clock: Callable[[], float] = time.monotonic
    hop_session: bool = False  # run ``true`` on each hop after login, so that its sshd turns TCP_NODELAY on


class _Walker:
    """One walk along one chain. Holds what it opened, so everything can be closed."""

    def __init__(self, hops: tuple[Hop, ...], settings: WalkSettings,
                 pool: MutableMapping[str, object] | None = None):
        require_paramiko()
        self.hops = hops
        self.settings = settings
        self.pool = pool
        self.transports: list[object] = []  # opened by this walk, in order
        self.used_transports: list[object] = []  # every transport on the route, pooled or not
        self.reports: list[HopReport] = []

    # -- one element -------------------------------------------------------------------------------------

    def _report(self, hop: Hop, role: str) -> HopReport:
        report = HopReport(name=hop.name, address=hop.address, type=hop.type, role=role, clock=self.settings.clock)
        self.reports.append(report)
        return report

    def _fail(self, report: HopReport, reason: str):
        report.failed(reason)
        index = next(i for i, r in enumerate(self.reports) if r is report)
        return _StageFailure(index, reason)

    def _connect_first(self, hop: Hop, report: HopReport):
        report.begin('tcp')
        try:
            sock = _tcp_connect(hop.host, hop.effective_port, self.settings.timeout)
        except OSError as e:
            raise self._fail(report, f'cannot connect to {hop.host}:{hop.effective_port}: {error_text(e)}') from e
        report.passed()
        return sock

    def _login(self, hop: Hop, sock, report: HopReport):
        """banner, hostkey, auth over ``sock``; returns the authenticated transport."""
        timeout = self.settings.timeout
        report.begin('banner')
        transport = paramiko.Transport(sock)
        self.transports.append(transport)
        transport.banner_timeout = transport.handshake_timeout = transport.auth_timeout = timeout
        known, source = known_host_entries(hop)
        names = known_hosts_names(hop)
        known_types = [key_type_of_blob(k.key_blob) or k.key_type for k in known
                       if not k.marker and any(host_matches(k.patterns, n) for n in names)]
        options = transport.get_security_options()
        options.key_types = preferred_host_key_types(known_types, options.key_types)
        try:
            transport.start_client(timeout=timeout)
        except (paramiko.SSHException, OSError, EOFError) as e:
            if not transport.remote_version:
                raise self._fail(report, f'no SSH banner: {error_text(e)}') from e
            report.server_version = transport.remote_version
            report.passed()
            report.begin('hostkey')
            raise self._fail(report, f'key exchange failed: {error_text(e)}') from e
        report.server_version = transport.remote_version
        report.passed()

        report.begin('hostkey')
        key = transport.get_remote_server_key()
        blob = key.asbytes()
        report.host_key_type = key_type_of_blob(blob)
        report.host_key_fingerprint = fingerprint_sha256(blob)
        verdict, message = verify_host_key(known, names, blob, host_key_checking_enabled(hop), source=source)
        report.host_key_line = f'{",".join(names)} {key.get_name()} {key.get_base64()}'
        report.host_key_pinned = (verdict == 'known') if hop.known_hosts else None
        accepted = verdict in HOST_KEY_ACCEPTED
        if verdict == 'unknown' and self.settings.accept_new_host_key is not None:
            # Only a host with no key at all, and only when the caller was asked to record new keys.
            accepted = bool(self.settings.accept_new_host_key(hop, names, key))
        if not accepted:
            raise self._fail(report, message)
        report.passed()

        report.begin('auth')
        error = self._authenticate(transport, hop)
        if error:
            raise self._fail(report, error)
        report.passed()
        return transport

    def _authenticate(self, transport, hop: Hop) -> str | None:
        """Log in with the hop's key file, else agent and default keys; then its password. None when in."""
        user = hop.user or getpass.getuser()
        tried: list[str] = []
        allowed: list[str] | None = None
        key_files = [hop.private_key_file] if hop.private_key_file else []
        key_files += [v for k, v in hop.options if k.lower() == 'identityfile']
        keys: list[tuple[str, object]] = []
        problems: list[str] = []
        for path in key_files:
            try:
                keys.append((path, _load_private_key(path)))
            except _KeyProblem as e:
                problems.append(str(e))
        if not key_files:
            if self.settings.allow_agent and os.environ.get('SSH_AUTH_SOCK'):
                # Keys held by the agent are used to sign here; the agent is never forwarded.
                with contextlib.suppress(paramiko.SSHException, OSError):
                    keys += [('ssh-agent key', k) for k in paramiko.Agent().get_keys()]
            for path in self.settings.default_identities:
                if os.path.exists(os.path.expanduser(path)):
                    with contextlib.suppress(_KeyProblem):
                        keys.append((path, _load_private_key(path)))
        for what, key in keys:
            if allowed is not None and 'publickey' not in allowed:
                break
            try:
                remaining = transport.auth_publickey(user, key)
            except paramiko.BadAuthenticationType as e:
                allowed = list(e.allowed_types)
                continue
            except paramiko.AuthenticationException:
                tried.append(what)
                continue
            except (paramiko.SSHException, OSError) as e:
                return f'authentication as {user} failed: {error_text(e)}'
            if transport.is_authenticated():
                return None
            return f'{user} needs further authentication ({", ".join(remaining)}), which is not supported'
        if hop.password and (allowed is None or 'password' in allowed or 'keyboard-interactive' in allowed):
            try:
                transport.auth_password(user, hop.password)
            except paramiko.BadAuthenticationType as e:
                allowed = list(e.allowed_types)
            except paramiko.AuthenticationException:
                tried.append('password')
            except (paramiko.SSHException, OSError) as e:
                return f'authentication as {user} failed: {error_text(e)}'
            if transport.is_authenticated():
                return None
        detail = '; '.join(problems)
        if not tried and not keys and not hop.password:
            return f'no key, agent or password to log in as {user}' + (f' ({detail})' if detail else '')
        what = ', '.join(tried) if tried else 'nothing'
        allowed_text = f'; the server accepts {", ".join(allowed)}' if allowed else ''
        return f'permission denied for {user} (tried {what}){allowed_text}' + (f'; {detail}' if detail else '')

    def _forward(self, hop: Hop, transport, destination: tuple[str, int], report: HopReport,
                 next_report: HopReport | None):
        """Ask ``hop`` for a stream to ``destination``: direct-tcpip, or ``nc`` on a netcat hop."""
        report.begin('forward')
        host, port = destination
        timeout = self.settings.timeout
        if hop.type == 'netcat':
            try:
                channel = transport.open_session(timeout=timeout)
                channel.settimeout(timeout)
                channel.exec_command(gate.shell_command(['nc', host, str(int(port))]))
            except (paramiko.SSHException, OSError, EOFError) as e:
                raise self._fail(report, f'cannot run nc on {hop.name}: {error_text(e)}') from e
        else:
            reasons: list[str] = []
            try:
                with _server_reasons(transport, reasons):
                    channel = transport.open_channel('direct-tcpip', (host, port), ('127.0.0.1', 0),
                                                     timeout=timeout)
            except paramiko.ChannelException as e:
                text, onward = describe_open_failure(e.code)
                if reasons:  # the hop's own words, such as "Connection refused"
                    text = f'{text} ({reasons[-1]})'
                if onward and next_report is not None:
                    report.passed()
                    next_report.begin('tcp')
                    raise self._fail(next_report, f'{hop.name} could not connect to {host}:{port}: {text}') from e
                raise self._fail(report, f'{hop.name} refused to forward to {host}:{port}: {text}') from e
            except (paramiko.SSHException, OSError, EOFError) as e:
                raise self._fail(report, f'forward to {host}:{port}: {error_text(e)}') from e
        report.passed()
        return channel

    def _socks5(self, hop: Hop, sock, destination: tuple[str, int], report: HopReport,
                next_report: HopReport | None):
        report.begin('forward')
        host, port = destination
        try:
            sock.sendall(b'\x05\x01\x00')  # version 5, one method: no authentication
            greeting = _recv_exact(sock, 2)
            if greeting[0] != 5 or greeting[1] != 0:
                raise self._fail(report, 'the SOCKS5 proxy requires authentication, which is not supported')
            sock.sendall(socks5_connect_request(host, port))
            head = _recv_exact(sock, 5)
            _recv_exact(sock, socks5_reply_length(head) - 5)
        except (OSError, EOFError, ValueError) as e:
            raise self._fail(report, f'SOCKS5 handshake failed: {error_text(e)}') from e
        if head[1] != 0:
            text, onward = describe_socks5_reply(head[1])
            if onward and next_report is not None:
                report.passed()
                next_report.begin('tcp')
                raise self._fail(next_report, f'{hop.name} could not connect to {host}:{port}: {text}')
            raise self._fail(report, f'{hop.name} refused to connect to {host}:{port}: {text}')
        report.passed()
        return sock

    # -- the chain ---------------------------------------------------------------------------------------

    def walk(self, destination: tuple[str, int], target: Hop | None = None):
        """Open every hop and the stream to ``destination``; with ``target``, also log in to it.

        Returns (stream to the destination, target transport or None). Raises _StageFailure.
        """
        elements = [(hop, 'hop') for hop in self.hops] + ([(target, 'target')] if target else [])
        reports = [self._report(hop, role) for hop, role in elements]
        stream = None
        for index, hop in enumerate(self.hops):
            report = reports[index]
            next_report = reports[index + 1] if index + 1 < len(reports) else None
            onward = (self.hops[index + 1].host, self.hops[index + 1].effective_port) if index + 1 < len(self.hops) \
                else destination
            pooled = self._pooled(index)
            if pooled is not None:
                transport = pooled
                for stage in ('tcp', 'banner', 'hostkey', 'auth'):
                    report.begin(stage)
                    report.passed(0.0)
            elif index == 0:
                stream = self._connect_first(hop, report)
                if hop.type == 'socks5':
                    stream = self._socks5(hop, stream, onward, report, next_report)
                    self._pass_tcp(next_report, report)
                    continue
                transport = self._login_then_pool(hop, stream, report, index)
            else:
                transport = self._login_then_pool(hop, stream, report, index)
            self.used_transports.append(transport)
            stream = self._forward(hop, transport, onward, report, next_report)
            self._pass_tcp(next_report, report)
            if hop.type == 'netcat':
                stream = _NetcatStream(stream, self, index)
        if target is None:
            return stream, None
        report = reports[-1]
        if stream is None:
            stream = self._connect_first(target, report)
        try:
            transport = self._login(target, stream, report)
        except _StageFailure as failure:
            self._blame_netcat(stream, failure)
            raise
        return stream, transport

    def _login_then_pool(self, hop: Hop, stream, report: HopReport, index: int):
        try:
            transport = self._login(hop, stream, report)
        except _StageFailure as failure:
            self._blame_netcat(stream, failure)
            raise
        if self.settings.hop_session:
            self._start_one_session(transport)
        if self.pool is not None:
            self.pool[chain_digest(self.hops[:index + 1])] = transport
        return transport

    def _start_one_session(self, transport) -> None:
        """sshd turns TCP_NODELAY on only when a session starts; without one each round trip waits ~40 ms."""
        with contextlib.suppress(paramiko.SSHException, OSError, EOFError):
            channel = transport.open_session(timeout=self.settings.timeout)
            try:
                channel.exec_command('true')  # returns once sshd has answered, which is when it sets the option
            finally:
                channel.close()

    def _pooled(self, index: int):
        if self.pool is None:
            return None
        transport = self.pool.get(chain_digest(self.hops[:index + 1]))
        if transport is not None and transport.is_active() and transport.is_authenticated():
            return transport
        return None

    @staticmethod
    def _pass_tcp(next_report: HopReport | None, report: HopReport) -> None:
        if next_report is not None:
            next_report.begin('tcp')
            next_report.passed(report.stage_ms.get('forward', 0.0))

    def _blame_netcat(self, stream, failure: _StageFailure) -> None:
        """nc reports its own failure only by exiting: if it did, blame the right element."""
        if not isinstance(stream, _NetcatStream) or self.reports[failure.index].stage != 'banner':
            return
        channel = stream.channel
        deadline = self.settings.clock() + 2
        while not channel.exit_status_ready() and self.settings.clock() < deadline:
            time.sleep(0.05)
        if not channel.exit_status_ready():
            return
        status = channel.recv_exit_status()
        errors = b''
        with contextlib.suppress(OSError, paramiko.SSHException):
            while channel.recv_stderr_ready():
                errors += channel.recv_stderr(4096)
        text = errors.decode('utf-8', errors='replace').strip() or \
            f'nc exited with status {status} (connection refused, or no route)'
        hop_report, element = self.reports[stream.index], self.reports[failure.index]
        if status in _NC_MISSING:
            hop_report.begin('forward')
            hop_report.failed(f'cannot run nc on {hop_report.name}: {text}')
            element.stage, element.ok, element.error = None, False, None
            failure.index, failure.reason = stream.index, hop_report.error
        else:
            element.begin('tcp')
            element.failed(f'{hop_report.name} could not connect: {text}')
            failure.reason = element.error

    def close(self) -> None:
        pooled = set(id(t) for t in (self.pool or {}).values())
        for transport in reversed(self.transports):
            if id(transport) not in pooled:
                with contextlib.suppress(Exception):
                    transport.close()


class _NetcatStream:
    """The exec channel running nc, used as the socket of the next transport; remembers its hop."""

    def __init__(self, channel, walker: _Walker, index: int):
        self.channel, self.walker, self.index = channel, walker, index

    def __getattr__(self, name):
        return getattr(self.channel, name)


@contextlib.contextmanager
def _server_reasons(transport, reasons: list[str]):
    """Collects into ``reasons`` the reasons the server gives for refusing channels meanwhile.

    paramiko's ChannelException carries only the code's generic text; the server's own reason is in
    the transport's log record alone ("Secsh channel N open FAILED: REASON: TEXT"), so read it there.
    """

    def catch(record: logging.LogRecord) -> bool:
        with contextlib.suppress(Exception):
            message = record.getMessage()
            if ' open FAILED: ' in message:
                reason = message.split(' open FAILED: ', 1)[1].rsplit(': ', 1)[0].strip()
                if reason:
                    reasons.append(reason)
        return True

    logger = getattr(transport, 'logger', None)
    if logger is None:
        yield
        return
    logger.addFilter(catch)
    try:
        yield
    finally:
        logger.removeFilter(catch)


# --- entry points -----------------------------------------------------------------------------------------

@dataclass
class OpenedChain:
    """A stream to the destination through every hop.

    ``channel`` is socket-like (``send``/``recv``/``settimeout``/``close``): hand it to
    ``paramiko.Transport`` or ``SSHClient.connect(sock=...)``. ``transports`` are the hops'
    authenticated transports, in order; ``target_transport`` is the destination's, when ``open_chain``
    was given a ``target`` (it is closed by ``close()`` too). Transports kept in the ``pool`` given to ``open_chain``
    belong to the pool; ``close()`` closes the channel and every transport the pool does not hold.
    """

    channel: object
    transports: list[object]
    reports: list[HopReport]
    _walker: _Walker = field(repr=False)
    target_transport: object | None = None

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.channel.close()
        self._walker.close()

    def __enter__(self) -> OpenedChain:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


def open_chain(hops: tuple[Hop, ...], destination: tuple[str, int], *, settings: WalkSettings | None = None,
               pool: MutableMapping[str, object] | None = None, target: Hop | None = None) -> OpenedChain:
    """Open a stream to ``destination`` through ``hops``; raise ``HopError`` naming the hop and stage.

    ``pool``: optional mapping ``chain_digest(hops[:i + 1]) -> Transport``; live authenticated
    transports found there are reused, new ones are stored there (and owned by the caller).
    ``target``: also log in to the destination as this Hop (banner, hostkey, auth), giving
    ``OpenedChain.target_transport``. ``hops`` may be empty only with a ``target`` (a direct login).
    """
    if not hops and target is None:
        raise ValueError('open_chain needs at least one hop or a target')
    walker = _Walker(hops, settings or WalkSettings(), pool)
    try:
        channel, target_transport = walker.walk(destination, target)
    except _StageFailure as failure:
        walker.close()
        report = walker.reports[failure.index]
        if failure.index < len(hops):
            label = hop_label(hops, failure.index)
        else:
            name = target.name if target is not None else 'destination'
            label = f'target {name} {destination[0]}:{destination[1]}'
        raise HopError(label, report.stage, failure.reason, failure.index) from failure
    except BaseException:
        walker.close()
        raise
    channel = channel.channel if isinstance(channel, _NetcatStream) else channel
    return OpenedChain(channel, list(walker.used_transports), walker.reports, walker, target_transport)


def probe_chain(hops: tuple[Hop, ...], target: Hop, *, settings: WalkSettings | None = None,
                audit: bool = True) -> dict[str, object]:
    """Walk to ``target`` (an inventory host, as ``ResolvedHost.endpoint``) and report; never raises for
    network trouble.

    Returns ``reachable``, ``reachable_through`` (hop names), ``failed_hop`` (a hop's or the target's
    name, or None), ``failed_stage``, ``error``, ``hops`` (a report dict per hop) and ``target``
    (the target's report dict).
    With ``audit``, each authenticated ssh/netcat hop gets ``audit``: ``agent_forwarding_accepted``
    and ``tcp_forwarding_allowed`` (None when not learnt) plus ``findings`` (text).
    """
    settings = settings or WalkSettings()
    walker = _Walker(hops, settings)
    try:
        try:
            walker.walk((target.host, target.effective_port), target)
        except _StageFailure:
            pass
        except Exception as e:  # report, never raise: a probe must not take the play down
            failed = next((r for r in walker.reports if r.stage and not r.ok), None) \
                or next((r for r in walker.reports if not r.complete), None)
            if failed is not None:
                failed.failed(f'unexpected error: {error_text(e)}')
        if audit:
            audit_hops(hops, walker.reports, walker.used_transports, settings.timeout)
    finally:
        walker.close()
    reports = walker.reports
    result = summarize(reports, target.name)
    result['hops'] = [r.as_dict() for r in reports if r.role == 'hop']
    result['target'] = next((r.as_dict() for r in reports if r.role == 'target'), None)
    return result
