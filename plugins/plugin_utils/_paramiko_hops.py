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
import ipaddress
import logging
import os
import socket
import struct
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
from ansible_collections.jumphosts.multihop.plugins.plugin_utils._chain import (
    Hop,
    chain_digest,
    hop_label,
)
from ansible_collections.jumphosts.multihop.plugins.plugin_utils._errors import HopError
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

STAGES = ('tcp', 'banner', 'hostkey', 'auth', 'forward')
DEFAULT_TIMEOUT = 10.0
DEFAULT_IDENTITIES = ('~/.ssh/id_ed25519', '~/.ssh/id_ecdsa', '~/.ssh/id_rsa')
# Exit codes of the shell when nc itself cannot run on a netcat hop.
_NC_MISSING = (126, 127)
_CHANNEL_OPEN_FAILURES = {1: 'administratively prohibited', 2: 'connect failed', 3: 'unknown channel type',
                          4: 'resource shortage'}
_SOCKS5_REPLIES = {
    1: ('general SOCKS server failure', False), 2: ('connection not allowed by ruleset', False),
    3: ('network unreachable', True), 4: ('host unreachable', True), 5: ('connection refused', True),
    6: ('TTL expired', True), 7: ('command not supported', False), 8: ('address type not supported', False),
}


def require_paramiko() -> None:
    if paramiko is None:
        raise RuntimeError(f'jumphosts.multihop needs the Python library paramiko on the controller: '
                           f'{PARAMIKO_IMPORT_ERROR}')


# --- pure helpers -----------------------------------------------------------------------------------------

def describe_open_failure(code: int | None) -> tuple[str, bool]:
    """(text, the next element's fault) for an SSH channel-open failure code."""
    text = _CHANNEL_OPEN_FAILURES.get(code or 0, f'open failure code {code}')
    return text, code == 2


def socks5_connect_request(host: str, port: int) -> bytes:
    """A SOCKS5 CONNECT request (RFC 1928) for ``host:port``."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        name = host.encode('idna')
        if len(name) > 255:
            raise ValueError(f'host name too long for SOCKS5: {host!r}') from None
        target = b'\x03' + bytes([len(name)]) + name
    else:
        target = (b'\x01' if address.version == 4 else b'\x04') + address.packed
    return b'\x05\x01\x00' + target + struct.pack('>H', port)


def socks5_reply_length(head: bytes) -> int:
    """The whole reply's length, from its first five bytes (VER REP RSV ATYP and one more)."""
    atyp = head[3]
    if atyp == 1:
        return 4 + 4 + 2
    if atyp == 4:
        return 4 + 16 + 2
    if atyp == 3:
        return 4 + 1 + head[4] + 2
    raise ValueError(f'SOCKS5 reply with unknown address type {atyp}')


def describe_socks5_reply(code: int) -> tuple[str, bool]:
    """(text, the next element's fault) for a SOCKS5 reply code."""
    return _SOCKS5_REPLIES.get(code, (f'SOCKS5 reply code {code}', False))


def _elapsed_ms(start: float, clock: Callable[[], float]) -> float:
    return round((clock() - start) * 1000, 1)


# --- reports ----------------------------------------------------------------------------------------------

@dataclass
class HopReport:
    """What the walk learned about one element of the chain (a hop or the destination)."""

    name: str
    address: str
    type: str
    role: str = 'hop'  # 'hop' or 'target'
    stage: str | None = None
    ok: bool = False
    error: str | None = None
    latency_ms: float | None = None
    stage_ms: dict[str, float] = field(default_factory=dict)
    server_version: str | None = None
    host_key_type: str | None = None
    host_key_fingerprint: str | None = None
    # The key as a known_hosts line ("NAMES TYPE BASE64"): public, so a scan can pin it after review.
    host_key_line: str | None = None
    # True or False when the element has pinned keys (multihop_known_hosts) and its key matched them or not.
    host_key_pinned: bool | None = None
    audit: dict[str, object] | None = None
    clock: Callable[[], float] = field(default=time.monotonic, repr=False, compare=False)
    _started: float = field(default=0.0, repr=False, compare=False)

    def begin(self, stage: str) -> None:
        if stage not in STAGES:
            raise ValueError(f'unknown stage {stage!r}')
        self.stage, self.ok, self.error = stage, False, None
        self._started = self.clock()

    def passed(self, elapsed_ms: float | None = None) -> None:
        elapsed = _elapsed_ms(self._started, self.clock) if elapsed_ms is None else elapsed_ms
        self.ok = True
        self.stage_ms[self.stage] = elapsed
        if self.stage == 'tcp':
            self.latency_ms = elapsed

    def failed(self, error: str) -> None:
        self.ok, self.error = False, error

    @property
    def complete(self) -> bool:
        """Every stage this element has succeeded."""
        last = 'auth' if self.role == 'target' else 'forward'
        return self.ok and self.stage == last

    def as_dict(self) -> dict[str, object]:
        return {
            'name': self.name, 'address': self.address, 'type': self.type, 'role': self.role,
            'stage': self.stage, 'ok': self.ok, 'error': self.error, 'latency_ms': self.latency_ms,
            'stage_ms': dict(self.stage_ms), 'server_version': self.server_version,
            'host_key_type': self.host_key_type, 'host_key_fingerprint': self.host_key_fingerprint,
            'host_key_line': self.host_key_line, 'host_key_pinned': self.host_key_pinned, 'audit': self.audit,
        }


def summarize(reports: list[HopReport], target_name: str | None = None) -> dict[str, object]:
    """The host-level verdict from per-element reports (hops first, the destination last, if probed)."""
    reachable_through = []
    failed = None
    for report in reports:
        if not report.complete:
            failed = report
            break
        if report.role == 'hop':
            reachable_through.append(report.name)
    return {
        'reachable': bool(reports) and failed is None,
        'reachable_through': reachable_through,
        'failed_hop': failed.name if failed else (None if reports else target_name),
        'failed_stage': failed.stage if failed else None,
        'error': (failed.error or 'not reached') if failed else (None if reports else 'nothing to probe'),
    }


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
            raise self._fail(report, f'cannot connect to {hop.host}:{hop.effective_port}: {_os_error_text(e)}') from e
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
                raise self._fail(report, f'no SSH banner: {_paramiko_error_text(e)}') from e
            report.server_version = transport.remote_version
            report.passed()
            report.begin('hostkey')
            raise self._fail(report, f'key exchange failed: {_paramiko_error_text(e)}') from e
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
                return f'authentication as {user} failed: {_paramiko_error_text(e)}'
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
                return f'authentication as {user} failed: {_paramiko_error_text(e)}'
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
                raise self._fail(report, f'cannot run nc on {hop.name}: {_paramiko_error_text(e)}') from e
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
                raise self._fail(report, f'forward to {host}:{port}: {_paramiko_error_text(e)}') from e
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
            raise self._fail(report, f'SOCKS5 handshake failed: {_os_error_text(e)}') from e
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


def _os_error_text(error: BaseException) -> str:
    if isinstance(error, socket.timeout | TimeoutError):
        return 'timed out'
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    return str(error) or type(error).__name__


def _paramiko_error_text(error: BaseException) -> str:
    if isinstance(error, EOFError):
        return 'connection closed'
    if isinstance(error, OSError):
        return _os_error_text(error)
    text = str(error).strip()
    if paramiko is not None and isinstance(error, paramiko.ChannelException):
        text = describe_open_failure(error.code)[0]
    return text or type(error).__name__


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


def audit_bastion(transport, timeout: float = DEFAULT_TIMEOUT) -> dict[str, object]:
    """Whether an authenticated hop accepts an agent-forwarding request. It should refuse.

    The request is sent on a fresh session channel that runs nothing and is closed at once; no
    agent is attached, so even a server that accepts gets nothing to talk to.
    """
    result: dict[str, object] = {'agent_forwarding_accepted': None, 'agent_forwarding_error': None}
    try:
        channel = transport.open_session(timeout=timeout)
    except (paramiko.SSHException, OSError, EOFError) as e:
        result['agent_forwarding_error'] = f'cannot open a session: {_paramiko_error_text(e)}'
        return result
    try:
        result['agent_forwarding_accepted'] = _request_agent_forwarding(channel, timeout)
    except (paramiko.SSHException, OSError, EOFError, TimeoutError) as e:
        result['agent_forwarding_error'] = _paramiko_error_text(e)
    finally:
        with contextlib.suppress(Exception):
            channel.close()
    return result


def _request_agent_forwarding(channel, timeout: float) -> bool:
    # Channel.request_forward_agent() sends want_reply=false and installs a handler, so it can
    # neither tell the answer nor stay agent-less: send the same request with want_reply=true.
    # The success/failure bookkeeping below is paramiko's own (Channel.exec_command uses it).
    message = paramiko.Message()
    message.add_byte(paramiko.common.cMSG_CHANNEL_REQUEST)
    message.add_int(channel.remote_chanid)
    message.add_string('auth-agent-req@openssh.com')
    message.add_boolean(True)
    channel._event_pending()
    channel.transport._send_user_message(message)
    if not channel.event.wait(timeout):
        raise TimeoutError('no answer to the agent-forwarding request')
    return bool(channel.event_ready)


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
                failed.failed(f'unexpected error: {_paramiko_error_text(e)}')
        if audit:
            _audit_hops(walker, hops, settings)
    finally:
        walker.close()
    reports = walker.reports
    result = summarize(reports, target.name)
    result['hops'] = [r.as_dict() for r in reports if r.role == 'hop']
    result['target'] = next((r.as_dict() for r in reports if r.role == 'target'), None)
    return result


def _audit_hops(walker: _Walker, hops: tuple[Hop, ...], settings: WalkSettings) -> None:
    transports = iter(walker.used_transports)
    for index, hop in enumerate(hops):
        report = walker.reports[index]
        if hop.type == 'socks5':
            continue
        if not (report.stage in ('auth', 'forward') and (report.ok or report.stage == 'forward')):
            continue  # never logged in: nothing to audit
        transport = next(transports, None)
        if transport is None:
            break
        audit = audit_bastion(transport, settings.timeout)
        tcp_allowed = None
        if hop.type == 'ssh' and report.stage == 'forward':
            tcp_allowed = report.ok
        findings = []
        if audit['agent_forwarding_accepted']:
            findings.append(f'{hop.name} accepts agent forwarding: anyone with root there could use a '
                            'forwarded agent (set AllowAgentForwarding no)')
        if tcp_allowed is False:
            findings.append(f'{hop.name} denies TCP forwarding: use multihop_type netcat for it')
        audit['tcp_forwarding_allowed'] = tcp_allowed
        audit['findings'] = findings
        report.audit = audit
