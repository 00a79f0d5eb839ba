# Copyright (c) 2026, jumphosts.multihop contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Adapts ansible-core's ``hostvars`` to the resolver's lookup, keeping resolution O(chain length)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from jinja2 import Undefined

from ansible_collections.jumphosts.multihop.plugins.plugin_utils._chain import TEMPLATE_MARKERS
from ansible_collections.jumphosts.multihop.plugins.plugin_utils._errors import VariableError


def _holds_template(value: object) -> bool:
    if isinstance(value, str):
        return any(marker in value for marker in TEMPLATE_MARKERS)
    if isinstance(value, Mapping):
        return any(_holds_template(k) or _holds_template(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return any(_holds_template(v) for v in value)
    return False


class InventoryVars(Mapping):
    """One host's variables as the resolver reads them.

    Reading a variable templates it; a failure becomes a VariableError that names the variable and says
    nothing of its value. ``templated(name)`` tells whether the raw value was a template, so that the
    resolver never shows such a value in an error (a lookup may have put a secret in it).
    """

    def __init__(self, name: str, variables: Mapping[str, object]):
        self._name = name
        self._variables = variables
        # HostVarsVars keeps the raw values in _vars; a plain dict holds them as written. Anything else:
        # treat every value as templated.
        self._raw = variables if isinstance(variables, dict) else getattr(variables, '_vars', None)

    def __getitem__(self, key: str) -> object:
        try:
            value = self._variables[key]
        except KeyError:
            raise
        except Exception as e:  # templating: undefined variables, failed lookups and filters
            raise VariableError(f'variable {key} of {self._name} cannot be templated ({type(e).__name__})') from None
        if isinstance(value, Undefined):  # ansible-core 2.19+ hands back a marker instead of raising
            raise VariableError(f'variable {key} of {self._name} cannot be templated (undefined)')
        return value

    def __contains__(self, key: object) -> bool:
        return key in self._variables

    def __iter__(self) -> Iterator[str]:
        return iter(self._variables)

    def __len__(self) -> int:
        return len(self._variables)

    def templated(self, key: str) -> bool:
        if not isinstance(self._raw, Mapping):
            return True
        return _holds_template(self._raw.get(key))


def hostvars_lookup(hostvars, owner: str | None = None, owner_vars: Mapping[str, object] | None = None):
    """``lookup(name)`` for the resolver: that host's variables, or None if it is not in the inventory.

    ``hostvars[name]`` templates each variable only when it is read, so resolving a chain never
    templates the variables of hosts that are not on it (doing so costs minutes on large inventories).
    The resolver reads the owner's own variables only to tell whether its multihop_via was a template:
    ``owner_vars``, the task's raw variables, answer that without ansible-core computing them again.
    """

    def lookup(name: str) -> Mapping[str, object] | None:
        if owner_vars is not None and name == owner:
            return InventoryVars(name, owner_vars)
        if hostvars is None or name not in hostvars:
            return None
        return InventoryVars(name, hostvars[name])

    return lookup
