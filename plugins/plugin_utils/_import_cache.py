# Copyright (c) 2026, jumphosts.multihop contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Let Python's bytecode cache serve this collection's helper modules.

ansible-core's collection loader compiles a module's source every time it is imported and keeps no
bytecode. Ansible runs each task in a new worker process, so without the preload vars plugin every
task on every host compiled the connection plugin's helpers again: about 30 ms of CPU
(docs/docsite/rst/performance.rst). This finder hands the helpers to Python's own source loader,
which keeps ``__pycache__`` next to the source, checked against its size and mtime, as for any
installed Python package. Where that directory cannot be written, Python compiles as before.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import sys

_PACKAGE = 'ansible_collections.jumphosts.multihop.plugins.'
# Only pure helper packages: plugins themselves are loaded by ansible-core's plugin loader.
_PACKAGES = tuple(_PACKAGE + name + '.' for name in ('plugin_utils', 'doc_fragments'))


class _HelperFinder:
    """A meta path finder for this collection's helper modules only; everything else goes on down the path."""

    @staticmethod
    def find_spec(fullname, path=None, target=None):
        if not fullname.startswith(_PACKAGES) or not path:
            return None
        leaf = fullname.rpartition('.')[2]
        for directory in path:
            source = os.path.join(directory, leaf + '.py')
            if os.path.isfile(source):
                return importlib.util.spec_from_file_location(fullname, source)
        return None


@contextlib.contextmanager
def bytecode_cache():
    """Within this block, imports of the helpers use the finder; ``sys.meta_path`` is restored after it."""
    finder = _HelperFinder()
    sys.meta_path.insert(0, finder)
    try:
        yield
    finally:
        sys.meta_path.remove(finder)
