"""`flasker new`: write a project (a cfg file and a small app) from a bundled template.

Templates live in `flasker/templates/new/<template>/`. A template named in `BASES` starts from
another template's files and replaces or adds its own (`celery` is `basic` with its own cfg), so
the app is written once. A path part `_package_` becomes the app's package name; a file ending
in `.tmpl` is rendered (`{{ name }}`-style placeholders, nothing else, so the app's own Jinja
templates and `${VAR}` cfg references pass through untouched) and loses the suffix; every
other file is copied as it is.

Scaffolding is all or nothing: every input is checked, every file rendered and the generated cfg
validated with flasker's own parser before the first byte is written. An existing file is never
replaced without `force`, and a refusal names every such file. The console scaffolds through the
same function::

    scaffold(Path("blog"))                        # default.cfg + blog/ package
    scaffold(Path("svc"), template="minimal", db_url="postgresql+psycopg://localhost/svc")
    scaffold(Path("shop"), template="celery")    # basic + task queues, routing and named workers
"""

from __future__ import annotations

import contextlib
import importlib.util
import keyword
import re
import secrets
import sys
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

from .exceptions import FlaskerError

TEMPLATES = ("basic", "celery", "minimal")
#: Templates built on another one: the base's files, then the template's own on top.
BASES: dict[str, str] = {"celery": "basic"}
CONFIG_NAME = "default.cfg"
PACKAGE_PART = "_package_"
RENDERED_SUFFIX = ".tmpl"

_NAME = re.compile(r"[A-Za-z][A-Za-z0-9 _.-]{0,63}")
_PLACEHOLDER = re.compile(r"\{\{\s*([a-z_]+)\s*\}\}")
_URL_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://")
_SKIPPED = ("__pycache__", ".DS_Store")


@dataclass(frozen=True)
class _File:
    relative: Path
    text: str


def scaffold(
    folder: str | Path,
    *,
    template: str = "basic",
    with_app: bool = True,
    force: bool = False,
    name: str | None = None,
    db_url: str | None = None,
    broker_url: str | None = None,
) -> list[Path]:
    """Write a project from `template` into `folder`; return the files written, in order.

    `with_app=False` writes the cfg file only (flasker 0.1's `-a`). Nothing is written when any
    input is invalid or, without `force`, when any target file already exists.
    """
    folder = Path(folder)
    problems: list[str] = []
    if template not in TEMPLATES:
        problems.append(f"unknown template {template!r} (choose one of: {', '.join(TEMPLATES)})")
    if folder.exists() and not folder.is_dir():
        problems.append(f"{folder} exists and is not a folder")
    project_name = name if name is not None else folder.absolute().resolve().name
    package = _check_name(project_name, from_folder=name is None, problems=problems)
    if package:
        package = _avoid_clash(package, folder)
    db_line = _db_url_line(db_url, package or "app", problems)
    broker_lines = _broker_lines(broker_url, problems)
    if problems or package is None:
        raise FlaskerError(_listing("cannot create the project", problems))

    context = {
        "name": project_name,
        "package": package,
        "app_comment": "" if with_app else "# ",
        "db_url_line": db_line,
        "broker_lines": broker_lines,
        "secret": secrets.token_hex(24),
    }
    files = _render(template, context, with_app)
    _validate_config(folder, files)
    _check_targets(folder, files, force)
    return _write(folder, files)


# -- checking the inputs -----------------------------------------------------------------------
def package_name(project_name: str) -> str:
    """The Python package name derived from a project name: `My Blog-2` → `my_blog_2`."""
    slug = re.sub(r"[^0-9A-Za-z]+", "_", project_name).strip("_").lower()
    if slug[:1].isdigit():
        slug = f"app_{slug}"
    return slug


def _check_name(project_name: str, *, from_folder: bool, problems: list[str]) -> str | None:
    if _NAME.fullmatch(project_name):
        package = package_name(project_name)
        if package.isidentifier() and not keyword.iskeyword(package):
            return package
    origin = f"the folder name {project_name!r}" if from_folder else f"name {project_name!r}"
    problems.append(
        f"{origin} is not a usable project name: start with a letter, then up to 63 letters, "
        "digits, spaces, '-', '_' or '.'" + (" (pass --name to choose one)" if from_folder else "")
    )
    return None


def _avoid_clash(package: str, folder: Path) -> str:
    """Suffix `_app` when the package would shadow a module Python can already import.

    The cfg folder goes first on sys.path at start-up, so a package called `celery` or `json`
    would hide the real one from the whole process.
    """
    if package in sys.stdlib_module_names or package in sys.builtin_module_names:
        return f"{package}_app"
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        spec = None
    if spec is None:
        return package
    locations = [spec.origin or "", *(spec.submodule_search_locations or [])]
    inside = folder.absolute().resolve()
    for location in filter(None, locations):
        with contextlib.suppress(OSError):
            if Path(location).resolve().is_relative_to(inside):
                return package  # the project's own package, from an earlier `flasker new`
    return f"{package}_app"


def _db_url_line(db_url: str | None, package: str, problems: list[str]) -> str:
    if db_url is None:
        return f"# DB_URL = postgresql+psycopg://user:${{DB_PASSWORD}}@127.0.0.1/{package}"
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    if "\n" in db_url or "\r" in db_url:
        problems.append("database URL must be on one line")
        return ""
    try:
        make_url(db_url).get_dialect()
    except NoSuchModuleError:  # before ArgumentError, its base class
        # the project would refuse to start ("unknown database dialect"): say so now
        scheme = db_url.partition(":")[0]
        problems.append(
            f"database URL {db_url!r}: unknown database dialect {scheme!r}; "
            "expected e.g. postgresql+psycopg://user@host/name or sqlite:///db.sqlite"
        )
        return ""
    except ArgumentError as error:
        problems.append(
            f"database URL {db_url!r} is not a SQLAlchemy URL ({error}); "
            "expected e.g. postgresql+psycopg://user@host/name or sqlite:///db.sqlite"
        )
        return ""
    return f"DB_URL = {_cfg_literal(db_url)}"


def _broker_lines(broker_url: str | None, problems: list[str]) -> str:
    if broker_url is None:
        return (
            "# broker_url = redis://127.0.0.1:6379/0\n# result_backend = redis://127.0.0.1:6379/0"
        )
    match = _URL_SCHEME.match(broker_url)
    if match is None or "\n" in broker_url or "\r" in broker_url:
        problems.append(
            f"broker URL {broker_url!r} is not a URL; expected e.g. redis://127.0.0.1:6379/0 "
            "or amqp://guest:guest@127.0.0.1:5672//"
        )
        return ""
    from kombu.transport import TRANSPORT_ALIASES

    scheme = match.group(1).split("+")[0]
    if scheme not in TRANSPORT_ALIASES:
        known = ", ".join(sorted(t for t in TRANSPORT_ALIASES if t.islower()))
        problems.append(f"broker URL {broker_url!r}: unknown transport {scheme!r} (known: {known})")
        return ""
    lines = [f"broker_url = {_cfg_literal(broker_url)}"]
    if scheme in ("redis", "rediss"):
        lines.append(f"result_backend = {_cfg_literal(broker_url)}")
    else:
        lines.append("# result_backend = redis://127.0.0.1:6379/0   (task results and states)")
    return "\n".join(lines)


def _cfg_literal(value: str) -> str:
    """A value as the cfg reads it back verbatim: `$` must be doubled (see `_values`)."""
    return value.replace("$", "$$")


def _listing(headline: str, items: list[str]) -> str:
    return headline + ":\n" + "\n".join(f"  - {item}" for item in items)


# -- rendering ---------------------------------------------------------------------------------
def _template_root(template: str) -> Traversable:
    return resources.files("flasker").joinpath("templates", "new", template)


def _sources(template: str) -> list[tuple[Path, Traversable]]:
    """The template's files by relative path: its base's first, its own replacing theirs."""
    sources: dict[Path, Traversable] = {}
    base = BASES.get(template)
    if base is not None:
        sources.update(_sources(base))
    sources.update(_walk(_template_root(template), Path()))
    return list(sources.items())


def _render(template: str, context: dict[str, str], with_app: bool) -> list[_File]:
    files: list[_File] = []
    for relative, source in _sources(template):
        if not with_app and relative.name != CONFIG_NAME + RENDERED_SUFFIX:
            continue
        text = source.read_text(encoding="utf-8")
        if relative.name.endswith(RENDERED_SUFFIX):
            relative = relative.with_name(relative.name.removesuffix(RENDERED_SUFFIX))
            text = _substitute(text, context, f"{template}/{relative}")
        parts = [context["package"] if p == PACKAGE_PART else p for p in relative.parts]
        parts[-1] = parts[-1].replace(PACKAGE_PART, context["package"])
        files.append(_File(Path(*parts), text))
    # the cfg first: it is what the user looks at, and what the CLI points them to
    files.sort(key=lambda f: (f.relative.name != CONFIG_NAME, f.relative.parts))
    return files


def _walk(node: Traversable, relative: Path) -> list[tuple[Path, Traversable]]:
    found: list[tuple[Path, Traversable]] = []
    for child in sorted(node.iterdir(), key=lambda c: c.name):
        if child.name in _SKIPPED or child.name.endswith(".pyc"):
            continue
        if child.is_dir():
            found.extend(_walk(child, relative / child.name))
        else:
            found.append((relative / child.name, child))
    return found


def _substitute(text: str, context: dict[str, str], where: str) -> str:
    def replace(match: re.Match[str]) -> str:
        key = match.group(1)
        if key not in context:
            raise FlaskerError(f"template {where} uses unknown placeholder {{{{ {key} }}}}")
        return context[key]

    return _PLACEHOLDER.sub(replace, text)


def _validate_config(folder: Path, files: list[_File]) -> None:
    """Parse the generated cfg as flasker will, so a bad value is caught before writing."""
    from .config import parse_config
    from .exceptions import ConfigError

    cfg = next(f for f in files if f.relative == Path(CONFIG_NAME))
    try:
        parse_config(cfg.text, folder / CONFIG_NAME, environ={})
    except ConfigError as error:
        raise FlaskerError(
            f"the generated {CONFIG_NAME} would not load, so nothing was written:\n{error}"
        ) from None


# -- writing -----------------------------------------------------------------------------------
def _check_targets(folder: Path, files: list[_File], force: bool) -> None:
    refused: list[str] = []
    blocked: list[str] = []
    for file in files:
        target = folder / file.relative
        for parent in list(file.relative.parents)[:-1]:
            if (folder / parent).exists() and not (folder / parent).is_dir():
                blocked.append(f"{folder / parent} is a file where a folder must go")
        if target.is_dir():
            blocked.append(f"{target} is a folder where a file must go")
        elif target.exists() and not force:
            refused.append(str(target))
    if blocked:
        raise FlaskerError(_listing("cannot create the project", sorted(set(blocked))))
    if refused:
        raise FlaskerError(
            _listing("refusing to overwrite existing files (nothing was written)", refused)
            + "\nuse --force to overwrite them"
        )


def _write(folder: Path, files: list[_File]) -> list[Path]:
    """Write every file atomically; on failure, remove the files this call created."""
    from ._atomic import atomic_write

    written: list[Path] = []
    created: list[Path] = []
    try:
        for file in files:
            target = folder / file.relative
            target.parent.mkdir(parents=True, exist_ok=True)
            existed = target.exists()
            atomic_write(target, file.text)
            written.append(target)
            if not existed:
                created.append(target)
    except OSError as error:
        for path in created:
            with contextlib.suppress(OSError):
                path.unlink()
        raise FlaskerError(f"writing {folder} failed: {error}") from None
    return written
