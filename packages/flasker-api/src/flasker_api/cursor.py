"""Paging cursors: `?after=<cursor>` names the last row a client saw, signed so that a client
can neither forge one nor reuse one across collections.

A cursor holds the sort it was made for and the values of the keyset (the sort keys, then the
primary key) of the last row of a page, as base64url JSON signed by an itsdangerous `Signer`
(HMAC-SHA256, with a salt per collection); an edited, foreign or malformed cursor is one `400`
problem on `after`::

    text = encode_cursor(info, sort, last_values, secret)      # in meta.next and Link
    after = decode_cursor(text, info, sort, secret, problems)  # the values, or None + problem

The key is the app's `SECRET_KEY`; without one (`cursor_secret(None)`), a random key made once
per process: cursors then last as long as the process, and nobody can guess the key.
"""

from __future__ import annotations

import hashlib
import secrets
from functools import cached_property, lru_cache
from typing import Any

import orjson
from itsdangerous import BadData, Signer
from itsdangerous.encoding import base64_decode, base64_encode

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
    return _signer(secret, info.collection).sign(base64_encode(orjson.dumps(payload))).decode()


def decode_cursor(
    text: str, info: ModelInfo, sort: Sort, secret: bytes, problems: ProblemCollector
) -> tuple[Any, ...] | None:
    """The keyset values a cursor holds; None, with a problem on `after`, when it was not
    signed by this API for this collection, or was made for another sort."""
    try:
        body = _signer(secret, info.collection).unsign(text)
    except (BadData, UnicodeError):
        problems.parameter("after", REFUSED)
        return None
    keys = cursor_keys(info, sort)
    try:
        sort_text, raw = orjson.loads(base64_decode(body))
        if sort_text != _sort_text(sort):
            problems.parameter("after", f"the cursor was made for sort={sort_text}: repeat it")
            return None
        if not isinstance(raw, list) or len(raw) != len(keys):
            raise ValueError
        return tuple(
            _coerce.from_json(info.fields[name], value)
            for (name, _), value in zip(keys, raw, strict=True)
        )
    except (BadData, ValueError, TypeError):  # signed by this key, not a cursor of this model
        problems.parameter("after", REFUSED)
        return None


def _sort_text(sort: Sort) -> str:
    return ",".join(("-" if descending else "") + name for name, descending in sort)


class _CursorSigner(Signer):
    """A `Signer` that derives its key once: itsdangerous derives it (one more HMAC) on every
    `sign`/`unsign`, and a cursor signer's key and salt never change."""

    def derive_key(self, secret_key: str | bytes | None = None) -> bytes:
        key = secret_key if secret_key is not None else self.secret_keys[-1]
        derived = self._derived.get(key)
        if derived is None:
            derived = self._derived[key] = super().derive_key(key)
        return derived

    @cached_property
    def _derived(self) -> dict[str | bytes, bytes]:
        return {}


@lru_cache(maxsize=1024)
def _signer(secret: bytes, collection: str) -> Signer:
    """One signer per (key, collection): the salt binds a cursor to its collection."""
    return _CursorSigner(
        secret,
        salt=f"flasker-api.cursor:{collection}",
        key_derivation="hmac",
        digest_method=hashlib.sha256,
    )
