"""A broker that cannot be reached answers 503, not 500.

A view that sends a task (`task.delay()`) while Redis or RabbitMQ restarts meets one of:
kombu's `OperationalError` (publishing gave up), the Redis client's own `ConnectionError` or
`TimeoutError`, or Celery's `RuntimeError` "Retry limit exceeded while trying to reconnect to
the Celery result store" (the Redis result backend subscribes to a task's result as the task
is sent; its message says to restart the application, which is not needed: the next send
opens a new subscription). None of them is a bug in the server, and the next request after
the broker is back works. So the app answers them as it answers a database outage: 503 with
`Retry-After`, through the app's handler of HTTP errors (the API's problem+json, else
werkzeug's page), logged in one line without a traceback.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from ._unavailable import answer, pass_on
from .exceptions import BrokerUnavailableError

if TYPE_CHECKING:
    from flask import Flask

    from .config import Config

logger = logging.getLogger("flasker")

#: What Celery's Redis result backend says when it cannot subscribe to a task's result.
_RESULT_STORE_GAVE_UP = "reconnect to the Celery result store"


def _connection_error_classes(config: Config) -> tuple[type[BaseException], ...]:
    """The errors that mean "the broker did not answer": kombu's and amqp's (they come with
    Celery), and the Redis client's when the project's broker or result backend is Redis (its
    result backend raises them unwrapped, e.g. reading `AsyncResult(id).state`)."""
    from amqp.exceptions import ConnectionError as AmqpConnectionError
    from kombu.exceptions import OperationalError

    classes: list[type[BaseException]] = [OperationalError, AmqpConnectionError]
    if any(_is_redis(config.celery.get(key)) for key in ("broker_url", "result_backend")):
        try:
            import redis.exceptions
        except ImportError:  # a Redis URL without the client fails at connection already
            pass
        else:
            classes += [redis.exceptions.ConnectionError, redis.exceptions.TimeoutError]
    return tuple(classes)


def _is_redis(url: object) -> bool:
    first = url[0] if isinstance(url, list | tuple) and url else url
    return str(first or "").startswith(("redis://", "rediss://", "redis+socket://"))


def broker_unavailable(config: Config, error: BaseException) -> BrokerUnavailableError | None:
    """The 503 to answer for `error`, or None when it is not the broker being unreachable.

    The reason is a category, never the client's text (that names hosts and ports)."""
    classes = _connection_error_classes(config)
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, classes) or (
            isinstance(current, RuntimeError) and _RESULT_STORE_GAVE_UP in str(current)
        ):
            reason = (
                "it did not answer in time"
                if "timeout" in type(current).__name__.lower()
                else "the connection was refused or lost"
            )
            return BrokerUnavailableError(_broker_kind(config), reason)
        current = current.__cause__ or current.__context__
    return None


def _broker_kind(config: Config) -> str:
    url = config.celery.get("broker_url") or ""
    url = str(url[0] if isinstance(url, list | tuple) and url else url)
    scheme = url.split("://", 1)[0].split("+")[-1] if "://" in url else ""
    return scheme or "embedded"


def attach_broker_errors(app: Flask, config: Config) -> None:
    """Register the 503 answer for the broker's connection errors on `app`; any other error of
    the same classes goes on as if this handler did not exist."""
    # a Redis error reaches a view wrapped in one of these (kombu wraps what publishing
    # raises; Celery's result backend raises RuntimeError from it)
    classes = (*_connection_error_classes(config), RuntimeError)

    def handle(error: Exception) -> Any:
        from flask import request

        unavailable = broker_unavailable(config, error)
        if unavailable is None:
            return pass_on(app, error, set(classes))
        logger.warning(
            "task broker unavailable, answered 503 to %s %s: %s",
            request.method,
            request.path,
            type(error).__name__,
        )
        return answer(app, unavailable)

    for cls in classes:
        app.register_error_handler(cls, handle)
