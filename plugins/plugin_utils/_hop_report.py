# Copyright (c) 2026, jumphosts.multihop contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a walk learns about each element of a chain, stage by stage, and the host-level verdict. Pure logic.

Stages of one hop, in order: ``tcp`` (a byte stream to the hop exists), ``banner`` (the SSH version and
key exchange), ``hostkey``, ``auth``, ``forward`` (the hop agreed to forward onwards). The destination has
no ``forward``; a socks5 hop has only ``tcp`` and ``forward``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

STAGES = ('tcp', 'banner', 'hostkey', 'auth', 'forward')


def _elapsed_ms(start: float, clock: Callable[[], float]) -> float:
    return round((clock() - start) * 1000, 1)


# --- reports ----------------------------------------------------------------------------------------------

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
        elapsed = _elapsed_ms(self._started, self.clock) if elapsed_ms is None else elapsed_ms
        self.ok = True
        self.stage_ms[self.stage] = elapsed
        if self.stage == 'tcp':
            self.latency_ms = elapsed

    def failed(self, error: str) -> None:
        self.ok, self.error = False, error

    @property
    def complete(self) -> bool:
        """Every stage this element has succeeded."""
        last = 'auth' if self.role == 'target' else 'forward'
        return self.ok and self.stage == last

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
