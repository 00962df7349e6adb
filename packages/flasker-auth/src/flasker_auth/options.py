"""The AuthManager's keyword arguments and `[AUTH]` values, checked: `${VAR}` interpolation,
DEV_LOGIN's modes and EXTERNAL_URL's shape. Each raises `AuthSetupError` naming the option."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flasker import _values

from .exceptions import AuthSetupError
from .settings import DEV_LOGIN_MODES


def interpolated(key: str, value: Any) -> Any:
    """`${VAR}` in a keyword argument, as in the cfg (secrets stay out of code)."""
    if isinstance(value, str):
        try:
            return _values.interpolate(value)
        except _values.ValueProblem as problem:
            raise AuthSetupError(f"AuthManager {key.lower()}=: {problem}") from None
    if isinstance(value, list | tuple | set | frozenset):
        return [interpolated(key, item) for item in value]
    return value


def dev_login_mode(value: Any) -> str:
    """DEV_LOGIN as auto, true or false (a bool keyword argument is accepted too)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value).strip().lower()
    if text not in DEV_LOGIN_MODES:
        raise AuthSetupError(
            f"DEV_LOGIN: expected one of {', '.join(DEV_LOGIN_MODES)}, got {value!r}"
        )
    return text


def external_url(value: Any) -> str | None:
    """EXTERNAL_URL checked (http(s)://host[:port][/path], nothing else), without a final /."""
    if value is None or not str(value).strip():
        return None
    text = str(value).strip()
    try:
        parts = urlsplit(text)
        _ = parts.port  # raises ValueError on a bad port
    except ValueError:
        parts = None
    if (
        parts is None
        or parts.scheme not in ("http", "https")
        or not parts.hostname
        or parts.query
        or parts.fragment
        or parts.username
        or parts.password
    ):
        raise AuthSetupError(
            f"EXTERNAL_URL: expected the site's public address such as "
            f"https://houses.example.com, got {text!r}"
        )
    return text.rstrip("/")
