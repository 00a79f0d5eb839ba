# Copyright (c) 2026, jumphosts.multihop contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The hop process's side of a shared paramiko hop (the worker's side: ``_paramiko_shared.py``).

``HopServer`` holds one authenticated transport to the last hop of its chain, logged in on the first request
by the same walker as ever (host key checked, no agent forwarded), through the chain's other hops. Each
request opens a channel onwards and hands it over as a one-shot UNIX socket in a private directory, which a
pair of threads splices to the channel. A watcher ends the process when the run's process is gone, or when
no stream has run for the persist time.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import struct
import tempfile
import threading
import time
from collections.abc import Callable

from ansible_collections.jumphosts.multihop.plugins.plugin_utils import _paramiko_stages as stages
from ansible_collections.jumphosts.multihop.plugins.plugin_utils._chain import Hop
from ansible_collections.jumphosts.multihop.plugins.plugin_utils._errors import HopError
from ansible_collections.jumphosts.multihop.plugins.plugin_utils._known_hosts import record_host_key
from ansible_collections.jumphosts.multihop.plugins.plugin_utils._openssh import check_private
from ansible_collections.jumphosts.multihop.plugins.plugin_utils._paramiko_hops import HopWalk, WalkSettings
from ansible_collections.jumphosts.multihop.plugins.plugin_utils._paramiko_shared import (
    error_to_wire,
    persist_seconds,
)
from ansible_collections.jumphosts.multihop.plugins.plugin_utils._paramiko_stages import OnwardFailed, StageFailed

BUFSIZE = 65536
WATCH_INTERVAL = 0.5  # seconds between looks at the run's process and the idle time


def process_alive(pid: int, started: str | None) -> bool:
    """Whether ``pid`` still runs and is the process it was (``started``: its start time, where /proc tells)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process: not ours, but alive
    return started is None or process_start(pid) == started


def process_start(pid: int) -> str | None:
    try:
        with open(f'/proc/{pid}/stat', 'rb') as stat:
            return stat.read().rsplit(b')', 1)[1].split()[19].decode()
    except (OSError, IndexError):
        return None


def should_end(now: float, last_used: float, streams: int, persist: float | None, run_alive: bool) -> bool:
    """The hop process ends with the run, or once idle (no stream) for ``persist`` seconds (None: never)."""
    if not run_alive:
        return True
    return streams == 0 and persist is not None and now - last_used >= persist


class HopServer:
    """The shared login to ``hops[-1]``; ``open_stream`` is its only request."""

    def __init__(self, hops: tuple[Hop, ...], settings: dict, playbook_pid: int | None,
                 clock: Callable[[], float] = time.monotonic):
        self.hops, self.settings, self.clock = hops, settings, clock
        self.timeout = float(settings.get('timeout') or 10)
        self.persist = persist_seconds(settings.get('control_persist', '60s'))
        self.playbook_pid = playbook_pid
        self._started = process_start(playbook_pid) if playbook_pid else None
        self.transport = None
        self._walk = None
        self.directory = tempfile.mkdtemp(prefix='multihop-streams-')  # mode 0700, ours
        check_private(self.directory, 'stream directory')
        self._lock = threading.Lock()
        self._streams = self._requests = 0
        self._ending = False
        self._last_used = clock()
        self._closed = threading.Event()

    # -- lifetime --------------------------------------------------------------------------------------

    def watch(self, end: Callable[[], None] | None = None) -> threading.Thread:
        """Start the watcher; ``end`` stops the process (by default SIGTERM to itself, which ansible-core's
        connection process turns into its shutdown, closing this server)."""
        end = end or (lambda: os.kill(os.getpid(), signal.SIGTERM))

        def loop():
            while not self._closed.wait(WATCH_INTERVAL):
                run_alive = self.playbook_pid is None or process_alive(self.playbook_pid, self._started)
                with self._lock:  # a request in progress counts as a stream: it may be waiting for a login
                    busy = self._streams + self._requests
                    self._ending = should_end(self.clock(), self._last_used, busy, self.persist, run_alive)
                if self._ending:
                    end()
                    self._closed.wait(5)  # shutting down; should the signal have been lost, say it again

        thread = threading.Thread(target=loop, name='multihop-hop-watch', daemon=True)
        thread.start()
        return thread

    def close(self) -> None:
        self._closed.set()
        self._close_walk()
        shutil.rmtree(self.directory, ignore_errors=True)

    # -- requests --------------------------------------------------------------------------------------

    def open_stream(self, host: str, port: int, blame_next: bool) -> dict:
        """``{'path': ...}``, or what failed: ``{'hop_error': ...}`` (a login on the way), or ``{'failed': reason,
        'onward': bool}`` (this hop's forward; ``onward`` when the next element could not be reached)."""
        with self._lock:
            if self._ending:
                return {'ending': True}  # the worker waits for a new process
            self._requests += 1
        try:
            return self._open_stream(host, port, blame_next)
        finally:
            with self._lock:
                self._requests -= 1
                self._last_used = self.clock()

    def _open_stream(self, host: str, port: int, blame_next: bool) -> dict:
        try:
            transport = self._hop_transport()
        except HopError as e:
            return {'hop_error': error_to_wire(e)}
        hop = self.hops[-1]
        try:
            if hop.type == 'netcat':
                channel = stages.netcat(hop, transport, host, port, self.timeout, blame_next=blame_next)
            else:
                channel = stages.direct_tcpip(hop, transport, host, port, self.timeout, blame_next=blame_next)
        except StageFailed as e:
            return {'failed': e.reason, 'onward': isinstance(e, OnwardFailed)}
        return {'path': self._hand_over(channel)}

    def _hop_transport(self):
        if self.transport is not None and self.transport.is_active() and self.transport.is_authenticated():
            return self.transport
        self._close_walk()
        *before, last = self.hops
        # Every hop of the chain is logged in to here, the last one as the walk's "target".
        walk = HopWalk(tuple(before), (last.host, last.effective_port), target=last,
                       settings=WalkSettings(timeout=self.timeout, accept_new_host_key=self._accept_new,
                                             hop_session=bool(self.settings.get('tcp_nodelay', True))))
        try:
            walk.run()
        except BaseException:
            walk.close()
            raise
        transport = walk.target_transport
        for kept in (*walk.logged_in.values(), transport):
            kept.set_keepalive(int(self.settings.get('keepalive') or 0))
        if self.settings.get('tcp_nodelay', True):
            stages.start_one_session(transport, self.timeout)
        self._walk, self.transport = walk, transport
        return transport

    def _close_walk(self) -> None:
        if self._walk is not None:
            self._walk.close()  # the hops before the last one too
        self._walk = self.transport = None

    def _accept_new(self, hop: Hop, names: list[str], key) -> bool:
        from ansible_collections.jumphosts.multihop.plugins.plugin_utils._paramiko_session import wants_new_host_keys

        return wants_new_host_keys(hop, bool(self.settings.get('accept_new_host_keys'))) and \
            record_host_key(hop, names, key)

    # -- streams ---------------------------------------------------------------------------------------

    def _hand_over(self, channel) -> str:
        """A one-shot UNIX socket for ``channel``: the first connection of this user takes it."""
        path = os.path.join(self.directory, secrets.token_hex(8))
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(path)
        listener.listen(1)
        listener.settimeout(self.timeout)
        with self._lock:
            self._streams += 1
        threading.Thread(target=self._serve, args=(listener, path, channel), daemon=True,
                         name='multihop-hop-stream').start()
        return path

    def _serve(self, listener, path: str, channel) -> None:
        conn = None
        try:
            with contextlib.suppress(OSError):
                conn = listener.accept()[0]
            with contextlib.suppress(OSError):
                os.unlink(path)
            listener.close()
            if conn is not None and peer_uid(conn) in (None, os.geteuid()):
                splice(conn, channel, self.timeout)
        finally:
            with contextlib.suppress(Exception):
                channel.close()
            if conn is not None:
                with contextlib.suppress(OSError):
                    conn.close()
            with self._lock:
                self._streams -= 1
                self._last_used = self.clock()


def peer_uid(conn: socket.socket) -> int | None:
    """The connecting process's uid, where the system tells (Linux)."""
    option = getattr(socket, 'SO_PEERCRED', None)
    if option is None:
        return None
    data = conn.getsockopt(socket.SOL_SOCKET, option, struct.calcsize('3i'))
    return struct.unpack('3i', data)[1]


def splice(conn: socket.socket, channel, grace: float) -> None:
    """Copy both ways until the worker's side ends, and the other way for at most ``grace`` seconds more;
    one thread each way, so neither waits on the other."""
    conn.settimeout(None)
    channel.settimeout(None)

    def pump(read, write, finish):
        with contextlib.suppress(Exception):
            while True:
                data = read(BUFSIZE)
                if not data:
                    break
                write(data)
        with contextlib.suppress(Exception):
            finish()

    back = threading.Thread(target=pump, args=(channel.recv, conn.sendall, lambda: conn.shutdown(socket.SHUT_WR)),
                            daemon=True, name='multihop-hop-back')
    back.start()
    pump(conn.recv, channel.sendall, channel.shutdown_write)
    back.join(grace)
