"""SOCKS5 request and reply bytes, and what a channel-open failure says."""

from __future__ import annotations

import pytest

from ansible_collections.jumphosts.multihop.plugins.plugin_utils._paramiko_errors import describe_open_failure
from ansible_collections.jumphosts.multihop.plugins.plugin_utils._socks5 import (
    describe_socks5_reply,
    socks5_connect_request,
    socks5_reply_length,
)


def test_socks5_request_bytes():
    assert socks5_connect_request('10.0.0.1', 22) == b'\x05\x01\x00\x01\x0a\x00\x00\x01\x00\x16'
    assert socks5_connect_request('::1', 2222) == b'\x05\x01\x00\x04' + b'\x00' * 15 + b'\x01' + b'\x08\xae'
    assert socks5_connect_request('db.lab', 22) == b'\x05\x01\x00\x03\x06db.lab\x00\x16'
    with pytest.raises(ValueError):
        socks5_connect_request('a' * 256, 22)


def test_socks5_reply_parsing():
    assert socks5_reply_length(b'\x05\x00\x00\x01\x00') == 10
    assert socks5_reply_length(b'\x05\x00\x00\x04\x00') == 22
    assert socks5_reply_length(b'\x05\x00\x00\x03\x05') == 4 + 1 + 5 + 2
    with pytest.raises(ValueError):
        socks5_reply_length(b'\x05\x00\x00\x09\x00')
    assert describe_socks5_reply(5) == ('connection refused', True)
    assert describe_socks5_reply(2) == ('connection not allowed by ruleset', False)
    assert describe_socks5_reply(99) == ('SOCKS5 reply code 99', False)


def test_channel_open_failures_blame_the_right_element():
    assert describe_open_failure(1) == ('administratively prohibited', False)
    assert describe_open_failure(2) == ('connect failed', True)  # the next hop refused: its tcp stage
    assert describe_open_failure(42) == ('open failure code 42', False)
