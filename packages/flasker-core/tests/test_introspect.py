"""Secrets stay hidden in what flasker prints, and task signatures read as the user wrote them."""

from __future__ import annotations

import pytest

from flasker.introspect import MASK, mask_url, mask_value


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
