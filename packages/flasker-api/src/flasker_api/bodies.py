"""Request bodies: JSON in, checked field by field, applied to an entity, or 415/400/422.

A write's body is a JSON object of fields and relations (a relation takes keys: one key, or a
list of keys for a to-many relation). Every bad field is collected into one 422 that points at
each (`/address`, `/cats/1`), the `validate` hooks run on what is left, and only then are the
values set, under `no_autoflush`, so a refused body changes nothing::

    bodies = Bodies(api, transactions)
    payload = bodies.json_object()
    bodies.apply(info, house, payload, "update")       # PATCH

`mode` is create (POST), replace (PUT) or update (PATCH); body_rules.py holds the rules the
OpenAPI document describes too.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import orjson
from flask import request

from . import _coerce
from ._site import target_of
from .body_rules import (
    covering_relations,
    is_required,
    is_writable,
    json_pointer,
    unaddressable_key,
)
from .problems import ApiProblem, ProblemCollector, bad_field

if TYPE_CHECKING:
    from ._site import APISite
    from .model_info import ModelInfo, RelationInfo
    from .transactions import Transactions

JSON_TYPES = ("application/json",)


class Bodies:
    """Reads request bodies and applies them to entities of the request's session."""

    def __init__(self, site: APISite, transactions: Transactions) -> None:
        self.site = site
        self.transactions = transactions

    def json_body(self) -> Any:
        if request.mimetype not in JSON_TYPES and not request.mimetype.endswith("+json"):
            raise ApiProblem(
                415,
                f"send JSON (Content-Type: application/json), not {request.mimetype or 'nothing'}",
            )
        data = request.get_data(cache=True)
        if not data.strip():
            raise ApiProblem(400, "the request body is empty: send a JSON document")
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError as error:
            raise ApiProblem(
                400,
                f"the body is not valid JSON: {error}",
                [{"pointer": "", "message": str(error)}],
            ) from None

    def json_object(self) -> dict[str, Any]:
        payload = self.json_body()
        if not isinstance(payload, dict):
            raise bad_field("", f"expected a JSON object, got {type(payload).__name__}")
        return payload

    def apply(self, info: ModelInfo, obj: Any, payload: Mapping[str, Any], mode: str) -> None:
        """Set the payload's values on `obj`; 422 listing every bad field.

        `mode` is create (POST: required fields must be given), replace (PUT: required fields
        must be given, absent nullable ones become null) or update (PATCH: only what is given).
        """
        problems = ProblemCollector()
        values: dict[str, Any] = {}
        relations: dict[str, Any] = {}
        for name, value in payload.items():
            field = info.fields.get(name)
            pointer = json_pointer(name)
            if field is not None:
                if value is None and not field.nullable:
                    if field.has_default and mode == "create":
                        continue
                    problems.pointer(pointer, f"{name} may not be null")
                    continue
                try:
                    values[name] = _coerce.from_json(field, value)
                except _coerce.Invalid as error:
                    problems.pointer(pointer, str(error))
                    continue
                if field.primary_key and mode == "create":
                    unaddressable = unaddressable_key(values[name], info.is_composite)
                    if unaddressable:
                        problems.pointer(pointer, unaddressable)
                        continue
                if field.primary_key and mode != "create":
                    if values[name] != getattr(obj, name):
                        problems.pointer(pointer, "the key cannot change: it names the entity")
                    del values[name]
            elif name in info.relations:
                relation = info.relations[name]
                if not is_writable(relation):
                    problems.pointer(pointer, f"{name} is read-only here")
                    continue
                relations[name] = (relation, value, pointer)
            elif name in info.properties:
                problems.pointer(pointer, f"{name} is a computed property, it cannot be written")
            else:
                writable = ", ".join([*info.fields, *info.relations])
                problems.pointer(pointer, f"unknown field (writable: {writable})")
        if mode in ("create", "replace"):
            for name, field in info.fields.items():
                if name in payload:
                    continue
                covered = any(
                    payload.get(relation) is not None for relation in covering_relations(info, name)
                )
                if is_required(field, mode) and not covered:
                    problems.pointer("/" + name, f"{name} is required")
                elif mode == "replace" and field.nullable and not field.has_default and not covered:
                    values[name] = None
        with self.transactions.session.no_autoflush:
            for name, (relation, value, pointer) in relations.items():
                target = target_of(self.site, relation)
                try:
                    resolved = self.resolve(target, relation, value, pointer)
                    self.check_to_one(info, relation, obj, resolved, pointer, mode)
                except ApiProblem as problem:
                    problems.errors.extend(problem.errors)
                    continue
                values[name] = resolved
            problems.raise_if_any(422, "field")
            self.run_validators(info, dict(payload))
            for name, value in values.items():
                setattr(obj, name, value)

    def check_to_one(
        self,
        info: ModelInfo,
        relation: RelationInfo,
        obj: Any,
        resolved: Any,
        pointer: str,
        mode: str = "update",
    ) -> None:
        """A many-to-one whose key columns may not be null, or are part of the entity's own
        key, cannot be emptied (or, for a key, moved): 422 rather than an ORM assertion."""
        if relation.uselist or not relation.local_fields:
            return
        local = [info.fields[n] for n in relation.local_fields if n in info.fields]
        if resolved is None and any(not f.nullable or f.primary_key for f in local):
            raise bad_field(pointer, f"{relation.name} may not be null")
        if mode != "create" and any(f.primary_key for f in local):
            current = getattr(obj, relation.name)
            if current is not resolved:
                raise bad_field(pointer, f"{relation.name} is part of the key: it names the entity")

    def resolve(self, target: ModelInfo, relation: RelationInfo, value: Any, pointer: str) -> Any:
        """Keys in a body (a key, or a list of keys for a to-many relation) → entities."""
        if relation.uselist:
            if not isinstance(value, list):
                raise bad_field(pointer, f"expected a list of {target.collection} keys")
            found = []
            problems = ProblemCollector()
            for index, item in enumerate(value):
                try:
                    found.append(self.resolve_key(target, item, f"{pointer}/{index}"))
                except ApiProblem as problem:
                    problems.errors.extend(problem.errors)
            problems.raise_if_any(422, "field")
            return found
        if value is None:
            return None
        return self.resolve_key(target, value, pointer)

    def resolve_key(self, target: ModelInfo, value: Any, pointer: str) -> Any:
        if isinstance(value, dict):  # {"id": 3}: an object naming its key
            value = [value.get(n) for n in target.primary_key]
            if len(value) == 1:
                value = value[0]
        parts = value if isinstance(value, list) and target.is_composite else [value]
        if len(parts) != len(target.primary_key):
            raise bad_field(
                pointer, f"expected a {target.collection} key ({', '.join(target.primary_key)})"
            )
        try:
            key = tuple(
                _coerce.from_json(target.fields[n], p)
                for n, p in zip(target.primary_key, parts, strict=True)
            )
        except _coerce.Invalid as error:
            raise bad_field(pointer, f"not a {target.collection} key: {error}") from None
        if any(part is None for part in key):
            raise bad_field(pointer, f"not a {target.collection} key: null")
        found: Any = self.transactions.session.get(target.model, key if len(key) > 1 else key[0])
        if found is None:
            raise bad_field(pointer, f"no {target.collection} with key {value!r}")
        return found

    def run_validators(self, info: ModelInfo, payload: dict[str, Any]) -> None:
        problems = ProblemCollector()
        for validator in self.site.validators:
            result = validator(info.model, payload)
            if not result:
                continue
            if isinstance(result, str):
                problems.pointer("", result)
            elif isinstance(result, Mapping):
                for name, message in result.items():
                    problems.pointer("/" + str(name) if name else "", str(message))
            else:
                for message in result:
                    problems.pointer("", str(message))
        problems.raise_if_any(422, "field")
