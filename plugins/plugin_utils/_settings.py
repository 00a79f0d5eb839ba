# Copyright (c) 2026, jumphosts.multihop contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Defaults, and the paramiko backend's settings read once from the connection plugin's options."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

# The connection plugin, as chain_info and the preload vars plugin load it.
CONNECTION_PLUGIN = 'jumphosts.multihop.ssh'

# Seconds for each single step (connect, login, channel open) when the plugin's timeout is not set.
DEFAULT_TIMEOUT = 10


@dataclass(frozen=True)
class BackendSettings:
    """How the paramiko backend connects: built once per connection, from the plugin's options."""

    timeout: float = DEFAULT_TIMEOUT
    keepalive: int = 0
    accept_new_host_keys: bool = False
    reconnection_retries: int = 0
    tcp_nodelay: bool = True
    share_hops: bool = True  # one login per hop for the run, in hop processes (_paramiko_shared.py)
    control_persist: str = '60s'
    control_dir: str = ''  # where the hop processes' sockets go (control_path_dir), shared hops only

    @classmethod
    def from_options(cls, get_option: Callable[[str], object]) -> BackendSettings:
        return cls(timeout=float(get_option('timeout') or DEFAULT_TIMEOUT),
                   keepalive=int(get_option('multihop_keepalive') or 0),
                   accept_new_host_keys=bool(get_option('multihop_accept_new_host_keys')),
                   reconnection_retries=int(get_option('reconnection_retries') or 0),
                   tcp_nodelay=get_option('multihop_tcp_nodelay') is not False,
                   share_hops=get_option('multihop_share_hops') is not False,
                   control_persist=str(get_option('multihop_control_persist') or '60s'),
                   control_dir=os.path.expanduser(str(get_option('control_path_dir') or '')))
