"""The overview page (overview_views.py): the cfg file's sections at a glance, a notice when the
file changed since the app started, the file's problem when it cannot be read, and the cards'
partials, which send a browser without JavaScript to a whole page."""

from __future__ import annotations

import html
import re
from typing import Any

import pytest

ConsoleSite = Any
HTMX = {"HX-Request": "true"}
RESTART = (
    "The file changed since the app started: the app runs with the old values until it is "
    "restarted."
)


def sections(page: str) -> list[tuple[str, str, str]]:
    return re.findall(r'<tr><td><a href="([^"]+)">\[(\w+)\]</a></td><td>(\d+)</td></tr>', page)


def problem(page: str) -> list[str]:
    found = re.findall(r'<pre class="mb-0 small text-wrap">(.*?)</pre>', page, re.S)
    return [html.unescape(text) for text in found]


def test_the_cfg_card_lists_each_section_with_its_key_count(site: ConsoleSite) -> None:
    page = site.page("/")
    assert sections(page) == [
        ("/console/config#section-PROJECT", "PROJECT", "3"),
        ("/console/config#section-APP", "APP", "3"),
        ("/console/config#section-LOGGING", "LOGGING", "1"),
    ]
    assert f'<code data-testid="cfg-path">{site.cfg}</code>' in page
    assert 'data-testid="restart-needed"' not in page
    assert problem(page) == []


def test_a_file_changed_on_disk_since_the_start_asks_for_a_restart(site: ConsoleSite) -> None:
    site.cfg.write_text(site.text().replace("DEBUG = false", "DEBUG = true"), encoding="utf-8")
    page = site.page("/")
    assert re.findall(r'data-testid="restart-needed">(.*?)</p>', page) == [RESTART]
    site.cfg.write_text(site.original, encoding="utf-8")  # back as it started: no notice
    assert 'data-testid="restart-needed"' not in site.page("/")


def test_a_file_that_cannot_be_parsed_is_named_with_its_line(site: ConsoleSite) -> None:
    site.cfg.write_text("[PROJECT\nNAME = x\n", encoding="utf-8")
    page = site.page("/")
    assert problem(page) == [f"{site.cfg}:1: expected a [SECTION] header before '[PROJECT'"]
    assert sections(page) == []
    assert '<a href="/console/config/raw">Fix it in the raw editor</a>' in page


def test_a_file_that_is_gone_is_named(site: ConsoleSite) -> None:
    site.cfg.unlink()
    page = site.page("/")
    assert problem(page) == [f"[Errno 2] No such file or directory: '{site.cfg}'"]


@pytest.mark.parametrize(
    ("path", "page"),
    [
        ("/status", "/console/"),
        ("/status?alerts=1", "/console/"),
        ("/overview/tasks", "/console/"),
        ("/overview/workers", "/console/workers"),
    ],
)
def test_partials_send_a_browser_without_javascript_to_the_page(
    site: ConsoleSite, path: str, page: str
) -> None:
    answer = site.get(path)
    assert (answer.status_code, answer.headers["Location"]) == (302, page)


def test_the_partials_answer_htmx_without_the_layout(site: ConsoleSite) -> None:
    for path, testid in (
        ("/status", 'data-testid="check-database" data-ok="true"'),
        ("/overview/tasks", 'data-testid="task-chart" data-succeeded="0" data-failed="0"'),
        ("/overview/workers", 'data-testid="workers-online" data-count="0"'),
        # the embedded broker's default queue, empty (test_queues.py counts on every broker)
        ("/overview/workers", 'data-testid="queue" data-queue="celery" data-messages="0"'),
    ):
        answer = site.get(path, headers=HTMX)
        body = answer.get_data(as_text=True)
        assert answer.status_code == 200, path
        assert "<html" not in body, path
        assert testid in body, path
    # every service up: the alerts other pages load are empty
    assert site.get("/status?alerts=1", headers=HTMX).get_data(as_text=True).strip() == ""
