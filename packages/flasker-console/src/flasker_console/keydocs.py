"""What the cfg editor says about a key: its type and documentation.

Flasker's own sections and the extensions' (`[API]`, `[AUTH]`, `[CONSOLE]`) document their keys
in their `SectionSchema`; Flask's keys get their type from `Flask.default_config` and a line of
documentation for the common ones; Celery's keys their type from Celery's own table of settings.
A key nobody declares is still shown, marked as the project's own.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from functools import cache
from typing import Any

from flasker import schema

#: Flask's common keys (the others still get their type and default).
FLASK_DOCS = {
    "DEBUG": "Debug mode: interactive debugger and reloader. Never true in production.",
    "TESTING": "Testing mode: exceptions propagate instead of being handled by the app.",
    "SECRET_KEY": "Signs the session cookie and CSRF tokens; write ${SECRET_KEY}, never the key.",
    "SECRET_KEY_FALLBACKS": "Old secret keys still accepted while rotating SECRET_KEY.",
    "SERVER_NAME": "Host (and port) the app answers to; also used to build external URLs.",
    "APPLICATION_ROOT": "Path the app is mounted under (for the session cookie path).",
    "PREFERRED_URL_SCHEME": "Scheme of external URLs built outside a request (http or https).",
    "PERMANENT_SESSION_LIFETIME": "Seconds a permanent session lives.",
    "SESSION_COOKIE_NAME": "Name of the session cookie.",
    "SESSION_COOKIE_DOMAIN": "Domain of the session cookie (default: the request's host).",
    "SESSION_COOKIE_SECURE": "Send the session cookie over HTTPS only (flasker server --prod).",
    "SESSION_COOKIE_HTTPONLY": "Hide the session cookie from JavaScript.",
    "SESSION_COOKIE_SAMESITE": "SameSite of the session cookie: Lax (flasker's default), Strict.",
    "MAX_CONTENT_LENGTH": "Largest request body accepted, in bytes.",
    "SEND_FILE_MAX_AGE_DEFAULT": "Cache lifetime of static files, in seconds.",
    "TRUSTED_HOSTS": "Host names the app accepts in the Host header (comma list).",
    "TEMPLATES_AUTO_RELOAD": "Reload templates when they change (default: in debug mode).",
    "PROPAGATE_EXCEPTIONS": "Re-raise exceptions instead of answering 500 (tests).",
    "EXPLAIN_TEMPLATE_LOADING": "Log how each template was found.",
}


@dataclass(frozen=True)
class KeyInfo:
    """A key as the editor documents it."""

    type: str
    doc: str
    #: Declared by Flasker, an extension, Flask or Celery (not one the project made up).
    is_known: bool
    default: Any = None


def describe(section: str, key: str) -> KeyInfo:
    """Type and documentation of `key` in `section`."""
    if section == "APP":
        return _flask_key(key)
    if section == "CELERY":
        return _celery_key(key)
    found = schema.lookup(section)
    if found is None:
        return KeyInfo("", "", False)
    declared = found[0]
    for name in _spellings(section, key):
        if name in declared.keys:
            entry = declared.keys[name]
            doc = entry.doc
            if entry.choices:
                doc = f"{doc} One of: {', '.join(entry.choices)}.".strip()
            return KeyInfo(entry.type, doc, True, entry.default)
    if declared.open:
        return KeyInfo("any", f"Not documented; passed on as written ([{section}] is open).", False)
    return KeyInfo("", "Not a key of this section.", False)


def section_doc(section: str) -> str:
    found = schema.lookup(section)
    return found[0].doc if found else ""


def known_keys(section: str) -> list[str]:
    """Keys to suggest when adding one to `section`."""
    if section == "APP":
        from flask import Flask

        return sorted(Flask.default_config)
    if section == "CELERY":
        return sorted(_celery_options())
    found = schema.lookup(section)
    return list(found[0].keys) if found else []


def _spellings(section: str, key: str) -> list[str]:
    """The names the validator accepts for `key` ([ENGINE] lower-cases, [CACHE] drops CACHE_)."""
    if section == "ENGINE":
        return [key, key.lower()]
    if section == "CACHE":
        return [key, key.removeprefix("CACHE_")]
    return [key]


def _flask_key(key: str) -> KeyInfo:
    from flask import Flask

    defaults = Flask.default_config
    if key not in defaults:
        return KeyInfo("any", "The app's own setting (typed by its value).", False)
    default = defaults[key]
    kind = schema.FLASK_KEY_TYPES.get(key) or _type_of(default)
    doc = FLASK_DOCS.get(key, "Flask setting (see Flask's configuration documentation).")
    if isinstance(default, timedelta):
        default = int(default.total_seconds())
    return KeyInfo(kind, doc, True, default)


def _type_of(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, timedelta):
        return "seconds"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, list | tuple):
        return "list"
    if isinstance(value, dict):
        return "dict"
    return "str"


@cache
def _celery_options() -> dict[str, Any]:
    from celery.app import defaults

    return dict(defaults.flatten(defaults.NAMESPACES))


@cache
def _celery_old_names() -> dict[str, str]:
    from celery.app import defaults

    return dict(getattr(defaults, "_TO_NEW_KEY", {}))


def _celery_key(key: str) -> KeyInfo:
    options = _celery_options()
    name = key if key in options else _celery_old_names().get(key)
    if name is None or name not in options:
        return KeyInfo("", "Not a Celery setting.", False)
    option = options[name]
    kind = {"string": "str", "tuple": "list"}.get(option.type, option.type)
    doc = "Celery setting (see Celery's configuration documentation)."
    if name != key:
        doc = f"Old name of Celery's {name}. {doc}"
    return KeyInfo(kind, doc, True, option.default)
