"""The far end of test_backend_contract.py: one fake remote host behind both backends' seams.

Run as ``contract_remote.py ssh|sftp ARGS...`` it is the OpenSSH client the builtin's code starts
(``ssh_executable``, ``sftp_executable``); run as ``contract_remote.py exec COMMAND`` it is the
process behind a fake paramiko channel. Either way a command runs here, on the controller, with
``/bin/sh``, except sudo, which this plays: its prompt, its password check, its silence.

The scenario comes from the environment (``MH_REMOTE_*``); what happened is written to
``MH_REMOTE_STATE``: ``logins`` (one line per login to the target) and ``master`` (the OpenSSH
client's persistent connection to the target, while it lives).
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import time

STATE = os.environ.get('MH_REMOTE_STATE', '')
SUDO_PASSWORD = os.environ.get('MH_REMOTE_SUDO_PASSWORD', '')
SUDO_SILENT = os.environ.get('MH_REMOTE_SUDO') == 'silent'
HOP_ERROR = os.environ.get('MH_REMOTE_HOP_ERROR', '')
SILENCE = 60  # longer than any timeout the table gives: the backend has to give up first


def _state(name: str) -> str:
    return os.path.join(STATE, name)


def log_in() -> None:
    with open(_state('logins'), 'a', encoding='ascii') as handle:
        handle.write('login\n')


def sudo(words: list[str]) -> int:
    """``sudo -S -p PROMPT [options] -u USER COMMAND...``: prompt on stderr, read stdin, then run COMMAND."""
    prompt = words[words.index('-p') + 1]
    command = words[words.index('-u') + 2:]
    if SUDO_SILENT:
        time.sleep(SILENCE)
        return 1
    for _attempt in range(3):
        sys.stderr.write(prompt)
        sys.stderr.flush()
        if sys.stdin.buffer.readline().rstrip(b'\r\n') == SUDO_PASSWORD.encode():
            return subprocess.call(command)
        sys.stderr.write('Sorry, try again.\n')
        sys.stderr.flush()
    return 1


def run(command: str) -> int:
    words = shlex.split(command)
    if words and words[0] == 'sudo':
        return sudo(words)
    return subprocess.call(['/bin/sh', '-c', command])


def ssh(args: list[str]) -> int:
    """The OpenSSH client: control commands (-O), a hop's master (-N), or a command on the target."""
    if '-O' in args:
        master = _state('master')
        if args[args.index('-O') + 1] == 'check':
            return 0 if os.path.exists(master) else 255
        os.unlink(master)  # stop
        return 0
    if '-N' in args:
        if HOP_ERROR:
            sys.stderr.write(HOP_ERROR + '\n')
            return 255
        return 0
    if not os.path.exists(_state('master')):  # ControlMaster=auto: a first command logs in, later ones reuse it
        log_in()
        open(_state('master'), 'w', encoding='ascii').close()
    return run(args[-1])


def sftp(args: list[str]) -> int:
    """``sftp -b - ... HOST`` with ``put|get SOURCE DESTINATION`` lines on stdin."""
    for line in sys.stdin.read().splitlines():
        action, source, destination = shlex.split(line)
        if action not in ('put', 'get') or not os.path.exists(source):
            sys.stderr.write(f'sftp: {line}: failed\n')
            return 1
        shutil.copyfile(source, destination)
    return 0


if __name__ == '__main__':
    role, arguments = sys.argv[1], sys.argv[2:]
    sys.exit({'ssh': ssh, 'sftp': sftp}[role](arguments) if role != 'exec' else run(arguments[0]))
