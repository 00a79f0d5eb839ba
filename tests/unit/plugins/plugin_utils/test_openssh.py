"""The OpenSSH backend's file edge: a private control directory and an askpass that answers only passwords."""

from __future__ import annotations

import os
import subprocess
import threading
import time

import pytest

from ansible_collections.jumphosts.multihop.plugins.plugin_utils._chain import Hop
from ansible_collections.jumphosts.multihop.plugins.plugin_utils._errors import MultihopError
from ansible_collections.jumphosts.multihop.plugins.plugin_utils._openssh import (
    ASKPASS_SCRIPT,
    OpenSSHRoute,
    check_private,
    file_lock,
    private_directory,
)

HOP = Hop(name='bastion1', alias='bastion1', host='10.0.0.1', user='jump')


@pytest.fixture
def askpass(tmp_path):
    script = tmp_path / 'askpass'
    script.write_text(ASKPASS_SCRIPT)
    script.chmod(0o700)
    fifo = tmp_path / 'answer'
    fifo.write_text('s3cret\n')  # a plain file stands in for the FIFO: the script only reads it

    def ask(prompt):
        return subprocess.run([str(script), prompt], capture_output=True, text=True, check=False,
                              env={'MULTIHOP_ASKPASS_FIFO': str(fifo), 'PATH': os.environ['PATH']})
    return ask


@pytest.mark.parametrize('prompt', ["jump@10.0.0.1's password: ", '(jump@10.0.0.1) Password: ', 'Password:'])
def test_askpass_answers_password_prompts(askpass, prompt):
    result = askpass(prompt)
    assert (result.returncode, result.stdout) == (0, 's3cret\n')


@pytest.mark.parametrize('prompt', [
    'Are you sure you want to continue connecting (yes/no/[fingerprint])? ',
    "Enter passphrase for key '/k/id': ",
    'Verification code: ',
    "password: now type yes\nAre you sure",
])
def test_askpass_answers_nothing_else(askpass, prompt):
    result = askpass(prompt)
    assert result.returncode == 1 and result.stdout == ''


def test_private_directory_is_created_0700(tmp_path):
    path = tmp_path / 'cp'
    private_directory(str(path))
    assert path.stat().st_mode & 0o777 == 0o700


@pytest.mark.parametrize('mode', [0o777, 0o770, 0o1777])
def test_a_directory_others_may_write_is_refused(tmp_path, mode):
    path = tmp_path / 'cp'
    path.mkdir()
    path.chmod(mode)
    with pytest.raises(MultihopError, match=r'refusing to use control directory .*group or others may write'):
        private_directory(str(path))


def test_a_planted_file_of_another_user_is_refused(tmp_path):
    # Runs as root, as make test does: only root can give a file to another user.
    planted = tmp_path / 'mh-0123.conf'
    planted.write_text('Host *\n  ProxyCommand touch /tmp/pwned\n')
    os.chown(planted, 65534, 65534)
    with pytest.raises(MultihopError, match=r'refusing to use route config .*owned by uid 65534'):
        check_private(str(planted), 'route config')


def test_a_symlink_is_refused(tmp_path):
    (tmp_path / 'link').symlink_to(tmp_path)
    with pytest.raises(MultihopError, match='symbolic link'):
        check_private(str(tmp_path / 'link'), 'route config')


def test_a_planted_route_config_is_never_used(tmp_path):
    route = OpenSSHRoute((HOP,), str(tmp_path))
    with open(route.config_path, 'w', encoding='utf-8') as planted:
        planted.write('Host *\n  ProxyCommand touch /tmp/pwned\n')
    os.chmod(route.config_path, 0o666)
    with pytest.raises(MultihopError, match='group or others may write'):
        route.prepare()


@pytest.mark.parametrize('settings, message', [
    ({'control_persist': '60s\nMatch exec "touch /tmp/F"'}, 'invalid multihop_control_persist'),
    ({'ssh_executable': 'ssh\n'}, 'invalid ssh_executable'),
])
def test_runtime_values_are_checked(tmp_path, settings, message):
    with pytest.raises(MultihopError, match=message):
        OpenSSHRoute((HOP,), str(tmp_path), **settings)


@pytest.mark.parametrize('directory', ['relative/cp', '/tmp/a\nb', '/tmp/%h'])
def test_control_directory_is_checked(directory):
    with pytest.raises(MultihopError, match='control_path_dir'):
        OpenSSHRoute((HOP,), directory)


def test_a_second_locker_waits_for_the_first_and_times_out(tmp_path):
    path = str(tmp_path / 'hop.lock')
    order = []

    def second():
        with file_lock(path, timeout=5):
            order.append('second')

    with file_lock(path, timeout=5):
        waiter = threading.Thread(target=second)
        waiter.start()
        time.sleep(0.2)
        order.append('first done')
        with pytest.raises(OSError, match='for another process to log in'), file_lock(path, timeout=0.1):
            pass
    waiter.join(5)
    assert order == ['first done', 'second']
