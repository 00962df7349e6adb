"""A model's read-only properties as the API shows them: `@api_property(...)` (what a property
declares: the relations it `loads=`, or how the database computes it), `PropertyInfo` (what
the API knows of one) and finding them on a model class::

    @property
    @api_property(count="cats")
    def cat_count(self) -> int: ...

    find_properties(House, excluded=set(), taken={"id", "cats"})["cat_count"]
    # PropertyInfo(name="cat_count", json_type="integer", count="cats", ...)
"""

from __future__ import annotations

import typing
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from ._docstring import summary
from .json_types import describe_python, describe_type

#: Attribute set on a property's getter by `api_property` (the manager-independent marker).
PROPERTY_MARK = "__flasker_api_property__"


@dataclass(frozen=True)
class PropertyOptions:
    """What `@api.property(...)` declared about a read-only property."""

    loads: tuple[str, ...] = ()
    description: str | None = None
    #: The property is the number of related entities of this to-many relation, counted by
    #: the database (no entity is loaded).
    count: str | None = None
    #: `() -> SQL expression` correlated to the model's table (a scalar subquery or a column
    #: expression): the database computes the property, in the query that reads the row.
    expression: Callable[[], Any] | None = None


def api_property(
    loads: Iterable[str] = (),
    description: str | None = None,
    *,
    count: str | None = None,
    expression: Callable[[], Any] | None = None,
) -> Callable[[Any], Any]:
    """Mark a read-only property's getter: the relations it reads (loaded once per page), or
    how the database computes it (`count=` a to-many relation, or an SQL `expression=`).

    Use under `@property` (or over it); `APIManager.property` is the same decorator::

        @property
        @api_property(loads=["cats"])  # Python computes it: one extra query per page
        def cat_count(self) -> int:
            return len(self.cats)

        @property
        @api_property(count="cats")  # SQL computes it, in the query that reads the house
        def cat_total(self) -> int:
            return len(self.cats)  # what Python code outside the API sees
    """
    loads = tuple(loads)
    if sum(map(bool, (loads, count, expression))) > 1:
        raise ValueError("give one of loads=, count= or expression=, not several")
    options = PropertyOptions(loads, description, count, expression)

    def mark(target: Any) -> Any:
        function = target.fget if isinstance(target, property) else target
        setattr(function, PROPERTY_MARK, options)
        return target

    return mark


@dataclass(frozen=True)
class PropertyInfo:
    """A read-only Python `@property` of the model, shown in responses."""

    name: str
    loads: tuple[str, ...] = ()
    json_type: str = "any"
    format: str | None = None
    items_type: str | None = None
    nullable: bool = True
    #: The return annotation as written (a type or a string), None when absent.
    annotation: Any = None
    description: str | None = None
    #: `count=`: the to-many relation whose entities the database counts.
    count: str | None = None
    #: `expression=`: builds the SQL expression (correlated to the model's table).
    expression: Callable[[], Any] | None = field(default=None, compare=False, repr=False)

    @property
    def in_sql(self) -> bool:
        """Computed by the database (`count=` / `expression=`), not by Python."""
        return self.count is not None or self.expression is not None


def find_properties(model: type, excluded: set[str], taken: set[str]) -> dict[str, PropertyInfo]:
    """Public `@property`s of the model and its mapped bases (not of `Model` itself)."""
    from flasker.model import Model

    base_names = {name for klass in Model.__mro__ for name in vars(klass)}
    found: dict[str, PropertyInfo] = {}
    for klass in reversed(model.__mro__):
        if klass is object or klass in Model.__mro__:
            continue
        for name, value in vars(klass).items():
            if name.startswith("_") or name in excluded or name in taken or name in base_names:
                continue
            if isinstance(value, property) and value.fget is not None and value.fset is None:
                options = getattr(value.fget, PROPERTY_MARK, PropertyOptions())
                found[name] = property_info(name, value.fget, options)
            else:
                found.pop(name, None)  # a subclass replaced it with something else
    return found


def property_info(name: str, getter: Callable[..., Any], options: PropertyOptions) -> PropertyInfo:
    """A property as the API shows it: its JSON type from `count=`, the return annotation or
    the SQL type of `expression=`."""
    annotation = _return_annotation(getter)
    json_type, fmt, items, nullable = "any", None, None, True
    if options.count is not None:
        json_type, nullable = "integer", False
    elif annotation is not None:
        json_type, fmt, items, nullable = describe_python(annotation)
    elif options.expression is not None:
        json_type, fmt, items = _expression_type(options.expression)
    return PropertyInfo(
        name=name,
        loads=options.loads,
        json_type=json_type,
        format=fmt,
        items_type=items,
        nullable=nullable,
        annotation=annotation,
        description=options.description or summary(getter),
        count=options.count,
        expression=options.expression,
    )


def _expression_type(expression: Callable[[], Any]) -> tuple[str, str | None, str | None]:
    """JSON type of an unannotated `expression=` property, from its SQL type."""
    try:
        sql_type = expression().type
    except Exception:
        return "any", None, None
    if isinstance(sql_type, sa.types.NullType):
        return "any", None, None
    return describe_type(sql_type)[:3]


def _return_annotation(getter: Callable[..., Any]) -> Any:
    try:
        hints = typing.get_type_hints(getter)
    except Exception:
        hints = getattr(getter, "__annotations__", {})
    return hints.get("return")
