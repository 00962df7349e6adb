"""The editor's form logic without Flask: what a form does to a cfg document."""

from __future__ import annotations

from pathlib import Path

import pytest

from flasker_console import editing

CFG = """\
# top comment
[ENGINE]
POOL_SIZE = 5

[CACHE]
CACHE_TYPE = SimpleCache
"""


@pytest.fixture
def cfg(tmp_path: Path) -> Path:
    path = tmp_path / "default.cfg"
    path.write_text(CFG, encoding="utf-8")
    return path


def form(**fields: str) -> dict[str, str]:
    return {"base": editing.encode_base(CFG), **fields}


def test_unchanged_form_changes_nothing(cfg: Path) -> None:
    edit = editing.edit_from_form(cfg, form(**{"value:ENGINE:POOL_SIZE": "5"}))
    assert edit.is_valid
    assert not edit.is_changed
    assert edit.diff() == ""


def test_problems_reach_rows_whatever_spelling_the_validator_reports(cfg: Path) -> None:
    """[ENGINE] reports pool_size for POOL_SIZE; the row written POOL_SIZE still gets it."""
    edit = editing.edit_from_form(cfg, form(**{"value:ENGINE:POOL_SIZE": "many"}))
    assert not edit.is_valid
    (row,) = edit.cards[0].rows
    assert row.problems
    assert "expected a whole number" in row.problems[0]
    assert row.problems[0].startswith("line 3: ")


def test_new_key_problems_go_to_the_new_key_field(cfg: Path) -> None:
    edit = editing.edit_from_form(
        cfg, form(**{"new-key:CACHE": "DEFAULT_TIMEOUT", "new-value:CACHE": "soon"})
    )
    cache = edit.cards[1]
    assert cache.new_problems
    assert "DEFAULT_TIMEOUT" in cache.new_problems[0]
    assert not any(row.problems for row in cache.rows)


def test_a_new_key_needs_a_name_and_must_be_new(cfg: Path) -> None:
    nameless = editing.edit_from_form(cfg, form(**{"new-value:CACHE": "1"}))
    assert nameless.cards[1].new_problems == ["[CACHE]: give the new key a name"]
    twice = editing.edit_from_form(
        cfg, form(**{"new-key:CACHE": "CACHE_TYPE", "new-value:CACHE": "NullCache"})
    )
    assert "already in this section" in twice.cards[1].new_problems[0]


def test_values_are_kept_as_typed_when_invalid(cfg: Path) -> None:
    edit = editing.edit_from_form(
        cfg, form(**{"value:ENGINE:POOL_SIZE": "many", "remove:CACHE:CACHE_TYPE": "1"})
    )
    assert edit.cards[0].rows[0].value == "many"
    assert edit.cards[1].rows[0].removed


def test_removing_keeps_comments(cfg: Path) -> None:
    edit = editing.edit_from_form(cfg, form(**{"remove:ENGINE:POOL_SIZE": "1"}))
    assert edit.is_valid
    assert edit.text.startswith("# top comment\n[ENGINE]\n")
    assert "POOL_SIZE" not in edit.text


def test_missing_or_bad_base_is_refused(cfg: Path) -> None:
    with pytest.raises(editing.MissingBaseError):
        editing.edit_from_form(cfg, {})
    with pytest.raises(editing.MissingBaseError):
        editing.raw_edit_from_form(cfg, {"base": "%%%", "text": ""})


def test_raw_text_that_cannot_be_parsed_is_kept_for_fixing(cfg: Path) -> None:
    edit = editing.raw_edit_from_form(cfg, form(text="[ENGINE\nx"))
    assert not edit.is_valid
    assert edit.document is None
    assert edit.text == "[ENGINE\nx\n"
    assert "+[ENGINE" in edit.diff()
