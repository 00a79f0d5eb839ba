# Copyright (c) 2026, jumphosts.multihop contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The reachability probe: walk a host's chain with the paramiko walker, report each element stage by stage
(stages: ``_stages.py``), give the host-level verdict, and audit the bastions from the outside."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

try:
    import paramiko
except ImportError:  # the import sanity test runs without paramiko; the walker says so at use
    paramiko = None

from ansible_collections.jumphosts.multihop.plugins.plugin_utils._chain import Hop
from ansible_collections.jumphosts.multihop.plugins.plugin_utils._errors import HopError
from ansible_collections.jumphosts.multihop.plugins.plugin_utils._paramiko_errors import error_text
from ansible_collections.jumphosts.multihop.plugins.plugin_utils._paramiko_hops import (
    HopWalk,
    WalkObserver,
    WalkSettings,
)
from ansible_collections.jumphosts.multihop.plugins.plugin_utils._paramiko_messages import channel_request_with_reply
from ansible_collections.jumphosts.multihop.plugins.plugin_utils._stages import STAGES, is_through, ms_since


@dataclass
class HopReport:
    """What the walk learned about one element of the chain (a hop or the destination)."""

    name: str
    address: str
    type: str
    role: str = 'hop'  # 'hop' or 'target'
    stage: str | None = None
    ok: bool = False
    error: str | None = None
    latency_ms: float | None = None
    stage_ms: dict[str, float] = field(default_factory=dict)
    server_version: str | None = None
    host_key_type: str | None = None
    host_key_fingerprint: str | None = None
    # The key as a known_hosts line ("NAMES TYPE BASE64"): public, so a scan can pin it after review.
    host_key_line: str | None = None
    # True or False when the element has pinned keys (multihop_known_hosts) and its key matched them or not.
    host_key_pinned: bool | None = None
    audit: dict[str, object] | None = None
    clock: Callable[[], float] = field(default=time.monotonic, repr=False, compare=False)
    _started: float = field(default=0.0, repr=False, compare=False)

    def begin(self, stage: str) -> None:
        if stage not in STAGES:
            raise ValueError(f'unknown stage {stage!r}')
        self.stage, self.ok, self.error = stage, False, None
        self._started = self.clock()

    def passed(self, elapsed_ms: float | None = None) -> None:
        """The stage begun last succeeded, in ``elapsed_ms`` (measured with ``clock`` when not given)."""
        elapsed = ms_since(self._started, self.clock) if elapsed_ms is None else elapsed_ms
        self.ok = True
        self.stage_ms[self.stage] = elapsed
        if self.stage == 'tcp':
            self.latency_ms = elapsed

    def failed(self, error: str) -> None:
        self.ok, self.error = False, error

    @property
    def complete(self) -> bool:
        """Every stage this element has succeeded."""
        return is_through(self.role, self.stage, self.ok)

    def as_dict(self) -> dict[str, object]:
        return {
            'name': self.name, 'address': self.address, 'type': self.type, 'role': self.role,
            'stage': self.stage, 'ok': self.ok, 'error': self.error, 'latency_ms': self.latency_ms,
            'stage_ms': dict(self.stage_ms), 'server_version': self.server_version,
            'host_key_type': self.host_key_type, 'host_key_fingerprint': self.host_key_fingerprint,
            'host_key_line': self.host_key_line, 'host_key_pinned': self.host_key_pinned, 'audit': self.audit,
        }


def summarize(reports: list[HopReport], target_name: str | None = None) -> dict[str, object]:
    """The host-level verdict from per-element reports (hops first, the destination last, if probed)."""
    reachable_through = []
    failed = None
    for report in reports:
        if not report.complete:
            failed = report
            break
        if report.role == 'hop':
            reachable_through.append(report.name)
    return {
        'reachable': bool(reports) and failed is None,
        'reachable_through': reachable_through,
        'failed_hop': failed.name if failed else (None if reports else target_name),
        'failed_stage': failed.stage if failed else None,
        'error': (failed.error or 'not reached') if failed else (None if reports else 'nothing to probe'),
    }


class Reporter(WalkObserver):
    """Keeps one HopReport per element of the walk (``reports``: the hops, then the target) up to date."""

    def __init__(self, reports: list[HopReport]):
        self.reports = reports

    def started(self, index: int, stage: str) -> None:
        self.reports[index].begin(stage)

    def passed(self, index: int, stage: str, elapsed_ms: float) -> None:
        self.reports[index].passed(elapsed_ms)

    def failed(self, index: int, stage: str, reason: str) -> None:
        self.reports[index].failed(reason)

    def learned(self, index: int, **facts: object) -> None:
        for name, value in facts.items():
            setattr(self.reports[index], name, value)


# --- the bastion audit ------------------------------------------------------------------------------------

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
        result['agent_forwarding_accepted'] = channel_request_with_reply(channel, 'auth-agent-req@openssh.com',
                                                                         timeout)
    except (paramiko.SSHException, OSError, EOFError, TimeoutError) as e:
        result['agent_forwarding_error'] = error_text(e)
    finally:
        with contextlib.suppress(Exception):
            channel.close()
    return result


def audit_hops(hops: tuple[Hop, ...], reports: list[HopReport], logged_in: Mapping[int, object],
               timeout: float) -> None:
    """Audit each hop the walk logged in to (``logged_in``: hop index -> transport) and record it in its report."""
    for index, hop in enumerate(hops):
        transport = logged_in.get(index)
        if transport is None or hop.type == 'socks5':
            continue  # never logged in: nothing to audit
        report = reports[index]
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


# --- the probe --------------------------------------------------------------------------------------------

def _mark_unexpected(reports: list[HopReport], error: Exception) -> None:
    """Put an error the walker did not expect on the element it happened at (the stage in progress)."""
    failed = next((r for r in reports if r.stage and not r.ok), None) \
        or next((r for r in reports if not r.complete), None)
    if failed is not None:
        failed.failed(f'unexpected error: {error_text(error)}')


def probe_chain(hops: tuple[Hop, ...], target: Hop, *, settings: WalkSettings | None = None,
                audit: bool = True) -> dict[str, object]:
    """Walk to ``target`` (an inventory host, as ``ResolvedHost.endpoint``) and report; never raises for
    network trouble.

    Returns ``reachable``, ``reachable_through`` (hop names), ``failed_hop`` (a hop's or the target's
    name, or None), ``failed_stage``, ``error``, ``hops`` (a report dict per hop) and ``target``
    (the target's report dict).
    With ``audit``, each authenticated ssh/netcat hop gets ``audit``: ``agent_forwarding_accepted``
    and ``tcp_forwarding_allowed`` (None when not learnt) plus ``findings`` (text).
    """
    settings = settings or WalkSettings()
    reports = [HopReport(name=hop.name, address=hop.address, type=hop.type, clock=settings.clock) for hop in hops]
    reports.append(HopReport(name=target.name, address=target.address, type=target.type, role='target',
                             clock=settings.clock))
    walk = HopWalk(hops, (target.host, target.effective_port), target=target, settings=settings,
                   observer=Reporter(reports))
    try:
        try:
            walk.run()
        except HopError:
            pass  # the reports say where and why
        except Exception as e:  # report, never raise: a probe must not take the play down
            _mark_unexpected(reports, e)
        if audit:
            audit_hops(hops, reports, walk.logged_in, settings.timeout)
    finally:
        walk.close()
    result = summarize(reports, target.name)
    result['hops'] = [r.as_dict() for r in reports[:-1]]
    result['target'] = reports[-1].as_dict()
    return result
