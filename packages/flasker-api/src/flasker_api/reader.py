"""Reads without ORM entities: a page (or one entity), its included relations and the
properties the database computes, as plain rows assembled into dicts by compiled functions.

This module keeps the plans (`ReadPlans`: one per (collection, selection, extra columns), built
on first use by plan_builder.py, run by read_plan.py) and, for the ORM path, reads the SQL
properties of entities (`entity_values`). Columns and `count=` / `expression=` properties come
straight from the rows. A plain Python `@property` (flasker 0.1 style) is computed on a light
entity (light.py): the row itself, as a tuple subclass whose attributes read like the model's,
with the relations the property declares in `loads=` set on it. Only a model light entities
cannot stand in for (or a property that fails on one, `NeedsEntity`) sends a request to the ORM
path. The queries are the ORM path's: one for the page (with the SQL properties as correlated
subqueries in it), then one per included or `loads=` relation::

    plan = plans.get(info, selection, extra=("age",))   # None: the ORM path must answer
    rows = connection.execute(page_statement(..., columns=plan.columns)).all()
    data = plan.many(connection, rows)                  # [{"id": 1, "cats": [...]}, ...]
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa

from .model_info import ModelInfo
from .plan_builder import LoadsTree, PlanBuilder
from .read_plan import CHUNK, Edge, Node, Plan
from .selection import IncludeTree, Lookup, Selection
from .serialize import shown_attributes, sql_properties
from .statements import column, property_expression

__all__ = [
    "CHUNK",
    "Edge",
    "LoadsTree",
    "Lookup",
    "Node",
    "Plan",
    "PlanBuilder",
    "ReadPlans",
    "entity_values",
]


class ReadPlans:
    """Plans by (collection, selection, extra columns); thread-safe, built on first use."""

    def __init__(self, lookup: Lookup) -> None:
        self._lookup = lookup
        self._plans: dict[tuple[str, Selection, tuple[str, ...]], Plan | None] = {}
        self._expressions: dict[tuple[str, str], Any] = {}
        self._lock = threading.Lock()

    def get(
        self, info: ModelInfo, selection: Selection, extra: tuple[str, ...] = ()
    ) -> Plan | None:
        """The plan, or None when something shown needs an ORM entity (a model light entities
        cannot stand in for, or a shape `demote` was told about)."""
        key = (info.collection, selection, extra)
        try:
            return self._plans[key]
        except KeyError:
            pass
        with self._lock:
            if key not in self._plans:
                self._plans[key] = self._build(info, selection, extra)
            return self._plans[key]

    def demote(self, info: ModelInfo, selection: Selection, extra: tuple[str, ...] = ()) -> None:
        """From now on, answer this shape from ORM entities (a property failed on a light one)."""
        with self._lock:
            self._plans[(info.collection, selection, extra)] = None

    def expression(self, info: ModelInfo, name: str) -> Any:
        key = (info.collection, name)
        found = self._expressions.get(key)
        if found is None:
            found = self._expressions[key] = property_expression(info, name)
        return found

    def sql_values(
        self, connection: Any, info: ModelInfo, objects: Iterable[Any], names: Sequence[str]
    ) -> dict[int, tuple[Any, ...]]:
        """For the ORM path: the `names` SQL properties of entities, `id(entity)` → values,
        in one query per 500 entities."""
        by_key: dict[Any, list[Any]] = {}
        for obj in objects:
            key = tuple(getattr(obj, n) for n in info.primary_key)
            by_key.setdefault(key, []).append(obj)
        pk = [column(info, n) for n in info.primary_key]
        keyed = pk[0] if len(pk) == 1 else sa.tuple_(*pk)
        statement = sa.select(*pk, *(self.expression(info, n) for n in names)).where(
            keyed.in_(sa.bindparam("keys", expanding=True))
        )
        keys = [k[0] for k in by_key] if len(pk) == 1 else list(by_key)
        values: dict[int, tuple[Any, ...]] = {}
        width = len(pk)
        for start in range(0, len(keys), CHUNK):
            for row in connection.execute(statement, {"keys": keys[start : start + CHUNK]}):
                for obj in by_key.get(tuple(row[:width]), ()):
                    values[id(obj)] = tuple(row[width:])
        return values

    # -- building ---------------------------------------------------------------------------
    def _build(self, info: ModelInfo, selection: Selection, extra: tuple[str, ...]) -> Plan | None:
        builder = PlanBuilder(self.expression, selection, self._lookup)
        root = builder.node(info, selection.include, list(extra))
        return None if root is None else builder.plan(root)


def entity_values(
    plans: ReadPlans,
    connection: Any,
    info: ModelInfo,
    selection: Selection,
    objects: Sequence[Any],
    lookup: Lookup,
) -> dict[int, tuple[Any, ...]] | None:
    """For the ORM path: the SQL properties shown for entities of the response (the page's
    and the included ones), one query per model that shows some; None when none is shown."""
    found: dict[str, tuple[ModelInfo, dict[int, Any]]] = {}
    _collect(info, selection.include, objects, lookup, found)
    values: dict[int, tuple[Any, ...]] = {}
    wanted = False
    for model_info, entities in found.values():
        chosen = selection.fields_for(model_info.collection)
        names = sql_properties(model_info, shown_attributes(model_info, chosen))
        if names:
            wanted = True
            if entities:
                values.update(plans.sql_values(connection, model_info, entities.values(), names))
    return values if wanted else None


def _collect(
    info: ModelInfo,
    tree: IncludeTree,
    objects: Iterable[Any],
    lookup: Lookup,
    found: dict[str, tuple[ModelInfo, dict[int, Any]]],
) -> None:
    objects = list(objects)
    found.setdefault(info.collection, (info, {}))[1].update((id(o), o) for o in objects)
    for name, sub in tree:
        target = lookup(info.relations[name].target)
        if target is None:  # the manager only exposes relations between exposed models
            raise LookupError(f"{info.name}.{name}: its model is not exposed by the API")
        children: list[Any] = []
        for obj in objects:
            value = getattr(obj, name)
            if info.relations[name].uselist:
                children.extend(value)
            elif value is not None:
                children.append(value)
        _collect(target, sub, children, lookup, found)
