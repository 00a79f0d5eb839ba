# Copyright (c) 2026, jumphosts.multihop contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one interface between the connection plugin and whatever carries its connection.

Two implementations, one file each: ``OpenSSHBackend`` (``_openssh.py``) runs ansible.builtin.ssh's own
code, which reaches the route through the plugin's ``_build_command``; ``ParamikoBackend``
(``_paramiko_session.py``) runs everything in-process. A hop or target that cannot be passed is a
``HopError`` on both; the plugin maps it, and nothing else, to an Ansible error.
"""

from __future__ import annotations

import abc


class Backend(abc.ABC):
    """connect, exec, put, fetch, reset and close for one target, through its hops."""

    name: str
    # True when the backend holds the connection itself (paramiko); the builtin's code keeps none between calls.
    in_process: bool

    @abc.abstractmethod
    def connect(self) -> None:
        """Open the route and the target session if they are not open yet."""

    @abc.abstractmethod
    def exec(self, command: str, in_data: bytes | None, sudoable: bool) -> tuple[int, bytes, bytes]:
        """Run ``command`` on the target: (return code, stdout, stderr)."""

    @abc.abstractmethod
    def put(self, in_path: str, out_path: str) -> tuple[int, bytes, bytes]:
        """Copy a local file to the target."""

    @abc.abstractmethod
    def fetch(self, in_path: str, out_path: str) -> tuple[int, bytes, bytes]:
        """Copy a file from the target."""

    @abc.abstractmethod
    def reset(self) -> None:
        """Drop this process's connection to the target, so the next task opens a fresh one."""

    @abc.abstractmethod
    def close(self) -> None:
        """Let go of the target at the end of a task."""
