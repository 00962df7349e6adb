"""The console's pages through a test client, on real cfg files on disk."""

from __future__ import annotations

import html
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from flasker.config import parse_config
from flasker.exceptions import ConfigError

DEBUG = "value:APP:DEBUG"
HTMX = {"HX-Request": "true"}
#: A `ConsoleSite` (conftest.py); tests reach it through fixtures.
ConsoleSite = Any


def cli_messages(cfg: Path, text: str) -> list[str]:
    """What `flasker check` / load_config would say about `text` as the file `cfg`."""
    with pytest.raises(ConfigError) as caught:
        parse_config(text, cfg)
    return [str(problem) for problem in caught.value.problems]


def error_slot(page: str, key_label: str) -> str:
    """The inline error element of the row whose label is `key_label`."""
    match = re.search(rf'<label[^>]*for="(key-[0-9a-f]+)">{re.escape(key_label)}</label>', page)
    assert match, f"no row {key_label}"
    slot = re.search(rf'<div id="err-{match.group(1)}"[^>]*>(.*?)</div>\s*(?:<td|</td)', page, re.S)
    assert slot, f"no error slot for {key_label}"
    return html.unescape(re.sub(r"<[^>]+>", " ", slot.group(1)))


# -- the page -------------------------------------------------------------------------------
def test_editor_shows_one_card_per_section_with_types_and_docs(site: ConsoleSite) -> None:
    page = site.page("/config")
    for section in ("PROJECT", "APP", "LOGGING"):
        assert f'id="section-{section}"' in page
    assert 'data-testid="row-APP-DEBUG"' in page
    debug_row = page.split('data-testid="row-APP-DEBUG"')[1].split("</tr>")[0]
    assert "<code>bool</code>" in debug_row
    assert "Debug mode" in debug_row
    name_row = page.split('data-testid="row-PROJECT-NAME"')[1].split("</tr>")[0]
    assert "Human name of the project" in name_row
    level_row = page.split('data-testid="row-LOGGING-LEVEL"')[1].split("</tr>")[0]
    assert "One of: DEBUG, INFO, WARNING, ERROR, CRITICAL" in level_row
    # accessible: every value input has a label, the no-auth notice is visible
    for input_id in re.findall(r'<input class="form-control[^"]*" id="([^"]+)"', page):
        assert f'for="{input_id}"' in page
    assert 'data-testid="no-auth"' in page
    # bootstrap from core, htmx from the console's own vendored copy
    assert "/_flasker/static/vendor/bootstrap.min.css" in page
    assert "/console/_static/vendor/htmx.min.js" in page


def test_vendored_htmx_is_the_pinned_2_0_release(site: ConsoleSite) -> None:
    with site.get("/_static/vendor/htmx.min.js") as response:
        assert response.status_code == 200
        assert 'version:"2.0.11"' in response.get_data(as_text=True)


# -- a valid change ---------------------------------------------------------------------------
def test_preview_then_save_changes_the_file_and_keeps_comments(site: ConsoleSite) -> None:
    before = site.text()
    form = site.editor_form(**{DEBUG: "true", "action": "preview"})
    preview = site.post("/config", data=form)
    assert preview.status_code == 200
    body = preview.get_data(as_text=True)
    assert "-DEBUG = false" in body
    assert "+DEBUG = true" in body
    assert 'value="save"' in body
    assert site.text() == before  # a preview writes nothing

    saved = site.post("/config", data={**form, "action": "save"})
    assert saved.status_code == 303
    assert saved.headers["Location"].endswith("/console/config?saved=1")
    assert site.text() == before.replace("DEBUG = false", "DEBUG = true")
    assert 'data-testid="saved"' in site.page("/config?saved=1")


def test_add_and_remove_keys(site: ConsoleSite) -> None:
    form = site.editor_form(
        **{
            "new-key:APP": "JSON_SORT_KEYS",
            "new-value:APP": "true",
            "remove:APP:MAX_CONTENT_LENGTH": "1",
            "action": "save",
        }
    )
    response = site.post("/config", data=form)
    assert response.status_code == 303, response.get_data(as_text=True)
    text = site.text()
    assert "MAX_CONTENT_LENGTH" not in text
    assert "SECRET_KEY = console-tests-secret-key-0123456789\nJSON_SORT_KEYS = true\n\n" in text
    assert text.startswith("# The console's test project (this comment must survive every save)")
    assert "# keep debug off outside a laptop\n" in text


def test_add_a_section(site: ConsoleSite) -> None:
    form = site.editor_form(
        **{
            "new-section": "CACHE",
            "new-section-key": "TYPE",
            "new-section-value": "NullCache",
            "action": "save",
        }
    )
    assert site.post("/config", data=form).status_code == 303
    assert site.text().endswith("LEVEL = INFO\n\n[CACHE]\nTYPE = NullCache\n")


def test_multi_line_value_round_trips(site: ConsoleSite) -> None:
    form = site.editor_form(**{"value:PROJECT:MODULES": "first_module\nsecond_module"})
    site.post("/config", data={**form, "action": "save"})
    assert "MODULES = first_module\n    second_module\n" in site.text()
    page = site.page("/config")
    assert "<textarea" in page.split('data-testid="row-PROJECT-MODULES"')[1].split("</tr>")[0]
    # the page's own form posts it back unchanged: nothing to save
    again = site.post("/config", data={**site.form(page), "action": "preview"})
    assert 'data-testid="no-changes"' in again.get_data(as_text=True)


# -- invalid input ----------------------------------------------------------------------------
def test_invalid_value_is_shown_inline_and_never_written(site: ConsoleSite) -> None:
    before = site.cfg.read_bytes()
    form = site.editor_form(**{DEBUG: "maybe", "action": "save"})
    response = site.post("/config", data=form)
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    inline = error_slot(page, "DEBUG")
    assert "DEBUG" in inline
    assert "expected a boolean" in inline
    edited = before.decode().replace("DEBUG = false", "DEBUG = maybe")
    for message in cli_messages(site.cfg, edited):  # the CLI's own words, path and line
        assert message in html.unescape(page)
    assert site.cfg.read_bytes() == before
    # the page keeps what was typed, so it can be fixed
    assert 'value="maybe"' in page


def test_unknown_key_names_it_and_suggests(site: ConsoleSite) -> None:
    before = site.cfg.read_bytes()
    form = site.editor_form(**{"new-key:PROJECT": "NAMES", "new-value:PROJECT": "x"})
    response = site.post("/config", data={**form, "action": "save"})
    assert response.status_code == 422
    page = html.unescape(response.get_data(as_text=True))
    assert "NAMES: unknown key; did you mean NAME?" in page
    assert site.cfg.read_bytes() == before


def test_bad_key_name_is_refused(site: ConsoleSite) -> None:
    before = site.cfg.read_bytes()
    form = site.editor_form(**{"new-key:APP": "A = B", "new-value:APP": "1", "action": "save"})
    response = site.post("/config", data=form)
    assert response.status_code == 422
    assert "invalid key name" in html.unescape(response.get_data(as_text=True))
    assert site.cfg.read_bytes() == before


def test_validate_as_you_type_answers_htmx_with_inline_errors(site: ConsoleSite) -> None:
    form = site.editor_form(**{DEBUG: "maybe"})
    response = site.post("/config/validate", data=form, headers=HTMX)
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert "<html" not in body  # a partial
    assert 'hx-swap-oob="true"' in body
    assert "DEBUG: expected a boolean" in html.unescape(body)
    assert 'data-testid="problems"' in body

    fixed = site.post("/config/validate", data={**form, DEBUG: "yes"}, headers=HTMX)
    body = fixed.get_data(as_text=True)
    assert 'data-testid="valid"' in body
    assert "expected a boolean" not in body


def test_htmx_save_redirects_the_page(site: ConsoleSite) -> None:
    form = site.editor_form(**{DEBUG: "true", "action": "save"})
    token = form.pop("csrf_token")
    response = site.post("/config", data=form, headers={**HTMX, "X-CSRFToken": token})
    assert response.status_code == 200
    assert response.headers["HX-Redirect"].endswith("/console/config?saved=1")
    assert "DEBUG = true" in site.text()


def test_htmx_invalid_save_answers_a_partial(site: ConsoleSite) -> None:
    before = site.cfg.read_bytes()
    form = site.editor_form(**{DEBUG: "maybe", "action": "save"})
    response = site.post("/config", data=form, headers=HTMX)
    assert response.status_code == 422
    body = response.get_data(as_text=True)
    assert "<html" not in body
    assert "DEBUG: expected a boolean" in html.unescape(body)
    assert site.cfg.read_bytes() == before


# -- a file changed meanwhile -----------------------------------------------------------------
def test_stale_save_is_refused_and_shows_both_versions(site: ConsoleSite) -> None:
    form = site.editor_form(**{DEBUG: "true", "action": "save"})
    theirs = site.text().replace("LEVEL = INFO", "LEVEL = WARNING")
    site.cfg.write_text(theirs, encoding="utf-8")  # someone else saves meanwhile

    response = site.post("/config", data=form)
    assert response.status_code == 409
    page = html.unescape(response.get_data(as_text=True))
    assert 'data-testid="conflict"' in page
    yours = page.split('data-testid="yours">')[1].split("</pre>")[0]
    on_disk = page.split('data-testid="on-disk">')[1].split("</pre>")[0]
    assert "DEBUG = true" in yours
    assert "LEVEL = INFO" in yours
    assert "LEVEL = WARNING" in on_disk
    assert "DEBUG = false" in on_disk
    assert site.text() == theirs  # nothing written


def test_stale_save_in_raw_mode_is_refused(site: ConsoleSite) -> None:
    form = site.editor_form(raw=True)
    form["text"] = form["text"].replace("DEBUG = false", "DEBUG = true")
    theirs = site.text() + "\n# edited by hand\n"
    site.cfg.write_text(theirs, encoding="utf-8")
    response = site.post("/config/raw", data={**form, "action": "save"})
    assert response.status_code == 409
    assert "# edited by hand" in response.get_data(as_text=True)
    assert site.text() == theirs


# -- raw mode -----------------------------------------------------------------------------------
def test_raw_mode_saves_valid_text(site: ConsoleSite) -> None:
    form = site.editor_form(raw=True)
    assert form["text"] == site.text()
    new_text = form["text"].replace("LEVEL = INFO", "# louder\nLEVEL = DEBUG")
    preview = site.post("/config/raw", data={**form, "text": new_text, "action": "preview"})
    assert preview.status_code == 200
    assert "+LEVEL = DEBUG" in preview.get_data(as_text=True)
    saved = site.post("/config/raw", data={**form, "text": new_text, "action": "save"})
    assert saved.status_code == 303
    assert saved.headers["Location"].endswith("/console/config/raw?saved=1")
    assert site.text() == new_text


def test_raw_mode_browser_line_ends_are_kept_as_the_file_has_them(site: ConsoleSite) -> None:
    form = site.editor_form(raw=True)
    crlf = form["text"].replace("LEVEL = INFO", "LEVEL = ERROR").replace("\n", "\r\n")
    saved = site.post("/config/raw", data={**form, "text": crlf, "action": "save"})
    assert saved.status_code == 303
    assert "\r" not in site.text()
    assert "LEVEL = ERROR\n" in site.text()


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (("DEBUG = false", "DEBUG = maybe"), "[APP] DEBUG: expected a boolean"),
        (("[LOGGING]", "LOGGING"), "cannot read 'LOGGING"),
        (("[PROJECT]", "PROJECT"), "expected a [SECTION] header before 'PROJECT'"),
        (("[LOGGING]", "[APP]"), "section appears twice"),
        (("LEVEL = INFO", "LEVEL = LOUD"), "[LOGGING] LEVEL: expected one of"),
    ],
)
def test_raw_mode_validates_like_the_cli(
    site: ConsoleSite, change: tuple[str, str], expected: str
) -> None:
    before = site.cfg.read_bytes()
    form = site.editor_form(raw=True)
    text = form["text"].replace(*change)
    check = site.post("/config/raw/validate", data={**form, "text": text}, headers=HTMX)
    assert check.status_code == 200
    assert expected in html.unescape(check.get_data(as_text=True))
    saved = site.post("/config/raw", data={**form, "text": text, "action": "save"})
    assert saved.status_code == 422
    page = html.unescape(saved.get_data(as_text=True))
    assert expected in page
    for message in cli_messages(site.cfg, text):
        assert message in page
    assert site.cfg.read_bytes() == before


def test_unparseable_file_opens_in_raw_mode_and_can_be_fixed(site: ConsoleSite) -> None:
    broken = site.text().replace("[LOGGING]", "LOGGING")
    site.cfg.write_text(broken, encoding="utf-8")
    page = site.page("/config")
    assert 'data-testid="unreadable"' in page
    assert "/console/config/raw" in page
    form = site.editor_form(raw=True)
    assert form["text"] == broken
    fixed = broken.replace("LOGGING\n", "[LOGGING]\n")
    saved = site.post("/config/raw", data={**form, "text": fixed, "action": "save"})
    assert saved.status_code == 303
    assert site.text() == fixed
    # the overview says what is wrong instead of failing
    site.cfg.write_text(broken, encoding="utf-8")
    assert "Fix it in the raw editor" in site.page("/")


# -- CSRF and forged forms ------------------------------------------------------------------------
@pytest.mark.parametrize("token", [None, "forged"])
def test_without_a_valid_csrf_token_nothing_happens(site: ConsoleSite, token: str | None) -> None:
    before = site.cfg.read_bytes()
    form = site.editor_form(**{DEBUG: "true", "action": "save"})
    del form["csrf_token"]
    if token:
        form["csrf_token"] = token
    for path in ("/config", "/config/validate", "/config/raw"):
        response = site.post(path, data=form)
        assert response.status_code == 400, path
        body = response.get_data(as_text=True)
        assert "CSRF" in body
        assert "Traceback" not in body
    assert site.cfg.read_bytes() == before


def test_form_without_its_base_is_refused(site: ConsoleSite) -> None:
    before = site.cfg.read_bytes()
    form = site.editor_form(**{DEBUG: "true", "action": "save"})
    del form["base"]
    response = site.post("/config", data=form)
    assert response.status_code == 400
    assert "reload the editor" in response.get_data(as_text=True)
    form["base"] = "not base64!"
    assert site.post("/config", data=form).status_code == 400
    assert site.cfg.read_bytes() == before


def test_forged_base_cannot_skip_the_stale_check(site: ConsoleSite) -> None:
    import base64

    before = site.cfg.read_bytes()
    form = site.editor_form(raw=True)
    forged = "[PROJECT]\nNAME = Forged\n"
    form["base"] = base64.b64encode(forged.encode()).decode()
    text = forged.replace("Forged", "Forged again")
    response = site.post("/config/raw", data={**form, "text": text, "action": "save"})
    assert response.status_code == 409
    assert site.cfg.read_bytes() == before


# -- overview -------------------------------------------------------------------------------------
def test_overview_with_services_up(site: ConsoleSite) -> None:
    page = html.unescape(site.page("/"))
    assert str(site.cfg) in page
    for section in ("[PROJECT]", "[APP]", "[LOGGING]"):
        assert section in page
    assert 'data-testid="check-database" data-ok="true"' in page
    assert 'data-testid="check-broker" data-ok="true"' in page
    assert "embedded on-disk broker" in page
    assert 'data-testid="restart-needed"' not in page


def test_overview_notices_a_cfg_changed_since_start(site: ConsoleSite) -> None:
    form = site.editor_form(**{DEBUG: "true", "action": "save"})
    site.post("/config", data=form)
    assert 'data-testid="restart-needed"' in site.page("/")


def test_status_partial_for_htmx(site: ConsoleSite) -> None:
    response = site.get("/status", headers=HTMX)
    assert response.status_code == 200
    assert 'data-testid="check-database"' in response.get_data(as_text=True)
    assert "<html" not in response.get_data(as_text=True)
    assert site.get("/status").status_code == 302  # without htmx: the overview
    # all up: the alerts other pages load say nothing
    alerts = site.get("/status?alerts=1", headers=HTMX).get_data(as_text=True)
    assert alerts.strip() == ""
    assert 'data-testid="service-alerts"' in site.page("/tasks")


DOWN_CFG = """\
[PROJECT]
NAME = Down
MODULES = {module}
DB_URL = postgresql+psycopg://nobody@127.0.0.1:{closed_port}/nothing
# the console's own tables (mapped by this module's earlier saves) are not created at start
CREATE_TABLES = false

[APP]
SECRET_KEY = {secret}

[CELERY]
broker_url = redis://127.0.0.1:{closed_port}/0

[CONSOLE]
CHECK_TIMEOUT = 1.5
"""


def test_overview_with_database_and_broker_down(make_console: Callable[..., ConsoleSite]) -> None:
    from flasker._net import free_port

    down = make_console(DOWN_CFG, closed_port=free_port())
    started = time.monotonic()
    response = down.get("/")
    elapsed = time.monotonic() - started
    assert response.status_code == 200
    page = html.unescape(response.get_data(as_text=True))
    assert 'data-testid="check-database" data-ok="false"' in page
    assert 'data-testid="check-broker" data-ok="false"' in page
    assert "postgresql+psycopg://nobody@127.0.0.1" in page  # says where
    assert "redis://127.0.0.1" in page
    assert elapsed < 1.5 + 1.5, elapsed  # both checks run side by side, each within its deadline
    # the other pages ask for the same checks as alerts: only what is down, saying where
    alerts = html.unescape(down.get("/status?alerts=1", headers=HTMX).get_data(as_text=True))
    assert 'data-testid="down-broker"' in alerts
    assert "redis://127.0.0.1" in alerts
    assert "tasks cannot be sent" in alerts


def test_console_prefix_from_the_cfg(
    make_console: Callable[..., ConsoleSite], sample_cfg: str
) -> None:
    cfg = sample_cfg + "\n[CONSOLE]\nURL_PREFIX = /ops/\n"
    other = make_console(cfg, prefix="/ops")
    assert other.get("/").status_code == 200
    assert other.get("/config").status_code == 200
    assert other.client.get("/console/").status_code == 404


def test_a_database_that_cannot_answer_is_a_503_page_not_a_console_failure(
    make_console: Any,
) -> None:
    """Regression (review): the console's own catch-all error handler takes every error of
    its views before the app's 503 handlers can (Flask prefers a blueprint's handlers), so a
    database or broker outage a view did not catch itself answered 500 "the console failed"
    with a traceback. It now answers what the app would: 503, Retry-After, no driver text."""
    import sqlalchemy as sa

    from flasker_console.views import error_response

    cfg = (
        "[PROJECT]\nNAME = DownDb\nMODULES = {module}\nDB_URL = {db_url}\n"
        # other tests' models are mapped in this process: nothing to create on a dead server
        "CREATE_TABLES = false\n[APP]\nSECRET_KEY = {secret}\n"
    )
    site = make_console(cfg=cfg, db_url="postgresql+psycopg://postgres@127.0.0.1:1/nothing")
    lost = None
    try:
        site.project.db.session.execute(sa.text("SELECT 1"))
    except sa.exc.OperationalError as error:
        lost = error
    finally:
        site.project.db.remove()
    assert lost is not None
    for headers in ({}, {"HX-Request": "true"}):
        with site.app.test_request_context(site.url("/tasks"), headers=headers):
            body, status, extra = error_response(lost, "flasker_console/error.html")
        assert status == 503
        assert extra == {"Retry-After": "5"}
        assert "database is unavailable" in body
        assert "console failed" not in body
        assert "127.0.0.1" not in body
    bug = RuntimeError("a bug of the console's own")
    with site.app.test_request_context(site.url("/tasks")):
        _body, status = error_response(bug, "flasker_console/error.html")
    assert status == 500
