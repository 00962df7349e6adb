"""Fixtures of flasker-console's tests: real projects on disk, served through a Flask test client.

- `make_console` (module): writes a project (a cfg file and one module, with a unique module
  name, that registers the `ConsoleManager`) into a temporary folder, starts it and returns a
  `ConsoleSite`; everything that starting projects changes in the process is undone after the
  module.
- `site`: the standard project with its cfg file put back to `SAMPLE_CFG` before each test.
- `houses` (module): a copy of `examples/houses` (api, auth, the mounted console) signing in
  through flasker-auth's real test OpenID Connect provider, as a `HousesSite` (a viewer and an
  admin, `state()` of everything a request could change), for the attack tests.
- `ConsoleSite.form(html)`: the fields a browser would submit from the page's form (a small
  HTML parser, so tests post what the page really holds, hidden base and CSRF token included).

This folder has no `__init__.py` (flasker-core's tests are the package `tests`), so shared
helpers live here and reach tests through fixtures.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import textwrap
import uuid
from collections.abc import Callable, Iterator, Mapping
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
import sqlalchemy as sa

from flasker import Project
from flasker.testing import close_project, restored_process_state

SECRET_KEY = "console-tests-secret-key-0123456789"

#: The standard project's cfg: comments everywhere, so every save shows they are kept.
SAMPLE_CFG = """\
# The console's test project (this comment must survive every save)
[PROJECT]
NAME = ConsoleTest
MODULES = {module}
DB_URL = {db_url}

[APP]
# keep debug off outside a laptop
DEBUG = false
SECRET_KEY = {secret}
MAX_CONTENT_LENGTH = 1000000

[LOGGING]
# one of DEBUG, INFO, WARNING, ERROR, CRITICAL
LEVEL = INFO
"""

CONSOLE_MODULE = """\
from flasker import current_project
from flasker_console import ConsoleManager

console = current_project.register_manager(ConsoleManager({arguments}))
"""


def unique(prefix: str) -> str:
    """A module name no other project of this process uses."""
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


class FormParser(HTMLParser):
    """Collect what a browser submits from a page's first form with `data-testid`."""

    def __init__(self, testid: str) -> None:
        super().__init__(convert_charrefs=True)
        self.testid = testid
        self.inside = False
        self.action: str | None = None
        self.fields: list[tuple[str, str]] = []
        self._textarea: str | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form" and a.get("data-testid") == self.testid:
            self.inside = True
            self.action = a.get("action")
        if not self.inside:
            return
        if tag == "input" and "name" in a:
            kind = a.get("type", "text")
            if kind == "checkbox" and "checked" not in a:
                return
            if kind not in ("submit", "button"):
                self.fields.append((a["name"], a.get("value", "")))
        elif tag == "textarea" and "name" in a:
            self._textarea = a["name"]
            self._text = []

    def handle_data(self, data: str) -> None:
        if self._textarea is not None:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "textarea" and self._textarea is not None:
            text = "".join(self._text)
            # HTML drops one newline right after <textarea>
            self.fields.append((self._textarea, text.removeprefix("\n")))
            self._textarea = None
        elif tag == "form" and self.inside:
            self.inside = False


class ConsoleSite:
    """A started project with the console: its app, cfg file and a test client."""

    def __init__(self, project: Project, prefix: str = "/console") -> None:
        self.project = project
        self.app = project.app
        self.client = project.app.test_client()
        self.prefix = prefix
        self.original = self.cfg.read_text(encoding="utf-8")

    @property
    def cfg(self) -> Path:
        return Path(self.project.config.path)

    def reset(self) -> None:
        self.cfg.write_text(self.original, encoding="utf-8")
        self.client = self.app.test_client()

    def url(self, path: str) -> str:
        return self.prefix + path

    def get(self, path: str, **kw: Any) -> Any:
        return self.client.get(self.url(path), **kw)

    def post(self, path: str, **kw: Any) -> Any:
        return self.client.post(self.url(path), **kw)

    def page(self, path: str) -> str:
        response = self.get(path)
        assert response.status_code == 200, (path, response.status_code)
        return response.get_data(as_text=True)

    @staticmethod
    def form(html: str, testid: str = "editor") -> dict[str, str]:
        parser = FormParser(testid)
        parser.feed(html)
        assert parser.fields, f"no form {testid!r} on the page"
        return dict(parser.fields)

    def editor_form(self, raw: bool = False, **changes: str) -> dict[str, str]:
        """The editor's form as loaded now, with `changes` (field name → value) applied."""
        html = self.page("/config/raw" if raw else "/config")
        fields = self.form(html, "raw-editor" if raw else "editor")
        fields.update(changes)
        return fields

    def text(self) -> str:
        return self.cfg.read_text(encoding="utf-8")


def write_project(folder: Path, cfg: str, modules: Mapping[str, str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, source in modules.items():
        (folder / f"{name}.py").write_text(textwrap.dedent(source), encoding="utf-8")
    cfg_path = folder / "default.cfg"
    cfg_path.write_text(cfg, encoding="utf-8")
    return cfg_path


@contextlib.contextmanager
def console_process_state() -> Iterator[None]:
    """`restored_process_state()`: flasker-auth maps its models again by itself once a restore
    unmapped them (`auth_models()`), so no module is forgotten: forgetting some of its modules
    left others holding the old ones (two `SignInError` classes, so a refused sign-in was a 500
    in whichever suite ran next in the same process)."""
    with restored_process_state():
        yield


@pytest.fixture(scope="session")
def process_state() -> Callable[[], contextlib.AbstractContextManager[None]]:
    """`console_process_state` for test modules (they cannot import this conftest)."""
    return console_process_state


@pytest.fixture(scope="module")
def make_console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., ConsoleSite]]:
    """Factory: `make_console(cfg=SAMPLE_CFG, source=CONSOLE_MODULE, arguments="", **values)`
    writes and starts a project; `cfg` and `source` are formatted with `module`, `db_url`,
    `secret`, `arguments` and `values`."""
    made: list[Project] = []
    with console_process_state():

        def make(
            cfg: str = SAMPLE_CFG,
            source: str = CONSOLE_MODULE,
            prefix: str = "/console",
            **values: Any,
        ) -> ConsoleSite:
            module = unique("console_site")
            folder = tmp_path_factory.mktemp("console_project")
            fields = {
                "module": module,
                "db_url": f"sqlite:///{folder / 'site.sqlite'}",
                "secret": SECRET_KEY,
                "arguments": "",
                **values,
            }
            cfg_path = write_project(
                folder, cfg.format(**fields), {module: source.format(**fields)}
            )
            project = Project(cfg_path)
            made.append(project)
            project.start()
            return ConsoleSite(project, prefix)

        try:
            yield make
        finally:
            for project in made:
                console = project.app.extensions.get("flasker_console")
                if console is not None:  # its events listener (started by a console request)
                    console.stop_listener()
                close_project(project)


#: A project behind flasker-auth (viewer and admin emails below) with the console, and a
#: test-only public route doing what a successful OIDC callback does (store the user, rotate
#: the session, log them in). `{console_arguments}` and `{extra}` are filled by
#: `make_auth_console`; the rest is formatted like any `make_console` source.
AUTH_SITE_SOURCE = """\
from flask import session
from flask_login import login_user

from flasker import current_project
from flasker_auth import AuthManager, public
from flasker_auth.manager import SESSION_VERSION_KEY
from flasker_console import ConsoleManager

auth = current_project.register_manager(
    AuthManager(authorized_emails=["viewer@example.test"], admins=["admin@example.test"])
)
current_project.register_manager(ConsoleManager({console_arguments}))
app = current_project.app
celery = current_project.celery


@app.get("/test-sign-in/<email>")
@public
def test_sign_in(email):
    user = auth.record_sign_in(email)
    session.clear()
    login_user(user)
    session[SESSION_VERSION_KEY] = user.session_version
    return user.role

{extra}
"""


@pytest.fixture(scope="module")
def make_auth_console(make_console: Callable[..., ConsoleSite]) -> Callable[..., ConsoleSite]:
    """Factory: `make_auth_console(extra="", console_arguments="")` starts AUTH_SITE_SOURCE."""

    def make(extra: str = "", console_arguments: str = "") -> ConsoleSite:
        source = AUTH_SITE_SOURCE.replace("{console_arguments}", console_arguments)
        return make_console(source=source.replace("{extra}", extra))

    return make


@pytest.fixture(scope="session")
def sample_cfg() -> str:
    """`SAMPLE_CFG`: the standard project's cfg, before formatting."""
    return SAMPLE_CFG


@pytest.fixture(scope="module")
def standard_site(make_console: Callable[..., ConsoleSite]) -> ConsoleSite:
    return make_console()


@pytest.fixture
def site(standard_site: ConsoleSite) -> ConsoleSite:
    """The standard project, its cfg file as written by `SAMPLE_CFG`."""
    standard_site.reset()
    return standard_site


# -- the bundled example, signed in through a real OpenID Connect provider ---------------------
EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "houses"
HOUSES_VIEWER = "viewer@houses.test"
HOUSES_ADMIN = "admin@houses.test"

#: Replaces the example's `DEV_LOGIN = true` line: its real [AUTH] section, with a provider.
HOUSES_AUTH = """\
DEV_LOGIN = false
PROVIDER = testidp
SERVER_METADATA_URL = {metadata_url}
CLIENT_ID = {client_id}
CLIENT_SECRET = {client_secret}
AUTHORIZED_EMAILS = {viewer}
ADMINS = {admin}
"""
#: Added to the example's cfg: no worker runs, so the Workers page need not wait long for one.
HOUSES_CONSOLE = "\n[CONSOLE]\nINSPECT_TIMEOUT = 0.2\n"


class HousesSite:
    """A started copy of `examples/houses` (api, auth, the mounted console) whose sign-in goes
    through the test OpenID Connect provider over real HTTP.

    `state()` is everything a request could change (the cfg file, every table's rows, the task
    messages queued on the embedded broker), for asserting that a refused request changed
    nothing."""

    viewer = HOUSES_VIEWER
    admin = HOUSES_ADMIN

    def __init__(self, project: Project, provider: Any) -> None:
        self.project = project
        self.app = project.app
        self.provider = provider
        self._metadata = sa.MetaData()

    @property
    def cfg(self) -> Path:
        return Path(self.project.config.path)

    def browser(self, email: str | None = None) -> Any:
        """A test client (one cookie jar), signed in as `email` through the provider."""
        client = self.app.test_client()
        if email is not None:
            response = self.sign_in(client, email)
            assert response.status_code == 302, response.get_data(as_text=True)[:300]
        return client

    def sign_in(self, client: Any, email: str, next: str | None = None) -> Any:
        """The sign-in redirect dance for `email`; returns the app's answer to the callback."""
        self.provider.login_as(email)
        query = {"next": next} if next is not None else None
        start = client.get("/auth/login", query_string=query)
        assert start.status_code == 302, start.get_data(as_text=True)[:300]
        answer = requests.get(start.headers["Location"], allow_redirects=False, timeout=10)
        assert answer.status_code == 302, answer.text
        callback = urlsplit(answer.headers["Location"])
        return client.get(callback.path, query_string=callback.query)

    @staticmethod
    def csrf_token(client: Any) -> str:
        """The CSRF token the console's pages give this client (its `hx-headers`)."""
        page = client.get("/console/")
        assert page.status_code == 200, page.status_code
        found = re.search(r'"X-CSRFToken": "([^"]+)"', page.get_data(as_text=True))
        assert found, "no CSRF token on the console's overview"
        return found.group(1)

    @staticmethod
    def form(html: str, testid: str) -> dict[str, str]:
        """The fields a browser submits from the page's form `data-testid=testid`."""
        return ConsoleSite.form(html, testid)

    def console_forms(self, client: Any) -> dict[str, tuple[str, dict[str, str]]]:
        """Console endpoint → (path, fields) of every form the console posts, as its pages give
        them to `client` (an admin), each set to change something if accepted: save the cfg,
        send the census task, run the beat entry, create a house through Try-it..."""
        editor = self.form(client.get("/console/config").get_data(as_text=True), "editor")
        editor.update({"value:CONSOLE:INSPECT_TIMEOUT": "0.25", "action": "save"})
        raw = self.form(client.get("/console/config/raw").get_data(as_text=True), "raw-editor")
        raw.update({"text": raw["text"] + "\n# changed\n", "action": "save"})
        tasks = client.get("/console/tasks").get_data(as_text=True)
        census = re.search(r'data-testid="send-([\w.]+\.census)"', tasks)
        assert census, "no census task on the tasks page"
        send = self.form(tasks, f"send-{census.group(1)}")
        limits = {**self.form(tasks, f"rate-limit-{census.group(1)}"), "rate_limit": "5/m"}
        token = editor["csrf_token"]
        task = f"/console/tasks/{uuid.UUID(int=11)}"
        worker = {"csrf_token": token, "hostname": "celery@nowhere"}
        confirmed = {**worker, "confirm": "yes"}
        try_it = {"csrf_token": token, "method": "POST", "path": "/api/houses/"}
        new = {"folder": "made", "name": "Made", "template": "api", "db_url": "", "broker_url": ""}
        return {
            "config_post": ("/console/config", editor),
            "config_validate": ("/console/config/validate", editor),
            "config_raw_post": ("/console/config/raw", raw),
            "config_raw_validate": ("/console/config/raw/validate", raw),
            "tasks_send": ("/console/tasks", send),
            "tasks_retry": (f"{task}/retry", {"csrf_token": token}),
            "tasks_revoke": (f"{task}/revoke", {"csrf_token": token}),
            "tasks_beat_run": (
                "/console/tasks/beat/run",
                {"csrf_token": token, "entry": "nightly-census"},
            ),
            "tasks_limits": ("/console/tasks/limits", limits),
            "workers_pool": ("/console/workers/pool", {**confirmed, "change": "1"}),
            "workers_consumer_add": ("/console/workers/consumers", {**worker, "queue": "q1"}),
            "workers_consumer_cancel": (
                "/console/workers/consumers/cancel",
                {**worker, "queue": "celery"},
            ),
            "workers_shutdown": ("/console/workers/shutdown", confirmed),
            "endpoints_try": ("/console/endpoints/try", {**try_it, "body": '{"address": "Made"}'}),
            "projects_new": ("/console/projects", {"csrf_token": token, **new}),
        }

    def cli(self, *args: str) -> Any:
        """`flasker -c CFG *args` through click's runner (exit code 0 asserted)."""
        from click.testing import CliRunner

        from flasker.cli import cli

        result = CliRunner().invoke(cli, ["-c", str(self.cfg), *args], catch_exceptions=False)
        assert result.exit_code == 0, (args, result.exit_code, result.output)
        return result

    def queued(self) -> list[str]:
        """Task messages waiting on the embedded broker (control and event queues left out)."""
        from flasker._fsbroker import BrokerFolders, _queue_of, is_transient_queue

        folder = BrokerFolders(self.project.config.state_folder).queue
        if not folder.is_dir():
            return []
        names = (entry.name for entry in folder.iterdir())
        return sorted(n for n in names if (q := _queue_of(n)) and not is_transient_queue(q))

    def state(self) -> dict[str, Any]:
        """Every table's rows (but the queue samples the console's background sampler writes
        on its own clock, backlog.py: not a change any request made), the cfg, the queue."""
        from flasker_console.backlog import BACKLOG_TABLE

        tables: dict[str, Any] = {}
        with self.project.db.engine.connect() as connection:
            names = sorted(sa.inspect(connection).get_table_names())
            if names != sorted(self._metadata.tables):  # reflected again when tables appear
                self._metadata = sa.MetaData()
                self._metadata.reflect(connection)
            for name, table in sorted(self._metadata.tables.items()):
                if name == BACKLOG_TABLE:
                    continue
                rows = connection.execute(sa.select(table)).all()
                tables[name] = sorted(repr(tuple(row)) for row in rows)
        cfg = self.cfg.read_text(encoding="utf-8")
        return {"cfg": cfg, "tables": tables, "queued": self.queued()}


@pytest.fixture(scope="module")
def houses_provider(oidc_provider_module: Any) -> Iterator[Any]:
    """flasker-auth's test OpenID Connect provider, started for one module."""
    yield from oidc_provider_module.running_provider()


@pytest.fixture(scope="module")
def houses(houses_provider: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[HousesSite]:
    """`examples/houses` copied under a unique package name, its [AUTH] section pointed at the
    test provider (viewer `HOUSES_VIEWER`, admin `HOUSES_ADMIN`), started in this process."""
    folder = tmp_path_factory.mktemp("houses")
    package = unique("houses")
    shutil.copytree(
        EXAMPLE / "houses", folder / package, ignore=shutil.ignore_patterns("__pycache__")
    )
    client_id, client_secret = unique("houses_client"), uuid.uuid4().hex
    houses_provider.register_client(client_id, client_secret)
    auth = HOUSES_AUTH.format(
        metadata_url=houses_provider.metadata_url,
        client_id=client_id,
        client_secret=client_secret,
        viewer=HOUSES_VIEWER,
        admin=HOUSES_ADMIN,
    )
    text = (EXAMPLE / "default.cfg").read_text(encoding="utf-8")
    for name in (" houses.", '"houses.', "= houses\n"):  # MODULES, beat_schedule, APP_FOLDER
        text = text.replace(name, name.replace("houses", package))
    assert "\nDEV_LOGIN = true\n" in text, "the example's [AUTH] section changed"
    text = text.replace("\nDEV_LOGIN = true\n", "\n" + auth) + HOUSES_CONSOLE
    (folder / "default.cfg").write_text(text, encoding="utf-8")
    with console_process_state():
        project = Project(folder / "default.cfg")
        try:
            project.start()
            yield HousesSite(project, houses_provider)
        finally:
            console = project.app.extensions.get("flasker_console")
            if console is not None:
                console.stop_listener()
            close_project(project)
