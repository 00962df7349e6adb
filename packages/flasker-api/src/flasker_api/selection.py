"""What a response shows: `?include=cats,cats.house` or `?depth=2` (the include tree) and
`?fields=id,name`, `?fields[cats]=name` (the fields per type) → a validated `Selection`.

Pure logic. A `Selection` is frozen and hashable: serialize.py and reader.py compile one
function per (collection, selection) and keep it, so a selection is also a cache key.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ._parameters import is_fields_key, one, parse_int
from .model_info import ModelInfo
from .problems import ProblemCollector

#: An include tree: ((relation name, subtree), ...), sorted, hashable (a cache key).
IncludeTree = tuple[tuple[str, "IncludeTree"], ...]

#: The `ModelInfo` of a model the API exposes, None for any other.
Lookup = Callable[[type], ModelInfo | None]


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


def parse_selection(
    by_name: Mapping[str, list[str]],
    info: ModelInfo,
    lookup: Lookup,
    default_depth: int,
    max_depth: int,
    problems: ProblemCollector,
) -> Selection:
    """`include=` or `depth=` (the include tree), then `fields=` and `fields[<type>]=` for the
    types in it; every bad name is reported to `problems`."""
    include_text = one(by_name, "include")
    depth_text = one(by_name, "depth")
    include: IncludeTree = ()
    if include_text is not None and depth_text is not None:
        problems.parameter("depth", "give either include or depth, not both")
    elif include_text is not None:
        include = _parse_include(include_text, info, lookup, max_depth, problems)
    else:
        depth = parse_int(depth_text, "depth", default_depth, problems)
        if depth is not None and depth > max_depth:
            problems.parameter("depth", f"at most {max_depth}")
            depth = max_depth
        include = depth_tree(info, lookup, depth or 0)
    types = _types_in(info, include, lookup)
    chosen: list[tuple[str, frozenset[str]]] = []
    for name, values in by_name.items():
        if name == "fields":
            collection, parameter = info.collection, "fields"
        elif is_fields_key(name):
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
    text: str, info: ModelInfo, lookup: Lookup, max_depth: int, problems: ProblemCollector
) -> IncludeTree:
    tree: dict[str, Any] = {}
    for raw in text.split(","):
        path = raw.strip()
        if not path:
            continue
        parts = path.split(".")
        if len(parts) > max_depth:
            problems.parameter("include", f"{path}: deeper than {max_depth} levels")
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
