"""Sign-in for the example: every page and the API need a signed-in user from now on.

No sign-in provider is configured, so during development the way in is the one-time link
`flasker server` prints for a local admin (`[AUTH] DEV_LOGIN = true` in default.cfg prints it
without `--debug` too; never with `--prod`, never off loopback). default.cfg shows, commented
out, how to sign in with Google or another OpenID Connect provider instead.

API clients send a token: `flasker auth token create --email admin@localhost --scopes
api:read,api:write` prints one, used as `Authorization: Bearer fla_…`.
"""

from __future__ import annotations

from flasker import current_project
from flasker.ext.auth import AuthManager

auth = current_project.register_manager(AuthManager())
