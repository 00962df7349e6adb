"""A validated `ListQuery` + `ModelInfo` → SQLAlchemy statements.

One `select` for the page (filters, sort with the primary key as tie-breaker, keyset cursor,
limit + 1 to know whether a next page exists without counting), one `count(*)` without a
subquery, and loader options: a `selectinload` chain per included relation and per relation a
selected property `loads`. So a request costs 1 + (relation levels) + (property loads) + 1
queries, whatever the page size.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import aliased, selectinload
from sqlalchemy.orm.strategy_options import _AbstractLoad
from sqlalchemy.sql import operators
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import BinaryExpression, BooleanClauseList, ColumnElement

from .cursor import cursor_keys
from .filters import Condition, Filter, Group
from .model_info import ModelInfo
from .query import ListQuery
from .selection import IncludeTree, Selection

Lookup = Callable[[type], ModelInfo | None]


def column(info: ModelInfo, name: str) -> Any:
    return getattr(info.model, name)


# -- filters --------------------------------------------------------------------------------------
def where_clauses(info: ModelInfo, filters: Sequence[Filter]) -> list[Any]:
    return [_clause(info, item) for item in filters]


def _clause(info: ModelInfo, item: Filter) -> Any:
    if isinstance(item, Group):
        parts = [_clause(info, sub) for sub in item.items]
        combined = sa.or_(*parts) if item.kind == "or" else sa.and_(*parts)
        return sa.not_(combined) if item.negate else combined
    clause = _condition(info, item)
    return sa.not_(clause) if item.negate else clause


def _condition(info: ModelInfo, condition: Condition) -> Any:
    col = column(info, condition.field)
    op, value = condition.op, condition.value
    if op == "eq":
        return col.is_(None) if value is None else col == value
    if op == "ne":
        return col.is_not(None) if value is None else col != value
    if op == "gt":
        return col > value
    if op == "gte":
        return col >= value
    if op == "lt":
        return col < value
    if op == "lte":
        return col <= value
    if op == "like":
        return CaseSensitiveLike(col, value)
    if op == "ilike":
        return col.ilike(like_pattern(value), escape="\\")
    if op == "in":
        return col.in_(value)
    if op == "is":
        return col.is_(value)
    raise AssertionError(op)  # query.py only lets known operators through


def like_pattern(text: str) -> str:
    """`*` is the wildcard; `%` and `_` typed by the client are literal."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped.replace("*", "%")


def glob_pattern(text: str) -> str:
    """SQLite's GLOB (case-sensitive, unlike its LIKE): `*` stays the wildcard, `?` and `[`
    are made literal."""
    return text.replace("[", "[[]").replace("?", "[?]")


class CaseSensitiveLike(ColumnElement[bool]):
    """`like.` as PostgreSQL means it, everywhere: case-sensitive (SQLite's LIKE is not, so
    there it compiles to GLOB)."""

    inherit_cache = False
    type = sa.Boolean()

    def __init__(self, col: Any, text: str) -> None:
        self.col = col
        self.text = text


@compiles(CaseSensitiveLike)
def _compile_like(element: CaseSensitiveLike, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element.col.like(like_pattern(element.text), escape="\\"), **kw)


@compiles(CaseSensitiveLike, "sqlite")
def _compile_glob(element: CaseSensitiveLike, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element.col.op("GLOB")(glob_pattern(element.text)), **kw)


# -- order and keyset -----------------------------------------------------------------------------
def order_by(info: ModelInfo, query: ListQuery, default: Sequence[Any] = ()) -> list[Any]:
    """The sort keys then the primary key; nulls count as the smallest value everywhere
    (SQLite's rule, spelled out for PostgreSQL), which the keyset cursor relies on."""
    if not query.sort and default and query.after is None:
        return [*default, *(column(info, name) for name in info.primary_key)]
    clauses = []
    for name, descending in cursor_keys(info, query.sort):
        col = column(info, name)
        nullable = info.fields[name].nullable
        if descending:
            clauses.append(col.desc().nulls_last() if nullable else col.desc())
        else:
            clauses.append(col.asc().nulls_first() if nullable else col.asc())
    return clauses


def after_clause(info: ModelInfo, query: ListQuery) -> Any:
    """Rows strictly after the cursor's position, in the order of `order_by`."""
    if query.after is None:
        raise ValueError("after_clause needs a query with a cursor (query.after)")
    keys = cursor_keys(info, query.sort)
    alternatives = []
    for index, (name, descending) in enumerate(keys):
        equal_before = [
            _equals(column(info, n), v)
            for (n, _), v in zip(keys[:index], query.after, strict=False)
        ]
        beyond = _beyond(column(info, name), query.after[index], descending)
        if beyond is not None:
            alternatives.append(sa.and_(*equal_before, beyond))
    return sa.or_(*alternatives) if alternatives else sa.false()


def _equals(col: Any, value: Any) -> Any:
    return col.is_(None) if value is None else col == value


def _beyond(col: Any, value: Any, descending: bool) -> Any:
    if not descending:
        return col.is_not(None) if value is None else col > value
    if value is None:
        return None  # nothing sorts after null in descending order
    return sa.or_(col < value, col.is_(None))


# -- statements -----------------------------------------------------------------------------------
def page_statement(
    info: ModelInfo,
    query: ListQuery,
    options: Sequence[_AbstractLoad],
    extra_where: Sequence[Any] = (),
    default_order: Sequence[Any] = (),
    columns: Sequence[Any] | None = None,
) -> sa.Select[Any]:
    """The page (one row more than the limit); `columns` (attribute names or SQL
    expressions) selects plain columns instead of entities, for pages that need no ORM object."""
    selected: Any = (
        [column(info, c) if isinstance(c, str) else c for c in columns]
        if columns is not None
        else [info.model]
    )
    statement = sa.select(*selected).where(*extra_where, *where_clauses(info, query.filters))
    if query.after is not None:
        statement = statement.where(after_clause(info, query))
    statement = statement.order_by(*order_by(info, query, default_order))
    statement = statement.limit(query.limit + 1)
    if query.offset:
        statement = statement.offset(query.offset)
    return statement.options(*options) if columns is None else statement


def count_statement(
    info: ModelInfo, query: ListQuery, extra_where: Sequence[Any] = ()
) -> sa.Select[Any]:
    """`select count(*) from t where …`: no subquery around the page's select."""
    return (
        sa.select(sa.func.count())
        .select_from(info.model)
        .where(*extra_where, *where_clauses(info, query.filters))
    )


def key_clause(info: ModelInfo, key: Sequence[Any]) -> Any:
    return sa.and_(*(column(info, n) == v for n, v in zip(info.primary_key, key, strict=True)))


# -- properties the database computes -------------------------------------------------------------
def property_expression(info: ModelInfo, name: str) -> Any:
    """The SQL of a `count=` / `expression=` property, correlated to the model's table:
    `(select count(*) from cats where cats.house_id = houses.id)` for `count="cats"`
    (`reader.ReadPlans` builds it once per model and property)."""
    prop = info.properties[name]
    if prop.count is not None:
        found = _count_expression(info, prop.count)
    else:
        if prop.expression is None:
            raise ValueError(f"{info.name}.{name} is computed by Python, not by the database")
        found = prop.expression()
        if isinstance(found, sa.Select):
            found = found.scalar_subquery()
    return found.label(f"_api_{name}")


def _count_expression(info: ModelInfo, relation_name: str) -> Any:
    relationship = info.mapper.relationships[relation_name]
    pairs = simple_join_pairs(relationship)
    target = relationship.mapper
    if pairs is not None and target.local_table is not info.mapper.local_table:
        # one-to-many on plain foreign keys: count the target's rows that point here
        return (
            sa.select(sa.func.count())
            .select_from(target.class_)
            .where(*(remote == local for local, remote in pairs))
            .scalar_subquery()
        )
    parent: type[Any] = aliased(info.model)
    counted = aliased(target.class_)
    return (
        sa.select(sa.func.count())
        .select_from(parent)
        .join(getattr(parent, relation_name).of_type(counted))
        .where(*(getattr(parent, n) == column(info, n) for n in info.primary_key))
        .scalar_subquery()
    )


def simple_join_pairs(relationship: Any) -> list[tuple[Any, Any]] | None:
    """(local column, remote column) pairs when a relationship without a secondary table
    joins on nothing but their equality (its join can then be read as `remote IN (locals)`);
    None otherwise (a secondary table, a condition beyond the keys)."""
    if relationship.secondary is not None:
        return None
    pairs = list(relationship.local_remote_pairs or ())
    join = relationship.primaryjoin
    clauses = list(join.clauses) if isinstance(join, BooleanClauseList) else [join]
    if isinstance(join, BooleanClauseList) and join.operator is not operators.and_:
        return None
    if not pairs or len(clauses) != len(pairs):
        return None
    for clause in clauses:
        if not isinstance(clause, BinaryExpression) or clause.operator is not operators.eq:
            return None
        if not all(isinstance(side, sa.Column) for side in (clause.left, clause.right)):
            return None
    return pairs


# -- loader options -------------------------------------------------------------------------------
def loader_options(info: ModelInfo, selection: Selection, lookup: Lookup) -> list[_AbstractLoad]:
    """`selectinload` for every included relation and every selected property's `loads`."""
    paths: set[tuple[str, ...]] = set()
    _collect_paths(info, selection.include, selection, lookup, (), paths)
    # keep only the longest paths: a chain loads every level on the way
    leaves = sorted(p for p in paths if not any(o != p and o[: len(p)] == p for o in paths))
    return [_chain(info, path, lookup) for path in leaves]


def _collect_paths(
    info: ModelInfo,
    tree: IncludeTree,
    selection: Selection,
    lookup: Lookup,
    prefix: tuple[str, ...],
    paths: set[tuple[str, ...]],
) -> None:
    chosen = selection.fields_for(info.collection)
    for prop in info.properties.values():
        if prop.loads and (chosen is None or prop.name in chosen):
            for load in prop.loads:
                paths.add((*prefix, *load.split(".")))
    for name, sub in tree:
        relation = info.relations[name]
        paths.add((*prefix, name))
        target = lookup(relation.target)
        if target is not None:
            _collect_paths(target, sub, selection, lookup, (*prefix, name), paths)


def _chain(info: ModelInfo, path: tuple[str, ...], lookup: Lookup) -> _AbstractLoad:
    model: Any = info.model
    option: Any = None
    for name in path:
        attribute = getattr(model, name)
        option = selectinload(attribute) if option is None else option.selectinload(attribute)
        model = attribute.property.mapper.class_
    return cast(_AbstractLoad, option)
