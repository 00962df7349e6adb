"""The Flask views: index, collection, item, relation collection, relation position.

Every view follows the same path: authorize (authorization.py), parse the query string
(query.py), read through `Reads` or `Pages` (statements built by statements.py, run in the
project's session or on a pooled connection, serialized by compiled serializers, answered with
an ETag), or write through `Bodies` and `Transactions`: the body is applied inside
`session.no_autoflush`, flushed, serialized, then committed, turning database refusals into
409/422 after a rollback, so a request that answers with an error has changed nothing. A
plain POST takes the insert fast path (fast_insert.py). routes.py registers the views::

    views = Endpoints(api)
    blueprint.add_url_rule("/", "index", views.index)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from flask import Response, request
from sqlalchemy.orm import with_parent
from sqlalchemy.sql import operators

from flasker.db import advance_sequence, explicit_key

from ._site import project_of, target_of
from .authorization import Authorization
from .bodies import Bodies
from .conditional import check_if_match, json_response
from .cursor import cursor_secret
from .endpoint_table import key_segment, model_endpoints
from .fast_insert import RowInserts
from .lookup import Lookup
from .pages import Pages
from .problems import ApiProblem
from .query import ItemQuery, Limits, ListQuery, parse_item_query, parse_list_query
from .reader import ReadPlans
from .reads import Reads
from .serialize import SerializerCache, dumps
from .statements import loader_options, page_statement
from .transactions import Transactions

if TYPE_CHECKING:
    from sqlalchemy.orm import Mapper

    from ._site import APISite
    from .model_info import ModelInfo, RelationInfo

#: The largest 1-based relation position looked up; beyond it the answer is 404.
MAX_POSITION = 10**12


class Endpoints:
    """The views of one manager, made of the collaborators they share: the request's unit of
    work, the key lookup, the readers, the pages, the bodies and the insert fast path."""

    def __init__(self, site: APISite) -> None:
        self.site = site
        options = site.options
        self.prefix = options.url_prefix
        self.limits = Limits(
            default_limit=options.default_limit,
            max_limit=options.max_limit,
            default_depth=options.default_depth,
            max_depth=options.max_depth,
            count=options.count == "exact",
            secret=cursor_secret(project_of(site).app.config.get("SECRET_KEY")),
        )
        self.authorization = Authorization(site)
        self.transactions = Transactions(site)
        self.lookup = Lookup(self.transactions, self.prefix)
        self.reads = Reads(
            site,
            self.transactions,
            self.lookup,
            SerializerCache(site.info_for),
            ReadPlans(site.info_for),
        )
        self.pages = Pages(site, self.transactions, self.reads, self.limits.secret)
        self.bodies = Bodies(site, self.transactions)
        self.inserts = RowInserts(self.transactions, self.reads, self.prefix)

    def index(self) -> Response:
        """Every collection and every endpoint with its methods (endpoint_table.py)."""
        self.authorization.authorize("index", "GET", None)
        endpoints = [
            {
                "path": endpoint.path(self.prefix, key_segment(info)),
                "methods": list(endpoint.methods),
            }
            for info in self.site.models.values()
            for endpoint in model_endpoints(info)
        ]
        body = {
            "collections": {name: f"{self.prefix}/{name}/" for name in self.site.models},
            "endpoints": endpoints,
            "openapi": f"{self.prefix}/openapi.json",
            "docs": f"{self.prefix}/docs",
        }
        return json_response(dumps(body))

    def collection(self, info: ModelInfo) -> Response:
        self.authorization.authorize("collection", request.method, info.model)
        if request.method == "POST":
            return self.create(info)
        query = parse_list_query(request.args.lists(), info, self.site.info_for, self.limits)
        self.authorization.authorize_includes(info, query.selection)
        return self.pages.list_response(info, query)

    def create(self, info: ModelInfo) -> Response:
        payload = self.bodies.json_object()
        item_query = self.item_query(info)
        obj = info.model()
        self.bodies.apply(info, obj, payload, "create")
        plan = self.reads.plans.get(info, item_query.selection)
        if plan is not None and self.inserts.can_insert(info, plan, obj):
            return self.inserts.insert_row(info, plan, obj)
        mapper: Mapper[Any] = sa.inspect(info.model)
        given = {a.columns[0].key: obj.__dict__.get(a.key) for a in mapper.column_attrs}
        explicit = explicit_key(mapper.local_table, given)
        self.transactions.session.add(obj)
        self.transactions.flush()
        if explicit is not None:  # the client chose the key: the next numbered one comes after
            advance_sequence(self.transactions.session.connection(), *explicit)
        location = self.lookup.url_of(info, obj)
        response = self.reads.render_one(info, obj, item_query.selection, 201, Location=location)
        self.transactions.commit()
        return response

    def item(self, info: ModelInfo, key: str) -> Response:
        method = request.method
        self.authorization.authorize("item", method, info.model)
        if method in ("GET", "HEAD"):
            return self.reads.read_item(info, key, self.item_query(info).selection)
        query = self.item_query(info) if method != "DELETE" else ItemQuery()
        obj = self.lookup.load(
            info, key, loader_options(info, self.reads.plain, self.site.info_for)
        )
        if "If-Match" in request.headers:
            check_if_match(request, self.reads.plain_etag(info, obj))
        if method == "DELETE":
            self.transactions.session.delete(obj)
            self.transactions.flush()
            self.transactions.commit()
            return Response(status=204)
        payload = self.bodies.json_object()
        self.bodies.apply(info, obj, payload, "replace" if method == "PUT" else "update")
        self.transactions.flush()
        response = self.reads.render_one(info, obj, query.selection)
        self.transactions.commit()
        return response

    def item_query(self, info: ModelInfo) -> ItemQuery:
        query = parse_item_query(request.args.lists(), info, self.site.info_for, self.limits)
        self.authorization.authorize_includes(info, query.selection)
        return query

    def relation(self, info: ModelInfo, relation: RelationInfo, key: str) -> Response:
        method = request.method
        target = target_of(self.site, relation)
        # the answer is made of the target's entities: both models must be allowed
        self.authorization.authorize("relation", method, info.model)
        self.authorization.authorize("relation", method, target.model)
        parent = self.lookup.load(info, key)
        attribute = getattr(info.model, relation.name)
        if method == "PUT":
            value = self.bodies.json_body()
            with self.transactions.session.no_autoflush:
                resolved = self.bodies.resolve(target, relation, value, "")
                self.bodies.check_to_one(info, relation, parent, resolved, "")
                self.bodies.run_validators(info, {relation.name: value})
                setattr(parent, relation.name, resolved)
            self.transactions.flush()
            self.transactions.commit()
            return Response(status=204)
        if not relation.uselist:
            query: ItemQuery | ListQuery = self.item_query(target)
            related = getattr(parent, relation.name)
            if related is None:
                return json_response(b"null")
            return self.reads.render_one(target, related, query.selection)
        query = parse_list_query(
            request.args.lists(),
            target,
            self.site.info_for,
            self.limits,
            default_sort=self.default_sort(info, relation, target),
        )
        self.authorization.authorize_includes(target, query.selection)
        return self.pages.list_response(target, query, [with_parent(parent, attribute)])

    def position(
        self, info: ModelInfo, relation: RelationInfo, key: str, position: int
    ) -> Response:
        target = target_of(self.site, relation)
        self.authorization.authorize("position", "GET", info.model)
        self.authorization.authorize("position", "GET", target.model)
        query = self.item_query(target)
        parent = self.lookup.load(info, key)
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
        options = loader_options(target, query.selection, self.site.info_for)
        statement = page_statement(target, listing, options, [with_parent(parent, attribute)])
        found = self.transactions.session.execute(statement.limit(1)).scalars().first()
        if found is None:
            raise ApiProblem(
                404, f"{info.collection} {key} has fewer than {position} {relation.name}"
            )
        return self.reads.render_one(target, found, query.selection)

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
            descending = getattr(clause, "modifier", None) is operators.desc_op
            element = getattr(clause, "element", clause)
            name = by_column.get(getattr(element, "name", None))  # type: ignore[arg-type]
            if name is None or getattr(element, "table", None) is not target.mapper.local_table:
                return ()
            keys.append((name, descending))
        return tuple(keys)
