"""API tokens, created through the CLI as an operator would, used over `Authorization: Bearer`:
scopes map to methods, revoked/expired/unknown tokens get 401, and only a hash is stored."""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

import pytest

PROBLEM = "application/problem+json"
EMAIL = "robot@example.com"
VIEWER_EMAIL = "reader@example.com"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def assert_401(response: Any) -> None:
    assert response.status_code == 401, (response.status_code, response.text)
    assert response.mimetype == PROBLEM
    assert response.headers.get("WWW-Authenticate", "").startswith("Bearer")


@pytest.fixture
def user(site: Any) -> str:
    """An admin: a token may do what its user's role allows, and no more."""
    site.add_user(EMAIL, "admin")
    return EMAIL


@pytest.fixture
def viewer(site: Any) -> str:
    site.add_user(VIEWER_EMAIL)
    return VIEWER_EMAIL


def test_a_read_token_reads_but_does_not_write(site: Any, visitor: Any, user: str) -> None:
    token = site.create_token(user, "api:read")
    assert token.startswith("fla_")
    response = visitor.get(site.notes, headers=bearer(token))
    assert response.status_code == 200, response.text
    assert response.get_json()["data"] == []
    refused = visitor.post(site.notes, json={"text": "hello"}, headers=bearer(token))
    assert refused.status_code == 403, refused.text
    assert refused.mimetype == PROBLEM
    assert site.rows(site.module.Note.__tablename__) == []


def test_a_write_token_writes(site: Any, visitor: Any, user: str) -> None:
    token = site.create_token(user, "api:read,api:write")
    created = visitor.post(site.notes, json={"text": "hello"}, headers=bearer(token))
    assert created.status_code == 201, created.text
    listed = visitor.get(site.notes, headers=bearer(token)).get_json()["data"]
    assert [note["text"] for note in listed] == ["hello"]
    note_id = listed[0]["id"]
    patched = visitor.open(
        "PATCH", f"{site.notes}{note_id}", json={"text": "bye"}, headers=bearer(token)
    )
    assert patched.status_code == 200, patched.text
    deleted = visitor.open("DELETE", f"{site.notes}{note_id}", headers=bearer(token))
    assert deleted.status_code == 204, deleted.text


def test_a_write_only_token_cannot_read(site: Any, visitor: Any, user: str) -> None:
    token = site.create_token(user, "api:write")
    assert visitor.get(site.notes, headers=bearer(token)).status_code == 403
    assert visitor.post(site.notes, json={"text": "x"}, headers=bearer(token)).status_code == 201


def test_a_bearer_token_is_not_a_session(site: Any, visitor: Any, user: str) -> None:
    token = site.create_token(user, "api:read")
    visitor.get(site.notes, headers=bearer(token))
    assert visitor.get(site.notes).status_code == 401  # no cookie was set for the next call
    assert visitor.get("/some/page").status_code in (302, 303)


def test_a_revoked_token_gets_401(site: Any, visitor: Any, user: str) -> None:
    token = site.create_token(user, "api:read")
    assert visitor.get(site.notes, headers=bearer(token)).status_code == 200
    (row,) = site.rows("flasker_api_tokens")
    site.cli("auth", "token", "revoke", str(row["id"]))
    assert_401(visitor.get(site.notes, headers=bearer(token)))
    assert site.rows("flasker_api_tokens")[0]["revoked"] is not None


def test_revoke_by_prefix(site: Any, visitor: Any, user: str) -> None:
    token = site.create_token(user, "api:read")
    listing = site.cli("auth", "token", "list").output
    prefix = next(word for word in listing.split() if word.startswith("fla_"))
    assert token.startswith(prefix.rstrip("…"))
    site.cli("auth", "token", "revoke", prefix)
    assert_401(visitor.get(site.notes, headers=bearer(token)))


def test_an_expired_token_gets_401(site: Any, visitor: Any, user: str) -> None:
    token = site.create_token(user, "api:read", "--expires", "1d")
    (row,) = site.rows("flasker_api_tokens")
    assert row["expires"] is not None
    assert visitor.get(site.notes, headers=bearer(token)).status_code == 200
    past = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
    site.update("flasker_api_tokens", {"expires": past}, id=row["id"])
    assert_401(visitor.get(site.notes, headers=bearer(token)))


def test_a_token_of_a_removed_user_gets_401(site: Any, visitor: Any, user: str) -> None:
    token = site.create_token(user, "api:read")
    site.cli("auth", "user", "remove", user)
    assert_401(visitor.get(site.notes, headers=bearer(token)))


@pytest.mark.parametrize(
    "header",
    [
        "Bearer garbage",
        "Bearer fla_",
        "Bearer fla_" + "A" * 43,
        "Bearer " + "fla_" + "x" * 5000,
        "Bearer",
        "Bearer ",
        "Bearer fla_\u00e9\u00e9\u00e9",
        "Basic cm9ib3Q6cGFzc3dvcmQ=",
        "bearer",
    ],
    ids=[
        "garbage",
        "bare prefix",
        "unknown",
        "very long",
        "no token",
        "empty",
        "non-ascii",
        "basic auth",
        "scheme only",
    ],
)
def test_unknown_or_garbage_tokens_get_401(site: Any, visitor: Any, header: str) -> None:
    assert_401(visitor.get(site.notes, headers={"Authorization": header}))


def test_a_token_that_differs_in_its_secret_gets_401(site: Any, visitor: Any, user: str) -> None:
    token = site.create_token(user, "api:read")
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    assert_401(visitor.get(site.notes, headers=bearer(forged)))


def test_only_a_hash_is_stored(site: Any, user: str) -> None:
    token = site.create_token(user, "api:read,api:write")
    secret = token.removeprefix("fla_")
    (row,) = site.rows("flasker_api_tokens")
    for column, value in row.items():
        assert token not in str(value), column
        assert secret not in str(value), column
    assert hashlib.sha256(token.encode()).hexdigest() in row.values()
    listing = site.cli("auth", "token", "list").output
    assert token not in listing
    assert secret not in listing


def test_a_token_is_shown_once_and_each_is_new(site: Any, user: str) -> None:
    first = site.create_token(user, "api:read")
    second = site.create_token(user, "api:read")
    assert first != second
    assert len(first) >= 4 + 32


def test_token_create_for_an_unknown_email_fails_cleanly(site: Any) -> None:
    result = site.cli(
        "auth", "token", "create", "--email", "ghost@example.com", "--scopes", "api:read", ok=False
    )
    assert result.exit_code == 1, result.output
    assert "ghost@example.com" in result.output
    assert "Traceback" not in result.output
    assert site.rows("flasker_api_tokens") == []


@pytest.mark.parametrize("scopes", ["api:admin", "", "read"])
def test_token_create_refuses_unknown_scopes(site: Any, user: str, scopes: str) -> None:
    result = site.cli("auth", "token", "create", "--email", user, "--scopes", scopes, ok=False)
    assert result.exit_code == 2, result.output
    assert site.rows("flasker_api_tokens") == []


# -- a token's scopes are capped by its user's role ------------------------------------------------
def test_token_create_refuses_api_write_for_a_viewer(site: Any, viewer: str) -> None:
    result = site.cli(
        "auth", "token", "create", "--email", viewer, "--scopes", "api:read,api:write", ok=False
    )
    assert result.exit_code == 1, result.output
    assert "viewer" in result.output
    assert f"flasker auth user role {viewer} admin" in result.output
    assert "Traceback" not in result.output
    assert site.rows("flasker_api_tokens") == []
    assert site.create_token(viewer, "api:read")  # reading is what a viewer may do


def test_a_viewers_write_token_does_not_write(site: Any, visitor: Any, user: str) -> None:
    """An admin's api:write token stops writing the moment the admin becomes a viewer."""
    token = site.create_token(user, "api:read,api:write")
    assert visitor.post(site.notes, json={"text": "a"}, headers=bearer(token)).status_code == 201
    site.cli("auth", "user", "role", user, "viewer")
    refused = visitor.post(site.notes, json={"text": "b"}, headers=bearer(token))
    assert refused.status_code == 403, refused.text
    assert refused.mimetype == PROBLEM
    assert "viewer" in refused.get_json()["detail"]
    assert [row["text"] for row in site.rows(site.module.Note.__tablename__)] == ["a"]
    for method in ("PATCH", "PUT", "DELETE"):
        note = f"{site.notes}1"
        response = visitor.open(method, note, json={"text": "c"}, headers=bearer(token))
        assert response.status_code == 403, (method, response.status_code)
    assert visitor.get(site.notes, headers=bearer(token)).status_code == 200  # still reads
    site.cli("auth", "user", "role", user, "admin")
    assert visitor.post(site.notes, json={"text": "d"}, headers=bearer(token)).status_code == 201
