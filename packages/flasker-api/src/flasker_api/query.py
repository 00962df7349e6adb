"""The query string of a request → a validated `ListQuery` (or `ItemQuery`).

Pure logic, no database and no Flask: it receives the request's arguments as (name, values)
pairs and the `ModelInfo`s, and either returns a query whose every name and value is known to be
good, or raises `ApiProblem(400)` listing every bad parameter. Statements and serializers then
never check anything again. Each part of the grammar (documented in DESIGN.md) has its parser:
filters.py (`?age=gte.3`, `?or=(…)`), selection.py (`?fields=`, `?include=`, `?depth=`) and
cursor.py (`?after=`); this module reads `sort`, `limit`, `offset` and `count` and combines them::

    ?color=black  ?age=gte.3  ?or=(age.lt.2,color.eq.black)      filters.py
    ?sort=-age,name  ?limit=10  ?offset=20  ?count=none          here
    ?after=<cursor>                                              cursor.py
    ?fields=id,name  ?fields[cats]=name  ?include=cats,cats.house  ?depth=2   selection.py
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ._parameters import ITEM_PARAMETERS, LIST_PARAMETERS, is_fields_key, one, parse_int
from .cursor import PROCESS_KEY, cursor_keys, decode_cursor, encode_cursor
from .filters import (
    IS_VALUES,
    OPERATORS,
    Condition,
    Filter,
    Group,
    parse_filter_parameter,
    parse_group_parameter,
    split_items,
)
from .model_info import ModelInfo
from .problems import ProblemCollector
from .selection import IncludeTree, Lookup, Selection, depth_tree, parse_selection

__all__ = [
    "IS_VALUES",
    "ITEM_PARAMETERS",
    "LIST_PARAMETERS",
    "OPERATORS",
    "Condition",
    "Filter",
    "Group",
    "IncludeTree",
    "ItemQuery",
    "Limits",
    "ListQuery",
    "Lookup",
    "Selection",
    "allowed_parameters",
    "cursor_keys",
    "decode_cursor",
    "depth_tree",
    "encode_cursor",
    "parse_item_query",
    "parse_list_query",
    "split_items",
]


@dataclass(frozen=True)
class ItemQuery:
    selection: Selection = field(default_factory=Selection)


@dataclass(frozen=True)
class ListQuery:
    filters: tuple[Filter, ...] = ()
    #: (field, descending) pairs, as given (the primary key is appended by statements).
    sort: tuple[tuple[str, bool], ...] = ()
    limit: int = 20
    offset: int | None = None
    #: Decoded cursor: the values of the sort keys then the primary key of the last row seen.
    after: tuple[Any, ...] | None = None
    count: bool = True
    selection: Selection = field(default_factory=Selection)

    @property
    def sort_text(self) -> str:
        return ",".join(("-" if desc else "") + name for name, desc in self.sort)


@dataclass(frozen=True)
class Limits:
    """The manager's options that bound a query."""

    default_limit: int = 20
    max_limit: int = 1000
    default_depth: int = 0
    max_depth: int = 3
    count: bool = True
    #: Signs cursors: the app's SECRET_KEY (`cursor.cursor_secret`), else a random key.
    secret: bytes = PROCESS_KEY


# -- entry points ---------------------------------------------------------------------------------
def parse_item_query(
    args: Iterable[tuple[str, list[str]]], info: ModelInfo, lookup: Lookup, limits: Limits
) -> ItemQuery:
    """`?fields=…&include=…&depth=…` of a single-object request; anything else is a 400."""
    problems = ProblemCollector()
    args = list(args)
    for name, _values in args:
        if name not in ITEM_PARAMETERS and not is_fields_key(name):
            problems.parameter(
                name,
                f"unknown parameter here (allowed: {', '.join(ITEM_PARAMETERS)}, fields[<type>])",
            )
    selection = _selection(dict(args), info, lookup, limits, problems)
    problems.raise_if_any(400, "query parameter")
    return ItemQuery(selection)


def parse_list_query(
    args: Iterable[tuple[str, list[str]]],
    info: ModelInfo,
    lookup: Lookup,
    limits: Limits,
    default_sort: tuple[tuple[str, bool], ...] = (),
) -> ListQuery:
    """Every parameter of a list request, validated against the model.

    `default_sort` applies without `sort=` (a relationship's `order_by`)."""
    problems = ProblemCollector()
    args = list(args)
    by_name: dict[str, list[str]] = {}
    filters: list[Filter] = []
    for name, values in args:
        by_name[name] = values
        if name in LIST_PARAMETERS or is_fields_key(name):
            if name not in ("or",) and len(values) > 1:
                problems.parameter(name, "given more than once")
            continue
        for value in values:
            filters.extend(parse_filter_parameter(name, value, info, problems))
    for text in by_name.get("or", []):
        group = parse_group_parameter("or", text, info, problems)
        if group is not None:
            filters.append(group)
    sort = _parse_sort(one(by_name, "sort"), info, problems) or default_sort
    limit = parse_int(one(by_name, "limit"), "limit", limits.default_limit, problems)
    if limits.max_limit and limit is not None and limit > limits.max_limit:
        problems.parameter("limit", f"at most {limits.max_limit}")
    offset = parse_int(one(by_name, "offset"), "offset", None, problems)
    after = None
    cursor = one(by_name, "after")
    if cursor is not None:
        if offset is not None:
            problems.parameter("after", "give either after or offset, not both")
        else:
            after = decode_cursor(cursor, info, sort, limits.secret, problems)
    count = limits.count
    count_text = one(by_name, "count")
    if count_text is not None:
        if count_text not in ("exact", "none"):
            problems.parameter("count", f"expected exact or none, got {count_text!r}")
        count = count_text == "exact"
    selection = _selection(by_name, info, lookup, limits, problems)
    problems.raise_if_any(400, "query parameter")
    return ListQuery(
        filters=tuple(filters),
        sort=sort,
        limit=limit if limit is not None else limits.default_limit,
        offset=offset,
        after=after,
        count=count,
        selection=selection,
    )


def allowed_parameters(info: ModelInfo) -> list[str]:
    """Every parameter a list request of this model accepts (filters by column name)."""
    return [*LIST_PARAMETERS, "fields[<type>]", *info.fields]


# -- sort ----------------------------------------------------------------------------------------
def _parse_sort(
    text: str | None, info: ModelInfo, problems: ProblemCollector
) -> tuple[tuple[str, bool], ...]:
    if text is None:
        return ()
    keys: list[tuple[str, bool]] = []
    for raw in text.split(","):
        item = raw.strip()
        descending = item.startswith("-")
        name = item.lstrip("+-")
        target = info.fields.get(name)
        if target is None:
            hint = (
                f"{name} is not a column"
                if name in info.properties or name in info.relations
                else "unknown field"
            )
            problems.parameter("sort", f"{item!r}: {hint} (sortable: {', '.join(_sortable(info))})")
        elif not target.sortable:
            problems.parameter("sort", f"{name}: a {target.json_type} field cannot be sorted")
        elif any(name == seen for seen, _ in keys):
            problems.parameter("sort", f"{name} appears twice")
        else:
            keys.append((name, descending))
    return tuple(keys)


def _sortable(info: ModelInfo) -> list[str]:
    return [name for name, f in info.fields.items() if f.sortable]


def _selection(
    by_name: dict[str, list[str]],
    info: ModelInfo,
    lookup: Lookup,
    limits: Limits,
    problems: ProblemCollector,
) -> Selection:
    return parse_selection(by_name, info, lookup, limits.default_depth, limits.max_depth, problems)
