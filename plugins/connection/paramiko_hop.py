# Copyright (c) 2026, jumphosts.multihop contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: paramiko_hop
short_description: Internal - one paramiko login to a hop, shared by the whole run
description:
  - Internal to C(jumphosts.multihop.ssh) with O(jumphosts.multihop.ssh#connection:multihop_backend=paramiko); not
    for use in plays or inventory.
  - Runs in ansible-core's persistent connection process (C(ansible-connection)), one per hop and run. It holds the
    authenticated transport to the hop, and hands the workers streams through it, each over a one-shot UNIX socket
    in a private directory.
  - It ends when the run ends, or when no stream has run for
    O(jumphosts.multihop.ssh#connection:multihop_control_persist).
author: jumphosts.multihop contributors (@jumphosts)
options:
  chain:
    description: The hops, the last one being the one this process logs in to (set by the ssh plugin).
    type: list
    elements: dict
    default: []
  settings:
    description: How to connect (timeout, keepalive, persist time; set by the ssh plugin).
    type: dict
    default: {}
  persistent_connect_timeout:
    description: ansible-core's idle limit for the connection process; a backstop, the process ends itself sooner.
    type: int
    default: 86400
  persistent_command_timeout:
    description: How long one request (a login to every hop on the way, then a channel) may take.
    type: int
    default: 300
  persistent_log_messages:
    description: Never set; ansible-core's request log would hold hop passwords.
    type: boolean
    default: false
"""

from ansible.errors import AnsibleError
from ansible.plugins.connection import ConnectionBase

NOT_FOR_PLAYS = ('jumphosts.multihop.paramiko_hop is internal to the paramiko backend of jumphosts.multihop.ssh; '
                 'use connection: jumphosts.multihop.ssh with multihop_backend: paramiko')


class Connection(ConnectionBase):
    """The hop process's connection object: ansible-core's JSON-RPC server calls ``open_stream`` on it."""

    transport = 'jumphosts.multihop.paramiko_hop'
    has_pipelining = False

    def __init__(self, play_context, *args, **kwargs):
        super().__init__(play_context, *args, **kwargs)
        pid = kwargs.get('ansible_playbook_pid')
        self._playbook_pid = int(pid) if pid and str(pid).isdigit() else None
        self._conn_closed = False
        self._messages = []
        self._server = None

    def _hop_server(self):
        if self._server is None:
            # Imported here: only the hop process needs paramiko and the server.
            from ansible_collections.jumphosts.multihop.plugins.plugin_utils._paramiko_hop_server import HopServer
            from ansible_collections.jumphosts.multihop.plugins.plugin_utils._paramiko_shared import hop_from_wire

            hops = tuple(hop_from_wire(hop) for hop in self.get_option('chain'))
            if not hops:
                raise AnsibleError(NOT_FOR_PLAYS)
            self._server = HopServer(hops, dict(self.get_option('settings')), self._playbook_pid)
            self._server.watch()
        return self._server

    def set_options(self, task_keys=None, var_options=None, direct=None):
        super().set_options(task_keys=task_keys, var_options=var_options, direct=direct)
        if direct and direct.get('chain'):
            self._hop_server()  # in the hop process: its watcher runs from the start, before any request

    def open_stream(self, host, port, blame_next):
        """The one request: a stream to ``host:port`` through the hop (see ``HopServer.open_stream``)."""
        return self._hop_server().open_stream(str(host), int(port), bool(blame_next))

    def pop_messages(self):
        messages, self._messages = self._messages, []
        return messages

    def _connect(self):
        self._connected = True
        return self

    def exec_command(self, cmd, in_data=None, sudoable=True):
        raise AnsibleError(NOT_FOR_PLAYS)

    def put_file(self, in_path, out_path):
        raise AnsibleError(NOT_FOR_PLAYS)

    def fetch_file(self, in_path, out_path):
        raise AnsibleError(NOT_FOR_PLAYS)

    def close(self):
        self._conn_closed = True
        self._connected = False
        if self._server is not None:
            self._server.close()
            self._server = None
