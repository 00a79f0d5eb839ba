# Copyright (c) 2026, jumphosts.multihop contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The bastion audit of reachability: from the outside, does a hop accept agent forwarding (it should not),
and did it allow the TCP forward to the next element?"""

from __future__ import annotations

import contextlib

try:
    import paramiko
except ImportError:  # the import sanity test runs without paramiko; the walker says so at use
    paramiko = None

from ansible_collections.jumphosts.multihop.plugins.plugin_utils._chain import Hop
from ansible_collections.jumphosts.multihop.plugins.plugin_utils._hop_report import HopReport
from ansible_collections.jumphosts.multihop.plugins.plugin_utils._paramiko_errors import error_text


def audit_bastion(transport, timeout: float) -> dict[str, object]:
    """Whether an authenticated hop accepts an agent-forwarding request. It should refuse.

    The request is sent on a fresh session channel that runs nothing and is closed at once; no
    agent is attached, so even a server that accepts gets nothing to talk to.
    """
    result: dict[str, object] = {'agent_forwarding_accepted': None, 'agent_forwarding_error': None}
    try:
        channel = transport.open_session(timeout=timeout)
    except (paramiko.SSHException, OSError, EOFError) as e:
        result['agent_forwarding_error'] = f'cannot open a session: {error_text(e)}'
        return result
    try:
        result['agent_forwarding_accepted'] = _request_agent_forwarding(channel, timeout)
    except (paramiko.SSHException, OSError, EOFError, TimeoutError) as e:
        result['agent_forwarding_error'] = error_text(e)
    finally:
        with contextlib.suppress(Exception):
            channel.close()
    return result


def _request_agent_forwarding(channel, timeout: float) -> bool:
    # Channel.request_forward_agent() sends want_reply=false and installs a handler, so it can
    # neither tell the answer nor stay agent-less: send the same request with want_reply=true.
    # The success/failure bookkeeping below is paramiko's own (Channel.exec_command uses it).
    message = paramiko.Message()
    message.add_byte(paramiko.common.cMSG_CHANNEL_REQUEST)
    message.add_int(channel.remote_chanid)
    message.add_string('auth-agent-req@openssh.com')
    message.add_boolean(True)
    channel._event_pending()
    channel.transport._send_user_message(message)
    if not channel.event.wait(timeout):
        raise TimeoutError('no answer to the agent-forwarding request')
    return bool(channel.event_ready)


def audit_hops(hops: tuple[Hop, ...], reports: list[HopReport], used_transports: list, timeout: float) -> None:
    """Audit each hop the walk logged in to (``used_transports``, in order) and record it in its report."""
    transports = iter(used_transports)
    for index, hop in enumerate(hops):
        report = reports[index]
        if hop.type == 'socks5':
            continue
        if not (report.stage in ('auth', 'forward') and (report.ok or report.stage == 'forward')):
            continue  # never logged in: nothing to audit
        transport = next(transports, None)
        if transport is None:
            break
        audit = audit_bastion(transport, timeout)
        tcp_allowed = None
        if hop.type == 'ssh' and report.stage == 'forward':
            tcp_allowed = report.ok
        findings = []
        if audit['agent_forwarding_accepted']:
            findings.append(f'{hop.name} accepts agent forwarding: anyone with root there could use a '
                            'forwarded agent (set AllowAgentForwarding no)')
        if tcp_allowed is False:
            findings.append(f'{hop.name} denies TCP forwarding: use multihop_type netcat for it')
        audit['tcp_forwarding_allowed'] = tcp_allowed
        audit['findings'] = findings
        report.audit = audit
