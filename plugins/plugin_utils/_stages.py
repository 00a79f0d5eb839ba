# Copyright (c) 2026, jumphosts.multihop contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The stages a walk passes on each element of a chain, and when an element is through. Pure logic.

Stages of one element, in order:

- ``tcp``: a byte stream to it exists (a TCP connection for the first element; for a later one, the
  previous hop opened its forward to it).
- ``banner``: the server sent its SSH version and key exchange finished.
- ``hostkey``: the server's host key matches known_hosts.
- ``auth``: logged in.
- ``forward``: the hop agreed to forward to the next element. A hop that tries but cannot connect
  onwards did its part: that is the next element's ``tcp`` failure.

A socks5 hop has only ``tcp`` and ``forward``; the target (the inventory host at the end) has no ``forward``.
"""

from __future__ import annotations

from collections.abc import Callable

STAGES = ('tcp', 'banner', 'hostkey', 'auth', 'forward')


def last_stage(role: str) -> str:
    """The stage that finishes an element: ``auth`` for the target, ``forward`` for a hop."""
    return 'auth' if role == 'target' else 'forward'


def is_through(role: str, stage: str | None, ok: bool) -> bool:
    """Whether an element (``role`` 'hop' or 'target') whose last stage reached is ``stage`` got through."""
    return ok and stage == last_stage(role)


def ms_since(started: float, clock: Callable[[], float]) -> float:
    """Milliseconds since ``started`` (a ``clock()`` reading), as stage times are given: one decimal."""
    return round((clock() - started) * 1000, 1)
