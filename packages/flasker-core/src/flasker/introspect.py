"""What a project contains, as plain JSON-ready data: routes, tasks, the validated config.

The CLI prints these (`flasker routes/tasks/config show`) and the console reads the same data
through `--json`, running one subprocess per project so two projects never share `sys.modules`.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .config import Config
    from .project import Project

#: Key names whose values are secrets: masked by `flasker config show` and, for viewers, by
#: the console (flasker_console.redaction). The one list of them.
SECRET_KEY_PATTERN = re.compile(r"SECRET|PASSWORD|PASSWD|TOKEN|PRIVATE|API_KEY|CREDENTIAL", re.I)
#: Keys holding URLs whose password part is masked.
URL_KEYS = {"DB_URL", "broker_url", "result_backend", "CACHE_REDIS_URL", "redis_url"}
MASK = "********"
#: `scheme://user:` then the password, up to the `@` that ends the credentials.
_URL_PASSWORD = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*://[^:/@]*:)[^@/]*@")

_HIDDEN_METHODS = {"HEAD", "OPTIONS"}


def routes(project: Project) -> list[dict[str, Any]]:
    """Every URL rule of the app: rule, endpoint, methods (without HEAD/OPTIONS), arguments."""
    rows = []
    for rule in project.app.url_map.iter_rules():
        rows.append(
            {
                "rule": rule.rule,
                "endpoint": rule.endpoint,
                "methods": sorted(set(rule.methods or ()) - _HIDDEN_METHODS),
                "arguments": sorted(rule.arguments),
            }
        )
    return sorted(rows, key=lambda row: (row["rule"], row["endpoint"]))


def tasks(project: Project) -> list[dict[str, Any]]:
    """The project's own Celery tasks (Celery's built-in `celery.*` tasks left out)."""
    celery = project.celery
    celery.loader.import_default_modules()
    rows = []
    for name, task in sorted(celery.tasks.items()):
        if name.startswith("celery."):
            continue
        # `task.run` is the decorated function; with bind=True it is a bound method, so its
        # signature already leaves out `self`.
        function = getattr(task, "run", task)
        rows.append(
            {
                "name": name,
                "signature": _signature(function),
                "parameters": _parameters(function),
                "doc": (inspect.getdoc(function) or "").split("\n\n")[0].replace("\n", " "),
                "queue": getattr(task, "queue", None),
            }
        )
    return rows


def _visible_parameters(function: Any) -> list[inspect.Parameter]:
    """The parameters, their annotations evaluated when they can be.

    A module with `from __future__ import annotations` keeps every annotation as a string
    (`'str'`): evaluated, they read as in a module without it. One that does not evaluate (a
    name imported under `TYPE_CHECKING`, a typo) leaves them all as the strings written, which
    `_annotation_text` shows unquoted: a listing never fails on an annotation.
    """
    try:
        return list(inspect.signature(function, eval_str=True).parameters.values())
    except Exception:  # NameError, SyntaxError, TypeError...: whatever evaluating raised
        pass
    try:
        return list(inspect.signature(function).parameters.values())
    except (TypeError, ValueError):
        return []


class _Written:
    """An annotation's text, printed as is by `inspect.Signature` (which quotes a string)."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text


def _signature(function: Any) -> str:
    """`(cat_name: str, house_id: int)`: annotations as `_annotation_text` shows them."""
    parameters = [
        parameter
        if parameter.annotation is inspect.Parameter.empty
        else parameter.replace(annotation=_Written(_annotation_text(parameter.annotation)))
        for parameter in _visible_parameters(function)
    ]
    try:
        return str(inspect.Signature(parameters))
    except (TypeError, ValueError):
        return "(...)"


def _parameters(function: Any) -> list[dict[str, Any]]:
    """Each parameter's name, kind, annotation and default, for forms built from a signature."""
    rows = []
    for parameter in _visible_parameters(function):
        has_default = parameter.default is not inspect.Parameter.empty
        rows.append(
            {
                "name": parameter.name,
                "kind": parameter.kind.name.lower(),
                "annotation": None
                if parameter.annotation is inspect.Parameter.empty
                else _annotation_text(parameter.annotation),
                "required": not has_default
                and parameter.kind
                not in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD),
                "default": _jsonable(parameter.default) if has_default else None,
            }
        )
    return rows


def _annotation_text(annotation: Any) -> str:
    """An annotation as its author wrote it: a string (one that did not evaluate) as is, a class
    by its name (`datetime`, not `datetime.datetime`), anything else as Python prints it in a
    signature (`list[int]`, `int | None`, `Optional[str]`)."""
    if isinstance(annotation, str):
        return annotation
    if isinstance(annotation, type):  # `list[int]` is no type (Python 3.11+)
        return annotation.__qualname__
    return inspect.formatannotation(annotation)


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return repr(value)


def config_summary(config: Config, mask: bool = True) -> dict[str, Any]:
    """The validated config: path, version and typed values per section, secrets masked."""
    sections: dict[str, dict[str, Any]] = {}
    for section, values in config.sections.items():
        sections[section] = {
            key: mask_value(key, value) if mask else value for key, value in values.items()
        }
    return {"path": str(config.path), "version": config.version, "sections": sections}


def mask_value(key: str, value: Any) -> Any:
    """Hide a secret value, or the password inside a URL; nested dicts are masked key by key."""
    if isinstance(value, Mapping):
        return {k: mask_value(str(k), v) for k, v in value.items()}
    if value in (None, ""):
        return value
    if SECRET_KEY_PATTERN.search(key):
        return MASK
    if isinstance(value, str) and (key in URL_KEYS or "://" in value):
        return mask_url(value)
    return value


def mask_url(url: str) -> str:
    """`postgresql://user:pw@host/db` → `postgresql://user:********@host/db`."""
    return _URL_PASSWORD.sub(rf"\g<1>{MASK}@", url, count=1)
