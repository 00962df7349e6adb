"""A real OpenID Connect provider for the tests, built on authlib's server components.

It serves, over real HTTP on a free loopback port (werkzeug in a background thread):

- `/.well-known/openid-configuration`: the discovery document;
- `/authorize`: the authorization code grant (OpenID `OpenIDCode` + PKCE with S256 required),
  consenting at once for the user a test chose with `provider.login_as(email, ...)`;
- `/token`: code → access token + ID token (RS256, signed with an RSA key made at start);
- `/jwks`: the public key; `/userinfo`: the claims, for a bearer access token.

Knobs (`provider.knobs`, put back before every test by the `oidc` fixture) turn it into an
attacker or a sloppy provider: sign with another key, a wrong `iss` or `aud`, an expired ID
token, another `nonce`, unverified email, short-lived access tokens. Authorization codes are
single use: a replayed code is refused (and counted in `provider.replayed_codes`).

    provider = OidcProvider().start()
    provider.register_client("app", "secret")
    provider.login_as("ada@example.com", name="Ada")
    ...
    provider.stop()
"""

from __future__ import annotations

import dataclasses
import secrets
import threading
import time
from collections.abc import Iterator
from typing import Any

from authlib.integrations.flask_oauth2 import AuthorizationServer, ResourceProtector
from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import grants
from authlib.oauth2.rfc6749.errors import InvalidRequestError
from authlib.oauth2.rfc6750 import BearerTokenGenerator, BearerTokenValidator
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oidc.core import UserInfo
from authlib.oidc.core.grants import OpenIDCode
from flask import Flask, jsonify, request
from joserfc.jwk import KeySet, RSAKey
from werkzeug.serving import WSGIRequestHandler, make_server

SCOPES = ("openid", "email", "profile")
CLAIMS = ("sub", "iss", "aud", "exp", "iat", "nonce", "email", "email_verified", "name")


# -- what a test can turn ---------------------------------------------------------------------
@dataclasses.dataclass
class Person:
    """The end user the provider signs in next (no login form: the test chose them)."""

    email: str | None = "ada@example.com"
    name: str | None = "Ada Lovelace"
    email_verified: bool | None = True
    sub: str | None = None  # default: derived from the email

    def claims(self) -> dict[str, Any]:
        claims: dict[str, Any] = {"sub": self.sub or f"sub-{self.email or 'anonymous'}"}
        if self.email is not None:
            claims["email"] = self.email
        if self.email_verified is not None:
            claims["email_verified"] = self.email_verified
        if self.name is not None:
            claims["name"] = self.name
        return claims


@dataclasses.dataclass
class Knobs:
    """Ways to misbehave; the defaults are an honest provider."""

    #: sign ID tokens with another RSA key (same `kid`): a bad signature
    sign_with_other_key: bool = False
    #: `iss` of ID tokens (None: the provider's own issuer)
    issuer: str | None = None
    #: `aud` of ID tokens (None: the client id)
    audience: str | list[str] | None = None
    #: issue ID tokens that expired an hour ago
    expired_id_token: bool = False
    #: put this `nonce` in ID tokens instead of the one the client sent
    nonce: str | None = None
    #: lifetime of access tokens in seconds (negative: already expired)
    access_token_expires_in: int = 3600


# -- authlib's models, in memory --------------------------------------------------------------
@dataclasses.dataclass
class Client:
    client_id: str
    client_secret: str
    redirect_uris: tuple[str, ...] = ()  # empty: any http(s) URI

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str | None:
        return self.redirect_uris[0] if self.redirect_uris else None

    def get_allowed_scope(self, scope: str | None) -> str:
        if not scope:
            return ""
        return " ".join(s for s in scope.split() if s in SCOPES)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        if self.redirect_uris:
            return redirect_uri in self.redirect_uris
        return redirect_uri.startswith(("http://", "https://"))

    def check_client_secret(self, client_secret: str) -> bool:
        return secrets.compare_digest(client_secret, self.client_secret)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method in ("client_secret_basic", "client_secret_post")

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == "authorization_code"


@dataclasses.dataclass
class AuthorizationCode:
    code: str
    client_id: str
    redirect_uri: str
    scope: str
    person: Person
    nonce: str | None
    code_challenge: str | None
    code_challenge_method: str | None
    auth_time: int
    used: bool = False

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope

    def get_nonce(self) -> str | None:
        return self.nonce

    def get_auth_time(self) -> int:
        return self.auth_time

    def get_acr(self) -> None:
        return None

    def get_amr(self) -> None:
        return None


@dataclasses.dataclass
class AccessToken:
    access_token: str
    client_id: str
    scope: str
    person: Person
    issued_at: int
    expires_in: int

    def check_client(self, client: Client) -> bool:
        return client.client_id == self.client_id

    def get_scope(self) -> str:
        return self.scope

    def get_expires_in(self) -> int:
        return self.expires_in

    def is_expired(self) -> bool:
        return time.time() >= self.issued_at + self.expires_in

    def is_revoked(self) -> bool:
        return False


# -- the grants ---------------------------------------------------------------------------------
class S256Required(CodeChallenge):
    """PKCE for every client, confidential ones too, and only the S256 method."""

    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]

    def validate_code_challenge(self, grant: Any, redirect_uri: str) -> None:
        data = grant.request.payload.data
        if not data.get("code_challenge"):
            raise InvalidRequestError("PKCE is required: missing 'code_challenge'")
        if data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("PKCE: 'code_challenge_method' must be S256")
        super().validate_code_challenge(grant, redirect_uri)


def _code_grant(provider: OidcProvider) -> type[grants.AuthorizationCodeGrant]:
    class CodeGrant(grants.AuthorizationCodeGrant):
        TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]

        def save_authorization_code(self, code: str, req: Any) -> None:
            data = req.payload.data
            provider.codes[code] = AuthorizationCode(
                code=code,
                client_id=req.client.client_id,
                redirect_uri=req.payload.redirect_uri,
                scope=req.scope if hasattr(req, "scope") else req.payload.scope,
                person=req.user,
                nonce=data.get("nonce"),
                code_challenge=data.get("code_challenge"),
                code_challenge_method=data.get("code_challenge_method"),
                auth_time=int(time.time()),
            )

        def query_authorization_code(self, code: str, client: Client) -> Any:
            found = provider.codes.get(code)
            if found is None or found.client_id != client.client_id:
                return None
            if found.used:
                provider.replayed_codes += 1
                return None
            return found

        def delete_authorization_code(self, authorization_code: AuthorizationCode) -> None:
            authorization_code.used = True  # kept, so that a replay is seen and counted

        def authenticate_user(self, authorization_code: AuthorizationCode) -> Person:
            return authorization_code.person

    return CodeGrant


def _openid(provider: OidcProvider) -> OpenIDCode:
    class OpenID(OpenIDCode):
        def exists_nonce(self, nonce: str, req: Any) -> bool:
            return any(
                c.nonce == nonce and c.client_id == req.payload.client_id
                for c in provider.codes.values()
            )

        def generate_user_info(self, user: Person, scope: str) -> UserInfo:
            return UserInfo(user.claims())

        # authlib >= 1.7: the key, algorithm, header and claims of the ID token
        def resolve_client_private_key(self, client: Client) -> Any:
            return provider.other_key if provider.knobs.sign_with_other_key else provider.key

        def get_client_algorithm(self, client: Client) -> str:
            return "RS256"

        def get_encode_header(self, client: Client) -> dict[str, Any]:
            return {"alg": "RS256", "kid": provider.kid}

        def get_client_claims(self, client: Client) -> dict[str, Any]:
            return provider.id_token_claims(client)

        def get_authorization_code_claims(self, authorization_code: Any) -> dict[str, Any]:
            claims = super().get_authorization_code_claims(authorization_code)
            if provider.knobs.nonce is not None:
                claims["nonce"] = provider.knobs.nonce
            return claims

    return OpenID(require_nonce=True)


class _Validator(BearerTokenValidator):
    def __init__(self, provider: OidcProvider) -> None:
        super().__init__()
        self.provider = provider

    def authenticate_token(self, token_string: str) -> AccessToken | None:
        return self.provider.access_tokens.get(token_string)


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, *args: Any, **kwargs: Any) -> None:
        """The tests read `provider.requests`; no access log."""


# -- the provider --------------------------------------------------------------------------------
class OidcProvider:
    """An OpenID Connect provider on a free loopback port, for one test session."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self.kid = "test-key-1"
        self.key = RSAKey.generate_key(2048, parameters={"kid": self.kid, "use": "sig"})
        # same kid, other key material: what an attacker signing its own token would send
        self.other_key = RSAKey.generate_key(2048, parameters={"kid": self.kid, "use": "sig"})
        self.clients: dict[str, Client] = {}
        self.codes: dict[str, AuthorizationCode] = {}
        self.access_tokens: dict[str, AccessToken] = {}
        self.person = Person()
        self.knobs = Knobs()
        self.replayed_codes = 0
        #: every request the provider answered: (method, path, params)
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        #: exceptions raised inside the provider (a test fails on any)
        self.errors: list[BaseException] = []
        self.app = self._make_app()
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self.url = ""

    # -- life ----------------------------------------------------------------------------------
    def start(self) -> OidcProvider:
        self._server = make_server(
            self.host, 0, self.app, threaded=True, request_handler=_QuietHandler
        )
        self.url = f"http://{self.host}:{self._server.server_port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="oidc-provider", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(10)

    def reset(self) -> None:
        """An honest provider again, with Ada as the next user (clients and codes stay)."""
        self.person = Person()
        self.knobs = Knobs()
        self.requests.clear()
        self.errors.clear()
        self.replayed_codes = 0

    # -- what tests call -----------------------------------------------------------------------
    @property
    def issuer(self) -> str:
        return self.url

    @property
    def metadata_url(self) -> str:
        return self.url + "/.well-known/openid-configuration"

    def register_client(
        self, client_id: str, client_secret: str, redirect_uris: tuple[str, ...] = ()
    ) -> Client:
        client = Client(client_id, client_secret, tuple(redirect_uris))
        self.clients[client_id] = client
        return client

    def login_as(
        self,
        email: str | None,
        *,
        name: str | None = "Test User",
        email_verified: bool | None = True,
        sub: str | None = None,
    ) -> Person:
        """The user the next `/authorize` signs in (and consents for) at once."""
        self.person = Person(email=email, name=name, email_verified=email_verified, sub=sub)
        return self.person

    def calls(self, path: str) -> list[dict[str, str]]:
        """The parameters of every request to `path` since the last reset."""
        return [params for _method, p, params in self.requests if p == path]

    def id_token_claims(self, client: Client) -> dict[str, Any]:
        knobs = self.knobs
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": knobs.issuer if knobs.issuer is not None else self.issuer,
            "aud": knobs.audience if knobs.audience is not None else [client.client_id],
            "iat": now,
            "exp": now + 600,
        }
        if knobs.expired_id_token:
            claims.update(iat=now - 7200, exp=now - 3600, auth_time=now - 7200)
        return claims

    # -- the Flask app -------------------------------------------------------------------------
    def _make_app(self) -> Flask:
        app = Flask("oidc_provider")
        app.config["OAUTH2_SCOPES_SUPPORTED"] = list(SCOPES)
        server = AuthorizationServer(app, query_client=self.clients.get, save_token=self._save)
        server.register_token_generator(
            "default",
            BearerTokenGenerator(
                access_token_generator=lambda *a, **k: secrets.token_urlsafe(32),
                refresh_token_generator=None,
                expires_generator=lambda client, grant_type: self.knobs.access_token_expires_in,
            ),
        )
        server.register_grant(_code_grant(self), [S256Required(required=True), _openid(self)])
        protect = ResourceProtector()
        protect.register_token_validator(_Validator(self))
        provider = self

        @app.before_request
        def record() -> None:
            params = {**request.args.to_dict(), **request.form.to_dict()}
            provider.requests.append((request.method, request.path, params))

        @app.errorhandler(Exception)
        def broken(error: Exception) -> Any:
            from werkzeug.exceptions import HTTPException

            if isinstance(error, HTTPException):
                return error
            provider.errors.append(error)
            return jsonify(error="provider_crashed", detail=repr(error)), 500

        @app.get("/.well-known/openid-configuration")
        def discovery() -> Any:
            base = provider.url
            return jsonify(
                issuer=provider.issuer,
                authorization_endpoint=base + "/authorize",
                token_endpoint=base + "/token",
                userinfo_endpoint=base + "/userinfo",
                jwks_uri=base + "/jwks",
                response_types_supported=["code"],
                grant_types_supported=["authorization_code"],
                subject_types_supported=["public"],
                id_token_signing_alg_values_supported=["RS256"],
                scopes_supported=list(SCOPES),
                token_endpoint_auth_methods_supported=[
                    "client_secret_basic",
                    "client_secret_post",
                ],
                code_challenge_methods_supported=["S256"],
                claims_supported=list(CLAIMS),
            )

        @app.get("/jwks")
        def jwks() -> Any:
            return jsonify(KeySet([provider.key]).as_dict(private=False))

        @app.get("/authorize")
        def authorize() -> Any:
            person = provider.person
            try:
                grant = server.get_consent_grant(end_user=person)
            except OAuth2Error as error:
                return server.handle_error_response(None, error)
            return server.create_authorization_response(grant=grant, grant_user=person)

        @app.post("/token")
        def token() -> Any:
            return server.create_token_response()

        @app.route("/userinfo", methods=["GET", "POST"])
        def userinfo() -> Any:
            with protect.acquire(["openid"]) as found:  # 401 for a missing/expired token
                return jsonify(found.person.claims())

        return app

    def _save(self, token: dict[str, Any], req: Any) -> None:
        self.access_tokens[token["access_token"]] = AccessToken(
            access_token=token["access_token"],
            client_id=req.client.client_id,
            scope=token.get("scope", ""),
            person=req.user,
            issued_at=int(time.time()),
            expires_in=int(token.get("expires_in", 3600)),
        )


def running_provider() -> Iterator[OidcProvider]:
    """A started provider, stopped afterwards (for a session fixture)."""
    provider = OidcProvider().start()
    try:
        yield provider
    finally:
        provider.stop()
