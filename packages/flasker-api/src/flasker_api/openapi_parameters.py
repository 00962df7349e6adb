"""The query parameters of the document: filters, `or`/`and` groups, sort, and the selection.

One filter per column (the operator syntax in its description), the groups, `sort`, and
`fields`, `fields[<type>]` for every type an include can reach, `include` and `depth`; paging
and `count` are shared components (openapi_components.py)::

    parameters = QueryParameters(context)
    parameters.filter_parameters(info)      # [{"name": "address", "in": "query", ...}, ...]
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from ._jsonschema import NO_NUL, comma_list, ref
from .query import ITEM_PARAMETERS, LIST_PARAMETERS, OPERATORS

if TYPE_CHECKING:
    from .model_info import FieldInfo, ModelInfo
    from .openapi_context import DocumentContext

#: Query parameters that are not filters; a column with one of these names cannot be filtered.
RESERVED_PARAMETERS = frozenset({*LIST_PARAMETERS, "and", "not.or", "not.and"})

# An item's query is documented as the selection parameters: fail at import, not with a wrong
# document, when query.py's item parameters change.
if set(ITEM_PARAMETERS) != {"fields", "include", "depth"}:
    raise RuntimeError(
        f"flasker_api.openapi_parameters documents an item's query as fields, include and "
        f"depth, but query.ITEM_PARAMETERS is {ITEM_PARAMETERS}: update "
        "QueryParameters.item_query_parameters"
    )


class QueryParameters:
    """Writes the query parameters of the operations of one document."""

    def __init__(self, context: DocumentContext) -> None:
        self.context = context

    def filter_parameters(self, info: ModelInfo) -> list[dict[str, Any]]:
        parameters = []
        for field in info.fields.values():
            if field.name in RESERVED_PARAMETERS or field.name.startswith("fields["):
                continue
            operators = operators_for(field)
            example = filter_example(field)
            parameters.append(
                {
                    "name": field.name,
                    "in": "query",
                    "description": (
                        f"Filter on {field.name}: a bare value means equality "
                        f"(`{field.name}={example}`), else `<operator>.<value>` with "
                        f"{', '.join(operators)}; `not.` negates (`not.eq.{example}`). "
                        "`in.(a,b)` lists values (quote items holding commas); `is.null`"
                        + (", `is.true`, `is.false`" if field.json_type == "boolean" else "")
                        + (
                            "; `like`/`ilike` take `*` as the wildcard"
                            if "like" in operators
                            else ""
                        )
                        + ". Repeat the parameter to combine conditions (and)."
                    ),
                    "schema": (
                        {"type": "string", "pattern": NO_NUL}
                        if field.sortable
                        else {"type": "string", "enum": ["is.null", "not.is.null"]}
                    ),
                    "examples": (
                        {
                            "equal": {"value": example},
                            "negated": {"value": f"not.eq.{example}"},
                        }
                        if field.sortable
                        else {"null": {"value": "is.null"}, "negated": {"value": "not.is.null"}}
                    ),
                }
            )
        return parameters

    def group_parameters(self, info: ModelInfo) -> list[dict[str, Any]]:
        names = [f for f in info.fields if f not in RESERVED_PARAMETERS]
        example = names[0] if names else "field"
        groups = []
        for name, text in (
            ("or", "any of the conditions holds"),
            ("and", "all of the conditions hold"),
            ("not.or", "none of the conditions holds"),
            ("not.and", "not all of the conditions hold"),
        ):
            groups.append(
                {
                    "name": name,
                    "in": "query",
                    "description": (
                        f"Rows where {text}: `({example}.eq.1,{example}.is.null)`, each "
                        "condition `<field>.<operator>.<value>`; groups nest as `and(...)` / "
                        f"`or(...)`. Fields: {', '.join(names) or 'none'}."
                    ),
                    "schema": {"type": "string"},
                }
            )
        return groups

    def sort_parameter(self, info: ModelInfo) -> dict[str, Any]:
        sortable = [name for name, field in info.fields.items() if field.sortable]
        return {
            "name": "sort",
            "in": "query",
            "description": (
                "Comma-separated fields, `-` for descending (`sort=-"
                f"{sortable[0] if sortable else 'field'}`); the key breaks ties. Sortable: "
                f"{', '.join(sortable) or 'none'}."
            ),
            **comma_list([i for name in sortable for i in (name, f"-{name}")], unique=True),
        }

    def item_query_parameters(self, info: ModelInfo) -> list[dict[str, Any]]:
        """An item's query: the selection parameters (`ITEM_PARAMETERS`, checked at import)."""
        return self.selection_parameters(info)

    def selection_parameters(self, info: ModelInfo) -> list[dict[str, Any]]:
        """`fields`, `fields[<type>]` for each type an include can reach, `include`, `depth`."""
        parameters: list[dict[str, Any]] = [
            {
                "name": "fields",
                "in": "query",
                "description": "Comma-separated fields and properties to show (the key is "
                f"always shown): {', '.join(info.attributes) or 'none'}.",
                **comma_list(info.attributes, min_items=0),
            }
        ]
        for target in self.reachable(info):
            if target.collection == info.collection:
                continue
            parameters.append(
                {
                    "name": f"fields[{target.collection}]",
                    "in": "query",
                    "description": f"Fields shown for included {target.collection}: "
                    f"{', '.join(target.attributes) or 'none'}.",
                    **comma_list(target.attributes, min_items=0),
                }
            )
        paths = self.include_paths(info)
        parameters.append(
            {
                "name": "include",
                "in": "query",
                "description": "Comma-separated relation paths to nest (at most "
                f"{self.context.options.max_depth} levels), e.g. "
                + (f"`{paths[0]}`" if paths else "none")
                + ". Give `include` or `depth`."
                + (f" Paths: {', '.join(paths[:30])}." if paths else ""),
                # no relation: only an empty include
                **(comma_list(paths) if paths else {"schema": {"type": "string", "enum": [""]}}),
            }
        )
        parameters.append(ref("parameters", "depth"))
        return parameters

    def reachable(self, info: ModelInfo) -> list[ModelInfo]:
        """Models an include of at most `max_depth` levels can bring into a response."""
        found = {info.collection: info}
        frontier = [info]
        for _ in range(self.context.options.max_depth):
            following = []
            for current in frontier:
                for relation in current.relations.values():
                    target = self.context.info_for(relation.target)
                    if target is not None and target.collection not in found:
                        found[target.collection] = target
                        following.append(target)
            frontier = following
        return list(found.values())

    def include_paths(self, info: ModelInfo, limit: int = 60) -> list[str]:
        paths: list[str] = []
        frontier: list[tuple[str, ModelInfo]] = [("", info)]
        for _ in range(self.context.options.max_depth):
            following = []
            for prefix, current in frontier:
                for name, relation in current.relations.items():
                    target = self.context.info_for(relation.target)
                    if target is None or relation.is_dynamic:
                        continue
                    path = f"{prefix}{name}"
                    paths.append(path)
                    following.append((path + ".", target))
                    if len(paths) >= limit:
                        return paths
            frontier = following
        return paths


def operators_for(field: FieldInfo) -> list[str]:
    if not field.sortable:  # JSON, arrays: only `is.null` / `not.is.null`
        return ["`is`"]
    operators: Iterable[str] = OPERATORS
    if field.json_type != "string" or field.format is not None or field.enum:
        operators = [op for op in OPERATORS if op not in ("like", "ilike")]
    return [f"`{op}`" for op in operators]


def filter_example(field: FieldInfo) -> str:
    if field.enum:
        return str(field.enum[0])
    return {
        "integer": "3",
        "number": "1.5",
        "boolean": "true",
    }.get(
        field.json_type,
        {
            "date-time": "2024-05-01T12:00:00",
            "date": "2024-05-01",
            "time": "12:00:00",
            "uuid": "00000000-0000-0000-0000-000000000000",
            "decimal": "1.50",
        }.get(field.format or "", "text"),
    )
