# Copyright (c) 2026, jumphosts.multihop contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Running one command on the target over paramiko: a pty when sudo may prompt, become's password
answered once when its prompt appears, and stdout/stderr collected until the command exits."""

from __future__ import annotations

import select
import time

from ansible.module_utils.common.text.converters import to_bytes, to_text

BUFSIZE = 65536


class BecomeError(Exception):
    """Escalation failed (wrong or missing password)."""


class BecomeTimeout(BecomeError):
    """No prompt (or no success after the password) in time: unreachable, as ansible.builtin.ssh says."""


def escalation_timeout(timeout: float) -> float:
    """Seconds of silence after which escalation has failed: ansible.builtin.ssh's ``timeout + 2``, which
    it keeps longer than the connect timeout so that the two never race."""
    return timeout + 2


def use_pty(in_data: bytes | None, sudoable: bool, use_tty: bool) -> bool:
    """As the builtin plugin's ``-tt``: a pty when nothing is piped in, so that sudo can prompt on it."""
    return not in_data and sudoable and bool(use_tty)


class BecomeWatcher:
    """The builtin ssh plugin's escalation state machine, fed with the channel's output as it arrives.

    ``feed`` returns the output to keep (prompt and success lines removed) and whether to send the
    become password now; it raises ``BecomeError`` for a wrong or missing password.
    """

    AWAITING_PROMPT, AWAITING_ESCALATION, READY = 'awaiting_prompt', 'awaiting_escalation', 'ready'

    def __init__(self, become, sudoable: bool):
        self.become = become
        if not sudoable or become is None:
            self.state = self.READY
        elif become.expect_prompt():
            self.state = self.AWAITING_PROMPT
        elif become.success:
            self.state = self.AWAITING_ESCALATION
        else:
            self.state = self.READY
        self._rest = {'stdout': b'', 'stderr': b''}

    @property
    def ready(self) -> bool:
        return self.state == self.READY

    def feed(self, source: str, chunk: bytes) -> tuple[bytes, bool]:
        if self.ready:
            data, self._rest[source] = self._rest[source] + chunk, b''
            return data, False
        kept: list[bytes] = []
        send_password = False
        lines = (self._rest[source] + chunk).splitlines(True)
        self._rest[source] = b''
        for index, line in enumerate(lines):
            if self.ready:
                kept += lines[index:]
                break
            suppress, send = self._examine(line)
            send_password = send_password or send
            if not suppress:
                kept.append(line)
        if not self.ready and kept and not kept[-1].endswith(b'\n'):
            self._rest[source] = kept.pop()  # an incomplete line: examined again with the next chunk
        return b''.join(kept), send_password

    def flush(self, source: str) -> bytes:
        data, self._rest[source] = self._rest[source], b''
        return data

    def _examine(self, line: bytes) -> tuple[bool, bool]:
        """(suppress the line, send the password) for one line, moving the state on."""
        become = self.become
        name = become.name
        if become.expect_prompt() and become.check_password_prompt(line):
            if self.state == self.AWAITING_PROMPT:
                self.state = self.AWAITING_ESCALATION
                return True, True
            raise BecomeError(f'Incorrect {name} password')  # prompted again: the password was refused
        if become.success and become.check_success(line):
            self.state = self.READY
            return True, False
        if become.check_incorrect_password(line):
            raise BecomeError(f'Incorrect {name} password')
        if become.check_missing_password(line):
            raise BecomeError(f'Missing {name} password')
        return False, False


def _read_channel(channel, watcher: BecomeWatcher, out: list[bytes], err: list[bytes]) -> tuple[bool, bool]:
    """Drain what the channel has: (anything arrived, the password is to be sent now)."""
    arrived = send_password = False
    while channel.recv_ready():
        kept, send = watcher.feed('stdout', channel.recv(BUFSIZE))
        out.append(kept)
        arrived, send_password = True, send_password or send
    while channel.recv_stderr_ready():
        kept, send = watcher.feed('stderr', channel.recv_stderr(BUFSIZE))
        err.append(kept)
        arrived, send_password = True, send_password or send
    return arrived, send_password


def run_command(transport, command: str, in_data: bytes | None, *, pty: bool, watcher: BecomeWatcher,
                become_password: str | None, timeout: float) -> tuple[int, bytes, bytes]:
    """Run ``command`` on a session channel; answer the become prompt, then pipe ``in_data`` in."""
    channel = transport.open_session(timeout=timeout)
    try:
        if pty:
            channel.get_pty(term='vt100', width=0, height=0)
        channel.exec_command(command)
        out: list[bytes] = []
        err: list[bytes] = []
        quiet_since = time.monotonic()
        sent_input = False
        while True:
            if watcher.ready and not sent_input:
                if in_data:
                    channel.sendall(in_data)
                if not pty:
                    channel.shutdown_write()  # EOF on stdin, as the builtin's closed pipe
                sent_input = True
            arrived, send_password = _read_channel(channel, watcher, out, err)
            if arrived:
                quiet_since = time.monotonic()
            if send_password:
                channel.sendall(to_bytes(become_password or '', errors='surrogate_or_strict') + b'\n')
                continue
            if channel.exit_status_ready() and not channel.recv_ready() and not channel.recv_stderr_ready():
                break
            # As the builtin: silence, not the total time, while escalation is negotiated; its message too.
            silence_left = quiet_since + escalation_timeout(timeout) - time.monotonic()
            if not watcher.ready and silence_left <= 0:
                shown = to_text(b''.join(out))
                if become_password:  # a pty may have echoed it after a prompt that went unnoticed
                    shown = shown.replace(become_password, '********')
                raise BecomeTimeout(f'Timeout ({int(escalation_timeout(timeout))}s) waiting for privilege escalation '
                                    f'prompt: {shown}')
            if not transport.is_active():
                raise EOFError('the connection closed while the command ran')
            select.select([channel], [], [], 1 if watcher.ready else min(1, silence_left))
        out.append(watcher.flush('stdout'))
        err.append(watcher.flush('stderr'))
        return channel.recv_exit_status(), b''.join(out), b''.join(err)
    finally:
        channel.close()
