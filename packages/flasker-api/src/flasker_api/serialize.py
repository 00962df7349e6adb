"""Compiled serializers: one plain function per (model, fields, include tree), built once.

For `GET /api/houses/?include=cats` the compiler writes and compiles, once, the equivalent of::

    def s0(o, seen, add):
        return {"id": o.id, "address": o.address, "cat_count": o.cat_count,
                "cats": [x.name if id(x) in seen else (add(id(x)) or s1(x, seen, add))
                         for x in o.cats]}

so a row costs attribute reads and a dict display: no per-row introspection, no per-field loop.
orjson encodes the result (`dumps`).

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
from .query import IncludeTree, Selection

Lookup = Callable[[type], ModelInfo | None]
RowSerializer = Callable[[Any, Any, Any], dict[str, Any]]
RowsSerializer = Callable[[Any], list[dict[str, Any]]]


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

    def many(self, rows: Iterable[Any]) -> list[dict[str, Any]]:
        row = self._row
        if not self.nests:
            return [row(o, None, None) for o in rows]
        rows = list(rows)
        seen = set(map(id, rows))
        add = seen.add
        return [row(o, seen, add) for o in rows]

    def one(self, obj: Any) -> dict[str, Any]:
        seen = {id(obj)}
        return self._row(obj, seen, seen.add)


class SerializerCache:
    """Compiled serializers by (collection, selection); thread-safe, built on first use."""

    def __init__(self, lookup: Lookup) -> None:
        self._lookup = lookup
        self._cache: dict[tuple[str, Selection], Serializer] = {}
        self._rows: dict[tuple[str, tuple[str, ...], int], RowsSerializer] = {}
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

    def rows(self, info: ModelInfo, names: tuple[str, ...], shown: int) -> RowsSerializer:
        """For pages with no relation and no property: rows of plain column tuples (Core, no
        ORM entities), `names` in select order, the first `shown` of them written."""
        key = (info.collection, names, shown)
        found = self._rows.get(key)
        if found is None:
            with self._lock:
                found = self._rows.setdefault(key, compile_rows_serializer(info, names[:shown]))
        return found


def compile_rows_serializer(info: ModelInfo, names: tuple[str, ...]) -> RowsSerializer:
    """`def t(rows): return [{"id": r[0], "address": r[1]} for r in rows]`."""
    parts = []
    for index, name in enumerate(names):
        value = f"r[{index}]"
        if info.fields[name].format == "byte":
            value = f"_b64({value})"
        parts.append(f"{name!r}: {value}")
    source = "def t(rows):\n    return [{" + ", ".join(parts) + "} for r in rows]"
    namespace: dict[str, Any] = {"_b64": _b64, "__builtins__": {}}
    exec(compile(source, "<flasker_api rows serializer>", "exec"), namespace)
    return namespace["t"]  # type: ignore[no-any-return]


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


class _Compiler:
    def __init__(self, selection: Selection, lookup: Lookup) -> None:
        self.selection = selection
        self.lookup = lookup
        self.sources: list[str] = []
        self.namespace: dict[str, Any] = {
            "_b64": _b64,
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
        for attribute in shown_attributes(info, self.selection.fields_for(info.collection)):
            getter = _get("o", attribute)
            field = info.fields.get(attribute)
            if field is not None and field.format == "byte":
                getter = f"_b64({getter})"
            parts.append(f"{attribute!r}: {getter}")
        for relation_name, sub in tree:
            relation = info.relations[relation_name]
            target = self.lookup(relation.target)
            assert target is not None
            child = self.node(target, sub)
            ref = _key_expression(target, "x")
            nested = f"({ref} if id(x) in seen else (add(id(x)) or {child}(x, seen, add)))"
            value = _get("o", relation_name)
            if relation.uselist:
                parts.append(f"{relation_name!r}: [{nested} for x in {value}]")
            else:
                parts.append(f"{relation_name!r}: (None if (x := {value}) is None else {nested})")
        body = ",\n        ".join(parts)
        self.sources.append(f"def {name}(o, seen, add):\n    return {{\n        {body}\n    }}")
        return name


def _get(variable: str, attribute: str) -> str:
    if attribute.isidentifier() and not keyword.iskeyword(attribute):
        return f"{variable}.{attribute}"
    return f"getattr({variable}, {attribute!r})"


def _key_expression(info: ModelInfo, variable: str) -> str:
    if len(info.primary_key) == 1:
        return _get(variable, info.primary_key[0])
    return "[" + ", ".join(_get(variable, n) for n in info.primary_key) + "]"
