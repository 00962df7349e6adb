"""The Host names the standalone console answers to (standalone.py, the single-project
`flasker console` in cli.py, and the hub behind sign-in in standalone_auth.py).

The console without sign-in trusts that only this machine reaches it; a web page on a
rebinding domain (evil.example resolving to 127.0.0.1) would otherwise reach it from the
operator's browser with its own origin, read the CSRF token and change anything. So a request
is answered only when its Host is a loopback name (`flasker._net.is_loopback_host`: 127.0.0.0/8,
[::1], localhost) or one of the site's configured names, matched as Flask matches
`TRUSTED_HOSTS` (werkzeug's `host_is_trusted`). Flask's `TRUSTED_HOSTS` alone cannot say
"any loopback address": werkzeug matches names only, and never a bracketed IPv6 address.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from werkzeug.exceptions import BadRequest
from werkzeug.sansio.utils import host_is_trusted

from flasker._net import is_loopback_host

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

#: How the refusal names the loopback names (any other loopback address is answered too).
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")


def is_answered(host: str, trusted: Sequence[str] = ()) -> bool:
    """Does the console answer a request with this Host header (`name[:port]`)?"""
    return is_loopback_host(host) or bool(trusted and host_is_trusted(host, trusted))


def guard_hosts(app: WSGIApplication, trusted: Sequence[str] = ()) -> WSGIApplication:
    """Wrap a WSGI app so it answers only loopback names and the `trusted` names (400 else)."""
    allowed = ", ".join([*LOOPBACK_NAMES, *trusted])

    def guarded(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        host = environ.get("HTTP_HOST") or environ.get("SERVER_NAME", "")
        if not is_answered(host, trusted):
            refused = BadRequest(
                f"this console answers only to {allowed} (or another loopback address), "
                f"not {host!r}"
            )
            return refused(environ, start_response)
        return app(environ, start_response)

    return guarded
