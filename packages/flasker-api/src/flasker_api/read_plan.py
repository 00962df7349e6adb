"""A compiled read (`Plan`): the columns a page selects, and how to turn its rows, with those of
its included relations, into the dicts of the response.

plan_builder.py builds plans; reader.py (`ReadPlans`) keeps them. A plan runs the relation
queries level by level (`IN` over the keys read at the level above, 500 keys a query, like
`selectinload`), indexes the fetched rows by their parent's key, and calls the compiled row
function of the root node::

    rows = connection.execute(page_statement(..., columns=plan.columns)).all()
    data = plan.many(connection, rows)                  # [{"id": 1, "cats": [...]}, ...]
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any

import sqlalchemy as sa

from .light import LightEntity, NeedsEntity
from .model_info import ModelInfo
from .statements import column

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
    #: The parent's attribute names of the join key (`parent_key` once the parent's columns
    #: are final).
    local: list[str] = field(default_factory=list)


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
