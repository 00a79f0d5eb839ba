"""Shared paramiko hops: the pure parts, the worker's stand-in and the hop process's hand-over, with no network."""

from __future__ import annotations

import os
import socket
import stat
import threading

import pytest

from ansible_collections.jumphosts.multihop.plugins.plugin_utils import _paramiko_hop_server as server
from ansible_collections.jumphosts.multihop.plugins.plugin_utils import _paramiko_shared as shared
from ansible_collections.jumphosts.multihop.plugins.plugin_utils._chain import Hop, chain_digest
from ansible_collections.jumphosts.multihop.plugins.plugin_utils._errors import HopError, MultihopError
from ansible_collections.jumphosts.multihop.plugins.plugin_utils._paramiko_hops import HopWalk
from ansible_collections.jumphosts.multihop.plugins.plugin_utils._paramiko_stages import OnwardFailed, StageFailed

B1 = Hop('bastion1', 'bastion1', '10.0.0.1', 22, 'jump1', 'keys/jump1', password='hop-secret',
         options=(('UserKnownHostsFile', '/k'),), known_hosts=('10.0.0.1 ssh-ed25519 AAAA',))
B2 = Hop('bastion2', 'bastion2', '10.0.0.2', 2222, 'jump2', type='netcat')
SETTINGS = {'timeout': 5.0, 'keepalive': 0, 'tcp_nodelay': True, 'accept_new_host_keys': False,
            'control_persist': '60s'}


class TestPure:
    @pytest.mark.parametrize('value, seconds', [('60s', 60), ('10m', 600), ('1h30m', 5400), (90, 90), ('yes', None),
                                                ('no', 0), ('0', 0)])
    def test_persist_seconds_reads_controlpersist(self, value, seconds):
        assert shared.persist_seconds(value) == seconds

    def test_persist_seconds_refuses_what_openssh_would(self):
        with pytest.raises(MultihopError, match='multihop_control_persist'):
            shared.persist_seconds('10 minutes')

    def test_only_chains_of_logins_are_shared(self):
        assert shared.can_share((B1,)) and shared.can_share((B2,)) and shared.can_share((B1, B2))
        assert not shared.can_share(())
        assert not shared.can_share((Hop('proxy', 'proxy', '10.0.0.9', type='socks5'), B1))

    def test_a_hop_crosses_the_wire_whole_with_its_key_file_made_absolute(self):
        wire = shared.hop_to_wire(B1, cwd='/play')
        assert wire['private_key_file'] == '/play/keys/jump1'
        back = shared.hop_from_wire(wire)
        assert back.password == 'hop-secret' and back.options == B1.options and back.known_hosts == B1.known_hosts
        assert back.identity == Hop(**dict(wire, options=B1.options, known_hosts=B1.known_hosts)).identity
        assert shared.hop_from_wire(shared.hop_to_wire(B2)) == B2

    def test_each_chain_prefix_and_setting_names_its_own_process(self):
        keys = {shared.hop_key((B1,), SETTINGS), shared.hop_key((B1, B2), SETTINGS),
                shared.hop_key((B1,), dict(SETTINGS, timeout=9.0))}
        assert len(keys) == 3
        assert shared.hop_key((B1,), SETTINGS) == shared.hop_key((B1,), dict(reversed(SETTINGS.items())))

    def test_a_hop_error_is_labelled_for_the_workers_chain(self):
        wire = shared.error_to_wire(HopError('hop 1/2 bastion1', 'hostkey', 'HOST KEY MISMATCH', 0))
        error = shared.error_from_wire(wire, (B1, B2))
        assert (error.label, error.stage, error.reason, error.index) == (
            'hop 1/3 bastion1 jump1@10.0.0.1:22', 'hostkey', 'HOST KEY MISMATCH', 0)

    def test_forward_results_raise_as_the_walkers_stages(self):
        assert shared.forward_result({'path': '/d/s'}, (B1,)) == '/d/s'
        with pytest.raises(OnwardFailed, match='could not connect'):
            shared.forward_result({'failed': 'bastion1 could not connect', 'onward': True}, (B1,))
        with pytest.raises(StageFailed) as failure:
            shared.forward_result({'failed': 'refused to forward', 'onward': False}, (B1,))
        assert not isinstance(failure.value, OnwardFailed)
        with pytest.raises(HopError, match='hop 1/2 bastion1'):
            shared.forward_result({'hop_error': {'stage': 'auth', 'reason': 'denied', 'index': 0}}, (B1,))

    @pytest.mark.parametrize('now, streams, persist, alive, end', [
        (100, 0, 60, True, True), (30, 0, 60, True, False), (100, 1, 60, True, False),
        (100, 1, 60, False, True), (10**6, 0, None, True, False), (0, 0, 0, True, True)])
    def test_the_hop_process_ends_with_the_run_or_when_idle(self, now, streams, persist, alive, end):
        assert server.should_end(now, 0, streams, persist, alive) is end

    def test_a_process_that_is_gone_or_another_is_not_the_run(self):
        assert server.process_alive(os.getpid(), server.process_start(os.getpid()))
        assert not server.process_alive(os.getpid(), 'another start time')


class FakeChannel:
    """A channel whose far end is a socket pair: what the hop process would splice to the next element."""

    def __init__(self):
        self.near, self.far = socket.socketpair()
        self.closed = False

    def settimeout(self, value):
        self.near.settimeout(value)

    def recv(self, size):
        return self.near.recv(size)

    def sendall(self, data):
        self.near.sendall(data)

    def shutdown_write(self):
        self.near.shutdown(socket.SHUT_WR)

    def close(self):
        self.closed = True
        self.near.close()


class TestHandOver:
    def test_a_stream_is_a_one_shot_socket_in_a_private_directory_spliced_both_ways(self):
        hop_server = server.HopServer((B1,), SETTINGS, None)
        try:
            assert stat.S_IMODE(os.stat(hop_server.directory).st_mode) == 0o700
            channel = FakeChannel()
            path = hop_server._hand_over(channel)
            assert os.path.dirname(path) == hop_server.directory
            stream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            stream.connect(path)
            stream.sendall(b'to the target')
            assert channel.far.recv(100) == b'to the target'
            channel.far.sendall(b'from the target')
            assert stream.recv(100) == b'from the target'
            assert not os.path.exists(path)  # one shot: gone once taken
            stream.close()
            channel.far.close()
            for _attempt in range(100):
                if hop_server._streams == 0:
                    break
                threading.Event().wait(0.02)
            assert hop_server._streams == 0 and channel.closed
        finally:
            hop_server.close()
        assert not os.path.exists(hop_server.directory)

    def test_a_request_in_progress_keeps_the_hop_process(self):
        hop_server = server.HopServer((B1,), dict(SETTINGS, control_persist='0'), None)
        ended, entered, release = threading.Event(), threading.Event(), threading.Event()

        def slow_login():
            entered.set()
            release.wait(5)
            raise HopError('hop 1/2 bastion1', 'tcp', 'refused', 0)

        hop_server._hop_transport = slow_login
        try:
            hop_server.watch(ended.set)
            request = threading.Thread(target=hop_server.open_stream, args=('h', 22, True))
            request.start()
            assert entered.wait(5)
            assert not ended.wait(1.5)  # idle time 0, but a login is in progress
            release.set()
            request.join()
            assert ended.wait(5)
            assert hop_server.open_stream('h', 22, True) == {'ending': True}
        finally:
            release.set()
            hop_server.close()

    def test_an_idle_hop_process_ends_itself(self):
        hop_server = server.HopServer((B1,), dict(SETTINGS, control_persist='0'), os.getpid())
        ended = threading.Event()
        try:
            hop_server.watch(ended.set)
            assert ended.wait(5)
        finally:
            hop_server.close()


class TestSharedHop:
    def test_the_walk_reuses_the_shared_hop_and_forwards_through_it(self):
        calls = []
        left, right = socket.socketpair()

        def rpc(path, host, port, blame_next):
            calls.append((path, host, port, blame_next))
            return {'path': path_holder['path']}

        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        path_holder = {'path': os.path.join(os.environ.get('TMPDIR', '/tmp'), f'mh-test-{os.getpid()}')}
        listener.bind(path_holder['path'])
        listener.listen(1)
        try:
            hop = shared.SharedHop((B1,), SETTINGS, 1, start=lambda *a: '/nowhere', rpc=rpc)
            hop._socket_path = __file__  # exists: no start
            walk = HopWalk((B1,), ('10.0.1.5', 22), pool={chain_digest((B1,)): hop})
            stream = walk.run()
            assert calls == [(__file__, '10.0.1.5', 22, False)]
            stream.close()
        finally:
            listener.close()
            os.unlink(path_holder['path'])
            left.close()
            right.close()

    def test_a_process_that_is_gone_is_started_again_once(self, tmp_path):
        started, replies = [], [ConnectionRefusedError(), {'failed': 'no', 'onward': False}]

        def rpc(*args):
            reply = replies.pop(0)
            if isinstance(reply, Exception):
                raise reply
            return reply

        def start(key, hops, settings, pid):
            started.append(pid)
            return __file__  # exists, and is no socket: never removed

        hop = shared.SharedHop((B1,), SETTINGS, 42, start=start, rpc=rpc)
        hop._socket_path = str(tmp_path / 'not started yet')
        with pytest.raises(StageFailed):
            hop.multihop_forward('h', 22, 1.0, blame_next=True)
        assert started == [42] and os.path.exists(__file__)
