"""What every console page shares (blueprint.py): its static files, and its error page: an
error the console raises on purpose answers its status and sentence, any other error a 500
that names only its type (the traceback goes to the log), a page for a browser and a partial
for htmx."""

from __future__ import annotations

import html
import logging
import re
from collections.abc import Callable
from typing import Any

import pytest

ConsoleSite = Any
HTMX = {"HX-Request": "true"}

#: Routes of the project's own, on the console's endpoint prefix: Flask treats them as the
#: console blueprint's, so its error page answers for them.
SOURCE = """\
from flask import abort

from flasker import current_project
from flasker.exceptions import FlaskerError
from flasker_console import ConsoleManager
from flasker_console.exceptions import ConsoleError

console = current_project.register_manager(ConsoleManager(events=False))
app = current_project.app


class Teapot(ConsoleError):
    status = 418


def on_purpose():
    raise Teapot("the kettle is <busy>")


def by_core():
    raise FlaskerError("core says no")


def by_accident():
    return 1 // 0


def not_there():
    abort(404)


for name, view in [
    ("on_purpose", on_purpose),
    ("by_core", by_core),
    ("by_accident", by_accident),
    ("not_there", not_there),
]:
    app.add_url_rule(f"/console/_test/{{name}}", f"flasker_console.{{name}}", view)
"""


@pytest.fixture(scope="module")
def site(make_console: Callable[..., ConsoleSite]) -> ConsoleSite:
    return make_console(source=SOURCE)


def error_of(answer: Any) -> str:
    body = answer.get_data(as_text=True)
    found = re.search(r"<strong>(\d+):</strong> (.*?)\n</div>", body, re.S)
    assert found is not None, body[:800]
    return f"{found.group(1)}: {html.unescape(found.group(2)).strip()}"


@pytest.mark.parametrize(
    ("name", "status", "message"),
    [
        ("on_purpose", 418, "418: the kettle is <busy>"),
        ("by_core", 500, "500: core says no"),
        (
            "by_accident",
            500,
            "500: the console failed (ZeroDivisionError); the details are in the server's log",
        ),
    ],
)
def test_an_error_answers_its_status_and_sentence_as_a_page_or_a_partial(
    site: ConsoleSite, name: str, status: int, message: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="flasker_console.blueprint"):
        page = site.get(f"/_test/{name}")
        partial = site.get(f"/_test/{name}", headers=HTMX)
    for answer in (page, partial):
        assert answer.status_code == status
        assert error_of(answer) == message
        assert "Traceback" not in answer.get_data(as_text=True)
    if name == "on_purpose":  # the sentence is text, escaped, never markup
        assert "the kettle is &lt;busy&gt;" in page.get_data(as_text=True)
    assert "<html" in page.get_data(as_text=True)
    assert "<html" not in partial.get_data(as_text=True)
    logged = [r for r in caplog.records if r.name == "flasker_console.blueprint"]
    if name == "by_accident":  # only the unexpected error is logged, with its traceback
        assert [r.getMessage() for r in logged] == [
            f"console error on GET /console/_test/{name}",
            f"console error on GET /console/_test/{name}",
        ]
        assert all(r.exc_info and r.exc_info[0] is ZeroDivisionError for r in logged)
    else:
        assert logged == []


def test_an_http_error_is_answered_as_flask_answers_it(site: ConsoleSite) -> None:
    assert site.get("/_test/not_there").status_code == 404
    assert site.get("/no-such-page").status_code == 404


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        ("/_static/console.css", "text/css; charset=utf-8"),
        ("/_static/vendor/htmx.min.js", "text/javascript; charset=utf-8"),
    ],
)
def test_static_files_are_served_under_the_console(site: ConsoleSite, path: str, kind: str) -> None:
    from pathlib import Path

    import flasker_console

    with site.get(path) as answer:
        assert answer.status_code == 200
        assert answer.headers["Content-Type"] == kind
        static = Path(flasker_console.__file__).parent / "static" / path.removeprefix("/_static/")
        assert answer.get_data() == static.read_bytes()
