# Copyright (c) 2026, jumphosts.multihop contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Logging in to one element of the chain with paramiko: its key file, else agent and default keys; then its password.

Never forwards the agent: its keys only sign here.
"""

from __future__ import annotations

import contextlib
import getpass
import os
from collections.abc import Iterable

try:
    import paramiko
except ImportError:  # the import sanity test runs without paramiko; the walker says so at use
    paramiko = None

from ansible_collections.jumphosts.multihop.plugins.plugin_utils._chain import Hop
from ansible_collections.jumphosts.multihop.plugins.plugin_utils._paramiko_errors import error_text

DEFAULT_IDENTITIES = ('~/.ssh/id_ed25519', '~/.ssh/id_ecdsa', '~/.ssh/id_rsa')


class _KeyProblem(Exception):
    pass


def _load_private_key(path: str):
    try:
        return paramiko.PKey.from_path(os.path.expanduser(path))
    except paramiko.PasswordRequiredException as e:
        raise _KeyProblem(f'private key {path} is encrypted; load it into an ssh-agent instead') from e
    except (OSError, paramiko.SSHException, ValueError) as e:
        raise _KeyProblem(f'cannot load private key {path}: {e}') from e


def _keys_to_try(hop: Hop, allow_agent: bool, default_identities: Iterable[str]):
    """([(what, key)], [problems]): the hop's own key files; without any, the agent's keys and the default files."""
    key_files = [hop.private_key_file] if hop.private_key_file else []
    key_files += [v for k, v in hop.options if k.lower() == 'identityfile']
    keys: list[tuple[str, object]] = []
    problems: list[str] = []
    for path in key_files:
        try:
            keys.append((path, _load_private_key(path)))
        except _KeyProblem as e:
            problems.append(str(e))
    if not key_files:
        if allow_agent and os.environ.get('SSH_AUTH_SOCK'):
            with contextlib.suppress(paramiko.SSHException, OSError):
                keys += [('ssh-agent key', k) for k in paramiko.Agent().get_keys()]
        for path in default_identities:
            if os.path.exists(os.path.expanduser(path)):
                with contextlib.suppress(_KeyProblem):
                    keys.append((path, _load_private_key(path)))
    return keys, problems


def authenticate(transport, hop: Hop, *, allow_agent: bool = True,
                 default_identities: Iterable[str] = DEFAULT_IDENTITIES) -> str | None:
    """Log in on ``transport`` as the hop's user. None when in, else why not (never the password)."""
    user = hop.user or getpass.getuser()
    tried: list[str] = []
    allowed: list[str] | None = None
    keys, problems = _keys_to_try(hop, allow_agent, default_identities)
    for what, key in keys:
        if allowed is not None and 'publickey' not in allowed:
            break
        try:
            remaining = transport.auth_publickey(user, key)
        except paramiko.BadAuthenticationType as e:
            allowed = list(e.allowed_types)
            continue
        except paramiko.AuthenticationException:
            tried.append(what)
            continue
        except (paramiko.SSHException, OSError) as e:
            return f'authentication as {user} failed: {error_text(e)}'
        if transport.is_authenticated():
            return None
        return f'{user} needs further authentication ({", ".join(remaining)}), which is not supported'
    if hop.password and (allowed is None or 'password' in allowed or 'keyboard-interactive' in allowed):
        try:
            transport.auth_password(user, hop.password)
        except paramiko.BadAuthenticationType as e:
            allowed = list(e.allowed_types)
        except paramiko.AuthenticationException:
            tried.append('password')
        except (paramiko.SSHException, OSError) as e:
            return f'authentication as {user} failed: {error_text(e)}'
        if transport.is_authenticated():
            return None
    detail = '; '.join(problems)
    if not tried and not keys and not hop.password:
        return f'no key, agent or password to log in as {user}' + (f' ({detail})' if detail else '')
    what = ', '.join(tried) if tried else 'nothing'
    allowed_text = f'; the server accepts {", ".join(allowed)}' if allowed else ''
    return f'permission denied for {user} (tried {what}){allowed_text}' + (f'; {detail}' if detail else '')
