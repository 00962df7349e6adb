"""Secrets written in a cfg are masked for viewers."""

from __future__ import annotations

import pytest

from flasker_console.redaction import MASK, redact


@pytest.mark.parametrize(
    ("key", "value", "shown"),
    [
        ("SECRET_KEY", "literal-secret", MASK),
        ("CLIENT_SECRET", "abc", MASK),
        ("SECRET_KEY", "${SECRET_KEY}", "${SECRET_KEY}"),
        ("SECRET_KEY", "${SECRET_KEY:-default-secret}", MASK),
        ("DB_URL", "postgresql://ada:pw@db/app", "postgresql://ada:********@db/app"),
        ("DEBUG", "true", "true"),
        ("SECRET_KEY", "", ""),
    ],
)
def test_redact(key: str, value: str, shown: str) -> None:
    assert redact(key, value) == shown
