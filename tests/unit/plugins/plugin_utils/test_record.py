from __future__ import annotations

import dataclasses

import pytest

from ansible_collections.jumphosts.multihop.plugins.plugin_utils._gate import LazyPattern
from ansible_collections.jumphosts.multihop.plugins.plugin_utils._inventory import hostvars_lookup
from ansible_collections.jumphosts.multihop.plugins.plugin_utils._record import field, record


@record
class Sample:
    name: str
    port: int | None = None
    secret: str | None = field(default=None, repr=False, compare=False)
    notes: tuple[str, ...] = field(default=(), compare=False)


@dataclasses.dataclass(frozen=True)
class Reference:
    name: str
    port: int | None = None
    secret: str | None = dataclasses.field(default=None, repr=False, compare=False)
    notes: tuple[str, ...] = dataclasses.field(default=(), compare=False)


@pytest.mark.parametrize('args, kwargs', [(('a',), {}), (('a', 22), {'secret': 's'}),
                                          ((), {'name': 'a', 'notes': ('x',)})])
def test_behaves_as_a_frozen_dataclass(args, kwargs):
    ours, theirs = Sample(*args, **kwargs), Reference(*args, **kwargs)
    assert repr(ours).replace('Sample', 'Reference') == repr(theirs)
    assert (ours.name, ours.port, ours.secret, ours.notes) == (theirs.name, theirs.port, theirs.secret, theirs.notes)
    assert ours == Sample(ours.name, ours.port, secret='other', notes=('other',))  # compare=False fields
    assert hash(ours) == hash(Sample(ours.name, ours.port))
    assert ours != Sample('b', ours.port)
    assert ours != theirs
    with pytest.raises(dataclasses.FrozenInstanceError):
        ours.name = 'b'
    with pytest.raises(dataclasses.FrozenInstanceError):
        del ours.port


@pytest.mark.parametrize('args, kwargs', [((), {}), (('a', 1, 2, 3, 4), {}), (('a',), {'name': 'b'}),
                                          (('a',), {'other': 1})])
def test_wrong_arguments_are_type_errors(args, kwargs):
    with pytest.raises(TypeError):
        Sample(*args, **kwargs)
    with pytest.raises(TypeError):
        Reference(*args, **kwargs)


def test_lazy_pattern_matches_as_the_compiled_one():
    pattern = LazyPattern(r'([0-9]+)([a-z]?)\Z')
    assert pattern.match('10m') and not pattern.match('10mm')
    assert pattern.findall('10m') == [('10', 'm')]
    assert pattern.pattern == r'([0-9]+)([a-z]?)\Z'


def test_the_owner_is_read_from_its_own_variables_not_from_hostvars():
    hostvars = {'bastion': {'ansible_host': '10.0.0.1'}}
    lookup = hostvars_lookup(hostvars, 'target', {'multihop_via': '{{ route }}'})
    assert lookup('target').templated('multihop_via')
    assert lookup('bastion')['ansible_host'] == '10.0.0.1'
    assert lookup('elsewhere') is None
