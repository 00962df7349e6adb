"""Reads without ORM entities: a page (or one entity), its included relations and the
properties the database computes, as plain rows assembled into dicts by compiled functions.

Used whenever nothing in the response needs a Python object: every model in it shows columns
and `count=` / `expression=` properties only (a plain `@property` needs its entity, and then
the ORM path of endpoints.py runs). The queries are the ORM path's: one for the page (with the
SQL properties as correlated subqueries in it), then one per included relation, `IN` over the
keys read at the level above (500 keys a query, like `selectinload`)::

    plan = plans.get(info, selection, extra=("age",))   # None: the ORM path must answer
    rows = connection.execute(page_statement(..., columns=plan.root.columns)).all()
    data = plan.many(connection, rows)                  # [{"id": 1, "cats": [...]}, ...]

A plan is built once per (collection, selection, extra columns) and holds the statements of
the included relations (with an expanding bind parameter for the keys) and, per node of the
include tree, a compiled function `n0(r, seen, add, M)` written like serialize.py's: a dict
display of row positions, nested entities looked up in `M` (the relation's rows by the
parent's join key). Each entity is written in full once per response; a repeat is its key.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import RelationshipDirection, aliased

from .model_info import ModelInfo
from .query import IncludeTree, Selection
from .serialize import _b64, shown_attributes, sql_properties
from .statements import column, property_expression, simple_join_pairs

Lookup = Callable[[type], ModelInfo | None]

#: Keys per relation query (as `selectinload`), so query counts match the ORM path's.
CHUNK = 500


@dataclass
class Edge:
    """An included relation: how to read the rows of `node` for keys of the parent's rows."""

    index: int
    name: str
    uselist: bool
    node: Node
    #: Positions, in the parent's row, of the join key (its local columns, or its key).
    parent_key: tuple[int, ...]
    #: Positions, in a fetched row, of the same key; a fetched row starts with `skip` extra
    #: columns (the parent's key, when the relation is read through a join) before the node's.
    child_key: tuple[int, ...]
    skip: int
    #: Maps one key to one row (many-to-one on the target's columns) or to a list.
    by_key: bool
    statement: Any = None


@dataclass
class Node:
    """One model in the include tree: the columns read for it and its included relations."""

    info: ModelInfo
    tag: int
    names: list[str]
    properties: list[str]
    edges: list[Edge] = field(default_factory=list)

    def position(self, name: str) -> int:
        return self.names.index(name)

    @property
    def key_positions(self) -> tuple[int, ...]:
        return tuple(self.names.index(n) for n in self.info.primary_key)


class Plan:
    """A compiled read: `root.columns` to select, `many`/`one` to finish a page or an entity."""

    def __init__(self, root: Node, columns: list[Any], edges: list[Edge], row: Any) -> None:
        self.root = root
        self.columns = columns
        self.edges = edges
        self._row = row
        self._key = root.key_positions
        self.nests = bool(edges)
        self._by: dict[tuple[str, ...], Any] = {}
        #: Statements of unfiltered pages by sort (endpoints.py builds them).
        self.pages: dict[Any, tuple[Any, Any]] = {}
        #: `INSERT … RETURNING <columns>` for a POST answered by this plan (endpoints.py).
        self.insert: Any = None

    def position(self, name: str) -> int:
        return self.root.position(name)

    def by(self, names: tuple[str, ...]) -> Any:
        """`select <columns> where a = :k0 and b = :k1`, built once per attribute names."""
        found = self._by.get(names)
        if found is None:
            info = self.root.info
            found = sa.select(*self.columns).where(
                *(column(info, n) == sa.bindparam(f"k{i}") for i, n in enumerate(names))
            )
            self._by[names] = found
        return found

    def many(self, connection: sa.Connection, rows: Sequence[Any]) -> list[dict[str, Any]]:
        row = self._row
        if not self.nests:
            return [row(r, None, None, None) for r in rows]
        maps = self.load(connection, rows)
        seen = {self._tag(r) for r in rows}
        add = seen.add
        return [row(r, seen, add, maps) for r in rows]

    def one(self, connection: sa.Connection, r: Any) -> dict[str, Any]:
        maps = self.load(connection, [r]) if self.nests else None
        seen = {self._tag(r)}
        return self._row(r, seen, seen.add, maps)  # type: ignore[no-any-return]

    def _tag(self, r: Any) -> tuple[Any, ...]:
        return (self.root.tag, *(r[i] for i in self._key))

    def load(self, connection: sa.Connection, rows: Sequence[Any]) -> list[dict[Any, Any]]:
        """The rows of every included relation, level by level: one dict per edge."""
        maps: list[dict[Any, Any]] = [{} for _ in self.edges]
        pending: list[tuple[Node, Sequence[Any]]] = [(self.root, rows)]
        while pending:
            node, node_rows = pending.pop(0)
            for edge in node.edges:
                found = maps[edge.index]
                keys = _keys(node_rows, edge.parent_key)
                child_rows: list[Any] = []
                for start in range(0, len(keys), CHUNK):
                    result = connection.execute(
                        edge.statement, {"keys": keys[start : start + CHUNK]}
                    )
                    for fetched in result:
                        key = _key(fetched, edge.child_key)
                        data = tuple(fetched[edge.skip :]) if edge.skip else fetched
                        child_rows.append(data)
                        if edge.by_key or not edge.uselist:
                            found.setdefault(key, data)
                        else:
                            found.setdefault(key, []).append(data)
                if edge.node.edges and child_rows:
                    pending.append((edge.node, child_rows))
        return maps


def _key(row: Any, positions: tuple[int, ...]) -> Any:
    if len(positions) == 1:
        return row[positions[0]]
    return tuple(row[i] for i in positions)


def _keys(rows: Iterable[Any], positions: tuple[int, ...]) -> list[Any]:
    if len(positions) == 1:
        (i,) = positions
        return list({v for r in rows if (v := r[i]) is not None})
    found = {tuple(r[i] for i in positions) for r in rows}
    return [k for k in found if None not in k]


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
        """The plan, or None when something shown needs an ORM entity (a Python property)."""
        key = (info.collection, selection, extra)
        try:
            return self._plans[key]
        except KeyError:
            pass
        with self._lock:
            if key not in self._plans:
                self._plans[key] = self._build(info, selection, extra)
            return self._plans[key]

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
        builder = _Builder(self, selection, self._lookup)
        root = builder.node(info, selection.include, list(extra))
        if root is None:
            return None
        row = builder.compile(root)
        return Plan(root, builder.columns_of(root), builder.edges, row)


class _Builder:
    def __init__(self, plans: ReadPlans, selection: Selection, lookup: Lookup) -> None:
        self.plans = plans
        self.selection = selection
        self.lookup = lookup
        self.edges: list[Edge] = []
        self.tags: dict[str, int] = {}
        self.sources: list[str] = []
        self.count = 0

    def node(self, info: ModelInfo, tree: IncludeTree, needed: list[str]) -> Node | None:
        shown = shown_attributes(info, self.selection.fields_for(info.collection))
        properties = [n for n in shown if n in info.properties]
        if any(not info.properties[n].in_sql for n in properties):
            return None
        names = [n for n in shown if n in info.fields]
        node = Node(info, self.tags.setdefault(info.collection, len(self.tags)), names, properties)
        for name in [*info.primary_key, *needed]:
            if name not in names:
                names.append(name)
        for relation_name, sub in tree:
            relationship = info.mapper.relationships[relation_name]
            target = self.lookup(info.relations[relation_name].target)
            assert target is not None
            pairs = _attribute_pairs(info, target, relationship)
            index = len(self.edges)
            self.edges.append(None)  # type: ignore[arg-type]  # keep parents before children
            if pairs is not None:
                local = [p[0] for p in pairs]
                remote = [p[1] for p in pairs]
                child = self.node(target, sub, remote)
                if child is None:
                    return None
                for name in local:
                    if name not in names:
                        names.append(name)
                edge = Edge(
                    index,
                    relation_name,
                    bool(relationship.uselist),
                    child,
                    parent_key=(),  # filled in below, when the parent's names are final
                    child_key=tuple(child.position(n) for n in remote),
                    skip=0,
                    by_key=relationship.direction is RelationshipDirection.MANYTOONE,
                )
                edge.statement = self.simple_statement(target, child, remote, relationship)
                edge.local = local  # type: ignore[attr-defined]
            else:
                child = self.node(target, sub, [])
                if child is None:
                    return None
                width = len(info.primary_key)
                edge = Edge(
                    index,
                    relation_name,
                    bool(relationship.uselist),
                    child,
                    parent_key=(),
                    child_key=tuple(range(width)),
                    skip=width,
                    by_key=False,
                )
                edge.statement = self.joined_statement(info, target, child, relationship)
                edge.local = list(info.primary_key)  # type: ignore[attr-defined]
            self.edges[index] = edge
            node.edges.append(edge)
        for edge in node.edges:
            edge.parent_key = tuple(node.position(n) for n in edge.local)  # type: ignore[attr-defined]
        return node

    def columns_of(self, node: Node) -> list[Any]:
        info = node.info
        return [
            *(column(info, n) for n in node.names),
            *(self.plans.expression(info, n) for n in node.properties),
        ]

    def simple_statement(
        self, target: ModelInfo, child: Node, remote: list[str], relationship: Any
    ) -> Any:
        """`select <child columns> from t where t.fk in (:keys) order by …`."""
        keyed = _in(target, remote)
        statement = sa.select(*self.columns_of(child)).where(keyed)
        if relationship.direction is not RelationshipDirection.MANYTOONE:
            statement = statement.order_by(*_order(target, relationship))
        return statement

    def joined_statement(
        self, info: ModelInfo, target: ModelInfo, child: Node, relationship: Any
    ) -> Any:
        """Any other relation (a secondary table, extra join conditions): the parent (aliased)
        joined to the target, the parent's key first in each row."""
        parent = aliased(info.model)
        pk = [getattr(parent, n) for n in info.primary_key]
        keyed = pk[0] if len(pk) == 1 else sa.tuple_(*pk)
        return (
            sa.select(*pk, *self.columns_of(child))
            .select_from(parent)
            .join(getattr(parent, relationship.key))
            .where(keyed.in_(sa.bindparam("keys", expanding=True)))
            .order_by(*_order(target, relationship))
        )

    # -- the row functions ----------------------------------------------------------------------
    def compile(self, root: Node) -> Any:
        name = self.function(root)
        namespace: dict[str, Any] = {"_b64": _b64, "__builtins__": {}}
        exec(compile("\n\n".join(self.sources), "<flasker_api row reader>", "exec"), namespace)
        return namespace[name]

    def function(self, node: Node) -> str:
        name = f"n{self.count}"
        self.count += 1
        info = node.info
        by_name = {n: i for i, n in enumerate(node.names)}
        width = len(node.names)
        parts = []
        chosen = self.selection.fields_for(info.collection)
        for attribute in shown_attributes(info, chosen):
            if attribute in info.fields:
                value = f"r[{by_name[attribute]}]"
                if info.fields[attribute].format == "byte":
                    value = f"_b64({value})"
            else:
                value = f"r[{width + node.properties.index(attribute)}]"
            parts.append(f"{attribute!r}: {value}")
        for edge in node.edges:
            child = edge.node
            child_name = self.function(child)
            positions = child.key_positions
            tag = "(" + ", ".join([str(child.tag), *(f"x[{i}]" for i in positions)]) + ")"
            if len(positions) == 1:
                ref = f"x[{positions[0]}]"
            else:
                ref = "[" + ", ".join(f"x[{i}]" for i in positions) + "]"
            nested = (
                f"({ref} if (t := {tag}) in seen else (add(t) or {child_name}(x, seen, add, M)))"
            )
            if len(edge.parent_key) == 1:
                key = f"r[{edge.parent_key[0]}]"
            else:
                key = "(" + ", ".join(f"r[{i}]" for i in edge.parent_key) + ")"
            found = f"M[{edge.index}].get({key})"
            if edge.uselist and not edge.by_key:
                parts.append(f"{edge.name!r}: [{nested} for x in ({found} or ())]")
            else:
                parts.append(f"{edge.name!r}: (None if (x := {found}) is None else {nested})")
        body = ",\n        ".join(parts)
        self.sources.append(f"def {name}(r, seen, add, M):\n    return {{\n        {body}\n    }}")
        return name


def _attribute_pairs(
    info: ModelInfo, target: ModelInfo, relationship: Any
) -> list[tuple[str, str]] | None:
    """(parent attribute, target attribute) pairs of a relation read as `target.x IN (keys)`,
    or None when it needs a join."""
    pairs = simple_join_pairs(relationship)
    if pairs is None:
        return None
    named = []
    for local, remote in pairs:
        local_name = _attribute(info, local)
        remote_name = _attribute(target, remote)
        if local_name is None or remote_name is None:
            return None
        named.append((local_name, remote_name))
    return named


def _attribute(info: ModelInfo, col: Any) -> str | None:
    """The attribute mapping a table column (also a column the API does not show)."""
    try:
        prop = info.mapper.get_property_by_column(col)
    except Exception:
        return None
    columns = getattr(prop, "columns", None)
    return prop.key if columns is not None and len(columns) == 1 else None


def _in(info: ModelInfo, names: list[str]) -> Any:
    cols = [column(info, n) for n in names]
    keyed = cols[0] if len(cols) == 1 else sa.tuple_(*cols)
    return keyed.in_(sa.bindparam("keys", expanding=True))


def _order(target: ModelInfo, relationship: Any) -> list[Any]:
    order = list(relationship.order_by or ())
    return [*order, *(column(target, n) for n in target.primary_key)]


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
        assert target is not None
        children: list[Any] = []
        for obj in objects:
            value = getattr(obj, name)
            if info.relations[name].uselist:
                children.extend(value)
            elif value is not None:
                children.append(value)
        _collect(target, sub, children, lookup, found)
