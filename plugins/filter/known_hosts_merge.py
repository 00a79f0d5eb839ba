# Copyright (c) 2026, jumphosts.multihop contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Merge the host keys a reachability scan found into pinned keys, never replacing a pin."""

from __future__ import annotations

DOCUMENTATION = r"""
name: known_hosts_merge
short_description: Merge host keys found by a scan into pinned keys, reporting keys that differ from a pin
description:
  - Takes the results of M(jumphosts.multihop.reachability_info) run with
    O(jumphosts.multihop.reachability_info#module:scan=true) and the pinned keys you have
    (C(multihop_known_hosts) lines), and returns the pins with every key never seen before added.
  - A key that differs from a pinned key of the same type for the same name is not added. It is returned under
    C(mismatched), so that a person can find out why (a reinstalled host, or a man in the middle).
  - The playbook C(jumphosts.multihop.host_keys) uses it.
positional: pinned
options:
  _input:
    description: Registered results of M(jumphosts.multihop.reachability_info), one per host.
    type: list
    elements: dict
    required: true
  pinned:
    description: The known_hosts lines pinned so far, as a list or one string, or a list of such values.
    type: raw
    default: []
author: jumphosts.multihop contributors (@jumphosts)
"""

EXAMPLES = r"""
- name: Merge what the scan found
  ansible.builtin.set_fact:
    merged: "{{ scan_results | jumphosts.multihop.known_hosts_merge(multihop_known_hosts | default([])) }}"
"""

RETURN = r"""
_value:
  description: The merge.
  type: dict
  contains:
    lines:
      description: The pinned lines, then the new ones.
      type: list
      elements: str
    new:
      description: Keys found for names that had no key pinned.
      type: list
      elements: str
    mismatched:
      description: Keys that differ from the pinned key of their name; not in RV(_value.lines).
      type: list
      elements: str
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.jumphosts.multihop.plugins.plugin_utils._errors import MultihopError
from ansible_collections.jumphosts.multihop.plugins.plugin_utils._gate import check_known_hosts_lines
from ansible_collections.jumphosts.multihop.plugins.plugin_utils._known_hosts import merge_scanned_keys


def _flat(value):
    if isinstance(value, (list, tuple)):
        return [line for item in value for line in _flat(item)]
    return [value]


def known_hosts_merge(results, pinned=()):
    if not isinstance(results, (list, tuple)) or not all(isinstance(r, dict) for r in results):
        raise AnsibleFilterError('jumphosts.multihop.known_hosts_merge: expects a list of reachability results')
    try:
        pinned = [line for line in _flat(pinned) if line]
        pins = check_known_hosts_lines(pinned, 'pinned keys') if pinned else ()
        elements = [e for r in results for e in [*(r.get('hops') or []), r.get('target')] if isinstance(e, dict)]
        found = [e['host_key_line'] for e in elements if e.get('host_key_line')]
        checked = check_known_hosts_lines(found, 'scanned keys') if found else ()
    except MultihopError as e:
        raise AnsibleFilterError(f'jumphosts.multihop.known_hosts_merge: {e}') from None
    return merge_scanned_keys(checked, pins)


class FilterModule:
    def filters(self):
        return {'known_hosts_merge': known_hosts_merge}
