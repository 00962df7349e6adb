"""A page of a list: its rows, whether more follow, the total, and the next page's URL.

`GET /api/houses/` (and a to-many relation's list) answers the envelope
`{"data": [...], "meta": {"total", "returned", "limit", "offset", "next"}}` with a weak ETag
and a `Link: <…>; rel="next"` header. The page query reads one row more than the limit, so the
count runs only when the page cannot tell the total; an unfiltered list reuses statements built
once per plan and sort; the next page is an offset when the request used one, else a signed
cursor after the last row's sort keys::

    pages = Pages(api, transactions, reads, secret)
    return pages.list_response(info, query)
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import sqlalchemy as sa
from flask import Response, request

from .conditional import etag_of, is_fresh, json_response, not_modified
from .light import NeedsEntity
from .query import ListQuery, cursor_keys, encode_cursor
from .serialize import dumps
from .statements import count_statement, loader_options, page_statement

if TYPE_CHECKING:
    from ._site import APISite
    from .model_info import ModelInfo
    from .reader import Plan
    from .reads import Reads
    from .transactions import Transactions


class Pages:
    """Answers list requests, one page at a time."""

    def __init__(
        self, site: APISite, transactions: Transactions, reads: Reads, secret: bytes
    ) -> None:
        self.site = site
        self.transactions = transactions
        self.reads = reads
        #: The key that signs paging cursors.
        self.secret = secret

    def list_response(
        self,
        info: ModelInfo,
        query: ListQuery,
        extra_where: Iterable[Any] = (),
    ) -> Response:
        extra_where = list(extra_where)
        keys = tuple(name for name, _ in cursor_keys(info, query.sort))
        plan = self.reads.plans.get(info, query.selection, keys)
        page = None
        if plan is not None:  # no ORM entity needed: plain rows and light entities (reader.py)
            try:
                page = self.rows_page(info, query, extra_where, plan, keys)
            except NeedsEntity as error:
                self.reads.entity_needed(info, query.selection, keys, error)
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
        with self.transactions.read_connection() as connection:
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
        session = self.transactions.session
        options = loader_options(info, query.selection, self.site.info_for)
        statement = page_statement(info, query, options, extra_where)
        rows: Sequence[Any] = list(session.execute(statement).scalars().all())
        rows, has_more, total = self.page_of(rows, query, session, info, extra_where)
        last_values = [getattr(rows[-1], name) for name in keys] if has_more else None
        values = self.reads.entity_values(info, query.selection, rows)
        return (
            self.reads.serializers.get(info, query.selection).many(rows, values),
            last_values,
            total,
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
            cursor = encode_cursor(info, query.sort, last_values, self.secret)
            kept.append(("after", cursor))
        return f"{request.path}?{urlencode(kept)}"
