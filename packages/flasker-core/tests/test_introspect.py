"""Secrets stay hidden in what flasker prints, and task signatures read as the user wrote them."""

from __future__ import annotations

import pytest

from flasker import introspect
from flasker.introspect import MASK, mask_url, mask_value

from ._project_helpers import unique


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://bob:pw@db.local/app", f"postgresql://bob:{MASK}@db.local/app"),
        ("redis://:s3cret@127.0.0.1:6379/0", f"redis://:{MASK}@127.0.0.1:6379/0"),
        ("amqp://guest:guest@localhost:5672//", f"amqp://guest:{MASK}@localhost:5672//"),
        ("sqlite:////tmp/db.sqlite", "sqlite:////tmp/db.sqlite"),
        ("redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0"),
    ],
)
def test_passwords_inside_urls_are_masked(url, shown):
    assert mask_url(url) == shown


def test_secret_keys_are_masked_whatever_their_section():
    assert mask_value("SECRET_KEY", "dev") == MASK
    assert mask_value("client_secret", "abc") == MASK
    assert mask_value("API_TOKEN", "abc") == MASK
    assert mask_value("DEBUG", True) is True
    assert mask_value("SECRET_KEY", "") == ""  # an empty secret is worth seeing: it is a bug


def test_nested_settings_are_masked_key_by_key():
    options = {"password": "pw", "visibility_timeout": 3600}
    assert mask_value("broker_transport_options", options) == {
        "password": MASK,
        "visibility_timeout": 3600,
    }


def test_a_url_in_a_key_of_any_name_is_masked():
    assert (
        mask_value("MY_UPSTREAM", "https://u:p@api.example/x") == f"https://u:{MASK}@api.example/x"
    )


#: Task modules with string annotations (`from __future__ import annotations`), as the bundled
#: example's: `Unknown` is defined nowhere (a name imported under TYPE_CHECKING, or a typo).
ANNOTATED_TASKS = """\
from __future__ import annotations

from datetime import datetime
from typing import Optional

from flasker import current_project

celery = current_project.celery


@celery.task(name="adopt")
def adopt(cat_name: str, house_id: int, when: datetime | None = None, tags: list[int] = []):
    return cat_name


@celery.task(name="adopt_bound", bind=True)
def adopt_bound(self, cat_name: str, note: Optional[str] = None) -> str:
    return cat_name


@celery.task(name="unknown")
def unknown(cat_name: str, pet: Unknown, *rest: int, **options: dict[str, Unknown]):
    return cat_name
"""


def test_string_annotations_are_shown_as_written(make_project) -> None:
    module = unique("annotated")
    project = make_project(f"[PROJECT]\nMODULES = {module}\n", {module: ANNOTATED_TASKS})
    rows = {row["name"]: row for row in introspect.tasks(project)}
    assert rows["adopt"]["signature"] == (
        "(cat_name: str, house_id: int, when: datetime.datetime | None = None, "
        "tags: list[int] = [])"
    )
    assert [(p["name"], p["annotation"]) for p in rows["adopt"]["parameters"]] == [
        ("cat_name", "str"),
        ("house_id", "int"),
        ("when", "datetime.datetime | None"),
        ("tags", "list[int]"),
    ]
    # bind=True: `self` is left out, and the return annotation is not part of the signature
    assert rows["adopt_bound"]["signature"] == "(cat_name: str, note: Optional[str] = None)"
    # one annotation that does not evaluate: every one is shown as the string written, unquoted
    assert rows["unknown"]["signature"] == (
        "(cat_name: str, pet: Unknown, *rest: int, **options: dict[str, Unknown])"
    )
    assert [(p["name"], p["kind"], p["annotation"]) for p in rows["unknown"]["parameters"]] == [
        ("cat_name", "positional_or_keyword", "str"),
        ("pet", "positional_or_keyword", "Unknown"),
        ("rest", "var_positional", "int"),
        ("options", "var_keyword", "dict[str, Unknown]"),
    ]
