"""Durations written by people (`flasker auth token create --expires`, `TOKEN_DEFAULT_EXPIRY`):
a number and a unit, or a word for "no expiry"; anything else is refused with the accepted
forms."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from flasker_auth._duration import parse_duration

REFUSAL = (
    "cannot read the duration {text!r}: write a number and a unit (s, m, h, d, w), e.g. 30d or "
    "12h, or never"
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("45s", timedelta(seconds=45)),
        ("90m", timedelta(minutes=90)),
        ("12h", timedelta(hours=12)),
        ("30d", timedelta(days=30)),
        ("2w", timedelta(weeks=2)),
        ("30D", timedelta(days=30)),  # case does not matter
        (" 7 d ", timedelta(days=7)),  # nor spaces around and between
    ],
)
def test_a_number_and_a_unit_is_a_lifetime(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["never", "NEVER", " none ", "0"])
def test_never_none_and_zero_mean_no_expiry(text: str) -> None:
    assert parse_duration(text) is None


@pytest.mark.parametrize("text", ["", "30", "d", "30 days", "1.5h", "-1d", "0d", "1y", "30d1h"])
def test_anything_else_is_refused_naming_the_accepted_forms(text: str) -> None:
    with pytest.raises(ValueError, match=r"^cannot read the duration") as refused:
        parse_duration(text)
    assert str(refused.value) == REFUSAL.format(text=text)


def test_the_cli_refuses_an_unreadable_lifetime_as_a_usage_error(site: Any) -> None:
    result = site.cli(
        "auth", "token", "create", "--email", "ada@allowed.test", "--expires", "soon", ok=False
    )
    assert result.exit_code == 2
    assert (
        "Invalid value for --expires: cannot read the duration 'soon': write a number and a "
        "unit (s, m, h, d, w), e.g. 30d or 12h, or never"
    ) in result.output
    assert site.rows("flasker_api_tokens") == []
