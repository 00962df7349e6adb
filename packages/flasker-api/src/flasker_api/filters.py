"""Filters of a list request: `?age=gte.3`, `?or=(age.lt.2,color.eq.black)` → `Condition`s and
`Group`s whose every field and value is known to be good.

Pure logic (no database, no Flask): statements.py turns the result into `WHERE` clauses without
checking anything again. The grammar is PostgREST's (DESIGN.md)::

    ?color=black               equality (a value that does not start with an operator)
    ?age=gte.3                 eq ne gt gte lt lte like ilike in is, and not.<op>
    ?name=ilike.*tom*          `*` is the wildcard of like/ilike
    ?id=in.(1,2,"a,b")         quoted items may hold commas and parentheses
    ?house_id=is.null          is.null is.true is.false
    ?or=(age.lt.2,color.eq.black,and(age.gt.10,color.eq.grey))
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from . import _coerce
from ._parameters import LIST_PARAMETERS
from .model_info import FieldInfo, ModelInfo
from .problems import ProblemCollector

OPERATORS = ("eq", "ne", "gt", "gte", "lt", "lte", "like", "ilike", "in", "is")
IS_VALUES = {"null": None, "true": True, "false": False}


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


def parse_filter_parameter(
    name: str, text: str, info: ModelInfo, problems: ProblemCollector
) -> list[Filter]:
    """`?<name>=<text>`: a condition on a column, or an `and=`/`not.or=`/`not.and=` group;
    nothing (and a problem reported) when the name or the value is bad."""
    if name in ("and", "not.or", "not.and"):
        group = parse_group_parameter(name, text, info, problems)
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


def parse_group_parameter(
    name: str, text: str, info: ModelInfo, problems: ProblemCollector
) -> Group | None:
    """`?or=(…)` (or `and`, `not.or`, `not.and`): the group, or None with a problem reported."""
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
