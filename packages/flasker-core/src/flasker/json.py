"""JSON with orjson: fast, and it knows dates, UUIDs, enums and dataclasses.

`Decimal` becomes a string (no precision lost), `timedelta` its seconds, sets become lists.
The project's Flask app uses this for `jsonify` and `request.get_json()` too.
"""

from __future__ import annotations

import datetime
import decimal
from typing import TYPE_CHECKING, Any, cast

import orjson
from flask.json.provider import JSONProvider

if TYPE_CHECKING:
    from flask import Response

OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY


def default(value: Any) -> Any:
    """What orjson does not know natively."""
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, datetime.timedelta):
        return value.total_seconds()
    if isinstance(value, set | frozenset):
        return sorted(value, key=repr)
    if hasattr(value, "__html__"):
        return str(value.__html__())
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def dumps(value: Any, *, sort_keys: bool = False, indent: bool = False) -> bytes:
    options = OPTIONS
    if sort_keys:
        options |= orjson.OPT_SORT_KEYS
    if indent:
        options |= orjson.OPT_INDENT_2
    return orjson.dumps(value, default=default, option=options)


def loads(data: str | bytes) -> Any:
    return orjson.loads(data)


class OrjsonProvider(JSONProvider):
    """Flask JSON provider backed by orjson."""

    sort_keys = False

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        return dumps(obj, sort_keys=kwargs.get("sort_keys", self.sort_keys)).decode()

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        return orjson.loads(s)

    def response(self, *args: Any, **kwargs: Any) -> Response:
        obj = self._prepare_response_obj(args, kwargs)
        # The app is a flask.Flask, whose response class takes a body; the provider types
        # `_app` as the sansio App, whose response class does not.
        response_class = cast("type[Response]", self._app.response_class)
        return response_class(dumps(obj), mimetype="application/json")
