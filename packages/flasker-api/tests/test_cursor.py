"""Paging cursors (cursor.py): what `?after=` accepts and refuses.

A cursor is signed by an itsdangerous `Signer` with the app's key and a salt per collection:
one this API did not give, edited, made for another collection, signed with another key (or
by the hand-made HMAC of earlier versions) is the same 400 problem on `after`."""

from __future__ import annotations

import base64
import hashlib
import hmac
import string
from urllib.parse import parse_qs, urlsplit

import orjson
import pytest
from itsdangerous.encoding import base64_encode
from sqlalchemy import Integer, Unicode
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from flasker_api import cursor
from flasker_api.cursor import (
    PROCESS_KEY,
    REFUSED,
    cursor_keys,
    cursor_secret,
    decode_cursor,
    encode_cursor,
)
from flasker_api.model_info import build_model_info
from flasker_api.problems import ProblemCollector


class Base(DeclarativeBase):
    pass


class Kite(Base):
    __tablename__ = "kites"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    colour: Mapped[str | None] = mapped_column(Unicode(20))


class Reel(Base):
    __tablename__ = "reels"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    colour: Mapped[str | None] = mapped_column(Unicode(20))


KITES = build_model_info(Kite)
REELS = build_model_info(Reel)
SORT = (("colour", True),)


def decoded(text: str, info=KITES, sort=SORT, secret=b"k" * 32):
    problems = ProblemCollector()
    values = decode_cursor(text, info, sort, secret, problems)
    return values, problems.errors


def test_a_cursor_gives_back_the_keyset_values():
    text = encode_cursor(KITES, SORT, ["red", 7], b"k" * 32)
    assert decoded(text) == (("red", 7), [])


def test_the_keyset_is_the_sort_then_the_key():
    assert cursor_keys(KITES, SORT) == [("colour", True), ("id", False)]
    assert cursor_keys(KITES, (("id", True),)) == [("id", True)]


def test_a_cursor_signed_with_another_key_is_refused():
    text = encode_cursor(KITES, SORT, ["red", 7], b"other key")
    assert decoded(text) == (None, [{"parameter": "after", "message": REFUSED}])


def test_a_cursor_of_another_collection_is_refused():
    text = encode_cursor(REELS, SORT, ["red", 7], b"k" * 32)
    assert decoded(text) == (None, [{"parameter": "after", "message": REFUSED}])


def test_a_cursor_made_for_another_sort_says_which():
    text = encode_cursor(KITES, (), [7], b"k" * 32)
    assert decoded(text) == (
        None,
        [{"parameter": "after", "message": "the cursor was made for sort=: repeat it"}],
    )


def old_cursor(collection: str, payload: object, secret: bytes) -> str:
    """A cursor as flasker-api signed them before itsdangerous: base64(JSON) + "." + MAC."""
    body = base64.urlsafe_b64encode(orjson.dumps(payload)).rstrip(b"=")
    digest = hmac.new(secret, collection.encode() + b"\0" + body, hashlib.sha256).digest()
    return (body + b"." + base64.urlsafe_b64encode(digest[:12])).decode()


def test_a_cursor_of_the_old_hand_made_hmac_is_refused():
    secret = b"flasker-api:/srv/app/default.cfg"  # the old key without SECRET_KEY: guessable
    text = old_cursor("kites", ["-colour", ["red", 7]], secret)
    assert decoded(text, secret=secret) == (None, [{"parameter": "after", "message": REFUSED}])


@pytest.mark.parametrize("text", ["", "garbage", "a.b", "é.é", "eyJ9.AAAA"])
def test_malformed_cursors_are_refused(text):
    assert decoded(text) == (None, [{"parameter": "after", "message": REFUSED}])


def test_without_a_secret_key_cursors_use_a_random_key_of_this_process():
    assert cursor_secret(None) == cursor_secret("") == PROCESS_KEY
    assert len(PROCESS_KEY) == 32
    assert PROCESS_KEY not in (b"flasker-api", b"")


def test_the_app_secret_key_signs_cursors():
    assert cursor_secret("s3cret") == b"s3cret"
    assert cursor_secret(b"\x00raw") == b"\x00raw"


def test_signers_are_made_once_per_key_and_collection():
    first = cursor._signer(b"k", "kites")
    assert cursor._signer(b"k", "kites") is first
    assert cursor._signer(b"k", "reels") is not first


def test_a_cursor_is_url_safe_text():
    text = encode_cursor(KITES, SORT, ["red & blue?", 7], b"k" * 32)
    assert isinstance(text, str)
    assert set(text) <= set(string.ascii_letters + string.digits + "-_.")


@pytest.mark.parametrize(
    "body", [b"not base64!", base64_encode(b"not json"), base64_encode(b"[1]")]
)
def test_a_signed_value_that_is_not_a_cursor_is_refused(body):
    text = cursor._signer(b"k" * 32, "kites").sign(body).decode()
    assert decoded(text) == (None, [{"parameter": "after", "message": REFUSED}])


# -- through the API ------------------------------------------------------------------------------
def next_cursor(api, path: str) -> str:
    return parse_qs(urlsplit(api.ok(path)["meta"]["next"]).query)["after"][0]


def refused(api, path: str, after: str) -> None:
    response = api.get(path, query_string={"limit": 2, "after": after})
    body = api.problem(response, 400, parameter="after")
    assert body["errors"] == [{"parameter": "after", "message": REFUSED}]


def test_the_api_refuses_a_cursor_of_another_collection(api):
    refused(api, "/cats/", next_cursor(api, "/houses/?limit=2"))


def test_the_api_refuses_a_cursor_signed_by_the_old_scheme(api):
    secret = f"flasker-api:{api.project.config.path}".encode()
    refused(api, "/cats/", old_cursor("cats", ["", ["Felix"]], secret))


def test_the_api_refuses_a_cursor_signed_with_another_key(api):
    body = base64_encode(orjson.dumps(["", ["Felix"]]))
    forged = cursor._signer(b"guessed", "cats").sign(body).decode()
    refused(api, "/cats/", forged)


def test_without_a_secret_key_the_api_signs_with_the_random_process_key(api):
    assert not api.app.config.get("SECRET_KEY")
    text = next_cursor(api, "/cats/?limit=2")
    assert cursor._signer(PROCESS_KEY, "cats").validate(text)
    path_key = f"flasker-api:{api.project.config.path}".encode()
    assert not cursor._signer(path_key, "cats").validate(text)
