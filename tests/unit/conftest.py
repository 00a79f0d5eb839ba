"""Unit tests import the collection as `make install` installed it (see pyproject.toml)."""

import os

import pytest

_PATHS = [p for p in os.environ.get("ANSIBLE_COLLECTIONS_PATH", "").split(os.pathsep) if p]
if not any(os.path.isdir(os.path.join(p, "ansible_collections", "jumphosts", "multihop")) for p in _PATHS):
    raise pytest.UsageError("jumphosts.multihop is not installed under ANSIBLE_COLLECTIONS_PATH: run `make unit`")
