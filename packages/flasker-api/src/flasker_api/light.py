"""Light entities: a model's row that answers attribute reads the way its ORM instance does, so
a plain Python `@property` (flasker 0.1 style, no API declaration) is computed without building
ORM entities.

Building a SQLAlchemy entity costs an identity-map lookup, an `InstanceState` and instrumented
attribute reads; for a page of rows that is most of a response's time. A light entity is the
row itself: a `tuple` subclass made once per model and column layout, whose column attributes
are `itemgetter`s over the row's positions::

    House = light_class(info, ["id", "address"])
    house = House(row)            # (1, "1 Elm Street"): a tuple, no copy of the model
    house.address                 # row[1]
    house.label                   # the model's own property, evaluated on the row
    isinstance(house, models.House), house.__class__   # True, models.House

Anything else a property reads is found on the model's classes when first asked for (methods,
class attributes, other properties, `super()`), then kept on the light class. The relations a
property declares with `loads=` are set on each light entity by reader.py before it is
serialized. A relation that was not loaded, a deferred column, or anything that needs the ORM
(`inspect(self)`, `object_session(self)`) raises, and the reader then answers that request, and
every later one of the same shape, from ORM entities (`NeedsEntity`, endpoints.py).

Models that change how attributes are read or indexed (`__getattr__`, `__getattribute__`,
`__getitem__`, `__len__`, `__iter__`, `__contains__`) or that run code when the ORM loads an
instance (`@reconstructor`, `load` events) always take the ORM path (`supports_light` says so).
"""

from __future__ import annotations

from operator import itemgetter
from typing import Any

from sqlalchemy.orm import QueryableAttribute

from .model_info import ModelInfo

#: Dunder methods a model may define that a light entity takes over as they are.
_COPIED_DUNDERS = (
    "__str__",
    "__repr__",
    "__format__",
    "__eq__",
    "__ne__",
    "__lt__",
    "__le__",
    "__gt__",
    "__ge__",
    "__hash__",
    "__bool__",
)
#: Dunder methods that would change how the reader indexes the row: such models stay on the
#: ORM path.
_CONFLICTING_DUNDERS = (
    "__getattr__",
    "__getattribute__",
    "__getitem__",
    "__len__",
    "__iter__",
    "__contains__",
    "__setattr__",
)
#: `tuple`'s public methods, which would otherwise hide a model attribute of the same name.
_TUPLE_NAMES = ("count", "index")


class NeedsEntity(Exception):
    """A plain property could not be computed on a light entity: answer from ORM entities."""


def _own_classes(model: type) -> list[type]:
    """The model's classes that user code defines (not `object`, not the declarative base)."""
    from flasker.model import Model

    return [k for k in model.__mro__ if k is not object and k not in Model.__mro__]


def supports_light(model: type, mapper: Any) -> bool:
    """Whether a light entity can stand in for instances of `model` (see the module's doc)."""
    own = _own_classes(model)
    if any(name in vars(k) for k in own for name in _CONFLICTING_DUNDERS):
        return False
    if getattr(mapper, "_reconstructor", None) is not None:
        return False
    dispatch = mapper.class_manager.dispatch
    return not (dispatch.load or dispatch.refresh)


def light_columns(info: ModelInfo) -> list[str]:
    """The column attributes a light entity carries: every one the ORM loads by default
    (shown or not: a property may read a column the API hides), deferred ones excepted."""
    return [prop.key for prop in info.mapper.column_attrs if not prop.deferred]


class LightEntity(tuple):  # type: ignore[type-arg]
    """Base of the light classes: model lookups, `__class__`, a repr like `Model`'s."""

    __slots__ = ()
    _model: type
    _keys: tuple[int, ...]
    _names: tuple[str, ...]

    def __getattr__(self, name: str) -> Any:
        # Only called when the light class and the instance lack `name`: look on the model.
        cls = type(self)
        model = cls._model
        for klass in model.__mro__:
            if name in vars(klass):
                raw = vars(klass)[name]
                break
        else:
            raise AttributeError(f"{model.__name__!r} object has no attribute {name!r}")
        if isinstance(raw, QueryableAttribute) or name.startswith("_sa_"):
            raise NeedsEntity(f"{model.__name__}.{name} is not loaded (declare it in loads=)")
        if isinstance(raw, classmethod):
            return raw.__get__(self, model)
        setattr(cls, name, raw)  # found once per light class
        getter = getattr(raw, "__get__", None)
        return raw if getter is None else getter(self, model)

    def __repr__(self) -> str:
        key = ",".join(str(self[i]) for i in self._keys)
        return f"<{self._model.__name__} {key}>"

    def to_dict(self) -> dict[str, Any]:
        """As `flasker.Model.to_dict`: column values by attribute name."""
        return {name: self[i] for i, name in enumerate(self._names)}


def light_class(info: ModelInfo, names: list[str]) -> type[LightEntity]:
    """The light class of `info.model` for rows whose first columns are `names`."""
    model = info.model
    namespace: dict[str, Any] = {
        "__module__": model.__module__,
        "__qualname__": model.__qualname__,
        "__doc__": model.__doc__,
        "_model": model,
        "_names": tuple(names),
        "_keys": tuple(names.index(n) for n in info.primary_key),
        "__class__": property(lambda _self: model),
    }
    for klass in reversed(_own_classes(model)):
        for dunder in _COPIED_DUNDERS:
            if dunder in vars(klass):
                namespace[dunder] = vars(klass)[dunder]
    for name in _TUPLE_NAMES:
        namespace[name] = property(_missing(model, name))
    for position, name in enumerate(names):
        namespace[name] = property(itemgetter(position))
    return type(model.__name__, (LightEntity,), namespace)


def _missing(model: type, name: str) -> Any:
    """The getter for a `tuple` method name: the model's attribute of that name, if any."""

    def get(self: LightEntity) -> Any:
        return LightEntity.__getattr__(self, name)

    return get
