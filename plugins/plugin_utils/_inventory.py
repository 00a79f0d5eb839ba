# Copyright (c) 2026, jumphosts.multihop contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Adapts ansible-core's ``hostvars`` to the resolver's lookup, keeping resolution O(chain length)."""

from __future__ import annotations

from collections.abc import Mapping


def hostvars_lookup(hostvars):
    """``lookup(name)`` for the resolver: that host's variables, or None if it is not in the inventory.

    ``hostvars[name]`` templates each variable only when it is read, so resolving a chain never
    templates the variables of hosts that are not on it (doing so costs minutes on large inventories).
    """

    def lookup(name: str) -> Mapping[str, object] | None:
        if hostvars is None or name not in hostvars:
            return None
        return hostvars[name]

    return lookup
