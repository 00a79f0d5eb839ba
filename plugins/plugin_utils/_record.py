# Copyright (c) 2026, jumphosts.multihop contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Frozen record classes, as ``@dataclass(frozen=True)`` makes them, without its cost at import time.

``@dataclass`` writes and compiles six methods for each class when its module runs, about 1.5 ms of
CPU per class. ansible-core runs the connection plugin's modules again in every worker process, that
is once per task and host (docs/docsite/rst/performance.rst), so the OpenSSH path's records use this
decorator instead: the methods are shared, generic ones, and building a record costs a few
microseconds more, for the handful built per task.

Supported: annotated fields in order, defaults, ``field(default=..., repr=False, compare=False)``,
keyword or positional construction, equality and hash over the compared fields, ``repr``,
``dataclasses.FrozenInstanceError`` on assignment, and ``as_dict``/``field_names`` in place of
``dataclasses.asdict``/``fields``. Not supported: inheritance, ``__post_init__``,
``dataclasses.replace`` and the other ``dataclasses`` functions.
"""

from __future__ import annotations

from dataclasses import FrozenInstanceError

_MISSING = object()


class _Field:
    __slots__ = ('default', 'repr', 'compare')

    def __init__(self, default, repr_, compare):
        self.default, self.repr, self.compare = default, repr_, compare


def field(*, default=_MISSING, repr=True, compare=True):  # pylint: disable=redefined-builtin
    """As ``dataclasses.field``, for the keywords this collection uses."""
    return _Field(default, repr, compare)


def _init(self, *args, **kwargs):
    names, defaults = self._record_names, self._record_defaults
    if len(args) > len(names):
        raise TypeError(f'{type(self).__name__}() takes {len(names)} positional arguments but {len(args)} were given')
    values = dict(zip(names, args, strict=False))
    for name, value in kwargs.items():
        if name not in defaults:
            raise TypeError(f'{type(self).__name__}() got an unexpected keyword argument {name!r}')
        if name in values:
            raise TypeError(f'{type(self).__name__}() got multiple values for argument {name!r}')
        values[name] = value
    for name in names:
        value = values.get(name, _MISSING)
        if value is _MISSING:
            value = defaults[name]
            if value is _MISSING:
                raise TypeError(f'{type(self).__name__}() missing required argument: {name!r}')
        object.__setattr__(self, name, value)


def _compared(self):
    return tuple(getattr(self, name) for name in self._record_compared)


def _eq(self, other):
    if other.__class__ is not self.__class__:
        return NotImplemented
    return _compared(self) == _compared(other)


def _hash(self):
    return hash(_compared(self))


def _repr(self):
    shown = ', '.join(f'{name}={getattr(self, name)!r}' for name in self._record_shown)
    return f'{type(self).__qualname__}({shown})'


def _setattr(self, name, value):
    raise FrozenInstanceError(f'cannot assign to field {name!r}')


def _delattr(self, name):
    raise FrozenInstanceError(f'cannot delete field {name!r}')


def record(cls):
    """The class decorator: ``cls`` with the methods of a frozen dataclass."""
    names, defaults, compared, shown = [], {}, [], []
    for name in cls.__annotations__:
        spec = cls.__dict__.get(name, _MISSING)
        if not isinstance(spec, _Field):
            spec = _Field(spec, True, True)
        if spec.default is _MISSING and any(defaults[n] is not _MISSING for n in names):
            raise TypeError(f'non-default field {name!r} follows a default one in {cls.__name__}')
        names.append(name)
        defaults[name] = spec.default
        if spec.default is not _MISSING:
            setattr(cls, name, spec.default)
        elif name in cls.__dict__:
            delattr(cls, name)
        if spec.compare:
            compared.append(name)
        if spec.repr:
            shown.append(name)
    cls._record_names, cls._record_defaults = tuple(names), defaults
    cls._record_compared, cls._record_shown = tuple(compared), tuple(shown)
    cls.__init__, cls.__eq__, cls.__hash__, cls.__repr__ = _init, _eq, _hash, _repr
    cls.__setattr__, cls.__delattr__ = _setattr, _delattr
    cls.__match_args__ = tuple(names)
    return cls


def field_names(cls) -> tuple[str, ...]:
    """The record class's fields, in order."""
    return cls._record_names


def as_dict(instance) -> dict:
    """The record's fields and values (values as they are, not copied)."""
    return {name: getattr(instance, name) for name in instance._record_names}
