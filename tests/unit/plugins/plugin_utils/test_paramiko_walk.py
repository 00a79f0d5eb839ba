"""The hop walker's control flow, with the network faked at its seam (``connect_tcp`` and ``new_transport``).

The walk raises HopError at the first stage that fails, naming the element and the stage; the observer sees
exactly the stages that ran, in order, and nothing after the failure. Real sshd is in tests/integration.
"""

from __future__ import annotations

import base64

import paramiko
import pytest

from ansible_collections.jumphosts.multihop.plugins.plugin_utils import _paramiko_messages as messages
from ansible_collections.jumphosts.multihop.plugins.plugin_utils._chain import Hop
from ansible_collections.jumphosts.multihop.plugins.plugin_utils._errors import HopError
from ansible_collections.jumphosts.multihop.plugins.plugin_utils._paramiko_hops import (
    HopWalk,
    WalkObserver,
    WalkSettings,
)
from ansible_collections.jumphosts.multihop.plugins.plugin_utils._probe import HopReport, Reporter, summarize


def key_blob(seed: bytes) -> bytes:
    def string(data: bytes) -> bytes:
        return len(data).to_bytes(4, 'big') + data
    return string(b'ssh-ed25519') + string(seed * 32)


class FakeKey:
    def __init__(self, seed: bytes):
        self.blob = key_blob(seed)

    def asbytes(self) -> bytes:
        return self.blob

    def get_name(self) -> str:
        return 'ssh-ed25519'

    def get_base64(self) -> str:
        return base64.b64encode(self.blob).decode()


def hop(name: str, host: str, *, seed: bytes = b'k', hop_type: str = 'ssh', port: int | None = None) -> Hop:
    pinned = () if hop_type == 'socks5' else (f'{host} ssh-ed25519 {FakeKey(seed).get_base64()}',)
    return Hop(name=name, alias=name, host=host, port=port, user='jump', password='not-a-real-secret',
               type=hop_type, known_hosts=pinned)


B1, B2 = hop('b1', '10.0.0.1'), hop('b2', '10.0.0.2')
TARGET = hop('t1', '10.0.1.1')
DESTINATION = (TARGET.host, TARGET.effective_port)


class FakeChannel:
    """A stream to ``host``; for nc, its exit status and stderr once it has exited."""

    def __init__(self, host: str, *, exit_status: int | None = None, stderr: bytes = b''):
        self.host, self.exit_status, self.stderr = host, exit_status, stderr
        self.closed = False

    def settimeout(self, timeout):
        pass

    def exec_command(self, command):
        self.command = command

    def recv_ready(self) -> bool:
        return self.exit_status is None

    def exit_status_ready(self) -> bool:
        return self.exit_status is not None

    def recv_exit_status(self) -> int:
        return self.exit_status

    def recv_stderr_ready(self) -> bool:
        return bool(self.stderr)

    def recv_stderr(self, size: int) -> bytes:
        data, self.stderr = self.stderr[:size], self.stderr[size:]
        return data

    def close(self):
        self.closed = True


class FakeNetwork:
    """Hosts by address, and how each one fails: ``failures[host] = stage``."""

    def __init__(self, **failures: str):
        self.failures = {host.replace('_', '.'): stage for host, stage in failures.items()}
        self.tcp_connects: list[str] = []
        self.transports: list[FakeTransport] = []
        self.nc: dict[str, dict] = {}  # hop host -> FakeChannel keyword arguments for the nc it runs

    def fails(self, host: str, stage: str) -> bool:
        return self.failures.get(host) == stage

    def connect_tcp(self, host: str, port: int, timeout: float):
        self.tcp_connects.append(host)
        if self.fails(host, 'tcp'):
            raise ConnectionRefusedError(111, 'Connection refused')
        return FakeChannel(host)

    def new_transport(self, sock):
        transport = FakeTransport(self, sock.host)
        self.transports.append(transport)
        return transport


class FakeTransport:
    def __init__(self, network: FakeNetwork, host: str):
        self.network, self.host = network, host
        self.remote_version = None
        self.authenticated = self.closed = False
        self.options = type('Options', (), {'key_types': ('ssh-ed25519', 'rsa-sha2-512')})()

    def get_security_options(self):
        return self.options

    def start_client(self, timeout):
        if self.network.fails(self.host, 'banner'):
            raise paramiko.SSHException('Error reading SSH protocol banner')
        self.remote_version = 'SSH-2.0-OpenSSH_9.6'

    def get_remote_server_key(self):
        return FakeKey(b'x' if self.network.fails(self.host, 'hostkey') else b'k')

    def auth_password(self, user, password):
        if self.network.fails(self.host, 'auth'):
            raise paramiko.AuthenticationException('Authentication failed.')
        self.authenticated = True

    def is_authenticated(self) -> bool:
        return self.authenticated

    def is_active(self) -> bool:
        return not self.closed

    def open_channel(self, kind, destination, origin, timeout):
        if self.network.fails(self.host, 'forward'):
            raise paramiko.ChannelException(1, 'Administratively prohibited')
        if self.network.fails(destination[0], 'tcp'):
            raise paramiko.ChannelException(2, 'Connect failed')
        return FakeChannel(destination[0])

    def open_session(self, timeout):
        return FakeChannel('nc-target', **self.network.nc.get(self.host, {}))

    def close(self):
        self.closed = True


class Recorder(WalkObserver):
    def __init__(self):
        self.events: list[tuple] = []

    def started(self, index, stage):
        self.events.append(('started', index, stage))

    def passed(self, index, stage, elapsed_ms):
        self.events.append(('passed', index, stage))

    def failed(self, index, stage, reason):
        self.events.append(('failed', index, stage))

    def reused(self, index):
        self.events.append(('reused', index))


def settings() -> WalkSettings:
    return WalkSettings(timeout=3.0, allow_agent=False, default_identities=())


def walk(network: FakeNetwork, hops=(B1, B2), *, target=TARGET, pool=None, observer=None) -> HopWalk:
    return HopWalk(hops, DESTINATION, target=target, settings=settings(), pool=pool, observer=observer or Recorder(),
                   connect_tcp=network.connect_tcp, new_transport=network.new_transport)


def passes(index: int, *stages: str) -> list[tuple]:
    return [event for stage in stages for event in (('started', index, stage), ('passed', index, stage))]


LOGIN = ('banner', 'hostkey', 'auth')
WHOLE_WALK = (passes(0, 'tcp', *LOGIN, 'forward') + passes(1, 'tcp', *LOGIN, 'forward') + passes(2, 'tcp', *LOGIN))


def test_a_walk_that_gets_through_shows_every_stage_once_in_order():
    network = FakeNetwork()
    hop_walk = walk(network)
    stream = hop_walk.run()
    assert hop_walk.observer.events == WHOLE_WALK
    assert stream.host == TARGET.host and hop_walk.target_transport.is_authenticated()
    assert sorted(hop_walk.logged_in) == [0, 1]
    assert network.tcp_connects == [B1.host]  # later elements are reached through the hops


# (element, stage): every place a walk of b1 -> b2 -> t1 can stop.
FAILURES = [(index, stage) for index in range(3) for stage in ('tcp', *LOGIN, 'forward')
            if not (index == 2 and stage == 'forward')]


@pytest.mark.parametrize(('index', 'stage'), FAILURES)
def test_the_walk_raises_at_the_first_failing_stage_and_the_observer_sees_only_what_ran(index, stage):
    host = (B1, B2, TARGET)[index].host
    hop_walk = walk(FakeNetwork(**{host.replace('.', '_'): stage}))
    with pytest.raises(HopError) as raised:
        hop_walk.run()
    error = raised.value
    assert (error.index, error.stage) == (index, stage)
    label = ('hop 1/3 b1 jump@10.0.0.1:22', 'hop 2/3 b2 jump@10.0.0.2:22', 'target t1 10.0.1.1:22')[index]
    assert error.label == label and str(error).startswith(f'{label}: ')
    assert 'not-a-real-secret' not in str(error)
    events = hop_walk.observer.events
    assert events[-1] == ('failed', index, stage)
    ran = WHOLE_WALK[:WHOLE_WALK.index(('started', index, stage)) + 1]
    assert events[:-1] == ran


def test_a_hop_that_cannot_connect_onwards_passes_its_forward_and_the_next_element_fails_at_tcp():
    hop_walk = walk(FakeNetwork(**{'10_0_0_2': 'tcp'}))
    with pytest.raises(HopError) as raised:
        hop_walk.run()
    assert (raised.value.index, raised.value.stage) == (1, 'tcp')
    assert raised.value.reason == 'b1 could not connect to 10.0.0.2:22: connect failed'
    assert hop_walk.observer.events[-4:] == [('started', 0, 'forward'), ('passed', 0, 'forward'),
                                             ('started', 1, 'tcp'), ('failed', 1, 'tcp')]


def test_without_a_next_element_a_hop_that_cannot_connect_onwards_fails_its_forward():
    hop_walk = walk(FakeNetwork(**{'10_0_1_1': 'tcp'}), hops=(B1,), target=None)
    with pytest.raises(HopError) as raised:
        hop_walk.run()
    assert (raised.value.index, raised.value.stage) == (0, 'forward')
    assert 'b1 refused to forward to 10.0.1.1:22' in raised.value.reason


def test_a_pooled_hop_is_one_reused_observation_then_its_forward():
    network = FakeNetwork()
    pool: dict = {}
    walk(network, pool=pool).run()
    assert len(pool) == 2
    pool_transports = list(pool.values())
    second = walk(network, pool=pool)
    second.run()
    # Both hops come from the pool with their route: only the last one's forward runs, to the new target.
    assert second.observer.events == [('reused', 0), ('reused', 1), *passes(1, 'forward'), *passes(2, 'tcp', *LOGIN)]
    assert network.tcp_connects == [B1.host]  # the second walk opened no connection of its own
    assert second.logged_in == {0: pool_transports[0], 1: pool_transports[1]}
    second.close()
    assert not any(t.closed for t in pool.values())  # the pool's transports stay open


def test_a_dead_pooled_hop_is_walked_again_from_there():
    network = FakeNetwork()
    pool: dict = {}
    walk(network, pool=pool).run()
    list(pool.values())[1].closed = True  # b2's transport died; b1's lives
    again = walk(network, pool=pool)
    again.run()
    assert again.observer.events == [('reused', 0), *passes(0, 'forward'), *passes(1, 'tcp', *LOGIN, 'forward'),
                                     *passes(2, 'tcp', *LOGIN)]
    assert list(pool.values())[1] is again.logged_in[1] and not again.logged_in[1].closed


def test_netcat_that_cannot_run_fails_the_hops_forward_and_never_reaches_the_next_element():
    network = FakeNetwork()
    network.nc[B1.host] = {'exit_status': 127, 'stderr': b'sh: nc: not found'}
    nc_b1 = hop('b1', '10.0.0.1', hop_type='netcat')
    hop_walk = walk(network, hops=(nc_b1, B2))
    with pytest.raises(HopError) as raised:
        hop_walk.run()
    assert (raised.value.index, raised.value.stage, raised.value.reason) == \
        (0, 'forward', 'cannot run nc on b1: sh: nc: not found')
    assert hop_walk.observer.events[-1] == ('failed', 0, 'forward')
    assert not any(event[1] == 1 for event in hop_walk.observer.events)


def test_netcat_that_exits_is_the_next_elements_tcp():
    network = FakeNetwork()
    network.nc[B1.host] = {'exit_status': 1}
    hop_walk = walk(network, hops=(hop('b1', '10.0.0.1', hop_type='netcat'), B2))
    with pytest.raises(HopError) as raised:
        hop_walk.run()
    assert (raised.value.index, raised.value.stage) == (1, 'tcp')
    assert raised.value.reason == 'b1 could not connect: nc exited with status 1 (connection refused, or no route)'
    assert hop_walk.observer.events[-3:] == [('passed', 0, 'forward'), ('started', 1, 'tcp'), ('failed', 1, 'tcp')]


def test_netcat_that_connects_is_walked_through():
    network = FakeNetwork()
    hop_walk = walk(network, hops=(hop('b1', '10.0.0.1', hop_type='netcat'), B2))
    hop_walk.run()
    assert hop_walk.observer.events == WHOLE_WALK


def test_close_closes_every_transport_the_walk_opened_when_it_failed():
    network = FakeNetwork(**{'10_0_1_1': 'auth'})
    hop_walk = walk(network)
    with pytest.raises(HopError):
        hop_walk.run()
    assert len(network.transports) == 3 and not any(t.closed for t in network.transports)
    hop_walk.close()
    assert all(t.closed for t in network.transports)


def test_the_probe_reports_are_what_the_observer_saw():
    reports = [HopReport(name=h.name, address=h.address, type=h.type) for h in (B1, B2)]
    reports.append(HopReport(name=TARGET.name, address=TARGET.address, type='ssh', role='target'))
    hop_walk = walk(FakeNetwork(**{'10_0_0_2': 'auth'}), observer=Reporter(reports))
    with pytest.raises(HopError):
        hop_walk.run()
    assert summarize(reports) == {'reachable': False, 'reachable_through': ['b1'], 'failed_hop': 'b2',
                                  'failed_stage': 'auth', 'error': 'permission denied for jump (tried password)'}
    b1, b2, target = (r.as_dict() for r in reports)
    assert set(b1['stage_ms']) == {'tcp', 'banner', 'hostkey', 'auth', 'forward'}
    assert b1['stage_ms']['forward'] == b2['stage_ms']['tcp'] == b2['latency_ms']
    assert b2['server_version'] == 'SSH-2.0-OpenSSH_9.6' and b2['host_key_pinned'] is True
    assert b2['host_key_fingerprint'].startswith('SHA256:') and b2['host_key_line'].startswith('10.0.0.2 ssh-ed25519 ')
    assert set(b2['stage_ms']) == {'tcp', 'banner', 'hostkey'}
    assert target['stage'] is None and target['stage_ms'] == {}


def test_a_host_key_mismatch_is_learned_before_the_walk_stops():
    reports = [HopReport(name='b1', address='', type='ssh'),
               HopReport(name='t1', address='', type='ssh', role='target')]
    hop_walk = walk(FakeNetwork(**{'10_0_0_1': 'hostkey'}), hops=(B1,), observer=Reporter(reports))
    with pytest.raises(HopError) as raised:
        hop_walk.run()
    assert 'HOST KEY MISMATCH' in raised.value.reason
    assert reports[0].host_key_pinned is False and reports[0].host_key_fingerprint


def test_private_messages_go_through_paramikos_own_send():
    sent = []

    class Transport:
        def _send_user_message(self, message):
            sent.append(message.asbytes())

    messages.send_message(Transport(), paramiko.common.cMSG_DISCONNECT, 11, 'bye', '', True)
    assert sent == [paramiko.common.cMSG_DISCONNECT + (11).to_bytes(4, 'big') + b'\x00\x00\x00\x03bye'
                    + b'\x00\x00\x00\x00' + b'\x01']
