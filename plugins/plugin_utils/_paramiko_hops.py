# Copyright (c) 2026, jumphosts.multihop contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The paramiko hop walker: open a chain of hops one element and one stage at a time (stages: ``_stages.py``).

``HopWalk`` raises ``HopError`` naming the element and the stage at the first stage that fails. A
``WalkObserver`` only watches the walk: the reachability probe (``_probe.py``) builds its reports from what it
sees; the paramiko backend (``_paramiko_session.py``) watches nothing and takes ``open_chain``'s stream.

Never forwards an agent, never writes known_hosts itself (only ``accept_new_host_key`` may), never runs a
command (the netcat hop type runs ``nc HOST PORT`` on the hop, which is what that type means).
"""

from __future__ import annotations

import contextlib
import logging
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

from ansible_collections.jumphosts.multihop.plugins.plugin_utils import _paramiko_stages as stages
from ansible_collections.jumphosts.multihop.plugins.plugin_utils._chain import Hop, chain_digest, hop_label
from ansible_collections.jumphosts.multihop.plugins.plugin_utils._errors import HopError
from ansible_collections.jumphosts.multihop.plugins.plugin_utils._known_hosts import (
    known_host_entries,
    known_hosts_names,
)
from ansible_collections.jumphosts.multihop.plugins.plugin_utils._paramiko_auth import DEFAULT_IDENTITIES, authenticate
from ansible_collections.jumphosts.multihop.plugins.plugin_utils._paramiko_errors import error_text
from ansible_collections.jumphosts.multihop.plugins.plugin_utils._paramiko_stages import OnwardFailed, StageFailed
from ansible_collections.jumphosts.multihop.plugins.plugin_utils._settings import DEFAULT_TIMEOUT
from ansible_collections.jumphosts.multihop.plugins.plugin_utils._stages import ms_since


def require_paramiko() -> None:
    if paramiko is None:
        raise RuntimeError(f'jumphosts.multihop needs the Python library paramiko on the controller: '
                           f'{PARAMIKO_IMPORT_ERROR}')


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


class WalkObserver:
    """Watches a walk and never changes it; this one sees nothing. Elements count from 0: the hops, then the target."""

    def started(self, index: int, stage: str) -> None:
        """The walk begins ``stage`` on element ``index``."""

    def passed(self, index: int, stage: str, elapsed_ms: float) -> None:
        """``stage`` succeeded. A hop's ``forward`` is the next element's ``tcp``: both take the same time."""

    def failed(self, index: int, stage: str, reason: str) -> None:
        """``stage`` failed; the walk stops and raises ``HopError`` with the same index, stage and reason."""

    def reused(self, index: int) -> None:
        """Hop ``index`` is taken from the pool, with the route to it: this walk runs none of its stages, but
        the last reused hop's ``forward``."""

    def learned(self, index: int, **facts: object) -> None:
        """What a server showed: ``server_version``, or ``host_key_type``, ``host_key_fingerprint``,
        ``host_key_line`` (its known_hosts line) and ``host_key_pinned`` (None when it has no pinned keys)."""


@dataclass
class _Timing:
    elapsed_ms: float = 0.0


class HopWalk:
    """One walk along one chain to ``destination``; with ``target``, also the login to it. Keeps what it opened.

    ``pool``: optional mapping ``chain_digest(hops[:i + 1]) -> Transport``; live authenticated transports found
    there are reused, new ones are stored there and belong to the pool. ``connect_tcp(host, port, timeout)``
    and ``new_transport(sock)`` are the seam to the network, faked by the unit tests.
    """

    def __init__(self, hops: tuple[Hop, ...], destination: tuple[str, int], *, target: Hop | None = None,
                 settings: WalkSettings | None = None, pool: MutableMapping[str, object] | None = None,
                 observer: WalkObserver | None = None,
                 connect_tcp: Callable[[str, int, float], object] = stages.tcp_connect,
                 new_transport: Callable[[object], object] | None = None):
        require_paramiko()
        self.hops, self.destination, self.target = hops, destination, target
        self.elements = hops + ((target,) if target is not None else ())
        self.labels = [hop_label(hops, i) for i in range(len(hops))]
        if target is not None:
            self.labels.append(f'target {target.name} {destination[0]}:{destination[1]}')
        # Where each hop forwards to (the next hop, or the destination), and its transport's key in the pool.
        self.onward = [(hop.host, hop.effective_port) for hop in hops[1:]] + [destination]
        self.pool_keys = [chain_digest(hops[:i + 1]) for i in range(len(hops))]
        self.settings = settings or WalkSettings()
        self.pool, self.observer = pool, observer or WalkObserver()
        self._connect_tcp, self._new_transport = connect_tcp, new_transport or paramiko.Transport
        self.logged_in: dict[int, object] = {}  # hop index -> its authenticated transport, pooled or not
        self.target_transport = None
        self._opened: list[object] = []  # transports this walk created, in order

    def run(self):
        """Open every hop and the stream to the destination, then log in to the target if there is one.

        Returns the stream (socket-like). Raises ``HopError`` at the first stage that fails.
        """
        reused = self._reuse_pooled()
        stream = self._forward(reused - 1, self.logged_in[reused - 1]) if reused else None
        for index in range(reused, len(self.hops)):
            if stream is None:
                stream = self._connect(index)
            if self.hops[index].type == 'socks5':
                stream = self._forward(index, stream)
                continue
            transport = self._login(index, stream)
            self._keep(index, transport)
            self.logged_in[index] = transport
            stream = self._forward(index, transport)
        if self.target is not None:
            if stream is None:
                stream = self._connect(len(self.hops))
            self.target_transport = self._login(len(self.hops), stream)
        return stream

    def close(self) -> None:
        """Close every transport this walk created that the pool does not hold."""
        pooled = {id(t) for t in (self.pool or {}).values()}
        for transport in reversed(self._opened):
            if id(transport) not in pooled:
                with contextlib.suppress(Exception):
                    transport.close()

    # -- stages ------------------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _stage(self, index: int, stage: str, elapsed_ms: float | None = None):
        self.observer.started(index, stage)
        started = self.settings.clock()
        timing = _Timing()
        try:
            yield timing
        except StageFailed as failure:
            self.observer.failed(index, stage, failure.reason)
            raise HopError(self.labels[index], stage, failure.reason, index) from failure
        if elapsed_ms is None:
            elapsed_ms = ms_since(started, self.settings.clock)
        timing.elapsed_ms = elapsed_ms
        self.observer.passed(index, stage, elapsed_ms)

    @contextlib.contextmanager
    def _forward_stage(self, index: int):
        """A hop's forward and the next element's tcp: both pass, or the hop's passes and the next's fails."""
        onward_failure = None
        with self._stage(index, 'forward') as timing:
            try:
                yield
            except OnwardFailed as failure:
                onward_failure = failure
        if self._has_next(index):  # an onward failure is raised only when there is a next element to blame
            with self._stage(index + 1, 'tcp', timing.elapsed_ms):
                if onward_failure is not None:
                    raise onward_failure

    def _has_next(self, index: int) -> bool:
        return index + 1 < len(self.elements)

    def _connect(self, index: int):
        with self._stage(index, 'tcp'):
            return stages.connect(self.elements[index], self.settings.timeout, self._connect_tcp)

    def _login(self, index: int, sock):
        """banner, hostkey and auth over ``sock``; returns the authenticated transport."""
        hop, timeout = self.elements[index], self.settings.timeout
        transport = self._new_transport(sock)
        self._opened.append(transport)
        transport.banner_timeout = transport.handshake_timeout = transport.auth_timeout = timeout
        known, source = known_host_entries(hop)
        names = known_hosts_names(hop)
        stages.prefer_known_key_types(transport, known, names)
        with self._stage(index, 'banner'):
            key_exchange_error = stages.start_client(transport, timeout)
            self.observer.learned(index, server_version=transport.remote_version)
        with self._stage(index, 'hostkey'):
            if key_exchange_error is not None:
                raise StageFailed(f'key exchange failed: {error_text(key_exchange_error)}') from key_exchange_error
            facts, refusal = stages.check_host_key(hop, transport.get_remote_server_key(), known, source, names,
                                                   self.settings.accept_new_host_key)
            self.observer.learned(index, **facts)
            if refusal:
                raise StageFailed(refusal)
        with self._stage(index, 'auth'):
            reason = authenticate(transport, hop, allow_agent=self.settings.allow_agent,
                                  default_identities=self.settings.default_identities)
            if reason:
                raise StageFailed(reason)
        return transport

    def _forward(self, index: int, via):
        """A stream onwards from hop ``index`` (``via``: its transport, or for socks5 its socket)."""
        hop, timeout, blame_next = self.hops[index], self.settings.timeout, self._has_next(index)
        host, port = self.onward[index]
        with self._forward_stage(index):
            if hasattr(via, 'multihop_forward'):  # a hop held by its hop process (_paramiko_shared.py)
                return via.multihop_forward(host, port, timeout, blame_next=blame_next)
            if hop.type == 'socks5':
                return stages.socks5(hop, via, host, port, blame_next=blame_next)
            if hop.type == 'netcat':
                return stages.netcat(hop, via, host, port, timeout, blame_next=blame_next, clock=self.settings.clock)
            return stages.direct_tcpip(hop, via, host, port, timeout, blame_next=blame_next)

    # -- the pool ----------------------------------------------------------------------------------------

    def _reuse_pooled(self) -> int:
        """How many hops, from the first, the walk takes from the pool: up to the last one live there, whose
        route they carry. The walk goes on from its forward."""
        live = {index: transport for index, key in enumerate(self.pool_keys)
                if (transport := live_transport(self.pool, key)) is not None}
        reused = max(live) + 1 if live else 0
        for index in range(reused):
            self.observer.reused(index)
        self.logged_in.update(live)  # a socks5 hop has no transport
        return reused

    def _keep(self, index: int, transport) -> None:
        if self.settings.hop_session:
            stages.start_one_session(transport, self.settings.timeout)
        if self.pool is not None:
            self.pool[self.pool_keys[index]] = transport


def live_transport(pool: MutableMapping[str, object] | None, key: str):
    """The pool's transport under ``key`` if it is still logged in, else None."""
    transport = pool.get(key) if pool is not None else None
    if transport is not None and transport.is_active() and transport.is_authenticated():
        return transport
    return None


# --- the backend's entry point ----------------------------------------------------------------------------

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
    _walk: HopWalk = field(repr=False)
    target_transport: object | None = None

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.channel.close()
        self._walk.close()

    def __enter__(self) -> OpenedChain:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


def open_chain(hops: tuple[Hop, ...], destination: tuple[str, int], *, settings: WalkSettings | None = None,
               pool: MutableMapping[str, object] | None = None, target: Hop | None = None,
               observer: WalkObserver | None = None) -> OpenedChain:
    """Open a stream to ``destination`` through ``hops``; raise ``HopError`` naming the hop and stage.

    ``pool`` as for ``HopWalk``. ``target``: also log in to the destination as this Hop (banner, hostkey, auth),
    giving ``OpenedChain.target_transport``. ``hops`` may be empty only with a ``target`` (a direct login).
    Everything the walk opened is closed when it fails.
    """
    if not hops and target is None:
        raise ValueError('open_chain needs at least one hop or a target')
    walk = HopWalk(hops, destination, target=target, settings=settings, pool=pool, observer=observer)
    try:
        channel = walk.run()
    except BaseException:
        walk.close()
        raise
    return OpenedChain(channel, [walk.logged_in[i] for i in sorted(walk.logged_in)], walk, walk.target_transport)
