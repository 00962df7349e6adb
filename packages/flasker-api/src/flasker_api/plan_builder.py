"""Building a read plan (read_plan.py) for a model and a selection: which columns each model of
the include tree reads, the statement of each included relation, and one compiled function per
node that writes a row as the response's dict.

The functions are written with serialize.py's `function_source` and `relation_entry`, as its
serializers are: `n0(r, seen, add, M)` is a dict display of row positions, nested entities
looked up in `M` (the relation's rows by the parent's join key); each entity is written in full
once per response, a repeat is its key. A plain Python property reads a light entity
(light.py), with the relations it declares in `loads=` set on it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import RelationshipDirection, aliased

from .light import light_class, light_columns, supports_light
from .model_info import ModelInfo
from .read_plan import Edge, Node, Plan
from .selection import IncludeTree, Lookup, Selection
from .serialize import _b64, _get, function_source, relation_entry, shown_attributes
from .statements import column, simple_join_pairs

#: The relations a property reads (`loads=["cats", "cats.toys"]` → {"cats": {"toys": {}}}).
LoadsTree = dict[str, "LoadsTree"]
#: `(info, property name) → SQL expression` of a property the database computes.
Expression = Callable[[ModelInfo, str], Any]


class PlanBuilder:
    """Builds the `Plan` of one (model, selection, extra columns): its nodes and edges (the
    included relations and those a plain property `loads=`), their statements, and the compiled
    row functions. Returns None where light entities cannot stand in for a model."""

    def __init__(self, expression: Expression, selection: Selection, lookup: Lookup) -> None:
        self.expression = expression
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
                edge.local = local
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
                edge.local = list(info.primary_key)
            edge.shown = relation_name in included
            edge.attached = attached
            self.edges[index] = edge
            node.edges.append(edge)
        for edge in node.edges:
            edge.parent_key = tuple(node.position(n) for n in edge.local)
        if light:
            node.light = light_class(info, node.names)
        return node

    def columns_of(self, node: Node) -> list[Any]:
        info = node.info
        return [
            *(column(info, n) for n in node.names),
            *(self.expression(info, n) for n in node.properties),
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

    def plan(self, root: Node) -> Plan:
        """The plan of a root node built by `node`."""
        return Plan(root, self.columns_of(root), self.edges, self.compile(root))

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
            many = edge.uselist and not edge.by_key
            value = f"({found} or ())" if many else found
            parts.append(relation_entry(edge.name, value, nested, many=many))
        self.sources.append(function_source(name, "r, seen, add, M", parts))
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
