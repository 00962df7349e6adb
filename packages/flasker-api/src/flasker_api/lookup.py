"""The entity an item URL names: its key (`k1,k2` when composite), else a unique column.

`/api/cats/3` and `/api/cats/Tom` (when `name` is unique) name the same cat; a URL that names
none answers 404, saying what the URL was expected to hold::

    lookup = Lookup(transactions, "/api")
    cat = lookup.load(info, "Tom")
    lookup.url_of(info, cat)          # "/api/cats/3"
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import sqlalchemy as sa

from . import _coerce
from .problems import ApiProblem

if TYPE_CHECKING:
    from .model_info import ModelInfo
    from .transactions import Transactions


class Lookup:
    """Finds entities by the key text of their URL, and writes their URLs."""

    def __init__(self, transactions: Transactions, prefix: str) -> None:
        self.transactions = transactions
        self.prefix = prefix

    def url_of(self, info: ModelInfo, obj: Any) -> str:
        return item_url(self.prefix, info, [getattr(obj, n) for n in info.primary_key])

    def load(self, info: ModelInfo, key_text: str, options: Iterable[Any] = ()) -> Any:
        """The entity named by the URL: its key (`k1,k2` when composite), else a unique
        column (`/api/cats/<name>`); 404 naming what was expected otherwise."""
        session = self.transactions.session
        options = list(options)
        for names, values in key_candidates(info, key_text):
            clause = sa.and_(
                *(getattr(info.model, n) == v for n, v in zip(names, values, strict=True))
            )
            found: Any = session.execute(
                sa.select(info.model).where(clause).options(*options)
            ).scalar_one_or_none()
            if found is not None:
                return found
        raise not_found(info, key_text)


def item_url(prefix: str, info: ModelInfo, key: Iterable[Any]) -> str:
    """The item URL of the entity whose key parts are `key` (`/api/memberships/3,7`)."""
    text = ",".join(quote(str(part), safe="") for part in key)
    return f"{prefix}/{info.collection}/{text}"


def key_candidates(info: ModelInfo, key_text: str) -> Iterator[tuple[tuple[str, ...], list[Any]]]:
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


def not_found(info: ModelInfo, key_text: str) -> ApiProblem:
    """404 for a key text that names no entity, saying what the URL names."""
    shape = ",".join(info.primary_key)
    alternatives = "".join(f" or its {n}" for n in info.lookups)
    return ApiProblem(
        404,
        f"no {info.collection} with key {key_text!r} (the URL names its {shape}{alternatives})",
    )
