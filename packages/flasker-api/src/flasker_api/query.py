"""The query string of a request → a validated `ListQuery` (or `ItemQuery`).

Pure logic, no database and no Flask: it receives the request's arguments as (name, values)
pairs and the `ModelInfo`s, and either returns a query whose every name and value is known to be
good, or raises `ApiProblem(400)` listing every bad parameter. Statements and serializers then
never check anything again.

Grammar (PostgREST's, documented in DESIGN.md)::

    ?color=black               equality (a value that does not start with an operator)
    ?age=gte.3                 eq ne gt gte lt lte like ilike in is, and not.<op>
    ?name=ilike.*tom*          `*` is the wildcard of like/ilike
    ?id=in.(1,2,"a,b")         quoted items may hold commas and parentheses
    ?house_id=is.null          is.null is.true is.false
    ?or=(age.lt.2,color.eq.black,and(age.gt.10,color.eq.grey))
    ?sort=-age,name  ?limit=10  ?offset=20  ?after=<cursor>
    ?fields=id,name  ?fields[cats]=name  ?include=cats,cats.house  ?depth=2  ?count=none
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from . import _coerce
from .model_info import FieldInfo, ModelInfo
from .problems import ProblemCollector

OPERATORS = ("eq", "ne", "gt", "gte", "lt", "lte", "like", "ilike", "in", "is")
IS_VALUES = {"null": None, "true": True, "false": False}
LIST_PARAMETERS = ("sort", "limit", "offset", "after", "fields", "include", "depth", "count", "or")
ITEM_PARAMETERS = ("fields", "include", "depth")

#: An include tree: ((relation name, subtree), ...), sorted, hashable (a cache key).
IncludeTree = tuple[tuple[str, "IncludeTree"], ...]


@dataclass(frozen=True)
class Condition:
    """`field op value`, negated by `not.`."""

    field: str
    op: str
    value: Any
    negate: bool = False


@dataclass(frozen=True)
class Group:
    """`or=(…)` / `and(…)`: conditions combined, possibly negated (`not.or=`)."""

    kind: str  # "or" | "and"
    items: tuple[Condition | Group, ...]
    negate: bool = False


Filter = Condition | Group


@dataclass(frozen=True)
class Selection:
    """What to show: fields per collection (None = every column and property) and includes."""

    fields: tuple[tuple[str, frozenset[str]], ...] = ()
    include: IncludeTree = ()

    def fields_for(self, collection: str) -> frozenset[str] | None:
        for name, chosen in self.fields:
            if name == collection:
                return chosen
        return None


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


Lookup = Callable[[type], ModelInfo | None]


@dataclass(frozen=True)
class Limits:
    """The manager's options that bound a query."""

    default_limit: int = 20
    max_limit: int = 1000
    default_depth: int = 0
    max_depth: int = 3
    count: bool = True
    secret: bytes = b"flasker-api"


# -- entry points ---------------------------------------------------------------------------------
def parse_item_query(
    args: Iterable[tuple[str, list[str]]], info: ModelInfo, lookup: Lookup, limits: Limits
) -> ItemQuery:
    """`?fields=…&include=…&depth=…` of a single-object request; anything else is a 400."""
    problems = ProblemCollector()
    args = list(args)
    for name, _values in args:
        if name not in ITEM_PARAMETERS and not _is_fields_key(name):
            problems.parameter(
                name,
                f"unknown parameter here (allowed: {', '.join(ITEM_PARAMETERS)}, fields[<type>])",
            )
    selection = _parse_selection(dict(args), info, lookup, limits, problems)
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
        if name in LIST_PARAMETERS or _is_fields_key(name):
            if name not in ("or",) and len(values) > 1:
                problems.parameter(name, "given more than once")
            continue
        for value in values:
            filters.extend(_parse_filter_parameter(name, value, info, problems))
    for text in by_name.get("or", []):
        group = _parse_group_parameter("or", text, info, problems)
        if group is not None:
            filters.append(group)
    sort = _parse_sort(_one(by_name, "sort"), info, problems) or default_sort
    limit = _parse_int(_one(by_name, "limit"), "limit", limits.default_limit, problems)
    if limits.max_limit and limit is not None and limit > limits.max_limit:
        problems.parameter("limit", f"at most {limits.max_limit}")
    offset = _parse_int(_one(by_name, "offset"), "offset", None, problems)
    after = None
    cursor = _one(by_name, "after")
    if cursor is not None:
        if offset is not None:
            problems.parameter("after", "give either after or offset, not both")
        else:
            after = decode_cursor(cursor, info, sort, limits.secret, problems)
    count = limits.count
    count_text = _one(by_name, "count")
    if count_text is not None:
        if count_text not in ("exact", "none"):
            problems.parameter("count", f"expected exact or none, got {count_text!r}")
        count = count_text == "exact"
    selection = _parse_selection(by_name, info, lookup, limits, problems)
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
    return [*LIST_PARAMETERS, "fields[<type>]", *info.fields]


# -- filters --------------------------------------------------------------------------------------
def _parse_filter_parameter(
    name: str, text: str, info: ModelInfo, problems: ProblemCollector
) -> list[Filter]:
    if name in ("and", "not.or", "not.and"):
        group = _parse_group_parameter(name, text, info, problems)
        return [group] if group is not None else []
    target = info.fields.get(name)
    if target is None:
        problems.parameter(name, _unknown_parameter_message(name, info))
        return []
    try:
        return [_parse_condition(target, text, allow_bare=True)]
    except _coerce.Invalid as error:
        problems.parameter(name, str(error))
        return []


def _unknown_parameter_message(name: str, info: ModelInfo) -> str:
    if name in info.properties:
        return f"{name} is a computed property: filters apply to columns only"
    if name in info.relations:
        return f"{name} is a relation: filter on its key column instead"
    listed = ", ".join([*LIST_PARAMETERS, "fields[<type>]", *info.fields])
    return f"unknown parameter (allowed: {listed})"


def _parse_condition(target: FieldInfo, text: str, *, allow_bare: bool) -> Condition:
    """`[not.]op.value`, or (when allowed) a bare value meaning equality."""
    negate = False
    rest = text
    if rest.startswith("not.") and rest[4:].split(".", 1)[0] in OPERATORS:
        negate, rest = True, rest[4:]
    op, dot, value = rest.partition(".")
    if not dot or op not in OPERATORS:
        if not allow_bare:
            raise _coerce.Invalid(
                f"expected <operator>.<value> with an operator among {', '.join(OPERATORS)}, "
                f"got {text!r}"
            )
        return Condition(target.name, "eq", _value(target, text, "eq"), False)
    return Condition(target.name, op, _value(target, value, op), negate)


def _value(target: FieldInfo, text: str, op: str) -> Any:
    if op == "is":
        if text.lower() not in IS_VALUES:
            raise _coerce.Invalid(f"is. takes null, true or false, got {text!r}")
        value = IS_VALUES[text.lower()]
        if value is not None and target.json_type != "boolean":
            raise _coerce.Invalid(f"is.{text} applies to boolean fields only")
        return value
    if op in ("like", "ilike"):
        if target.json_type != "string" or target.format is not None or target.enum:
            raise _coerce.Invalid(f"{op} applies to text fields only")
        if "\x00" in text:
            raise _coerce.Invalid("text may not contain NUL characters")
        return text
    if op == "in":
        items = split_items(_strip_parens(text))
        return tuple(_coerce.from_text(target, item) for item in items)
    if not target.sortable and op != "eq":
        raise _coerce.Invalid(f"{op} does not apply to a {target.json_type} field")
    return _coerce.from_text(target, text)


def _strip_parens(text: str) -> str:
    if text.startswith("(") and text.endswith(")"):
        return text[1:-1]
    return text


def split_items(text: str) -> list[str]:
    """Split on top-level commas; "quoted" items keep commas, parentheses and `\\"`."""
    items: list[str] = []
    current: list[str] = []
    depth = 0
    quoted = False
    was_quoted = False
    i = 0
    while i < len(text):
        char = text[i]
        if quoted:
            if char == "\\" and i + 1 < len(text):
                current.append(text[i + 1])
                i += 2
                continue
            if char == '"':
                quoted = False
            else:
                current.append(char)
        elif char == '"' and not "".join(current).strip():
            quoted = was_quoted = True
            current = []
        elif char == "(":
            depth += 1
            current.append(char)
        elif char == ")":
            depth -= 1
            current.append(char)
        elif char == "," and depth == 0:
            items.append("".join(current) if was_quoted else "".join(current).strip())
            current, was_quoted = [], False
        else:
            current.append(char)
        i += 1
    if quoted:
        raise _coerce.Invalid(f"unclosed quote in {text!r}")
    if depth != 0:
        raise _coerce.Invalid(f"unbalanced parentheses in {text!r}")
    if current or was_quoted or items:
        items.append("".join(current) if was_quoted else "".join(current).strip())
    return items


def _parse_group_parameter(
    name: str, text: str, info: ModelInfo, problems: ProblemCollector
) -> Group | None:
    negate = name.startswith("not.")
    kind = name.removeprefix("not.")
    try:
        if not (text.startswith("(") and text.endswith(")")):
            raise _coerce.Invalid(f"expected ({kind} conditions), e.g. (age.lt.2,color.eq.black)")
        return _parse_group(kind, text[1:-1], negate, info)
    except _coerce.Invalid as error:
        problems.parameter(name, str(error))
        return None


def _parse_group(kind: str, inner: str, negate: bool, info: ModelInfo) -> Group:
    items: list[Filter] = []
    parts = split_items(inner)
    if not parts or any(not p for p in parts):
        raise _coerce.Invalid(f"empty condition in {kind}=({inner})")
    for part in parts:
        nested_negate = part.startswith("not.")
        body = part[4:] if nested_negate else part
        for nested in ("or", "and"):
            if body.startswith(nested + "(") and body.endswith(")"):
                items.append(_parse_group(nested, body[len(nested) + 1 : -1], nested_negate, info))
                break
        else:
            name, dot, rest = part.partition(".")
            target = info.fields.get(name)
            if not dot or target is None:
                raise _coerce.Invalid(
                    f"{part!r}: expected <field>.<operator>.<value> with a field among "
                    f"{', '.join(info.fields)}"
                )
            try:
                items.append(_parse_condition(target, rest, allow_bare=False))
            except _coerce.Invalid as error:
                raise _coerce.Invalid(f"{name}: {error}") from None
    return Group(kind, tuple(items), negate)


# -- sort, numbers, cursors -----------------------------------------------------------------------
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


def _parse_int(
    text: str | None, name: str, default: int | None, problems: ProblemCollector
) -> int | None:
    if text is None:
        return default
    stripped = text.strip()
    if not stripped.isdigit() or not stripped.isascii() or len(stripped) > 12:
        problems.parameter(name, f"expected a whole number, 0 or more, got {text!r}")
        return default
    return int(stripped)


def cursor_keys(info: ModelInfo, sort: tuple[tuple[str, bool], ...]) -> list[tuple[str, bool]]:
    """The keyset: the sort keys, then every primary-key field not already sorted on (asc)."""
    named = {name for name, _ in sort}
    return [*sort, *((name, False) for name in info.primary_key if name not in named)]


def encode_cursor(
    info: ModelInfo, sort: tuple[tuple[str, bool], ...], values: list[Any], secret: bytes
) -> str:
    """base64url(JSON [sort, values]) + "." + a short MAC, so an edited cursor is refused."""
    keys = cursor_keys(info, sort)
    payload = [
        ",".join(("-" if d else "") + n for n, d in sort),
        [
            _coerce.to_json_value(info.fields[name], v)
            for (name, _), v in zip(keys, values, strict=True)
        ],
    ]
    body = base64.urlsafe_b64encode(orjson.dumps(payload)).rstrip(b"=")
    return (body + b"." + _mac(info, body, secret)).decode()


def decode_cursor(
    text: str,
    info: ModelInfo,
    sort: tuple[tuple[str, bool], ...],
    secret: bytes,
    problems: ProblemCollector,
) -> tuple[Any, ...] | None:
    message = "not a cursor this API gave (use meta.next or the Link header as given)"
    try:
        body, _dot, mac = text.encode("ascii").partition(b".")
        if not hmac.compare_digest(mac, _mac(info, body, secret)):
            raise ValueError
        sort_text, raw = orjson.loads(base64.urlsafe_b64decode(body + b"=" * (-len(body) % 4)))
        keys = cursor_keys(info, sort)
        if sort_text != ",".join(("-" if d else "") + n for n, d in sort):
            problems.parameter("after", f"the cursor was made for sort={sort_text}: repeat it")
            return None
        if not isinstance(raw, list) or len(raw) != len(keys):
            raise ValueError
        return tuple(
            _coerce.from_json(info.fields[name], value)
            for (name, _), value in zip(keys, raw, strict=True)
        )
    except (ValueError, UnicodeError, binascii.Error, orjson.JSONDecodeError, TypeError):
        problems.parameter("after", message)
        return None


def _mac(info: ModelInfo, body: bytes, secret: bytes) -> bytes:
    digest = hmac.new(secret, info.collection.encode() + b"\0" + body, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:12])


# -- fields, include, depth -----------------------------------------------------------------------
def _is_fields_key(name: str) -> bool:
    return name.startswith("fields[") and name.endswith("]")


def _one(by_name: Mapping[str, list[str]], name: str) -> str | None:
    values = by_name.get(name)
    return values[-1] if values else None


def _parse_selection(
    by_name: Mapping[str, list[str]],
    info: ModelInfo,
    lookup: Lookup,
    limits: Limits,
    problems: ProblemCollector,
) -> Selection:
    include_text = _one(by_name, "include")
    depth_text = _one(by_name, "depth")
    include: IncludeTree = ()
    if include_text is not None and depth_text is not None:
        problems.parameter("depth", "give either include or depth, not both")
    elif include_text is not None:
        include = _parse_include(include_text, info, lookup, limits, problems)
    else:
        depth = _parse_int(depth_text, "depth", limits.default_depth, problems)
        if depth is not None and depth > limits.max_depth:
            problems.parameter("depth", f"at most {limits.max_depth}")
            depth = limits.max_depth
        include = depth_tree(info, lookup, depth or 0)
    types = _types_in(info, include, lookup)
    chosen: list[tuple[str, frozenset[str]]] = []
    for name, values in by_name.items():
        if name == "fields":
            collection, parameter = info.collection, "fields"
        elif _is_fields_key(name):
            collection, parameter = name[7:-1], name
        else:
            continue
        target = types.get(collection) or (
            _find_collection(collection, lookup, info) if collection not in types else None
        )
        if target is None:
            problems.parameter(
                parameter,
                f"no included type {collection!r} (types in this response: {', '.join(types)})",
            )
            continue
        names = _parse_field_names(values[-1], target, parameter, problems)
        chosen = [(c, f) for c, f in chosen if c != collection]
        chosen.append((collection, names))
    return Selection(tuple(sorted(chosen)), include)


def _find_collection(collection: str, lookup: Lookup, info: ModelInfo) -> ModelInfo | None:
    # fields[x] for a type not included is accepted only when the type exists (harmless)
    for relation in info.relations.values():
        if relation.target_collection == collection:
            return lookup(relation.target)
    return None


def _parse_field_names(
    text: str, info: ModelInfo, parameter: str, problems: ProblemCollector
) -> frozenset[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    good: list[str] = []
    for name in names:
        if name in info.fields or name in info.properties:
            good.append(name)
        elif name in info.relations:
            problems.parameter(parameter, f"{name} is a relation: use include={name}")
        else:
            listed = ", ".join(info.attributes)
            problems.parameter(parameter, f"{info.collection} has no field {name!r} ({listed})")
    return frozenset(good)


def _parse_include(
    text: str, info: ModelInfo, lookup: Lookup, limits: Limits, problems: ProblemCollector
) -> IncludeTree:
    tree: dict[str, Any] = {}
    for raw in text.split(","):
        path = raw.strip()
        if not path:
            continue
        parts = path.split(".")
        if len(parts) > limits.max_depth:
            problems.parameter("include", f"{path}: deeper than {limits.max_depth} levels")
            continue
        current_info: ModelInfo | None = info
        node = tree
        for part in parts:
            relation = current_info.relations.get(part) if current_info else None
            if relation is None or current_info is None:
                owner = current_info.collection if current_info else "?"
                known = ", ".join(current_info.relations) if current_info else ""
                problems.parameter(
                    "include",
                    f"{path}: {owner} has no relation {part!r} (relations: {known or 'none'})",
                )
                break
            if relation.is_dynamic:
                problems.parameter(
                    "include", f"{path}: {part} is a dynamic relation; use its own endpoint"
                )
                break
            node = node.setdefault(part, {})
            current_info = lookup(relation.target)
    return _freeze(tree)


def _freeze(tree: Mapping[str, Any]) -> IncludeTree:
    return tuple((name, _freeze(sub)) for name, sub in sorted(tree.items()))


def depth_tree(info: ModelInfo, lookup: Lookup, depth: int) -> IncludeTree:
    """Every eagerly loadable relation, `depth` levels deep (entities repeat as keys)."""
    if depth <= 0:
        return ()
    branches = []
    for name, relation in sorted(info.relations.items()):
        target = lookup(relation.target)
        if target is None or relation.is_dynamic:
            continue
        branches.append((name, depth_tree(target, lookup, depth - 1)))
    return tuple(branches)


def _types_in(info: ModelInfo, tree: IncludeTree, lookup: Lookup) -> dict[str, ModelInfo]:
    found = {info.collection: info}
    for name, sub in tree:
        target = lookup(info.relations[name].target)
        if target is not None:
            found.update(_types_in(target, sub, lookup))
    return found
