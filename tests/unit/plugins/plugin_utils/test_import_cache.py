from __future__ import annotations

import importlib
import importlib.machinery
import sys

from ansible_collections.jumphosts.multihop.plugins.plugin_utils._import_cache import bytecode_cache

HELPER = 'ansible_collections.jumphosts.multihop.plugins.plugin_utils._permit_open'


def test_helpers_load_with_the_source_loader_and_meta_path_is_restored(monkeypatch):
    monkeypatch.delitem(sys.modules, HELPER, raising=False)
    before = list(sys.meta_path)
    with bytecode_cache():
        module = importlib.import_module(HELPER)
    assert sys.meta_path == before
    # Python's own loader: it reads and writes __pycache__, which ansible-core's collection loader never does.
    assert isinstance(module.__loader__, importlib.machinery.SourceFileLoader)
    assert module.__file__.endswith('plugin_utils/_permit_open.py')


def test_other_modules_are_left_to_the_other_finders(monkeypatch):
    name = 'ansible_collections.jumphosts.multihop.plugins.modules.chain_info'
    monkeypatch.delitem(sys.modules, name, raising=False)
    with bytecode_cache():
        module = importlib.import_module(name)
    assert not isinstance(module.__loader__, importlib.machinery.SourceFileLoader)
