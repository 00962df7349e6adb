"""Signing in through an OpenID Connect provider, with authlib's Flask client.

`start` sends the browser to the provider: authorization code flow with PKCE (S256), a random
`state` and `nonce` kept in the session by authlib. `finish` handles the callback: authlib checks
the state, exchanges the code (with the PKCE verifier) and verifies the ID token's signature
against the provider's JWKS and its claims; we pass the claims options ourselves because
authlib, left alone, checks neither `aud` nor an `iss` the discovery document forgot. No claim
is read before that verification; every failure becomes a `SignInError` with a message fit for
the person signing in (the cause is logged), never a 500.
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING, Any

from .exceptions import AuthSetupError, SignInError

if TYPE_CHECKING:
    from flask import Flask, Response

logger = logging.getLogger(__name__)

#: Seconds of clock difference tolerated on exp/iat/nbf. authlib's default (120 s) would
#: accept an ID token two minutes after it expired.
CLOCK_LEEWAY = 10


class OIDCClient:
    """One registered provider on one Flask app."""

    def __init__(
        self,
        app: Flask,
        name: str,
        server_metadata_url: str,
        client_id: str,
        client_secret: str | None,
        scopes: list[str],
    ) -> None:
        from authlib.integrations.flask_client import OAuth

        if "openid" not in scopes:
            scopes = ["openid", *scopes]
        self.name = name
        self.client_id = client_id
        self.server_metadata_url = server_metadata_url
        oauth = app.extensions.get("authlib.integrations.flask_client") or OAuth(app)
        client_kwargs: dict[str, Any] = {
            "scope": " ".join(scopes),
            "code_challenge_method": "S256",
            "timeout": 10,
        }
        if not client_secret:
            client_kwargs["token_endpoint_auth_method"] = "none"
        self.client = oauth.register(
            name,
            client_id=client_id,
            client_secret=client_secret or None,
            server_metadata_url=server_metadata_url,
            client_kwargs=client_kwargs,
            overwrite=True,
        )

    # -- the redirect to the provider -----------------------------------------------------------
    def start(self, redirect_uri: str) -> Response:
        """A redirect to the provider's authorization endpoint (state, nonce, PKCE)."""
        try:
            return self.client.authorize_redirect(redirect_uri)  # type: ignore[no-any-return]
        except Exception as error:
            logger.warning("sign-in: the provider %s cannot be reached", self.name, exc_info=True)
            raise SignInError(
                f"the sign-in provider ({self.name}) does not answer; try again in a moment",
                status=502,
            ) from error

    # -- the callback -----------------------------------------------------------------------------
    def finish(self) -> dict[str, Any]:
        """The verified ID token claims (plus userinfo's email when the token had none)."""
        from authlib.common.errors import AuthlibBaseError
        from authlib.integrations.base_client.errors import MismatchingStateError, OAuthError
        from flask import request
        from joserfc.errors import ExpiredTokenError, JoseError
        from requests import RequestException

        error = request.args.get("error")
        if error:
            code = error if re.fullmatch(r"[a-z_]{1,40}", error) else "unknown_error"
            status = 403 if code == "access_denied" else 400
            raise SignInError(f"the sign-in provider refused the sign-in ({code})", status)
        try:
            metadata = self.client.load_server_metadata()
            issuer = metadata.get("issuer")
            if not issuer:
                raise AuthSetupError(
                    f"the discovery document at {self.server_metadata_url} has no issuer"
                )
            token = self.client.authorize_access_token(
                claims_options={
                    "iss": {"essential": True, "values": [issuer]},
                    "aud": {"essential": True, "values": [self.client_id]},
                    "sub": {"essential": True},
                    "exp": {"essential": True},
                    "iat": {"essential": True},
                },
                leeway=CLOCK_LEEWAY,
            )
        except MismatchingStateError as cause:
            raise self._failed(
                "the sign-in request does not match this browser session (its state is "
                "unknown, used or from another browser); start again",
                400,
                cause,
            ) from cause
        except ExpiredTokenError as cause:
            raise self._failed(
                "the provider's ID token has expired; sign in again", 403, cause
            ) from cause
        except JoseError as cause:
            raise self._failed(
                "the provider's ID token did not verify (signature, issuer, audience or "
                "nonce); sign in again",
                403,
                cause,
            ) from cause
        except RequestException as cause:
            raise self._failed(
                f"the sign-in provider ({self.name}) does not answer; try again in a moment",
                502,
                cause,
            ) from cause
        except (OAuthError, AuthlibBaseError) as cause:
            raise self._failed(
                "the provider did not accept the sign-in code (it may have been used already "
                "or expired); start again",
                400,
                cause,
            ) from cause
        except AuthSetupError as cause:
            raise self._failed(str(cause), 502, cause) from cause
        except Exception as cause:  # anything else the provider's answer can provoke
            raise self._failed(
                "the sign-in could not be completed; start again", 400, cause
            ) from cause
        claims = token.get("userinfo")
        if not claims:
            raise SignInError("the provider returned no ID token; sign-in refused", 403)
        claims = dict(claims)
        if "email" not in claims:
            claims.update(self._userinfo_email(token, claims["sub"]))
        return claims

    def _userinfo_email(self, token: dict[str, Any], subject: str) -> dict[str, Any]:
        """Email claims from the userinfo endpoint, for providers that keep them out of the
        ID token; only accepted for the same subject as the verified ID token."""
        try:
            info = dict(self.client.userinfo(token=token))
        except Exception as cause:
            raise self._failed("the provider did not give an email address", 403, cause) from cause
        if info.get("sub") != subject:
            raise SignInError("the provider's userinfo is for another user; refused", 403)
        return {k: info[k] for k in ("email", "email_verified", "name") if k in info}

    def _failed(self, detail: str, status: int, cause: BaseException) -> SignInError:
        logger.warning("sign-in through %s failed: %s (%r)", self.name, detail, cause)
        return SignInError(detail, status)


def is_verified(claims: dict[str, Any]) -> bool:
    """`email_verified` is true (some providers send the string "true")."""
    value = claims.get("email_verified")
    return value is True or (isinstance(value, str) and value.lower() == "true")
