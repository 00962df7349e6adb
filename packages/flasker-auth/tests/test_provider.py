"""The test OIDC provider itself: an honest provider by default, and each knob does what the
attack tests rely on. Checked with plain HTTP and joserfc, without flasker-auth."""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from joserfc import jwt
from joserfc.errors import BadSignatureError
from joserfc.jwk import KeySet

REDIRECT = "http://localhost/auth/callback"


@pytest.fixture
def client(oidc: Any) -> tuple[str, str]:
    client_id, secret = "provider-self-test", "provider-self-test-secret"
    oidc.register_client(client_id, secret)
    return client_id, secret


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def authorize(oidc: Any, client_id: str, **params: str) -> requests.Response:
    query = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": REDIRECT,
        "scope": "openid email profile",
        "state": "the-state",
        "nonce": secrets.token_urlsafe(16),
        **params,
    }
    return requests.get(oidc.url + "/authorize", params=query, allow_redirects=False, timeout=10)


def answer(response: requests.Response) -> dict[str, str]:
    assert response.status_code == 302, response.text
    location = response.headers["Location"]
    assert location.startswith(REDIRECT + "?")
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def exchange(oidc: Any, client: tuple[str, str], code: str, verifier: str) -> requests.Response:
    data = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT,
        "code_verifier": verifier,
    }
    return requests.post(oidc.url + "/token", data=data, auth=client, timeout=10)


def tokens(oidc: Any, client: tuple[str, str], **extra: str) -> dict[str, Any]:
    verifier, challenge = pkce()
    params = answer(
        authorize(oidc, client[0], code_challenge=challenge, code_challenge_method="S256", **extra)
    )
    response = exchange(oidc, client, params["code"], verifier)
    assert response.status_code == 200, response.text
    return response.json()


def keys(oidc: Any) -> KeySet:
    return KeySet.import_key_set(requests.get(oidc.url + "/jwks", timeout=10).json())


def test_discovery_document(oidc: Any) -> None:
    meta = requests.get(oidc.metadata_url, timeout=10).json()
    assert meta["issuer"] == oidc.url
    for name in ("authorization_endpoint", "token_endpoint", "jwks_uri", "userinfo_endpoint"):
        assert meta[name].startswith(oidc.url + "/")
    assert meta["code_challenge_methods_supported"] == ["S256"]
    assert meta["id_token_signing_alg_values_supported"] == ["RS256"]


def test_honest_code_flow_signs_an_rs256_id_token(oidc: Any, client: tuple[str, str]) -> None:
    oidc.login_as("grace@example.com", name="Grace")
    nonce = secrets.token_urlsafe(16)
    body = tokens(oidc, client, nonce=nonce)
    token = jwt.decode(body["id_token"], keys(oidc), algorithms=["RS256"])
    assert token.header["alg"] == "RS256"
    assert token.header["kid"] == oidc.kid
    claims = token.claims
    assert claims["iss"] == oidc.url
    assert claims["aud"] == [client[0]]
    assert claims["nonce"] == nonce
    assert claims["email"] == "grace@example.com"
    assert claims["email_verified"] is True
    assert claims["exp"] > time.time()
    info = requests.get(
        oidc.url + "/userinfo",
        headers={"Authorization": "Bearer " + body["access_token"]},
        timeout=10,
    )
    assert info.json()["email"] == "grace@example.com"


def test_jwks_holds_only_the_public_key(oidc: Any) -> None:
    (key,) = requests.get(oidc.url + "/jwks", timeout=10).json()["keys"]
    assert key["kty"] == "RSA"
    assert "d" not in key
    assert "p" not in key


@pytest.mark.parametrize(
    "params",
    [{}, {"code_challenge": pkce()[1], "code_challenge_method": "plain"}],
    ids=["no PKCE", "plain PKCE"],
)
def test_pkce_s256_is_required(oidc: Any, client: tuple[str, str], params: dict[str, str]) -> None:
    assert answer(authorize(oidc, client[0], **params))["error"] == "invalid_request"


def test_a_wrong_code_verifier_is_refused(oidc: Any, client: tuple[str, str]) -> None:
    _verifier, challenge = pkce()
    params = answer(
        authorize(oidc, client[0], code_challenge=challenge, code_challenge_method="S256")
    )
    response = exchange(oidc, client, params["code"], pkce()[0])
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


def test_a_nonce_works_once(oidc: Any, client: tuple[str, str]) -> None:
    nonce = secrets.token_urlsafe(16)
    tokens(oidc, client, nonce=nonce)
    _verifier, challenge = pkce()
    again = authorize(
        oidc, client[0], nonce=nonce, code_challenge=challenge, code_challenge_method="S256"
    )
    assert answer(again)["error"] == "invalid_request"


def test_a_code_works_once(oidc: Any, client: tuple[str, str]) -> None:
    verifier, challenge = pkce()
    params = answer(
        authorize(oidc, client[0], code_challenge=challenge, code_challenge_method="S256")
    )
    assert exchange(oidc, client, params["code"], verifier).status_code == 200
    again = exchange(oidc, client, params["code"], verifier)
    assert again.status_code == 400
    assert again.json()["error"] == "invalid_grant"
    assert oidc.replayed_codes == 1


def test_knob_other_key_breaks_the_signature(oidc: Any, client: tuple[str, str]) -> None:
    oidc.knobs.sign_with_other_key = True
    id_token = tokens(oidc, client)["id_token"]
    with pytest.raises(BadSignatureError):
        jwt.decode(id_token, keys(oidc), algorithms=["RS256"])


@pytest.mark.parametrize(
    ("knob", "value", "claim", "expected"),
    [
        ("issuer", "http://evil.example", "iss", "http://evil.example"),
        ("audience", "someone-else", "aud", "someone-else"),
        ("nonce", "attacker-nonce", "nonce", "attacker-nonce"),
    ],
)
def test_claim_knobs(
    oidc: Any, client: tuple[str, str], knob: str, value: str, claim: str, expected: str
) -> None:
    setattr(oidc.knobs, knob, value)
    claims = jwt.decode(tokens(oidc, client)["id_token"], keys(oidc)).claims
    assert claims[claim] == expected


def test_knob_expired_id_token(oidc: Any, client: tuple[str, str]) -> None:
    oidc.knobs.expired_id_token = True
    claims = jwt.decode(tokens(oidc, client)["id_token"], keys(oidc)).claims
    assert claims["exp"] < time.time() - 3000


def test_knob_unverified_email(oidc: Any, client: tuple[str, str]) -> None:
    oidc.login_as("eve@example.com", email_verified=False)
    claims = jwt.decode(tokens(oidc, client)["id_token"], keys(oidc)).claims
    assert claims["email_verified"] is False


def test_knob_expired_access_token(oidc: Any, client: tuple[str, str]) -> None:
    oidc.knobs.access_token_expires_in = -60
    body = tokens(oidc, client)
    info = requests.get(
        oidc.url + "/userinfo",
        headers={"Authorization": "Bearer " + body["access_token"]},
        timeout=10,
    )
    assert info.status_code == 401
