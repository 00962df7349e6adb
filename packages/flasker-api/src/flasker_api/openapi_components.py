"""The components every model shares: problem and list schemas, parameters, headers, responses.

They do not depend on the models, only on the options (limits, depth, count), and each part of
the document refers to them with `$ref` (`error_responses("404")` → the NotFound response)::

    {"schemas": common_schemas(), "parameters": common_parameters(api.options), ...}
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._jsonschema import ref
from .problems import PROBLEM_MIMETYPE

if TYPE_CHECKING:
    from .options import APIOptions


def common_schemas() -> dict[str, Any]:
    """Problem, ProblemError, ListMeta and Index: the schemas every model's operations share."""
    return {
        "Problem": {
            "type": "object",
            "description": "An error (RFC 9457 problem details).",
            "required": ["type", "title", "status", "detail"],
            "properties": {
                "type": {"type": "string", "description": "Always `about:blank`."},
                "title": {"type": "string", "description": "The HTTP status phrase."},
                "status": {"type": "integer", "minimum": 100, "maximum": 599},
                "detail": {"type": "string", "description": "What is wrong, in words."},
                "errors": {
                    "type": "array",
                    "description": "Every problem found, each naming where it is.",
                    "items": ref("schemas", "ProblemError"),
                },
            },
        },
        "ProblemError": {
            "type": "object",
            "required": ["message"],
            "properties": {
                "parameter": {
                    "type": "string",
                    "description": "The query parameter (or header) at fault.",
                },
                "pointer": {
                    "type": "string",
                    "description": "A JSON pointer into the request body (`/address`).",
                },
                "message": {"type": "string"},
            },
        },
        "ListMeta": {
            "type": "object",
            "required": ["total", "returned", "limit", "offset", "next"],
            "properties": {
                "total": {
                    "type": ["integer", "null"],
                    "minimum": 0,
                    "description": "Rows matching the filters; null with `count=none`.",
                },
                "returned": {"type": "integer", "minimum": 0},
                "limit": {"type": "integer", "minimum": 0},
                "offset": {
                    "type": ["integer", "null"],
                    "minimum": 0,
                    "description": "The `offset` given; null without one or with `after`.",
                },
                "next": {
                    "type": ["string", "null"],
                    "description": "URL of the next page (also in the `Link` header), "
                    "null on the last page.",
                },
            },
        },
        "Index": {
            "type": "object",
            "required": ["collections", "endpoints", "openapi", "docs"],
            "properties": {
                "collections": {
                    "type": "object",
                    "additionalProperties": {"type": "string"},
                    "description": "Collection name → its URL.",
                },
                "endpoints": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["path", "methods"],
                        "properties": {
                            "path": {"type": "string"},
                            "methods": {
                                "type": "array",
                                "items": {
                                    "type": "string",
                                    "enum": ["GET", "POST", "PUT", "PATCH", "DELETE"],
                                },
                            },
                        },
                    },
                },
                "openapi": {"type": "string"},
                "docs": {"type": "string"},
            },
        },
    }


def common_parameters(options: APIOptions) -> dict[str, Any]:
    """Paging, depth, count and the conditional headers, with the limits `options` set."""
    limit: dict[str, Any] = {"type": "integer", "minimum": 0, "default": options.default_limit}
    if options.max_limit:
        limit["maximum"] = options.max_limit
    return {
        "limit": {
            "name": "limit",
            "in": "query",
            "description": f"Page size (default {options.default_limit}"
            + (f", at most {options.max_limit}" if options.max_limit else "")
            + ").",
            "schema": limit,
        },
        "offset": {
            "name": "offset",
            "in": "query",
            "description": "Rows to skip. Prefer `after` (the `next` URL uses it) for deep "
            "pages; give one or the other.",
            "schema": {"type": "integer", "minimum": 0, "maximum": 999_999_999_999},
        },
        "after": {
            "name": "after",
            "in": "query",
            "description": "Opaque cursor from `meta.next` / the `Link` header: the page "
            "after the last row seen (keyset pagination). Valid with the same `sort` only.",
            "schema": {"type": "string"},
        },
        "depth": {
            "name": "depth",
            "in": "query",
            "description": "Levels of related entities nested in the answer (default "
            f"{options.default_depth}, at most {options.max_depth}). An entity appears in "
            "full once per response; a repeat is its key. Give `depth` or `include`.",
            "schema": {
                "type": "integer",
                "minimum": 0,
                "maximum": options.max_depth,
                "default": options.default_depth,
            },
        },
        "count": {
            "name": "count",
            "in": "query",
            "description": "`exact` counts the matching rows into `meta.total`; `none` "
            f"skips the count (`total` is null). Default `{options.count}`.",
            "schema": {"type": "string", "enum": ["exact", "none"], "default": options.count},
        },
        "IfNoneMatch": {
            "name": "If-None-Match",
            "in": "header",
            "description": "ETags the client holds: 304 Not Modified when one is current.",
            "schema": {"type": "string"},
        },
        "IfMatch": {
            "name": "If-Match",
            "in": "header",
            "description": "The ETag the client read (from a GET of the entity without "
            "query string): 412 Precondition Failed when the entity changed since.",
            "schema": {"type": "string"},
        },
    }


def common_headers() -> dict[str, Any]:
    return {
        "ETag": {
            "description": "Version of the representation (weak `W/` for lists): send it "
            "back in `If-None-Match` (reads) or `If-Match` (writes).",
            "schema": {"type": "string"},
        },
        "Location": {
            "description": "URL of the created entity.",
            "required": True,
            "schema": {"type": "string"},
        },
        "Link": {
            "description": 'The next page, `<url>; rel="next"`, when there is one.',
            "schema": {"type": "string"},
        },
    }


def common_responses() -> dict[str, Any]:
    """304 and one problem+json response per error status."""

    def problem(description: str) -> dict[str, Any]:
        return {
            "description": description,
            "content": {PROBLEM_MIMETYPE: {"schema": ref("schemas", "Problem")}},
        }

    return {
        "NotModified": {
            "description": "Not Modified: the `If-None-Match` ETag is current.",
            "headers": {"ETag": ref("headers", "ETag")},
        },
        "BadRequest": problem(
            "Bad Request: an unknown query parameter, a bad operator or value, or a body "
            "that is not JSON (`errors` names each parameter)."
        ),
        "Forbidden": problem("Forbidden: an `authorize` hook refused the request."),
        "NotFound": problem("Not Found: no entity with this key (or position)."),
        "Conflict": problem(
            "Conflict: the database refused the change (a unique or foreign-key "
            "constraint); nothing was changed."
        ),
        "PreconditionFailed": problem(
            "Precondition Failed: `If-Match` does not name the current ETag."
        ),
        "UnsupportedMediaType": problem("Unsupported Media Type: send `application/json`."),
        "UnprocessableContent": problem(
            "Unprocessable Content: unknown fields, wrong types, missing required fields "
            "or a validator's messages (`errors` points at each field)."
        ),
    }


#: Error status → the name of its shared response.
ERROR_RESPONSES = {
    "400": "BadRequest",
    "403": "Forbidden",
    "404": "NotFound",
    "409": "Conflict",
    "412": "PreconditionFailed",
    "415": "UnsupportedMediaType",
    "422": "UnprocessableContent",
}


def error_responses(*statuses: str) -> dict[str, Any]:
    """References to the shared problem responses of `statuses` ("400", "404", …)."""
    return {status: ref("responses", ERROR_RESPONSES[status]) for status in statuses}
