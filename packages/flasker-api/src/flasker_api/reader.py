"""Reads without ORM entities: a page (or one entity), its included relations and the
properties the database computes, as plain rows assembled into dicts by compiled functions.

Columns and `count=` / `expression=` properties come straight from the rows. A plain Python
`@property` (flasker 0.1 style) is computed on a light entity (light.py): the row itself, as a
tuple subclass whose attributes read like the model's, with the relations the property declares
in `loads=` set on it. Only a model light entities cannot stand in for (or a property that
fails on one, `NeedsEntity`) sends a request to the ORM path of endpoints.py. The queries are
the ORM path's: one for the page (with the SQL properties as correlated subqueries in it), then
one per included or `loads=` relation, `IN` over the keys read at the level above (500 keys a
query, like `selectinload`)::

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

import contextlib
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import RelationshipDirection, aliased

from .light import LightEntity, NeedsEntity, light_class, light_columns, supports_light
from .model_info import ModelInfo
from .query import IncludeTree, Selection
from .serialize import _b64, _get, shown_attributes, sql_properties
from .statements import column, property_expression, simple_join_pairs

Lookup = Callable[[type], ModelInfo | None]
#: The relations a property reads (`loads=["cats", "cats.toys"]` → {"cats": {"toys": {}}}).
LoadsTree = dict[str, "LoadsTree"]

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
    #: Written in the response (`include=`); else only read for a property's `loads=`.
    shown: bool = True
    #: Set on the parent's light entities as an attribute, for a property's `loads=`.
    attached: bool = False


@dataclass
class Node:
    """One model in the include tree: the columns read for it and its included relations."""

    info: ModelInfo
    tag: int
    names: list[str]
    #: The shown properties the database computes, selected after `names`.
    properties: list[str]
    edges: list[Edge] = field(default_factory=list)
    #: The light class rows of this node become (light.py), when Python code reads them: a
    #: shown plain property, or a parent's property that `loads=` this relation.
    light: type[LightEntity] | None = None

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
        #: Some relation is written in the response (not only read for a property).
        self.writes_nested = any(e.shown for e in edges)
        #: Some row becomes a light entity: plain properties run on this path.
        self.light = root.light is not None or any(e.node.light is not None for e in edges)
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
        light = self.root.light
        if light is not None:
            rows = list(map(light, rows))
        if not self.nests:
            with self._entity_needed():
                return [row(r, None, None, None) for r in rows]
        maps = self.load(connection, rows)
        if not self.writes_nested:  # only `loads=` relations: nothing nested is written
            with self._entity_needed():
                return [row(r, None, None, None) for r in rows]
        seen = {self._tag(r) for r in rows}
        add = seen.add
        with self._entity_needed():
            return [row(r, seen, add, maps) for r in rows]

    def one(self, connection: sa.Connection, r: Any) -> dict[str, Any]:
        light = self.root.light
        if light is not None:
            r = light(r)
        maps = self.load(connection, [r]) if self.nests else None
        seen = {self._tag(r)}
        with self._entity_needed():
            return self._row(r, seen, seen.add, maps)  # type: ignore[no-any-return]

    @contextlib.contextmanager
    def _entity_needed(self) -> Iterator[None]:
        """A plain property that fails on a light entity becomes `NeedsEntity`: the ORM path
        answers (a property that fails there too fails as it always did)."""
        if not self.light:
            yield
            return
        try:
            yield
        except NeedsEntity:
            raise
        except Exception as error:
            raise NeedsEntity(f"{type(error).__name__}: {error}") from error

    def _tag(self, r: Any) -> tuple[Any, ...]:
        return (self.root.tag, *(r[i] for i in self._key))

    def load(self, connection: sa.Connection, rows: Sequence[Any]) -> list[dict[Any, Any]]:
        """The rows of every included relation, level by level: one dict per edge."""
        maps: list[dict[Any, Any]] = [{} for _ in self.edges]
        pending: list[tuple[Node, Sequence[Any]]] = [(self.root, rows)]
        attach: list[tuple[Edge, Sequence[Any]]] = []
        while pending:
            node, node_rows = pending.pop(0)
            for edge in node.edges:
                found = maps[edge.index]
                keys = _keys(node_rows, edge.parent_key)
                child_rows: list[Any] = []
                for start in range(0, len(keys), CHUNK):
                    fetched = connection.execute(
                        edge.statement, {"keys": keys[start : start + CHUNK]}
                    ).all()
                    _group(edge, fetched, found, child_rows)
                if edge.attached:
                    attach.append((edge, node_rows))
                if edge.node.edges and child_rows:
                    pending.append((edge.node, child_rows))
        for edge, node_rows in attach:
            _attach(edge, node_rows, maps[edge.index])
        return maps


def _group(edge: Edge, fetched: Sequence[Any], found: dict[Any, Any], out: list[Any]) -> None:
    """Index an edge's fetched rows by their parent's key into `found` (one row, or a list),
    as light entities when Python code reads them; append them to `out`."""
    if edge.skip:
        keys = [_key(row, edge.child_key) for row in fetched]
        fetched = [tuple(row[edge.skip :]) for row in fetched]
    else:
        keys = list(map(itemgetter(*edge.child_key), fetched))
    light = edge.node.light
    if light is not None:
        fetched = list(map(light, fetched))
    out.extend(fetched)
    if edge.by_key or not edge.uselist:
        for key, row in zip(keys, fetched, strict=True):
            found.setdefault(key, row)
    else:
        for key, row in zip(keys, fetched, strict=True):
            group = found.get(key)
            if group is None:
                found[key] = [row]
            else:
                group.append(row)


def _attach(edge: Edge, rows: Sequence[Any], found: dict[Any, Any]) -> None:
    """Set a `loads=` relation on light entities, as the ORM would: a list, or one or None."""
    name, key_of = edge.name, itemgetter(*edge.parent_key)
    if edge.uselist:
        for row in rows:
            row.__dict__[name] = list(found.get(key_of(row)) or ())
    else:
        for row in rows:
            row.__dict__[name] = found.get(key_of(row))


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

    def node(
        self,
        info: ModelInfo,
        tree: IncludeTree,
        needed: list[str],
        loads: LoadsTree | None = None,
        shown_node: bool = True,
    ) -> Node | None:
        """The node of `info` with its included relations (`tree`) and, when a parent's plain
        property reads these rows (`loads` is given, maybe empty), the relations to set on
        them. None when light entities cannot stand in for a model that Python code reads."""
        shown = shown_attributes(info, self.selection.fields_for(info.collection))
        if not shown_node:
            shown = []
        properties = [n for n in shown if n in info.properties]
        python = [n for n in properties if not info.properties[n].in_sql]
        light = bool(python) or loads is not None
        if light and not supports_light(info.model, info.mapper):
            return None
        loads = _loads_tree(info, python, loads or {})
        names = [n for n in shown if n in info.fields]
        sql = [n for n in properties if info.properties[n].in_sql]
        node = Node(info, self.tags.setdefault(info.collection, len(self.tags)), names, sql)
        for name in [*info.primary_key, *needed, *(light_columns(info) if light else ())]:
            if name not in names:
                names.append(name)
        included = dict(tree)
        for relation_name in [*included, *(n for n in loads if n not in included)]:
            sub = included.get(relation_name, ())
            attached = relation_name in loads
            child_loads = loads.get(relation_name)
            relation = info.relations.get(relation_name)
            target = None if relation is None else self.lookup(relation.target)
            if target is None:  # a `loads=` relation to a model the API does not expose
                return None
            relationship = info.mapper.relationships[relation_name]
            pairs = _attribute_pairs(info, target, relationship)
            index = len(self.edges)
            self.edges.append(None)  # type: ignore[arg-type]  # keep parents before children
            if pairs is not None:
                local = [p[0] for p in pairs]
                remote = [p[1] for p in pairs]
                child = self.node(target, sub, remote, child_loads, relation_name in included)
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
                child = self.node(target, sub, [], child_loads, relation_name in included)
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
            edge.shown = relation_name in included
            edge.attached = attached
            self.edges[index] = edge
            node.edges.append(edge)
        for edge in node.edges:
            edge.parent_key = tuple(node.position(n) for n in edge.local)  # type: ignore[attr-defined]
        if light:
            node.light = light_class(info, node.names)
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
        """`select <child columns> from t where t.fk in (:keys) order by t.fk, …`.

        Ordered by the join key first: rows are only compared within one parent's group, and
        that order is the index's (`t.fk`, then the row id), so the database need not sort."""
        keyed = _in(target, remote)
        statement = sa.select(*self.columns_of(child)).where(keyed)
        if relationship.direction is not RelationshipDirection.MANYTOONE:
            grouped = [column(target, n) for n in remote]
            statement = statement.order_by(*grouped, *_order(target, relationship))
        return statement

    def joined_statement(
        self, info: ModelInfo, target: ModelInfo, child: Node, relationship: Any
    ) -> Any:
        """Any other relation (a secondary table, extra join conditions): the parent (aliased)
        joined to the target, the parent's key first in each row."""
        parent: type[Any] = aliased(info.model)
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
        namespace: dict[str, Any] = {"_b64": _b64, "__builtins__": {"getattr": getattr}}
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
            elif attribute in node.properties:
                value = f"r[{width + node.properties.index(attribute)}]"
            else:  # a plain property, computed on the light entity `r`
                value = _get("r", attribute)
            parts.append(f"{attribute!r}: {value}")
        for edge in node.edges:
            if not edge.shown:
                continue
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


def _loads_tree(info: ModelInfo, python: list[str], inherited: LoadsTree) -> LoadsTree:
    """The `loads=` of the shown plain properties, merged with what a parent's property reads
    through this node (`inherited`)."""
    tree: LoadsTree = _copy(inherited)
    for name in python:
        for path in info.properties[name].loads:
            level = tree
            for part in path.split("."):
                level = level.setdefault(part, {})
    return tree


def _copy(tree: LoadsTree) -> LoadsTree:
    return {name: _copy(sub) for name, sub in tree.items()}


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
