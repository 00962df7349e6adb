"""Conditional requests: ETags on reads, `If-None-Match` → 304, `If-Match` → 412.

An ETag is a hash of the serialised body, so it changes exactly when what the client would see
changes. Lists get weak ETags (`W/"…"`): their body depends on the page and the query. Writes
compare `If-Match` with the ETag of the entity's plain representation (what `GET /api/coll/key`
without a query string returns), so a client that read an entity can update it safely.
"""

from __future__ import annotations

import hashlib

from flask import Request, Response

from .problems import ApiProblem


def etag_of(body: bytes, *, weak: bool = False) -> str:
    tag = '"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"'
    return "W/" + tag if weak else tag


def _tags(header: str) -> list[str]:
    return [item.strip() for item in header.split(",") if item.strip()]


def _opaque(tag: str) -> str:
    return tag[2:] if tag.startswith("W/") else tag


def is_fresh(request: Request, etag: str) -> bool:
    """`If-None-Match` names this ETag (weak comparison, RFC 9110 13.1.2): answer 304."""
    header = request.headers.get("If-None-Match")
    if not header:
        return False
    tags = _tags(header)
    return "*" in tags or _opaque(etag) in {_opaque(t) for t in tags}


def not_modified(etag: str) -> Response:
    response = Response(status=304)
    response.headers["ETag"] = etag
    return response


def check_if_match(request: Request, current_etag: str | None) -> None:
    """Refuse a write (412) when `If-Match` names another version (strong comparison)."""
    header = request.headers.get("If-Match")
    if not header:
        return
    tags = _tags(header)
    if "*" in tags and current_etag is not None:
        return
    if current_etag is not None and current_etag in tags:
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
        response.headers["ETag"] = etag
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response
