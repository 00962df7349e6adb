"""The endpoints page (mounted mode): every URL rule of the app, the API's operations, try-it.

- The listing (routes with their access column, the API's operations): endpoint_listing.py,
  built in this process when the project's app runs here, else asked of a subprocess
  (introspection.py); built once per started app.
- Try-it (admins, CSRF): a method, a path on this app (absolute and scheme-relative URLs are
  refused) and an optional JSON body, run in-process through `app.test_client()` **with the
  operator's own Cookie header forwarded** — the request runs as the operator, exactly as
  their browser would send it (no cookie is stored or changed; cookies the tried response
  sets are shown, not applied). It runs in a thread of its own so that its database session
  (thread-scoped) never touches the console's. SQL statements are counted with a
  `before_cursor_execute` listener on the project's engine, for that thread only. Exceptions
  inside the tried request show as a 500 result, never as the console's own error.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from flask import current_app, render_template, request

from ._site import EXTENSION, console_site
from .endpoint_listing import TRY_METHODS, Listing, local_listing
from .endpoint_listing import api_operations as api_operations
from .exceptions import ConsoleError
from .introspection import endpoints_of

#: Rows of each table per page: the page costs the same with 3 models or 300.
PAGE_SIZE = 50
BODY_LIMIT = 64 * 1024
TRY_TIMEOUT = 30.0


class TryItError(ConsoleError):
    """The try-it form asked for something the console will not send (the message says why)."""

    status = 400


@dataclass
class Result:
    method: str
    path: str
    status: int
    status_text: str
    headers: list[tuple[str, str]]
    body: str
    truncated: bool
    elapsed_ms: float
    queries: int
    error: str | None = None
    is_json: bool = False
    size: int = 0


def _project() -> Any:
    """The project; not started when `flasker console` serves it (see `listing`)."""
    project = current_app.extensions[EXTENSION].project
    if project is None:
        raise ConsoleError("the console has no project")
    return project


# -- the listing ----------------------------------------------------------------------------
def cached_listing(project: Any) -> Listing:
    """`listing(project)`, built once per started app: its rules and the API's models cannot
    change after start-up (Flask refuses new rules once it has served), so the OpenAPI document
    is not rebuilt on every visit. A project served standalone is asked every time (its cfg
    may have changed; the subprocess is the cost of never importing its code)."""
    if not project.is_started:
        return listing(project)
    manager = console_site()
    cached = manager.endpoints_listing
    if cached is None:
        cached = listing(project)
        manager.endpoints_listing = cached
    return cached


@dataclass
class Shown:
    """One page of a filtered table."""

    rows: list[dict[str, Any]]
    total: int
    page: int
    pages: int


def shown(rows: list[dict[str, Any]], query: str, page: int, keys: tuple[str, ...]) -> Shown:
    """The rows whose `keys` contain `query` (any case), page `page` of them (1-based)."""
    needle = query.strip().lower()
    if needle:
        rows = [row for row in rows if any(needle in str(row.get(k, "")).lower() for k in keys)]
    pages = max(1, -(-len(rows) // PAGE_SIZE))
    page = min(max(page, 1), pages)
    start = (page - 1) * PAGE_SIZE
    return Shown(rows[start : start + PAGE_SIZE], len(rows), page, pages)


def _page_number(value: str | None) -> int:
    try:
        return max(1, int(value or "1"))
    except ValueError:
        return 1


def listing(project: Any) -> Listing:
    """In-process when mounted; from a subprocess when the project is not started here
    (`flasker console` never imports a project's code: introspection.py)."""
    if not project.is_started:
        return Listing(**endpoints_of(project.config.path))
    return local_listing(project)


# -- try-it ---------------------------------------------------------------------------------
def checked_input(form: Any) -> tuple[str, str, bytes | None]:
    method = (form.get("method") or "GET").strip().upper()
    if method not in TRY_METHODS:
        raise TryItError(f"method: expected one of {', '.join(TRY_METHODS)}, got {method!r}")
    path = (form.get("path") or "").strip()
    parts = urlsplit(path)
    if (
        not path.startswith("/")
        or path.startswith("//")
        or "\\" in path
        or parts.scheme
        or parts.netloc
        or any(ord(c) < 32 for c in path)
    ):
        raise TryItError(
            f"path: {path!r} must be a path on this app starting with a single '/' "
            "(absolute URLs and other sites are refused)"
        )
    text = form.get("body") or ""
    body = None
    if text.strip():
        try:
            json.loads(text)
        except ValueError as error:
            raise TryItError(f"body: not JSON ({error})") from None
        body = text.encode("utf-8")
    return method, path, body


def run(project: Any, method: str, path: str, body: bytes | None, cookie: str | None) -> Result:
    """Send the request to the app in-process, in a thread of its own; see the module doc."""
    app = project.app
    engine = project.db.engine
    outcome: dict[str, Any] = {}
    counter = {"n": 0}
    worker: dict[str, int | None] = {"ident": None}

    def count(*_args: Any) -> None:
        if threading.get_ident() == worker["ident"]:
            counter["n"] += 1

    headers = {"Cookie": cookie} if cookie else {}
    if body is not None:
        headers["Content-Type"] = "application/json"
    base_url = request.host_url

    def call() -> None:
        worker["ident"] = threading.get_ident()
        client = app.test_client(use_cookies=False)
        started = time.perf_counter()
        try:
            outcome["response"] = client.open(
                path, method=method, data=body, headers=headers, base_url=base_url
            )
        except Exception as error:  # the tried view raised (PROPAGATE_EXCEPTIONS)
            outcome["error"] = error
        finally:
            outcome["elapsed"] = time.perf_counter() - started

    from sqlalchemy import event

    event.listen(engine, "before_cursor_execute", count)
    try:
        thread = threading.Thread(target=call, name="console-try-it", daemon=True)
        thread.start()
        thread.join(TRY_TIMEOUT)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    elapsed_ms = outcome.get("elapsed", TRY_TIMEOUT) * 1000
    if "response" not in outcome:
        error = outcome.get("error")
        message = (
            f"{type(error).__name__}: {error}"
            if error is not None
            else f"no answer within {TRY_TIMEOUT:g} s (still running in the background)"
        )
        status = getattr(error, "code", None) or (500 if error is not None else 504)
        return Result(
            method, path, int(status), "", [], "", False, elapsed_ms, counter["n"], message
        )
    response = outcome["response"]
    return _result(method, path, response, elapsed_ms, counter["n"])


def _result(method: str, path: str, response: Any, elapsed_ms: float, queries: int) -> Result:
    data = response.get_data()
    response.close()
    text: str
    is_json = False
    if response.is_json:
        try:
            text = json.dumps(json.loads(data), indent=2, ensure_ascii=False)
            is_json = True
        except ValueError:
            text = data.decode("utf-8", "replace")
    else:
        try:
            text = data.decode(response.charset if hasattr(response, "charset") else "utf-8")
        except (UnicodeDecodeError, LookupError):
            text = f"({len(data)} bytes of {response.mimetype or 'binary data'})"
    truncated = len(text) > BODY_LIMIT
    return Result(
        method=method,
        path=path,
        status=response.status_code,
        status_text=response.status.partition(" ")[2],
        headers=list(response.headers.items()),
        body=text[:BODY_LIMIT],
        truncated=truncated,
        elapsed_ms=elapsed_ms,
        queries=queries,
        is_json=is_json,
        size=len(data),
    )


# -- views ----------------------------------------------------------------------------------
def _page(result: Result | None = None, message: str | None = None, status: int = 200) -> Any:
    project = _project()
    form = request.form if request.method == "POST" else request.args
    found = cached_listing(project)
    query = request.args.get("q", "")[:200]
    return render_template(
        "flasker_console/endpoints.html",
        listing=found,
        query=query,
        operations=shown(
            found.operations,
            query,
            _page_number(request.args.get("ops_page")),
            ("method", "path", "tag", "summary"),
        ),
        routes=shown(
            found.routes,
            query,
            _page_number(request.args.get("routes_page")),
            ("rule", "endpoint", "methods"),
        ),
        result=result,
        message=message,
        status=status,
        try_methods=TRY_METHODS,
        tried={
            "method": (form.get("method") or "GET").upper(),
            "path": form.get("path") or "",
            "body": form.get("body") or "",
        },
    ), status


def endpoints_page() -> Any:
    return _page()


def endpoints_try() -> Any:
    project = _project()
    is_htmx = bool(request.headers.get("HX-Request"))
    if not project.is_started:
        raise TryItError(
            "try-it runs requests inside the project's app, which this standalone console "
            "never imports: use the console mounted in the project ('flasker server', then "
            "/console/endpoints), or send the request with curl"
        )
    try:
        method, path, body = checked_input(request.form)
    except TryItError as error:
        if is_htmx:
            return render_template(
                "flasker_console/partials/error.html", status=error.status, message=str(error)
            ), error.status
        return _page(message=str(error), status=error.status)
    result = run(project, method, path, body, request.headers.get("Cookie"))
    if is_htmx:
        return render_template("flasker_console/partials/try_result.html", result=result)
    return _page(result=result)
