"""Turning cfg text into typed values: environment interpolation and type conversion.

Pure functions with no I/O, so the loader, the round-trip editor and the console's inline
validation all give the same answer for the same text.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Mapping
from typing import Any

import orjson

_REFERENCE = re.compile(r"\$(?:\$|\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}|\{[^}]*\}?)")

TRUE_WORDS = frozenset({"true", "yes", "on", "1"})
FALSE_WORDS = frozenset({"false", "no", "off", "0"})
NONE_WORDS = frozenset({"none", "null", ""})


class ValueProblem(ValueError):
    """A raw value cannot be read; the message says why, without the location."""


def interpolate(
    raw: str, environ: Mapping[str, str] | None = None, fallbacks: list[str] | None = None
) -> str:
    """Replace `${VAR}` and `${VAR:-default}` with environment values; `$$` is a literal `$`.

    A `${VAR}` with no default and no such variable is an error, so a missing secret fails at
    start-up instead of becoming an empty password. The names of variables whose default was
    used are appended to `fallbacks` (production refuses a SECRET_KEY that came from one).
    """
    env = os.environ if environ is None else environ

    def replace(match: re.Match[str]) -> str:
        text = match.group(0)
        if text == "$$":
            return "$"
        name, default = match.group(1), match.group(2)
        if name is None:
            raise ValueProblem(
                f"bad reference {text!r}: write ${{NAME}} or ${{NAME:-default}}"
                " ($$ for a literal $)"
            )
        value = env.get(name)
        if value is not None and (value != "" or default is None):
            return value
        if default is not None:
            if fallbacks is not None:
                fallbacks.append(name)
            return default
        raise ValueProblem(
            f"environment variable {name} is not set (set it, or write ${{{name}:-default}})"
        )

    return _REFERENCE.sub(replace, raw)


def boolean_word(
    text: str, true_words: frozenset[str] = TRUE_WORDS, false_words: frozenset[str] = FALSE_WORDS
) -> bool | None:
    """True or False for a word of `true_words` or `false_words` (case and surrounding spaces
    ignored), None for any other: the caller says what was wrong in its own terms. The API's
    query strings read booleans with it too, adding PostgreSQL's t and f."""
    word = text.strip().lower()
    if word in true_words:
        return True
    if word in false_words:
        return False
    return None


def to_bool(text: str) -> bool:
    value = boolean_word(text)
    if value is None:
        raise ValueProblem(f"expected a boolean (true/false, yes/no, on/off, 1/0), got {text!r}")
    return value


def to_int(text: str) -> int:
    digits = text.strip().replace("_", "")
    try:
        return int(digits)
    except ValueError:
        limit = sys.get_int_max_str_digits()
        if limit and re.fullmatch(r"[-+]?\d+", digits) and len(digits.lstrip("+-")) > limit:
            # Python refuses to read so many digits (a guard against denial of service)
            raise ValueProblem(
                f"expected a whole number of at most {limit} digits, got one of "
                f"{len(digits.lstrip('+-'))} digits"
            ) from None
        raise ValueProblem(f"expected a whole number, got {text!r}") from None


def to_float(text: str) -> float:
    try:
        return float(text.strip())
    except ValueError:
        raise ValueProblem(f"expected a number, got {text!r}") from None


def to_list(text: str) -> list[str]:
    """A comma- or newline-separated list; blank items are dropped."""
    return [item.strip() for item in re.split(r"[,\n]", text) if item.strip()]


def to_json(text: str) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError as error:
        raise ValueProblem(f"invalid JSON: {error}") from None


def to_str(text: str) -> str:
    return _unquote(text.strip())


def _unquote(text: str) -> str:
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        return text[1:-1]
    return text


def guess(text: str) -> Any:
    """Type a value nobody declared (a custom Flask key, an engine option), as flasker 0.1 did.

    Integers, floats, true/false, none/null and JSON objects or arrays are recognised; anything
    else stays a string (quotes around it are removed).
    """
    stripped = text.strip()
    word = stripped.lower()
    if word in ("true", "false"):
        return word == "true"
    if word in ("none", "null"):
        return None
    if re.fullmatch(r"[-+]?\d+", stripped):
        return to_int(stripped)
    if re.fullmatch(r"[-+]?(\d+\.\d*|\.\d+|\d+)([eE][-+]?\d+)?", stripped):
        return float(stripped)
    if stripped[:1] in "[{":
        return to_json(stripped)
    return _unquote(stripped)


CONVERTERS = {
    "str": to_str,
    "bool": to_bool,
    "int": to_int,
    "float": to_float,
    "list": to_list,
    "json": to_json,
    "any": guess,
}


def convert(text: str, kind: str) -> Any:
    """Convert raw (already interpolated) text to the declared kind."""
    if kind in ("dict", "tuple", "list[json]"):
        value = to_json(text) if text.strip()[:1] in "[{" else guess(text)
        expected = dict if kind == "dict" else (list, tuple)
        if not isinstance(value, expected):
            shape = "a JSON object" if kind == "dict" else "a JSON array"
            raise ValueProblem(f"expected {shape}, got {text.strip()!r}")
        return value
    return CONVERTERS[kind](text)
