"""pytest plugin: make ``ansible_collections.*`` importable the way ansible-core does.

Loaded by the Makefile with ``-p pytest_collection_loader`` (``tests/ci`` is put on
PYTHONPATH). ``ANSIBLE_COLLECTIONS_PATH`` must point at the directory that holds
``ansible_collections/`` (``make install`` fills ``.build/collections``).

Why not plain PYTHONPATH: ``ansible_collections`` would then be imported as an
ordinary namespace package, and ansible's plugin loaders (``connection_loader.get``
and friends) would not find the collection, because ansible-core's collection
finder is only installed by its CLIs. ``init_plugin_loader`` installs that finder
on ``sys.meta_path``, so test modules, the code under test and the plugin loaders
all resolve ``jumphosts.multihop`` to the same installed tree, as at run time.
"""

from __future__ import annotations

import os

import pytest


def pytest_configure(config: pytest.Config) -> None:
    paths = [p for p in os.environ.get("ANSIBLE_COLLECTIONS_PATH", "").split(os.pathsep) if p]
    if not paths:
        raise pytest.UsageError("pytest_collection_loader: set ANSIBLE_COLLECTIONS_PATH (run tests through make)")
    for path in paths:
        if not os.path.isdir(os.path.join(path, "ansible_collections", "jumphosts", "multihop")):
            raise pytest.UsageError(f"pytest_collection_loader: jumphosts.multihop is not installed under {path}")

    from ansible.plugins.loader import init_plugin_loader

    init_plugin_loader(paths)
