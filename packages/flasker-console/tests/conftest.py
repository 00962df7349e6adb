"""Fixtures of flasker-console's tests: real projects on disk, served through a Flask test client.

- `make_console` (module): writes a project (a cfg file and one module, with a unique module
  name, that registers the `ConsoleManager`) into a temporary folder, starts it and returns a
  `ConsoleSite`; everything that starting projects changes in the process is undone after the
  module.
- `site`: the standard project with its cfg file put back to `SAMPLE_CFG` before each test.
- `ConsoleSite.form(html)`: the fields a browser would submit from the page's form (a small
  HTML parser, so tests post what the page really holds, hidden base and CSRF token included).

This folder has no `__init__.py` (flasker-core's tests are the package `tests`), so shared
helpers live here and reach tests through fixtures.
"""

from __future__ import annotations

import contextlib
import textwrap
import uuid
from collections.abc import Callable, Iterator, Mapping
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

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
