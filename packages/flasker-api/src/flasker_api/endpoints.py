"""The Flask views: index, collection, item, relation collection, relation position.

Every view follows the same path: authorize, parse the query string (query.py), build the
statement (statements.py), run it in the project's session, serialize with a compiled
serializer (serialize.py), answer with an ETag (conditional.py). Writes apply the body inside
`session.no_autoflush`, flush, serialize, then commit, turning database refusals into 409/422
after a rollback: a request that answers with an error has changed nothing.
"""

from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import quote, urlencode

import orjson
import sqlalchemy as sa
from flask import Blueprint, Flask, Response, request
from sqlalchemy import exc as sa_exc
from sqlalchemy.orm import Session, with_parent
from werkzeug.exceptions import HTTPException, InternalServerError

from flasker.db import advance_sequence, explicit_key, is_unavailable

from . import _coerce
from .conditional import check_if_match, etag_of, is_fresh, json_response, not_modified
from .light import NeedsEntity
from .model_info import ModelInfo, RelationInfo
from .problems import ApiProblem, ProblemCollector, bad_field, http_problem
from .query import (
    IncludeTree,
    ItemQuery,
    Limits,
    ListQuery,
    Selection,
    cursor_keys,
    encode_cursor,
    parse_item_query,
    parse_list_query,
)
from .reader import Plan, ReadPlans, entity_values
from .serialize import SerializerCache, dumps
from .statements import count_statement, loader_options, page_statement

if TYPE_CHECKING:
    from sqlalchemy.orm import Mapper

    from .manager import APIManager

JSON_TYPES = ("application/json",)

log = logging.getLogger(__name__)

#: The largest 1-based relation position looked up; beyond it the answer is 404.
MAX_POSITION = 10**12


class Endpoints:
    """The views of one manager, with what they share: limits and compiled serializers."""

    def __init__(self, manager: APIManager) -> None:
        self.manager = manager
        self.serializers = SerializerCache(manager.info_for)
        self.plans = ReadPlans(manager.info_for)
        options = manager.options
        self.prefix = options.url_prefix
        self.limits = Limits(
            default_limit=options.default_limit,
            max_limit=options.max_limit,
            default_depth=options.default_depth,
            max_depth=options.max_depth,
            count=options.count == "exact",
            secret=_secret(manager),
        )
        self.plain = Selection()

    @property
    def session(self) -> Session:
        assert self.manager.project is not None
        return self.manager.project.db.session()

    # -- shared steps ---------------------------------------------------------------------------
    def authorize(self, endpoint: str, method: str, model: type | None) -> None:
        for authorizer in self.manager.authorizers:
            if authorizer(endpoint, method, model) is False:
                name = f" on {model.__name__}" if model is not None else ""
                raise ApiProblem(403, f"{method} {endpoint}{name} is not allowed for you")

    def url_of(self, info: ModelInfo, obj: Any) -> str:
        key = ",".join(quote(str(getattr(obj, n)), safe="") for n in info.primary_key)
        return f"{self.prefix}/{info.collection}/{key}"

    def load(self, info: ModelInfo, key_text: str, options: Iterable[Any] = ()) -> Any:
        """The entity named by the URL: its key (`k1,k2` when composite), else a unique
        column (`/api/cats/<name>`); 404 naming what was expected otherwise."""
        session = self.session
        options = list(options)
        for names, values in self.key_candidates(info, key_text):
            clause = sa.and_(
                *(getattr(info.model, n) == v for n, v in zip(names, values, strict=True))
            )
            found: Any = session.execute(
                sa.select(info.model).where(clause).options(*options)
            ).scalar_one_or_none()
            if found is not None:
                return found
        raise self.not_found(info, key_text)

    def key_candidates(
        self, info: ModelInfo, key_text: str
    ) -> Iterator[tuple[tuple[str, ...], list[Any]]]:
        """What a URL's key may mean, in order: (attribute names, values) of the primary key,
        then of each unique column the text is a valid value of."""
        parts = key_text.split(",") if info.is_composite else [key_text]
        if len(parts) == len(info.primary_key):
            try:
                key = [
                    _coerce.from_text(info.fields[n], p)
                    for n, p in zip(info.primary_key, parts, strict=True)
                ]
            except _coerce.Invalid:
                pass
            else:
                yield info.primary_key, key
        for name in info.lookups:
            try:
                value = _coerce.from_text(info.fields[name], key_text)
            except _coerce.Invalid:
                continue
            yield (name,), [value]

    def not_found(self, info: ModelInfo, key_text: str) -> ApiProblem:
        shape = ",".join(info.primary_key)
        alternatives = "".join(f" or its {n}" for n in info.lookups)
        return ApiProblem(
            404,
            f"no {info.collection} with key {key_text!r} (the URL names its {shape}{alternatives})",
        )

    def read_one(self, info: ModelInfo, key_text: str, plan: Plan) -> Response:
        """GET of one entity when nothing shown needs an ORM entity (reader.py): plain rows on
        a connection, through a statement built once per plan and key shape."""
        with self.read_connection() as connection:
            for names, values in self.key_candidates(info, key_text):
                statement = plan.by(names)
                params = {f"k{i}": v for i, v in enumerate(values)}
                row = connection.execute(statement, params).first()
                if row is not None:
                    return self.one_response(dumps(plan.one(connection, row)))
        raise self.not_found(info, key_text)

    def read_item(self, info: ModelInfo, key_text: str, selection: Selection) -> Response:
        """GET of one entity: as rows when a plan can answer (`read_one`), else as entities."""
        plan = self.plans.get(info, selection)
        if plan is not None:
            try:
                return self.read_one(info, key_text, plan)
            except NeedsEntity as error:
                self.entity_needed(info, selection, (), error)
        options = loader_options(info, selection, self.manager.info_for)
        return self.render_one(info, self.load(info, key_text, options), selection)

    def read_connection(self) -> contextlib.AbstractContextManager[sa.Connection]:
        """Where reads run: the session's connection when the request already has a session
        (its transaction sees what the request did), else a connection of the engine's pool
        (no session, no unit of work, nothing to commit)."""
        assert self.manager.project is not None
        db = self.manager.project.db
        if db.session.registry.has():
            return contextlib.nullcontext(db.session().connection())
        return db.engine.connect()

    def entity_values(
        self, info: ModelInfo, selection: Selection, objects: Sequence[Any]
    ) -> dict[int, tuple[Any, ...]] | None:
        """The properties the database computes, for ORM entities about to be serialized."""
        if not selection.include and not any(p.in_sql for p in info.properties.values()):
            return None
        return entity_values(
            self.plans, self.session, info, selection, objects, self.manager.info_for
        )

    def render_one(
        self, info: ModelInfo, obj: Any, selection: Selection, status: int = 200, **headers: str
    ) -> Response:
        values = self.entity_values(info, selection, [obj])
        body = dumps(self.serializers.get(info, selection).one(obj, values))
        return self.one_response(body, status, **headers)

    def one_response(self, body: bytes, status: int = 200, **headers: str) -> Response:
        etag = etag_of(body)
        if status == 200 and request.method in ("GET", "HEAD") and is_fresh(request, etag):
            return not_modified(etag)
        return json_response(body, status, etag=etag, headers=headers)

    def plain_etag(self, info: ModelInfo, obj: Any) -> str:
        values = self.entity_values(info, self.plain, [obj])
        return etag_of(dumps(self.serializers.get(info, self.plain).one(obj, values)))

    def list_response(
        self,
        info: ModelInfo,
        query: ListQuery,
        extra_where: Iterable[Any] = (),
    ) -> Response:
        extra_where = list(extra_where)
        keys = tuple(name for name, _ in cursor_keys(info, query.sort))
        plan = self.plans.get(info, query.selection, keys)
        page = None
        if plan is not None:  # no ORM entity needed: plain rows and light entities (reader.py)
            try:
                page = self.rows_page(info, query, extra_where, plan, keys)
            except NeedsEntity as error:
                self.entity_needed(info, query.selection, keys, error)
        if page is None:
            page = self.entities_page(info, query, extra_where, keys)
        data, last_values, total = page
        next_url = None if last_values is None else self.next_url(info, query, last_values)
        envelope = {
            "data": data,
            "meta": {
                "total": total,
                "returned": len(data),
                "limit": query.limit,
                "offset": query.offset if query.after is None else None,
                "next": next_url,
            },
        }
        body = dumps(envelope)
        etag = etag_of(body, weak=True)
        if is_fresh(request, etag):
            return not_modified(etag)
        headers = {"Link": f'<{next_url}>; rel="next"'} if next_url else {}
        return json_response(body, etag=etag, headers=headers)

    def rows_page(
        self,
        info: ModelInfo,
        query: ListQuery,
        extra_where: list[Any],
        plan: Plan,
        keys: tuple[str, ...],
    ) -> tuple[list[dict[str, Any]], list[Any] | None, int | None]:
        """(the page's data, the last row's sort keys when more follow, the total), read
        as rows by a plan (reader.py)."""
        last_values = None
        with self.read_connection() as connection:
            if not query.filters and query.after is None and not extra_where:
                # the shape of most list requests: statements built once, bound values
                statement, counter = self.unfiltered(info, query, plan)
                params = {"limit": query.limit + 1, "offset": query.offset or 0}
                rows: Sequence[Any] = connection.execute(statement, params).all()
            else:
                statement = page_statement(info, query, (), extra_where, columns=plan.columns)
                rows, counter = connection.execute(statement).all(), None
            rows, has_more, total = self.page_of(
                rows, query, connection, info, extra_where, counter
            )
            if has_more:
                last_values = [rows[-1][plan.position(name)] for name in keys]
            return plan.many(connection, rows), last_values, total

    def entities_page(
        self, info: ModelInfo, query: ListQuery, extra_where: list[Any], keys: tuple[str, ...]
    ) -> tuple[list[dict[str, Any]], list[Any] | None, int | None]:
        """The same as `rows_page`, from ORM entities of the request's session."""
        session = self.session
        options = loader_options(info, query.selection, self.manager.info_for)
        statement = page_statement(info, query, options, extra_where)
        rows: Sequence[Any] = list(session.execute(statement).scalars().all())
        rows, has_more, total = self.page_of(rows, query, session, info, extra_where)
        last_values = [getattr(rows[-1], name) for name in keys] if has_more else None
        values = self.entity_values(info, query.selection, rows)
        return self.serializers.get(info, query.selection).many(rows, values), last_values, total

    def entity_needed(
        self, info: ModelInfo, selection: Selection, keys: tuple[str, ...], error: Exception
    ) -> None:
        """A plain property failed on a light entity: this shape of request is answered from
        ORM entities from now on, and the log says why (once per shape)."""
        self.plans.demote(info, selection, keys)
        log.warning(
            "flasker-api: %s is answered from ORM entities from now on (slower): a property "
            "could not be computed on a row (%s). Declare the relations it reads with "
            "@api.property(loads=[...]) to keep it on the fast path.",
            info.collection,
            error,
        )

    def page_of(
        self,
        rows: Sequence[Any],
        query: ListQuery,
        executor: Any,
        info: ModelInfo,
        extra_where: list[Any],
        counter: Any = None,
    ) -> tuple[Sequence[Any], bool, int | None]:
        """(the page's rows, whether more follow, the total when counted): the page query
        reads one row more than the limit; the count runs only when the page cannot tell."""
        has_more = len(rows) > query.limit
        if has_more:
            rows = rows[: query.limit]
        total: int | None = None
        if query.count:
            if query.after is None and not has_more and (rows or not query.offset):
                total = (query.offset or 0) + len(rows)
            else:
                counter = (
                    counter if counter is not None else count_statement(info, query, extra_where)
                )
                total = executor.execute(counter).scalar_one()
        return rows, has_more, total

    def unfiltered(self, info: ModelInfo, query: ListQuery, plan: Plan) -> tuple[Any, Any]:
        """The page and count statements of an unfiltered list, by sort: built once per plan,
        with the limit and offset as bound parameters."""
        found = plan.pages.get(query.sort)
        if found is None:
            template = ListQuery(sort=query.sort, limit=0)
            page = page_statement(info, template, (), columns=plan.columns)
            page = page.limit(sa.bindparam("limit")).offset(sa.bindparam("offset"))
            found = plan.pages[query.sort] = (page, count_statement(info, template))
        return found

    def next_url(self, info: ModelInfo, query: ListQuery, last_values: list[Any]) -> str:
        """This request's URL for the next page: by offset when it used one, else a cursor
        after the last row's sort keys (`last_values`)."""
        kept = [
            (k, v) for k, vs in request.args.lists() for v in vs if k not in ("offset", "after")
        ]
        if query.offset is not None:
            kept.append(("offset", str(query.offset + query.limit)))
        else:
            cursor = encode_cursor(info, query.sort, last_values, self.limits.secret)
            kept.append(("after", cursor))
        return f"{request.path}?{urlencode(kept)}"

    # -- writes ---------------------------------------------------------------------------------
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
            pointer = "/" + name.replace("~", "~0").replace("/", "~1")
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
                    unaddressable = _unaddressable_key(values[name], info.is_composite)
                    if unaddressable:
                        problems.pointer(pointer, unaddressable)
                        continue
                if field.primary_key and mode != "create":
                    if values[name] != getattr(obj, name):
                        problems.pointer(pointer, "the key cannot change: it names the entity")
                    del values[name]
            elif name in info.relations:
                relation = info.relations[name]
                if relation.read_only or relation.is_dynamic:
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
                    name in r.local_fields and payload.get(r.name) is not None
                    for r in info.relations.values()
                )
                if field.required and not covered and not (mode == "replace" and field.primary_key):
                    problems.pointer("/" + name, f"{name} is required")
                elif mode == "replace" and field.nullable and not field.has_default and not covered:
                    values[name] = None
        with self.session.no_autoflush:
            for name, (relation, value, pointer) in relations.items():
                target = self.manager.info_for(relation.target)
                assert target is not None
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
        found: Any = self.session.get(target.model, key if len(key) > 1 else key[0])
        if found is None:
            raise bad_field(pointer, f"no {target.collection} with key {value!r}")
        return found

    def run_validators(self, info: ModelInfo, payload: dict[str, Any]) -> None:
        problems = ProblemCollector()
        for validator in self.manager.validators:
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

    def session_events(self) -> Any:
        """The flush events that would fire for this request's session, without creating one."""
        assert self.manager.project is not None
        db = self.manager.project.db
        if db.session.registry.has():
            return db.session().dispatch
        return db.Session.class_.dispatch

    def insert_row(self, info: ModelInfo, plan: Plan, obj: Any) -> Response:
        """POST of a plain entity as one `INSERT … RETURNING` of the columns shown: no unit of
        work, no entity loaded back; the answer is what the database stored, written by the
        same compiled reader a GET uses (same body, same ETag)."""
        mapper: Mapper[Any] = sa.inspect(info.model)
        loaded = obj.__dict__
        values = {
            attr.columns[0].key: loaded[attr.key]
            for attr in mapper.column_attrs
            if attr.key in loaded
        }
        # built once per plan; the values travel as parameters (SQLAlchemy caches the SQL)
        statement = plan.insert
        if statement is None:
            # a plain mapping (see _insertable_as_row) maps one Table
            table = cast(sa.Table, mapper.local_table)
            statement = plan.insert = sa.insert(table).returning(*plan.columns)
        assert self.manager.project is not None
        db = self.manager.project.db
        explicit = explicit_key(mapper.local_table, values)
        if db.session.registry.has():  # the request already works in a session: join it
            session = db.session()
            try:
                connection = session.connection()
                row = connection.execute(statement, values).one()
                if explicit is not None:
                    advance_sequence(connection, *explicit)
                session.commit()
            except Exception as error:
                session.rollback()
                raise _database_problem(error) from None
            db.remove()
        else:
            try:
                with db.engine.begin() as connection:
                    row = connection.execute(statement, values).one()
                    if explicit is not None:
                        advance_sequence(connection, *explicit)
            except Exception as error:
                raise _database_problem(error) from None
        key = ",".join(quote(str(row[i]), safe="") for i in plan.root.key_positions)
        location = f"{self.prefix}/{info.collection}/{key}"
        return self.one_response(dumps(plan.one(None, row)), 201, Location=location)  # type: ignore[arg-type]

    def flush(self) -> None:
        try:
            self.session.flush()
        except Exception as error:
            self.session.rollback()
            raise _database_problem(error) from None

    def commit(self) -> None:
        """Commit the request's unit of work, then end the session: what the request did is
        stored, and flasker's own commit at the end of the request has nothing left to do
        (an empty commit would still check a connection out of the pool)."""
        try:
            self.session.commit()
        except Exception as error:
            self.session.rollback()
            raise _database_problem(error) from None
        assert self.manager.project is not None
        self.manager.project.db.remove()

    # -- views ----------------------------------------------------------------------------------
    def index(self) -> Response:
        self.authorize("index", "GET", None)
        endpoints = []
        for info in self.manager.models.values():
            methods = info.sorted_methods
            key = ",".join("{" + n + "}" for n in info.primary_key)
            base = f"{self.prefix}/{info.collection}"
            endpoints.append(
                {"path": f"{base}/", "methods": [m for m in methods if m in ("GET", "POST")]}
            )
            endpoints.append(
                {"path": f"{base}/{key}", "methods": [m for m in methods if m != "POST"]}
            )
            for name, relation in info.relations.items():
                rel_methods = self.relation_methods(info, relation)
                if relation.uselist:
                    endpoints.append({"path": f"{base}/{key}/{name}/", "methods": rel_methods})
                    endpoints.append(
                        {"path": f"{base}/{key}/{name}/{{position}}", "methods": ["GET"]}
                    )
                else:
                    endpoints.append({"path": f"{base}/{key}/{name}", "methods": rel_methods})
        body = {
            "collections": {name: f"{self.prefix}/{name}/" for name in self.manager.models},
            "endpoints": [e for e in endpoints if e["methods"]],
            "openapi": f"{self.prefix}/openapi.json",
            "docs": f"{self.prefix}/docs",
        }
        return json_response(dumps(body))

    def collection(self, info: ModelInfo) -> Response:
        self.authorize("collection", request.method, info.model)
        if request.method == "POST":
            return self.create(info)
        query = parse_list_query(request.args.lists(), info, self.manager.info_for, self.limits)
        self.authorize_includes(info, query.selection)
        return self.list_response(info, query)

    def create(self, info: ModelInfo) -> Response:
        payload = self.json_object()
        item_query = self.item_query(info)
        obj = info.model()
        self.apply(info, obj, payload, "create")
        plan = self.plans.get(info, item_query.selection)
        if plan is not None and _insertable_as_row(info, plan, obj, self.session_events()):
            return self.insert_row(info, plan, obj)
        mapper: Mapper[Any] = sa.inspect(info.model)
        given = {a.columns[0].key: obj.__dict__.get(a.key) for a in mapper.column_attrs}
        explicit = explicit_key(mapper.local_table, given)
        self.session.add(obj)
        self.flush()
        if explicit is not None:  # the client chose the key: the next numbered one comes after
            advance_sequence(self.session.connection(), *explicit)
        location = self.url_of(info, obj)
        response = self.render_one(info, obj, item_query.selection, 201, Location=location)
        self.commit()
        return response

    def item(self, info: ModelInfo, key: str) -> Response:
        method = request.method
        self.authorize("item", method, info.model)
        if method in ("GET", "HEAD"):
            return self.read_item(info, key, self.item_query(info).selection)
        query = self.item_query(info) if method != "DELETE" else ItemQuery()
        obj = self.load(info, key, loader_options(info, self.plain, self.manager.info_for))
        if "If-Match" in request.headers:
            check_if_match(request, self.plain_etag(info, obj))
        if method == "DELETE":
            self.session.delete(obj)
            self.flush()
            self.commit()
            return Response(status=204)
        payload = self.json_object()
        self.apply(info, obj, payload, "replace" if method == "PUT" else "update")
        self.flush()
        response = self.render_one(info, obj, query.selection)
        self.commit()
        return response

    def item_query(self, info: ModelInfo) -> ItemQuery:
        query = parse_item_query(request.args.lists(), info, self.manager.info_for, self.limits)
        self.authorize_includes(info, query.selection)
        return query

    def authorize_includes(self, info: ModelInfo, selection: Selection) -> None:
        """Ask the authorize hook about every model an `include` (or `depth`) would nest, so a
        refused model cannot be read through another one's endpoint."""

        def walk(owner: ModelInfo, tree: IncludeTree) -> None:
            for name, subtree in tree:
                relation = owner.relations[name]
                self.authorize("include", "GET", relation.target)
                target = self.manager.info_for(relation.target)
                if target is not None:
                    walk(target, subtree)

        walk(info, selection.include)

    def relation_methods(self, info: ModelInfo, relation: RelationInfo) -> list[str]:
        methods = ["GET"] if info.allows("GET") else []
        writable = info.allows("PUT") or info.allows("PATCH")
        if writable and not relation.read_only and not relation.is_dynamic:
            methods.append("PUT")
        return methods

    def relation(self, info: ModelInfo, relation: RelationInfo, key: str) -> Response:
        method = request.method
        target = self.manager.info_for(relation.target)
        assert target is not None
        # the answer is made of the target's entities: both models must be allowed
        self.authorize("relation", method, info.model)
        self.authorize("relation", method, target.model)
        parent = self.load(info, key)
        attribute = getattr(info.model, relation.name)
        if method == "PUT":
            value = self.json_body()
            with self.session.no_autoflush:
                resolved = self.resolve(target, relation, value, "")
                self.check_to_one(info, relation, parent, resolved, "")
                self.run_validators(info, {relation.name: value})
                setattr(parent, relation.name, resolved)
            self.flush()
            self.commit()
            return Response(status=204)
        if not relation.uselist:
            query: ItemQuery | ListQuery = self.item_query(target)
            related = getattr(parent, relation.name)
            if related is None:
                return json_response(b"null")
            return self.render_one(target, related, query.selection)
        query = parse_list_query(
            request.args.lists(),
            target,
            self.manager.info_for,
            self.limits,
            default_sort=self.default_sort(info, relation, target),
        )
        self.authorize_includes(target, query.selection)
        return self.list_response(target, query, [with_parent(parent, attribute)])

    def position(
        self, info: ModelInfo, relation: RelationInfo, key: str, position: int
    ) -> Response:
        target = self.manager.info_for(relation.target)
        assert target is not None
        self.authorize("position", "GET", info.model)
        self.authorize("position", "GET", target.model)
        query = self.item_query(target)
        parent = self.load(info, key)
        if position < 1:
            raise ApiProblem(404, f"positions start at 1, not {position}")
        if position > MAX_POSITION:  # past any database's OFFSET (a signed 64-bit integer)
            raise ApiProblem(
                404, f"{info.collection} {key} has fewer than {position} {relation.name}"
            )
        attribute = getattr(info.model, relation.name)
        listing = ListQuery(
            sort=self.default_sort(info, relation, target),
            limit=1,
            offset=position - 1,
            selection=query.selection,
        )
        options = loader_options(target, query.selection, self.manager.info_for)
        statement = page_statement(target, listing, options, [with_parent(parent, attribute)])
        found = self.session.execute(statement.limit(1)).scalars().first()
        if found is None:
            raise ApiProblem(
                404, f"{info.collection} {key} has fewer than {position} {relation.name}"
            )
        return self.render_one(target, found, query.selection)

    def default_sort(
        self, info: ModelInfo, relation: RelationInfo, target: ModelInfo
    ) -> tuple[tuple[str, bool], ...]:
        """The relationship's `order_by`, as sort keys (the order position counts in)."""
        order = info.mapper.relationships[relation.name].order_by
        if not order:
            return ()
        keys: list[tuple[str, bool]] = []
        by_column = {f.column_name: n for n, f in target.fields.items()}
        for clause in order:
            descending = getattr(clause, "modifier", None) is not None and "desc" in str(
                getattr(clause, "modifier", "")
            )
            element = getattr(clause, "element", clause)
            name = by_column.get(getattr(element, "name", None))  # type: ignore[arg-type]
            if name is None or getattr(element, "table", None) is not target.mapper.local_table:
                return ()
            keys.append((name, descending))
        return tuple(keys)


def _unaddressable_key(value: Any, composite: bool) -> str | None:
    """Why a text key would name no URL (an empty segment, a `/` that splits the path, `.` or
    `..` that clients resolve away, a `,` that splits a composite key), else None: an entity
    the API creates must be one its item URL can read, change and delete."""
    if not isinstance(value, str):
        return None
    if value in ("", ".", ".."):
        return f"a key cannot be {value!r}: it must name the entity in a URL"
    if "/" in value or (composite and "," in value):
        separators = "'/' or ','" if composite else "'/'"
        return f"a key cannot contain {separators}: it must name the entity in a URL"
    return None


def _database_problem(error: Exception) -> ApiProblem:
    """Database refusals a client caused → 409/422; anything else goes on as a server error,
    and an unavailable database (a lost connection, a full pool) to flasker's 503."""
    if is_unavailable(error):
        raise error
    message = str(getattr(error, "orig", None) or error).strip().splitlines()[0][:300]
    if isinstance(error, sa_exc.IntegrityError):
        return ApiProblem(409, f"the database refused the change: {message}", title="Conflict")
    if isinstance(error, sa_exc.OperationalError | sa_exc.InternalError):
        raise error  # the database is unwell: a server error, not the client's
    if isinstance(error, sa_exc.DataError | sa_exc.StatementError):
        return ApiProblem(422, f"the database refused a value: {message}")
    if isinstance(error, sa_exc.SQLAlchemyError | AssertionError):
        # the unit of work refused the change (e.g. it would blank out a key column)
        return ApiProblem(409, f"the change cannot be made: {message}", title="Conflict")
    raise error


def _secret(manager: APIManager) -> bytes:
    project = manager.project
    secret = project.app.config.get("SECRET_KEY") if project is not None else None
    if not secret:
        secret = f"flasker-api:{project.config.path if project else ''}"
    return secret.encode() if isinstance(secret, str) else bytes(secret)


# -- registration ----------------------------------------------------------------------------
def register_routes(manager: APIManager, blueprint: Blueprint) -> Endpoints:
    """Add one rule per endpoint and method (so 404 and 405 come from routing, with `Allow`)."""
    views = Endpoints(manager)
    blueprint.add_url_rule("/", "index", views.index, methods=["GET"])
    blueprint.add_url_rule("/openapi.json", "openapi", _openapi_view(manager, views))
    blueprint.add_url_rule("/docs", "docs", _docs_view(manager, views))
    for info in manager.models.values():
        base = f"/{info.collection}"
        methods = info.sorted_methods
        list_methods = [m for m in methods if m in ("GET", "POST")]
        if list_methods:
            blueprint.add_url_rule(
                f"{base}/",
                f"{info.collection}_collection",
                functools.partial(views.collection, info),
                methods=list_methods,
            )
        item_methods = [m for m in methods if m != "POST"]
        if item_methods:
            blueprint.add_url_rule(
                f"{base}/<key>",
                f"{info.collection}_item",
                _keyed(functools.partial(views.item, info)),
                methods=item_methods,
            )
        for name, relation in info.relations.items():
            rel_methods = views.relation_methods(info, relation)
            if not rel_methods:
                continue
            path = f"{base}/<key>/{name}/" if relation.uselist else f"{base}/<key>/{name}"
            blueprint.add_url_rule(
                path,
                f"{info.collection}_{name}_relation",
                _keyed(functools.partial(views.relation, info, relation)),
                methods=rel_methods,
            )
            if relation.uselist and "GET" in rel_methods:
                blueprint.add_url_rule(
                    f"{base}/<key>/{name}/<int(signed=True):position>",
                    f"{info.collection}_{name}_position",
                    functools.partial(_position, views, info, relation),
                    methods=["GET"],
                )
    blueprint.register_error_handler(ApiProblem, lambda problem: problem.response())
    assert manager.project is not None
    _install_error_pages(manager.project.app, manager.options.url_prefix)
    return views


def _keyed(view: Callable[..., Response]) -> Callable[..., Response]:
    return lambda key: view(key)


def _position(
    views: Endpoints, info: ModelInfo, relation: RelationInfo, key: str, position: int
) -> Response:
    return views.position(info, relation, key, position)


def _openapi_view(manager: APIManager, views: Endpoints) -> Callable[[], Response]:
    def openapi() -> Response:
        views.authorize("openapi", "GET", None)
        try:
            from .openapi import build_openapi
        except ImportError:  # helper F's module not there yet: an empty, valid document
            document: dict[str, Any] = {
                "openapi": "3.1.0",
                "info": {"title": "API", "version": "0"},
                "paths": {},
            }
        else:
            document = build_openapi(manager)
        body = dumps(document)
        etag = etag_of(body)
        if is_fresh(request, etag):
            return not_modified(etag)
        return json_response(body, etag=etag)

    return openapi


def _docs_view(manager: APIManager, views: Endpoints) -> Callable[[], Response]:
    def docs() -> Response:
        views.authorize("docs", "GET", None)
        try:
            from .docs import docs_page
        except ImportError:  # helper F's module not there yet
            return Response(
                f"The docs page is not built yet; the document is at {views.prefix}/openapi.json",
                mimetype="text/plain",
            )
        return docs_page(manager)

    return docs


def _install_error_pages(app: Flask, prefix: str) -> None:
    """404/405/415/500 under the API's prefix answer problem+json; elsewhere, unchanged."""
    if app.extensions.get("flasker_api_error_pages"):
        app.extensions["flasker_api_error_pages"].append(prefix)
        return
    prefixes = app.extensions["flasker_api_error_pages"] = [prefix]
    previous = app.error_handler_spec.get(None, {}).get(None, {}).get(HTTPException)

    def in_api() -> bool:
        path = request.path
        return any(path == p or path.startswith(p + "/") or not p for p in prefixes)

    def http_error(error: HTTPException) -> Any:
        if in_api():
            if isinstance(error, InternalServerError):
                return http_problem(500, "the server failed to answer; the error is logged")
            return http_problem(error.code or 500, error.description, dict(error.get_headers()))
        return previous(error) if previous is not None else error

    app.register_error_handler(HTTPException, http_error)


def _insertable_as_row(info: ModelInfo, plan: Plan, obj: Any, session_events: Any) -> bool:
    """Can this new entity be inserted with Core and answered from the returned row?

    Only when nothing relies on the ORM's unit of work or on a loaded entity: the response
    shows columns only (no includes, no computed properties), the model has no validators,
    inheritance, version counter or insert events, the session has no flush events, and the
    body set columns only (a relation assigned by key goes through the session as usual).
    """
    if plan.nests or plan.root.properties or plan.light:
        return False
    mapper: Mapper[Any] = sa.inspect(info.model)
    if not _plain_mapping(mapper) or mapper.dispatch.before_insert or mapper.dispatch.after_insert:
        return False
    dispatch = session_events
    if dispatch.before_flush or dispatch.after_flush or dispatch.after_flush_postexec:
        return False
    loaded = obj.__dict__
    return not any(relation.key in loaded for relation in mapper.relationships)


@functools.cache
def _plain_mapping(mapper: Any) -> bool:
    """The mapping asks nothing of the unit of work: one table, no validators, inheritance,
    version counter or multi-column attributes."""
    return (
        not mapper.validators
        and mapper.inherits is None
        and mapper.polymorphic_on is None
        and mapper.version_id_col is None
        and all(len(attr.columns) == 1 for attr in mapper.column_attrs)
    )
