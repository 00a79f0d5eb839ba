# Copyright (c) 2026, jumphosts.multihop contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""ssh command-line arguments as inventory gives them: split into words, and read as ssh_config options.

Pure logic. A hop's arguments become ssh_config settings through the gate; a target's go to the OpenSSH
client as the builtin plugin passes them, and only a few are read here (-F files, paramiko's options).
"""

from __future__ import annotations

import contextlib
import shlex

from ansible_collections.jumphosts.multihop.plugins.plugin_utils import _hop_keywords as hop_keywords
from ansible_collections.jumphosts.multihop.plugins.plugin_utils._errors import MultihopError, shown


def target_arg_tokens(*arg_strings: str | None) -> list[str]:
    """The words of the target's ssh argument strings; one that cannot be split is skipped, since the
    builtin plugin reports it when it builds the command."""
    tokens: list[str] = []
    for text in arg_strings:
        if text:
            with contextlib.suppress(ValueError):
                tokens += shlex.split(text)
    return tokens


def ssh_arg_options(tokens: list[str]):
    """``(key, value)`` for each ``-o Key=Value``, ``-o "Key Value"`` or ``-i FILE`` in ssh arguments.

    Any other argument gives ``(None, argument)``: callers decide whether to refuse or ignore it.
    """
    tokens = list(reversed(tokens))
    while tokens:
        token = tokens.pop()
        if token in ('-o', '-i') and tokens:
            option = tokens.pop() if token == '-o' else 'IdentityFile=' + tokens.pop()
        elif token.startswith(('-o', '-i')) and len(token) > 2:
            option = token[2:] if token.startswith('-o') else 'IdentityFile=' + token[2:]
        else:
            yield None, token
            continue
        key, sep, value = option.partition('=')
        if not sep:
            key, sep, value = option.strip().partition(' ')
        yield key.strip(), value.strip()


HopOptions = tuple[tuple[str, str], ...]


def parse_ssh_args(args: object, where: str, *, reveal: bool = True,
                   only_options: bool = True) -> tuple[HopOptions, tuple[str, ...]]:
    """``-o Key=Value`` and ``-i FILE`` arguments as (hop options, what is ignored on hops).

    ``_hop_keywords.hop_option_role`` classifies each keyword once: allowed ones are checked by their grammar,
    ignored ones only concern the target's session or are managed by the plugin. Any other argument (``-C``,
    ``-F FILE``, ``-v``) is refused where the arguments were written for this hop (``only_options``), and
    ignored in ``ansible_ssh_common_args`` or ``ansible_ssh_extra_args``, which are often set once for all
    hosts: a hop's connection is described in ssh_config, so they never reach it.
    """
    if args is None or args == '':
        return (), ()
    if isinstance(args, str):
        try:
            tokens = shlex.split(args)
        except ValueError as e:
            raise MultihopError(f'{where}: cannot parse ssh arguments {shown(args, reveal)}: {e}') from e
    elif isinstance(args, (list, tuple)) and all(isinstance(a, str) for a in args):
        tokens = list(args)
    else:
        raise MultihopError(f'{where}: ssh arguments must be a string or a list of strings')

    options, ignored = [], []
    for key, value in ssh_arg_options(tokens):
        if key is None and not only_options:
            if value.startswith('-'):
                ignored.append(value[:2])  # the flag alone: its value may be anything, even a secret
            continue
        if key is None:
            raise MultihopError(f'{where}: unsupported ssh argument {shown(value, reveal)}: a hop accepts only '
                                '"-o Key=Value" and "-i FILE"')
        if not value:
            raise MultihopError(f'{where}: malformed ssh option {shown(key, reveal)}, expected Key=Value')
        if hop_keywords.hop_option_role(key, value, where) == 'ignored':
            ignored.append(key)
        else:
            options.append(hop_keywords.check_option(key, value, where, reveal=reveal))
    return tuple(options), tuple(ignored)
