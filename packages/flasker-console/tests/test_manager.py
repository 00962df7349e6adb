"""`ConsoleManager` (manager.py): where the console is mounted, its timeouts and projects folder
from keyword arguments or `[CONSOLE]`, refused settings, and the events listener started by
the first console request of a process (never before, never when off)."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from flasker.exceptions import ProjectError
from flasker_console.exceptions import ConsoleSetupError

ConsoleSite = Any

EXTRA = """
@current_project.app.get("/hello")
def hello():
    return "hello"
"""


def assert_start_refused(refused: pytest.ExceptionInfo[ProjectError], message: str) -> None:
    """What `flasker server` prints when the project's module registers a bad console."""
    pattern = (
        r"importing console_site_\w+ \(listed in \[PROJECT\] MODULES\) failed: "
        r"ConsoleSetupError: " + re.escape(message)
    )
    assert re.fullmatch(pattern, str(refused.value)), str(refused.value)
    assert isinstance(refused.value.__cause__, ConsoleSetupError)


def manager_of(site: ConsoleSite) -> Any:
    return site.app.extensions["flasker_console"]


def test_defaults(make_console: Callable[..., ConsoleSite]) -> None:
    site = make_console(arguments="events=False")
    manager = manager_of(site)
    assert repr(manager) == "<ConsoleManager /console>"
    assert (manager.url_prefix, manager.check_timeout, manager.inspect_timeout) == (
        "/console",
        2.0,
        1.5,
    )
    assert manager.projects_root == site.cfg.parent.parent.resolve()
    assert site.get("/").status_code == 200


def test_keyword_arguments_win_over_the_section(
    make_console: Callable[..., ConsoleSite], sample_cfg: str
) -> None:
    cfg = sample_cfg + (
        "\n[CONSOLE]\nURL_PREFIX = /ops\nCHECK_TIMEOUT = 5\nINSPECT_TIMEOUT = 4\n"
        "PROJECTS_ROOT = ../elsewhere\n"
    )
    site = make_console(
        cfg, prefix="/admin/console", arguments="url_prefix='/admin/console/', check_timeout=0.5"
    )
    manager = manager_of(site)
    assert (manager.url_prefix, manager.check_timeout, manager.inspect_timeout) == (
        "/admin/console",
        0.5,
        4.0,
    )
    # relative to the cfg's folder
    assert manager.projects_root == (site.cfg.parent / "../elsewhere").resolve()
    assert site.get("/").status_code == 200
    assert site.client.get("/ops/").status_code == 404


def test_an_empty_prefix_mounts_the_console_at_the_root(
    make_console: Callable[..., ConsoleSite],
) -> None:
    site = make_console(prefix="", arguments="url_prefix='', events=False")
    assert repr(manager_of(site)) == "<ConsoleManager />"
    assert site.get("/").status_code == 200
    assert site.get("/config").status_code == 200


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ("check_timeout='soon'", "ConsoleManager check_timeout: expected seconds, got 'soon'"),
        ("inspect_timeout=0", "ConsoleManager inspect_timeout must be more than 0 seconds"),
        ("check_timeout=-1", "ConsoleManager check_timeout must be more than 0 seconds"),
    ],
)
def test_bad_timeouts_stop_the_start_naming_the_argument(
    make_console: Callable[..., ConsoleSite], arguments: str, message: str
) -> None:
    with pytest.raises(ProjectError) as refused:
        make_console(arguments=arguments)
    assert_start_refused(refused, message)


def test_a_second_console_on_one_project_is_refused(
    make_console: Callable[..., ConsoleSite],
) -> None:
    source = (
        "from flasker import current_project\nfrom flasker_console import ConsoleManager\n\n"
        "current_project.register_manager(ConsoleManager())\n"
        "current_project.register_manager(ConsoleManager(url_prefix='/other'))\n"
    )
    with pytest.raises(ProjectError) as refused:
        make_console(source=source)
    assert_start_refused(refused, "a ConsoleManager is already registered on this project")


def test_the_listener_starts_with_the_first_console_request_only(
    make_console: Callable[..., ConsoleSite],
) -> None:
    from flasker_console.manager import EXTENSION

    site = make_console(source=_with_extra())
    manager = site.app.extensions[EXTENSION]
    assert site.client.get("/hello").text == "hello"
    assert manager.event_listener() is None  # a request outside the console starts nothing
    site.page("/")
    listener = manager.event_listener()
    assert listener is not None
    assert listener.is_running
    site.page("/config")
    assert manager.event_listener() is listener  # one per process
    manager.stop_listener()
    assert not listener.is_running
    assert manager.event_listener() is None
    site.page("/")
    again = manager.event_listener()
    assert again is not None
    assert again is not listener
    manager.stop_listener()


@pytest.mark.parametrize("how", ["argument", "cfg"])
def test_events_off_starts_no_listener_and_the_overview_says_so(
    make_console: Callable[..., ConsoleSite], sample_cfg: str, how: str
) -> None:
    if how == "argument":
        site = make_console(arguments="events=False")
    else:
        site = make_console(sample_cfg + "\n[CONSOLE]\nEVENTS = false\n")
    manager = manager_of(site)
    body = site.get("/overview/tasks", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert manager.events is False
    assert manager.event_listener() is None
    assert (
        '<p class="small text-body-secondary mb-0" data-testid="listener-state" '
        'data-state="off">Event listening is off (<code>[CONSOLE] EVENTS = false</code>): the '
        "chart only shows what other console processes stored.</p>"
    ) in body


def test_the_projects_root_is_the_folder_above_by_default(
    make_console: Callable[..., ConsoleSite], sample_cfg: str, tmp_path: Path
) -> None:
    site = make_console(sample_cfg + f"\n[CONSOLE]\nPROJECTS_ROOT = {tmp_path}\n")
    assert manager_of(site).projects_root == tmp_path.resolve()


def _with_extra() -> str:
    from_conftest = (
        "from flasker import current_project\nfrom flasker_console import ConsoleManager\n\n"
        "console = current_project.register_manager(ConsoleManager())\n"
    )
    return from_conftest + EXTRA
