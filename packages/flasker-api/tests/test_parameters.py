"""The shared readers of query parameters (_parameters.py)."""

from __future__ import annotations

import pytest

from flasker_api._parameters import is_fields_key, one, parse_int
from flasker_api.problems import ProblemCollector


def test_the_last_value_of_a_parameter():
    assert one({"limit": ["1", "2"]}, "limit") == "2"
    assert one({"limit": []}, "limit") is None
    assert one({}, "limit") is None


def test_fields_keys():
    assert is_fields_key("fields[cats]")
    assert not is_fields_key("fields")
    assert not is_fields_key("fields[cats")


@pytest.mark.parametrize(("text", "value"), [(" 12 ", 12), ("0", 0), (None, 7)])
def test_whole_numbers(text, value):
    problems = ProblemCollector()
    assert parse_int(text, "limit", 7, problems) == value
    assert problems.errors == []


@pytest.mark.parametrize("text", ["-1", "1.5", "ten", "١٢", "1" * 13, ""])
def test_anything_else_is_reported_and_gives_the_default(text):
    problems = ProblemCollector()
    assert parse_int(text, "limit", 7, problems) == 7
    assert problems.errors == [
        {"parameter": "limit", "message": f"expected a whole number, 0 or more, got {text!r}"}
    ]
