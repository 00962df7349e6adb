"""Conditional requests: ETags on reads, `If-None-Match` → 304, `If-Match` → 412.

An ETag is a hash of the serialised body, so it changes exactly when what the client would see
changes. Lists get weak ETags (`W/"…"`): their body depends on the page and the query. Writes
compare `If-Match` with the ETag of the entity's plain representation (what `GET /api/coll/key`
without a query string returns), so a client that read an entity can update it safely.

The headers are werkzeug's: `request.if_none_match` / `request.if_match` parse them into
`ETags`, and `Response.set_etag` writes the `ETag` header. The functions here take and return
ETags as the header writes them (`"…"`, `W/"…"`)::

    etag = etag_of(body)                   # '"3f2a…"'
    if is_fresh(request, etag):
        return not_modified(etag)
"""

from __future__ import annotations

import hashlib

from flask import Request, Response
from werkzeug.http import unquote_etag

from .problems import ApiProblem


def etag_of(body: bytes, *, weak: bool = False) -> str:
    tag = '"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"'
    return "W/" + tag if weak else tag


def is_fresh(request: Request, etag: str) -> bool:
    """`If-None-Match` names this ETag (weak comparison, RFC 9110 13.1.2), or is `*`: 304."""
    tags = request.if_none_match
    if not tags:
        return False
    tag, _weak = unquote_etag(etag)
    # `"*" in tags` also takes a `*` listed among other tags, as a star
    return "*" in tags or tags.contains_weak(tag)


def not_modified(etag: str) -> Response:
    response = Response(status=304)
    _set_etag(response, etag)
    return response


def check_if_match(request: Request, current_etag: str | None) -> None:
    """Refuse a write (412) when `If-Match` names another version (strong comparison: a weak
    tag never matches), or is `*` and there is no current version."""
    tags = request.if_match
    if not tags and not request.headers.get("If-Match"):
        return  # no condition (a header that names no tag at all is a failed condition)
    if current_etag is not None:
        tag, weak = unquote_etag(current_etag)
        if "*" in tags or (not weak and tags.is_strong(tag)):
            return
    raise ApiProblem(
        412,
        "the entity changed since you read it (If-Match does not name its current ETag): "
        "read it again, then retry",
        [{"parameter": "If-Match", "message": f"current ETag is {current_etag}"}],
    )


def json_response(
    body: bytes,
    status: int = 200,
    *,
    etag: str | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    response = Response(body, status, mimetype="application/json")
    if etag is not None:
        _set_etag(response, etag)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _set_etag(response: Response, etag: str) -> None:
    """Write `etag` (as `etag_of` returns it) with werkzeug's `set_etag`."""
    tag, weak = unquote_etag(etag)
    response.set_etag(tag, weak=weak)
