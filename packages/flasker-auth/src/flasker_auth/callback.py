"""The provider's callback URL, and when it may be built from the request.

A sign-in sends the provider the URL to come back to; built from a Host header a client
chose, it could send the authorization code elsewhere. So it is EXTERNAL_URL when set, else
the request's own address only when the app vouches for its Host (TRUSTED_HOSTS, SERVER_NAME,
or a loopback name in development); `--prod` with a provider needs one of those.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from flask import current_app, request, url_for

from flasker._net import is_loopback_host

from .exceptions import AuthSetupError, SignInError

if TYPE_CHECKING:
    from flasker.project import Project

logger = logging.getLogger(__name__)


def require_external_address(
    project: Project, has_provider: bool, external_url: str | None
) -> None:
    """`--prod` with a provider: the callback URL must not come from the Host header."""
    config = project.app.config
    if not has_provider or external_url or config.get("SERVER_NAME"):
        return
    if config.get("TRUSTED_HOSTS"):
        return
    raise AuthSetupError(
        "--prod: sign-in sends the provider a callback URL, which must not be built from "
        "the Host header a client sends: set the site's public address, e.g. "
        f"'EXTERNAL_URL = https://{project.config.name.lower() or 'www'}.example.com' in "
        f"[AUTH] of {project.config.path} (or SERVER_NAME or TRUSTED_HOSTS in [APP])"
    )


def callback_url(endpoint: str, external_url: str | None) -> str:
    """The provider's redirect URI (the `endpoint` route) for this request; SignInError when
    it cannot be trusted.

    EXTERNAL_URL when set; else the request's own address, but only when its Host is one
    the app vouches for: in TRUSTED_HOSTS (Flask refuses the others with 400), equal to
    SERVER_NAME, or, with neither configured, a loopback name (local development).
    """
    if external_url:
        path = url_for(endpoint)
        root = request.script_root
        if root and path.startswith(root + "/"):
            path = path[len(root) :]
        return external_url + path
    config = current_app.config
    trusted = config.get("TRUSTED_HOSTS")
    server_name = config.get("SERVER_NAME")
    if trusted:
        from werkzeug.sansio.utils import host_is_trusted

        if host_is_trusted(request.host, trusted):
            return url_for(endpoint, _external=True)
    elif server_name:
        if request.host.lower() == str(server_name).lower():
            return url_for(endpoint, _external=True)
    elif is_loopback_host(request.host):
        return url_for(endpoint, _external=True)
    logger.warning("sign-in refused: untrusted Host header %r", request.host[:100])
    raise SignInError(
        "this site does not answer sign-ins at this address; an administrator can set its "
        "public address in [AUTH] EXTERNAL_URL (or [APP] SERVER_NAME or TRUSTED_HOSTS)",
        400,
    )
