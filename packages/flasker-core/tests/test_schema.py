"""Section schemas: core's own sections and the ones extensions declare."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from flasker import ConfigError, load_config, schema
from flasker.schema import Entry, Key, SectionSchema, register_section, suggest

REPORTS = SectionSchema.of(
    "REPORTS",
    [
        Key("TITLE", default="Reports", doc="Heading of the reports page."),
        Key("PAGE_SIZE", "int", 20, "Rows per page."),
        Key("FORMATS", "list", ("csv",), "Download formats offered."),
        Key("STYLE", default="table", choices=("table", "cards")),
    ],
    "The reports extension.",
)


@pytest.fixture
def clean_registry(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No extension sections but the ones a test registers, and none left behind."""
    monkeypatch.setattr(schema, "_extra_sections", {})
    schema._entry_point_sections.cache_clear()
    yield
    schema._entry_point_sections.cache_clear()


def load(tmp_path: Path, text: str):
    path = tmp_path / "default.cfg"
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return load_config(path, environ={})


@pytest.mark.usefixtures("clean_registry")
def test_registered_section_is_validated_and_typed(tmp_path: Path) -> None:
    register_section(REPORTS)
    config = load(tmp_path, "[REPORTS]\nPAGE_SIZE = 50\nFORMATS = csv, xlsx\n")
    assert dict(config.section("REPORTS")) == {
        "TITLE": "Reports",
        "PAGE_SIZE": 50,
        "FORMATS": ["csv", "xlsx"],
        "STYLE": "table",
    }
    assert "REPORTS" in schema.all_section_names()


@pytest.mark.usefixtures("clean_registry")
def test_registered_section_refuses_unknown_keys(tmp_path: Path) -> None:
    register_section(REPORTS)
    with pytest.raises(ConfigError) as error:
        load(
            tmp_path,
            """
            [REPORTS]
            PAGE_SIZ = 50
            COLOUR = red
            PAGE_SIZE = many
            STYLE = list
            """,
        )
    cfg = tmp_path / "default.cfg"
    assert str(error.value) == (
        f"{cfg}:2: [REPORTS] PAGE_SIZ: unknown key; did you mean PAGE_SIZE?\n"
        f"{cfg}:3: [REPORTS] COLOUR: unknown key in [REPORTS] "
        "(known keys: FORMATS, PAGE_SIZE, STYLE, TITLE)\n"
        f"{cfg}:4: [REPORTS] PAGE_SIZE: expected a whole number, got 'many'\n"
        f"{cfg}:5: [REPORTS] STYLE: expected one of table, cards, got 'list'"
    )


@pytest.mark.usefixtures("clean_registry")
def test_section_unknown_until_registered(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"\[REPORTS\]: unknown section"):
        load(tmp_path, "[REPORTS]\nTITLE = x\n")
    register_section(REPORTS)
    assert load(tmp_path, "[REPORTS]\nTITLE = x\n").get("REPORTS", "TITLE") == "x"


@pytest.mark.usefixtures("clean_registry")
def test_sections_declared_through_the_entry_point_group(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An installed distribution declares [GALLERY] in `flasker.config_sections`."""
    site = tmp_path / "site"
    dist_info = site / "flasker_gallery-1.0.dist-info"
    dist_info.mkdir(parents=True)
    (dist_info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: flasker-gallery\nVersion: 1.0\n"
    )
    (dist_info / "entry_points.txt").write_text(
        "[flasker.config_sections]\nGALLERY = flasker_gallery_settings:GALLERY\n"
    )
    (site / "flasker_gallery_settings.py").write_text(
        "from flasker.schema import Key, SectionSchema\n"
        'GALLERY = SectionSchema.of("GALLERY", [Key("THUMB_SIZE", "int", 128)])\n'
    )
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.delitem(sys.modules, "flasker_gallery_settings", raising=False)

    config = load(tmp_path, "[GALLERY]\nTHUMB_SIZE = 256\n")
    assert config.get("GALLERY", "THUMB_SIZE") == 256
    with pytest.raises(ConfigError, match=r":2: \[GALLERY\] THUMB: unknown key; did you mean"):
        load(tmp_path, "[GALLERY]\nTHUMB = 256\n")
    sys.modules.pop("flasker_gallery_settings", None)


@pytest.mark.usefixtures("clean_registry")
def test_an_entry_point_that_is_not_a_schema_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = tmp_path / "site"
    dist_info = site / "flasker_broken-1.0.dist-info"
    dist_info.mkdir(parents=True)
    (dist_info / "METADATA").write_text("Metadata-Version: 2.1\nName: flasker-broken\nVersion: 1\n")
    (dist_info / "entry_points.txt").write_text(
        "[flasker.config_sections]\nBROKEN = flasker_broken_settings:BROKEN\n"
    )
    (site / "flasker_broken_settings.py").write_text("BROKEN = {'not': 'a schema'}\n")
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.delitem(sys.modules, "flasker_broken_settings", raising=False)
    with pytest.raises(TypeError, match="flasker_broken_settings:BROKEN is not a flasker"):
        load(tmp_path, "[BROKEN]\nA = 1\n")
    sys.modules.pop("flasker_broken_settings", None)


def test_core_sections() -> None:
    assert schema.all_section_names()[:6] == [
        "PROJECT",
        "APP",
        "CELERY",
        "ENGINE",
        "CACHE",
        "LOGGING",
    ]
    declared, validate = schema.lookup("PROJECT") or (None, None)
    assert declared is schema.PROJECT
    # its validator, not the schema's plain one: flasker 0.1's key names are read as ours
    problems: list[tuple[Entry, str]] = []
    entries = [Entry("APP_STATIC_FOLDER", "assets", 3), Entry("MODULES", "app", 4)]
    assert validate(entries, lambda entry, problem: problems.append((entry, problem))) == {
        "STATIC_FOLDER": "assets",
        "MODULES": ["app"],
    }
    assert problems == []
    assert schema.lookup("project") is None  # section names are case-sensitive


def test_defaults_leave_out_keys_without_one() -> None:
    assert REPORTS.defaults() == {
        "TITLE": "Reports",
        "PAGE_SIZE": 20,
        "FORMATS": ("csv",),
        "STYLE": "table",
    }
    assert "DB_URL" not in schema.PROJECT.defaults()


def test_open_schema_guesses_undeclared_keys() -> None:
    problems: list[tuple[str, str]] = []
    open_schema = SectionSchema.of("X", [Key("N", "int")], open=True)
    values = open_schema.validate(
        [Entry("N", "3", 1), Entry("OTHER", "true", 2), Entry("BAD", "{", 3)],
        lambda entry, problem: problems.append((entry.key, problem)),
    )
    assert values == {"N": 3, "OTHER": True}
    assert problems[0][0] == "BAD"
    assert problems[0][1].startswith("invalid JSON")


@pytest.mark.parametrize(
    ("word", "candidates", "expected"),
    [
        ("MODUELS", ["NAME", "MODULES", "DB_URL"], "MODULES"),
        ("db_url", ["NAME", "MODULES", "DB_URL"], "DB_URL"),
        ("project", ["PROJECT", "APP"], "PROJECT"),
        ("XYZZY", ["NAME", "MODULES"], None),
        ("anything", [], None),
    ],
)
def test_suggest(word: str, candidates: list[str], expected: str | None) -> None:
    assert suggest(word, candidates) == expected


def test_cache_prefix_is_optional(tmp_path: Path) -> None:
    with_prefix = load(tmp_path, "[CACHE]\nCACHE_TYPE = RedisCache\nCACHE_DEFAULT_TIMEOUT = 5\n")
    without = load(tmp_path, "[CACHE]\nTYPE = RedisCache\nDEFAULT_TIMEOUT = 5\n")
    assert dict(with_prefix.section("CACHE")) == dict(without.section("CACHE"))
    assert with_prefix.get("CACHE", "DEFAULT_TIMEOUT") == 5


def test_cache_unknown_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r":2: \[CACHE\] TIMEOUT: unknown key; did you mean"):
        load(tmp_path, "[CACHE]\nTIMEOUT = 5\n")


def test_engine_keys_are_lower_cased_keyword_arguments(tmp_path: Path) -> None:
    config = load(tmp_path, "[ENGINE]\nPOOL_SIZE = 10\nPool_Recycle = 3600\necho = false\n")
    assert dict(config.engine) == {"pool_size": 10, "pool_recycle": 3600, "echo": False}
