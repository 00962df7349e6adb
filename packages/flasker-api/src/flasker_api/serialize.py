"""Compiled serializers: one plain function per (model, fields, include tree), built once.

For `GET /api/houses/?include=cats` the compiler writes and compiles, once, the equivalent of::

    def s0(o, seen, add, X):
        return {"id": o.id, "address": o.address, "label": o.label,
                "cat_count": X.get(id(o), _NONE)[0],
                "cats": [x.name if id(x) in seen else (add(id(x)) or s1(x, seen, add, X))
                         for x in o.cats]}

so a row costs attribute reads and a dict display: no per-row introspection, no per-field loop.
`X` holds the values of the properties the database computes (`count=`, `expression=`), read
for the response's entities by one query per model (`reader.entity_values`). orjson encodes
the result (`dumps`). These serializers take ORM entities: a response in which nothing needs
one (no plain Python property shown) is read and written by reader.py from plain rows.

No repetition (flasker 0.1): each entity is written in full once per response. Every row of
the page is marked as seen before any is written, and a nested entity already written (or one
of the page's rows) becomes its key: the primary-key value, or a list for a composite key. The
session's identity map guarantees one Python object per row, so `id()` identifies entities.
"""

from __future__ import annotations

import base64
import keyword
import threading
from collections.abc import Callable, Iterable
from typing import Any

from flasker import json as flasker_json

from .model_info import ModelInfo
from .selection import IncludeTree, Selection

Lookup = Callable[[type], ModelInfo | None]
RowSerializer = Callable[[Any, Any, Any, Any], dict[str, Any]]
#: Values of the properties the database computes (`count=`, `expression=`), by `id(entity)`.
SqlValues = dict[int, tuple[Any, ...]]


def dumps(value: Any) -> bytes:
    """orjson with flasker's defaults (Decimal → string, timedelta → seconds, dates ISO 8601)."""
    return flasker_json.dumps(value)


def _b64(value: bytes | None) -> str | None:
    return None if value is None else base64.b64encode(value).decode()


class Serializer:
    """Writes a page or one entity of a model for one selection (built by `SerializerCache`)."""

    def __init__(self, row: RowSerializer, nests: bool, key_of: Callable[[Any], Any]) -> None:
        self._row = row
        self.nests = nests
        self.key_of = key_of

    def many(self, rows: Iterable[Any], values: SqlValues | None = None) -> list[dict[str, Any]]:
        """`values`: the properties the database computed, `id(entity)` → their values."""
        row = self._row
        if not self.nests:
            return [row(o, None, None, values) for o in rows]
        rows = list(rows)
        seen = set(map(id, rows))
        add = seen.add
        return [row(o, seen, add, values) for o in rows]

    def one(self, obj: Any, values: SqlValues | None = None) -> dict[str, Any]:
        seen = {id(obj)}
        return self._row(obj, seen, seen.add, values)


class SerializerCache:
    """Compiled serializers by (collection, selection); thread-safe, built on first use."""

    def __init__(self, lookup: Lookup) -> None:
        self._lookup = lookup
        self._cache: dict[tuple[str, Selection], Serializer] = {}
        self._lock = threading.Lock()

    def get(self, info: ModelInfo, selection: Selection) -> Serializer:
        key = (info.collection, selection)
        found = self._cache.get(key)
        if found is None:
            with self._lock:
                found = self._cache.get(key)
                if found is None:
                    found = compile_serializer(info, selection, self._lookup)
                    self._cache[key] = found
        return found


def compile_serializer(info: ModelInfo, selection: Selection, lookup: Lookup) -> Serializer:
    compiler = _Compiler(selection, lookup)
    name = compiler.node(info, selection.include)
    namespace = compiler.compile()
    return Serializer(namespace[name], bool(selection.include), key_getter(info))


def key_getter(info: ModelInfo) -> Callable[[Any], Any]:
    """obj → its key as JSON shows it: the value, or a list for a composite key."""
    if len(info.primary_key) == 1:
        name = info.primary_key[0]
        return lambda obj: getattr(obj, name)
    names = info.primary_key
    return lambda obj: [getattr(obj, n) for n in names]


def shown_attributes(info: ModelInfo, chosen: frozenset[str] | None) -> list[str]:
    """Columns then properties, in declaration order; the key is always shown."""
    names = [*info.fields, *info.properties]
    if chosen is None:
        return names
    return [n for n in names if n in chosen or n in info.primary_key]


def sql_properties(info: ModelInfo, shown: Iterable[str]) -> list[str]:
    """The shown properties the database computes (`count=`, `expression=`), in order."""
    return [n for n in shown if n in info.properties and info.properties[n].in_sql]


_NONE: tuple[Any, ...] = (None,) * 64


class _Compiler:
    def __init__(self, selection: Selection, lookup: Lookup) -> None:
        self.selection = selection
        self.lookup = lookup
        self.sources: list[str] = []
        self.namespace: dict[str, Any] = {
            "_b64": _b64,
            "_NONE": _NONE,
            "__builtins__": {"id": id, "getattr": getattr},
        }
        self.count = 0

    def compile(self) -> dict[str, Any]:
        source = "\n\n".join(self.sources)
        exec(compile(source, "<flasker_api serializer>", "exec"), self.namespace)
        return self.namespace

    def node(self, info: ModelInfo, tree: IncludeTree) -> str:
        name = f"s{self.count}"
        self.count += 1
        parts = []
        shown = shown_attributes(info, self.selection.fields_for(info.collection))
        in_sql = sql_properties(info, shown)
        for attribute in shown:
            getter = _get("o", attribute)
            field = info.fields.get(attribute)
            if field is not None and field.format == "byte":
                getter = f"_b64({getter})"
            elif attribute in in_sql:
                getter = f"X.get(id(o), _NONE)[{in_sql.index(attribute)}]"
            parts.append(f"{attribute!r}: {getter}")
        for relation_name, sub in tree:
            relation = info.relations[relation_name]
            target = self.lookup(relation.target)
            if target is None:  # the manager only exposes relations between exposed models
                raise LookupError(f"{info.name}.{relation_name}: its model is not exposed")
            child = self.node(target, sub)
            ref = _key_expression(target, "x")
            nested = f"({ref} if id(x) in seen else (add(id(x)) or {child}(x, seen, add, X)))"
            value = _get("o", relation_name)
            parts.append(relation_entry(relation_name, value, nested, many=relation.uselist))
        self.sources.append(function_source(name, "o, seen, add, X", parts))
        return name


def relation_entry(name: str, value: str, nested: str, *, many: bool) -> str:
    """The source of a relation's entry in a compiled serializer's dict display: `nested`
    (which writes the entity bound to `x`) for each item of `value`, or for `value` itself,
    None when unset. plan_builder.py writes its row functions with it too."""
    if many:
        return f"{name!r}: [{nested} for x in {value}]"
    return f"{name!r}: (None if (x := {value}) is None else {nested})"


def function_source(name: str, parameters: str, entries: list[str]) -> str:
    """The source of a compiled serializer: `def name(parameters)` returning a dict display of
    `entries` (`'key': expression`)."""
    body = ",\n        ".join(entries)
    return f"def {name}({parameters}):\n    return {{\n        {body}\n    }}"


def _get(variable: str, attribute: str) -> str:
    if attribute.isidentifier() and not keyword.iskeyword(attribute):
        return f"{variable}.{attribute}"
    return f"getattr({variable}, {attribute!r})"


def _key_expression(info: ModelInfo, variable: str) -> str:
    if len(info.primary_key) == 1:
        return _get(variable, info.primary_key[0])
    return "[" + ", ".join(_get(variable, n) for n in info.primary_key) + "]"
