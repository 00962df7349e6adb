"""Reading one entity and writing it as a response, with its ETag.

A GET of one entity is answered from plain rows when nothing shown needs an ORM entity
(reader.py), else from an entity of the request's session; either way the body is written by a
compiled serializer (serialize.py) and carries an ETag (conditional.py), and an
`If-None-Match` that names it answers 304::

    reads = Reads(api, transactions, lookup, serializers, plans)
    return reads.read_item(info, "3", selection)
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from flask import Response, request

from .conditional import etag_of, is_fresh, json_response, not_modified
from .light import NeedsEntity
from .lookup import key_candidates, not_found
from .query import Selection
from .reader import entity_values
from .serialize import dumps
from .statements import loader_options

if TYPE_CHECKING:
    from ._site import APISite
    from .lookup import Lookup
    from .model_info import ModelInfo
    from .reader import Plan, ReadPlans
    from .serialize import SerializerCache
    from .transactions import Transactions

log = logging.getLogger(__name__)


class Reads:
    """Reads single entities and answers with them."""

    def __init__(
        self,
        site: APISite,
        transactions: Transactions,
        lookup: Lookup,
        serializers: SerializerCache,
        plans: ReadPlans,
    ) -> None:
        self.site = site
        self.transactions = transactions
        self.lookup = lookup
        self.serializers = serializers
        self.plans = plans
        #: What `GET /api/coll/key` without a query string shows: the ETag `If-Match` compares.
        self.plain = Selection()

    def read_one(self, info: ModelInfo, key_text: str, plan: Plan) -> Response:
        """GET of one entity when nothing shown needs an ORM entity (reader.py): plain rows on
        a connection, through a statement built once per plan and key shape."""
        with self.transactions.read_connection() as connection:
            for names, values in key_candidates(info, key_text):
                statement = plan.by(names)
                params = {f"k{i}": v for i, v in enumerate(values)}
                row = connection.execute(statement, params).first()
                if row is not None:
                    return self.one_response(dumps(plan.one(connection, row)))
        raise not_found(info, key_text)

    def read_item(self, info: ModelInfo, key_text: str, selection: Selection) -> Response:
        """GET of one entity: as rows when a plan can answer (`read_one`), else as entities."""
        plan = self.plans.get(info, selection)
        if plan is not None:
            try:
                return self.read_one(info, key_text, plan)
            except NeedsEntity as error:
                self.entity_needed(info, selection, (), error)
        options = loader_options(info, selection, self.site.info_for)
        return self.render_one(info, self.lookup.load(info, key_text, options), selection)

    def entity_values(
        self, info: ModelInfo, selection: Selection, objects: Sequence[Any]
    ) -> dict[int, tuple[Any, ...]] | None:
        """The properties the database computes, for ORM entities about to be serialized."""
        if not selection.include and not any(p.in_sql for p in info.properties.values()):
            return None
        return entity_values(
            self.plans, self.transactions.session, info, selection, objects, self.site.info_for
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
