# Copyright (c) 2026, jumphosts.multihop contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One paramiko login per hop for the whole run, shared by every task and fork: the worker's side.

Each chain of hops gets a hop process: ansible-core's own
persistent connection process (``ansible-connection``'s ``ConnectionProcess``, which ``network_cli`` uses, forked
from the worker), running the ``jumphosts.multihop.paramiko_hop`` connection, which holds the paramiko
transports to every hop of the chain (``_paramiko_hop_server.py``). A worker asks it over ansible-core's JSON-RPC
(``ansible.module_utils.connection``) for a stream to the next element, and gets the path of a one-shot
UNIX socket, in a private directory, that the hop process splices to a ``direct-tcpip`` (or ``nc``) channel.

In the worker, a ``SharedHop`` stands in the walker's pool for the last hop's transport: the walk reuses it
and asks it for the forward, so stages, labels and blame stay the walker's own. The hop process logs in to
the chain's hops itself, one after the other: a bastion that two different chains start with is logged in
to once per chain (a process started from another hop process was sometimes sent SIGTERM mid-request).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import socket
import stat
import time
from collections.abc import Callable

from ansible_collections.jumphosts.multihop.plugins.plugin_utils import _gate as gate
from ansible_collections.jumphosts.multihop.plugins.plugin_utils._chain import Hop, chain_digest, hop_label
from ansible_collections.jumphosts.multihop.plugins.plugin_utils._errors import HopError, MultihopError
from ansible_collections.jumphosts.multihop.plugins.plugin_utils._openssh import private_directory
from ansible_collections.jumphosts.multihop.plugins.plugin_utils._paramiko_stages import OnwardFailed, StageFailed
from ansible_collections.jumphosts.multihop.plugins.plugin_utils._record import as_dict, field_names

HOP_PLUGIN = 'jumphosts.multihop.paramiko_hop'
# Seconds an idle hop process waits for its first request or its next one before ansible-core's own timer
# ends it; the hop process ends itself much sooner (multihop_control_persist, or the run's end).
BACKSTOP_SECONDS = 86400
ENDING_WAIT = 5.0  # seconds a worker waits for a hop process that is ending to be gone


# --- pure parts -------------------------------------------------------------------------------------------

def can_share(hops: tuple[Hop, ...]) -> bool:
    """Whether the chain's hops can be held by a hop process: SSH logins only (a SOCKS5 proxy has none)."""
    return bool(hops) and all(hop.type in ('ssh', 'netcat') for hop in hops)


def persist_seconds(value: object) -> float | None:
    """``multihop_control_persist`` in seconds, as ControlPersist reads it: ``yes`` is until the run ends
    (None), ``no`` and 0 end the hop as soon as no stream runs over it."""
    text = gate.check_time(value, 'multihop_control_persist', 'multihop_control_persist')
    if text == 'yes':
        return None
    if text == 'no':
        return 0.0
    return float(gate.time_seconds(text))


def _tupled(value: object) -> object:
    return tuple(_tupled(v) for v in value) if isinstance(value, (list, tuple)) else value


def hop_to_wire(hop: Hop, cwd: str | None = None) -> dict:
    """A hop as plain JSON values. A relative key file is made absolute: the hop process runs in ``/``."""
    data = as_dict(hop)
    key = data.get('private_key_file')
    if key and not key.startswith(('/', '~')):
        data['private_key_file'] = os.path.join(cwd or os.getcwd(), key)
    return data


def hop_from_wire(data: dict) -> Hop:
    names = set(field_names(Hop))
    return Hop(**{k: _tupled(v) for k, v in data.items() if k in names})


def hop_key(hops: tuple[Hop, ...], settings: dict) -> str:
    """Names the hop process of ``hops`` (its last hop, reached through the others), with its settings."""
    return 'multihop-' + chain_digest(hops, sorted(settings.items()))


def error_to_wire(error: HopError) -> dict:
    return {'stage': error.stage, 'reason': error.reason, 'index': error.index}


def error_from_wire(data: dict, hops: tuple[Hop, ...]) -> HopError:
    """The HopError a hop process reported, labelled for the worker's chain (a hop's index is the same in both)."""
    index = int(data['index'])
    label = hop_label(hops, index) if index < len(hops) else f'element {index + 1}'
    return HopError(label, data.get('stage'), str(data['reason']), index)


def forward_result(reply: dict, hops: tuple[Hop, ...]) -> str:
    """The stream's socket path from a hop process's answer; raises what the walker raises for a failure."""
    if 'path' in reply:
        return str(reply['path'])
    if 'hop_error' in reply:
        raise error_from_wire(reply['hop_error'], hops)
    if reply.get('ending'):
        raise StageFailed('the shared hop process was ending')
    failure = OnwardFailed if reply.get('onward') else StageFailed
    raise failure(str(reply.get('failed', 'the hop process gave no answer')))


# --- I/O --------------------------------------------------------------------------------------------------

def hop_options(hops: tuple[Hop, ...], settings: dict) -> dict:
    """The hop plugin's options: the chain, hop passwords too, which the hop process gets through fork."""
    timeout = float(settings.get('timeout') or 10)
    return {
        'chain': [hop_to_wire(hop) for hop in hops],
        'settings': settings,
        'persistent_connect_timeout': BACKSTOP_SECONDS,
        # A request may log in to every hop of the chain, step by step.
        'persistent_command_timeout': int(timeout * 4 * (len(hops) + 1)) + 30,
        'persistent_log_messages': False,  # it would log hop passwords
    }


def _hop_context(key: str):
    from ansible.playbook.play_context import PlayContext

    context = PlayContext()
    context.connection, context.remote_addr = HOP_PLUGIN, key
    return context


def hop_socket_path(key: str, settings: dict, playbook_pid: int) -> str:
    """Where the hop process listens: in the plugin's private control directory (``control_path_dir``; HOME may
    be read-only, as in an AWX job), named by the chain and the run, short enough for a UNIX socket path."""
    from ansible import constants as C
    from ansible.utils.path import unfrackpath

    directory = unfrackpath(settings.get('control_dir') or C.PERSISTENT_CONTROL_PATH_DIR)
    try:
        private_directory(directory)
    except MultihopError as e:
        raise OSError(str(e)) from None
    name = hashlib.sha256(f'{key}-{playbook_pid}'.encode()).hexdigest()[:16]
    return os.path.join(directory, f'hop-{name}')


def start_hop_process(key: str, hops: tuple[Hop, ...], settings: dict, playbook_pid: int) -> str:
    """Start the hop process for ``hops`` unless it runs; its socket path.

    ansible-core's persistent connection process (``ansible-connection``'s ``ConnectionProcess``), started as its
    stub starts it, under the stub's lock per socket path (forks that start it at once end with one process), but
    forked from this worker rather than from a new Python, which would cost every fork starting it ~0.7 s of CPU.
    """
    import json

    from ansible.cli.scripts.ansible_connection_cli_stub import file_lock
    from ansible.errors import AnsibleError
    from ansible.utils.path import unfrackpath

    path = hop_socket_path(key, settings, playbook_pid)
    directory, name = os.path.split(path)
    lock_path = unfrackpath(f'{directory}/.ansible_pc_lock_{name}')  # the stub's own lock
    with file_lock(lock_path):
        if os.path.exists(path):
            return path
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:  # never returns: the hop process, or the intermediate process of its double fork
            os.close(read_end)
            _hop_process(write_end, key, hops, settings, playbook_pid, path)
        os.close(write_end)
        with os.fdopen(read_end) as answer:
            text = answer.read()
        os.waitpid(pid, 0)
    result = json.loads(text) if text else {'error': 'the hop process did not start'}
    if result.get('error'):
        raise AnsibleError(str(result['error']).splitlines()[-1])
    return path


def _hop_process(write_end: int, key: str, hops: tuple[Hop, ...], settings: dict, playbook_pid: int,
                 path: str) -> None:
    """In the forked child: become the daemon, as ansible-connection does, and serve until the hop ends."""
    status = 1
    try:
        import io
        import sys

        from ansible.cli.scripts.ansible_connection_cli_stub import ConnectionProcess
        from ansible.module_utils.service import fork_process
        from ansible.utils.display import Display

        if fork_process() != 0:
            os._exit(0)
        # Nothing of the worker's but the answer pipe: not its queues, not the run's output pipes.
        os.closerange(3, write_end)
        os.closerange(write_end + 1, 65536)
        Display()._final_q = None  # the worker's queue to the run's process is closed here
        sys.stdout = io.StringIO()  # ConnectionProcess collects its messages there, as its stub does
        process = ConnectionProcess(os.fdopen(write_end, 'w'), _hop_context(key), path, '/', key, playbook_pid)
        process.start(hop_options(hops, settings))
        if process.connection is not None and os.path.exists(path):
            process.run()
        else:
            process.shutdown()
        status = 0
    finally:
        os._exit(status)


class SharedHop:
    """The last hop's transport as the worker's walker sees it: logged in, and forwarding through its process."""

    def __init__(self, hops: tuple[Hop, ...], settings: dict, playbook_pid: int,
                 start: Callable[[str, tuple[Hop, ...], dict, int], str] = start_hop_process, rpc=None):
        self.hops, self.settings, self.playbook_pid = hops, settings, playbook_pid
        self.key = hop_key(hops, settings)
        self._start, self._rpc = start, rpc or _rpc
        self._socket_path: str | None = None

    def is_active(self) -> bool:
        return True  # whether the process still runs shows at the forward, which starts it again if not

    is_authenticated = is_active

    def set_keepalive(self, interval: int) -> None:
        """The hop process keeps its transport alive itself."""

    def close(self) -> None:
        """The hop process outlives the task; it ends itself."""

    def multihop_forward(self, host: str, port: int, timeout: float, *, blame_next: bool):
        """A stream to ``host:port`` through the hop: a connected UNIX socket. Raises as ``stages`` forwards do,
        or the ``HopError`` of a hop that the hop process could not log in to."""
        try:
            reply = self._request(host, port, blame_next)
        except OSError as e:
            raise HopError(hop_label(self.hops, len(self.hops) - 1), 'forward',
                           f'the shared hop process failed: {e}', len(self.hops) - 1) from None
        path = forward_result(reply, self.hops)
        stream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            stream.settimeout(timeout)
            stream.connect(path)
        except OSError as e:
            stream.close()
            raise StageFailed(f'the shared hop process gave no stream: {e.strerror or e}') from None
        return stream

    def _request(self, host: str, port: int, blame_next: bool) -> dict:
        # Another fork may have started the process: look for its socket first. A process that ended (idle, or
        # killed) since is started again, once.
        attempts = 3
        for attempt in range(1, attempts + 1):
            path = self._socket_path or hop_socket_path(self.key, self.settings, self.playbook_pid)
            if not os.path.exists(path):
                path = self._start_process()
            self._socket_path = path
            try:
                reply = self._rpc(path, host, port, blame_next)
            except ConnectionRefusedError:
                if attempt == attempts:
                    raise
                with contextlib.suppress(OSError):  # a killed process's socket: nobody listens
                    if stat.S_ISSOCK(os.lstat(path).st_mode):
                        os.unlink(path)
                continue
            except FileNotFoundError:
                if attempt == attempts:
                    raise
                continue
            if not reply.get('ending') or attempt == attempts:
                return reply
            wait_until_gone(path, ENDING_WAIT)  # it ended itself (idle) just now: start the next one
        raise AssertionError('unreachable')

    def _start_process(self) -> str:
        from ansible.errors import AnsibleError

        try:
            return self._start(self.key, self.hops, self.settings, self.playbook_pid)
        except AnsibleError as e:
            raise OSError(f'cannot start it: {e.message}') from None


def wait_until_gone(path: str, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while os.path.exists(path) and time.monotonic() < deadline:
        time.sleep(0.05)


def _rpc(socket_path: str, host: str, port: int, blame_next: bool) -> dict:
    from ansible.module_utils.connection import Connection
    from ansible.module_utils.connection import ConnectionError as RpcError

    try:
        return Connection(socket_path).open_stream(host, int(port), blame_next)
    except RpcError as e:
        for gone in (ConnectionRefusedError, FileNotFoundError):  # the process is gone: SharedHop starts it again
            if isinstance(e.__cause__, gone):
                raise gone(str(e.__cause__)) from None
        raise OSError(str(e).splitlines()[0] if str(e) else 'no answer') from None


def shared_hop(hops: tuple[Hop, ...], settings: dict, playbook_pid: int | None = None) -> SharedHop:
    """The stand-in for the last hop of ``hops``, one per hop process. ``playbook_pid``: the run's process, which
    is a worker's parent."""
    pid = playbook_pid or os.getppid()
    key = hop_key(hops, settings)
    hop = _SHARED.get(key)
    if hop is None or hop.hops != hops or hop.playbook_pid != pid:
        hop = _SHARED[key] = SharedHop(hops, settings, pid)
    return hop


_SHARED: dict[str, SharedHop] = {}
