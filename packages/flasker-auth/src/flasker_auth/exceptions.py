"""Every error flasker-auth raises on purpose.

`AuthError` derives from core's `FlaskerError`, so the CLI prints these without a traceback.
Web-facing errors carry their HTTP status, as click keeps `exit_code`.
"""

from __future__ import annotations

from flasker.exceptions import FlaskerError


class AuthError(FlaskerError):
    """Base class for every error flasker-auth raises on purpose."""

    #: HTTP status when the error answers a request.
    status = 400


class AuthSetupError(AuthError):
    """The auth manager is configured in a way that cannot work (missing client id, ...)."""


class SignInError(AuthError):
    """A sign-in attempt failed: the provider said no, or its answer did not verify.

    `detail` is safe to show to the person signing in; the exception's cause is logged only.
    """

    def __init__(self, detail: str, status: int = 400) -> None:
        super().__init__(detail)
        self.detail = detail
        self.status = status
