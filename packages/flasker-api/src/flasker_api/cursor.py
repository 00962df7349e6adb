"""Paging cursors: `?after=<cursor>` names the last row a client saw, signed so that a client
can neither forge one nor reuse one across collections.

A cursor holds the sort it was made for and the values of the keyset (the sort keys, then the
primary key) of the last row of a page. itsdangerous signs it (HMAC, with a salt per
collection); an edited, foreign or malformed cursor is one `400` problem on `after`::

    text = encode_cursor(info, sort, last_values, secret)      # in meta.next and Link
    after = decode_cursor(text, info, sort, secret, problems)  # the values, or None + problem

The key is the app's `SECRET_KEY`; without one (`cursor_secret(None)`), a random key made once
per process: cursors then last as long as the process, and nobody can guess the key.
"""

from __future__ import annotations

import secrets
from functools import lru_cache
from typing import Any

import orjson
from itsdangerous import BadData, URLSafeSerializer

from . import _coerce
from .model_info import ModelInfo
from .problems import ProblemCollector

#: Signs cursors when the app has no SECRET_KEY: never derived from anything public.
PROCESS_KEY = secrets.token_bytes(32)

#: The problem of a cursor this API did not give for this collection.
REFUSED = "not a cursor this API gave (use meta.next or the Link header as given)"

Sort = tuple[tuple[str, bool], ...]


def cursor_secret(secret_key: str | bytes | None) -> bytes:
    """The key that signs cursors: the app's `SECRET_KEY`, else this process's random key."""
    if not secret_key:
        return PROCESS_KEY
    return secret_key.encode() if isinstance(secret_key, str) else bytes(secret_key)


def cursor_keys(info: ModelInfo, sort: Sort) -> list[tuple[str, bool]]:
    """The keyset: the sort keys, then every primary-key field not already sorted on (asc)."""
    named = {name for name, _ in sort}
    return [*sort, *((name, False) for name in info.primary_key if name not in named)]


def encode_cursor(info: ModelInfo, sort: Sort, values: list[Any], secret: bytes) -> str:
    """The signed cursor of the row whose keyset values are `values`."""
    keys = cursor_keys(info, sort)
    payload = [
        _sort_text(sort),
        [
            _coerce.to_json_value(info.fields[name], v)
            for (name, _), v in zip(keys, values, strict=True)
        ],
    ]
    return _serializer(secret, info.collection).dumps(payload)


def decode_cursor(
    text: str, info: ModelInfo, sort: Sort, secret: bytes, problems: ProblemCollector
) -> tuple[Any, ...] | None:
    """The keyset values a cursor holds; None, with a problem on `after`, when it was not
    signed by this API for this collection, or was made for another sort."""
    try:
        payload = _serializer(secret, info.collection).loads(text)
    except (BadData, UnicodeError):
        problems.parameter("after", REFUSED)
        return None
    keys = cursor_keys(info, sort)
    try:
        sort_text, raw = payload
        if sort_text != _sort_text(sort):
            problems.parameter("after", f"the cursor was made for sort={sort_text}: repeat it")
            return None
        if not isinstance(raw, list) or len(raw) != len(keys):
            raise ValueError
        return tuple(
            _coerce.from_json(info.fields[name], value)
            for (name, _), value in zip(keys, raw, strict=True)
        )
    except (ValueError, TypeError):  # signed by this key, but not a cursor of this model
        problems.parameter("after", REFUSED)
        return None


def _sort_text(sort: Sort) -> str:
    return ",".join(("-" if descending else "") + name for name, descending in sort)


class _Orjson:
    """orjson as itsdangerous's payload serializer (it takes any `dumps`/`loads` pair)."""

    @staticmethod
    def dumps(value: Any) -> bytes:
        return orjson.dumps(value)

    @staticmethod
    def loads(data: bytes) -> Any:
        return orjson.loads(data)


@lru_cache(maxsize=1024)
def _serializer(secret: bytes, collection: str) -> URLSafeSerializer:
    """One serializer per (key, collection): the salt binds a cursor to its collection."""
    return URLSafeSerializer(secret, salt=f"flasker-api.cursor:{collection}", serializer=_Orjson)
