"""The `[AUTH]` cfg section: what it may contain, typed and documented.

Declared through the `flasker.config_sections` entry point, so core validates it like its own
sections (unknown keys and bad values fail at load time, with file and line) and the console
documents each key. Keyword arguments of `AuthManager` win over the section.
"""

from __future__ import annotations

from flasker.schema import Key, SectionSchema

#: `DEV_LOGIN` values: auto (loopback + --debug), true (loopback), false (never).
DEV_LOGIN_MODES = ("auto", "true", "false")

#: Google's discovery document (the `GoogleAuthManager` preset).
GOOGLE_METADATA_URL = "https://accounts.google.com/.well-known/openid-configuration"

AUTH_SECTION = SectionSchema.of(
    "AUTH",
    [
        Key(
            "PROVIDER",
            doc="Name of the OpenID Connect provider (google presets SERVER_METADATA_URL).",
        ),
        Key(
            "SERVER_METADATA_URL",
            doc="The provider's discovery document (.../.well-known/openid-configuration).",
        ),
        Key("CLIENT_ID", doc="OAuth client id registered with the provider."),
        Key("CLIENT_SECRET", doc="OAuth client secret; write ${ENV_VAR}, never the secret."),
        Key("SCOPES", "list", ("openid", "email", "profile"), "Scopes asked for at sign-in."),
        Key("AUTHORIZED_EMAILS", "list", (), "Emails that may sign in (case-insensitive)."),
        Key(
            "AUTHORIZED_DOMAINS",
            "list",
            (),
            "Email domains whose verified addresses may sign in (exact match, no subdomains).",
        ),
        Key("ADMINS", "list", (), "Emails that get the admin role (and may sign in)."),
        Key(
            "PUBLIC_ENDPOINTS",
            "list",
            (),
            "Endpoints an anonymous visitor may open (everything else needs a sign-in).",
        ),
        Key(
            "TOKEN_DEFAULT_EXPIRY",
            default="90d",
            doc="Lifetime of API tokens made without --expires (e.g. 30d, 12h, never).",
        ),
        Key(
            "DEV_LOGIN",
            "str",
            "auto",
            "One-time admin sign-in link printed by 'flasker server' for local development: "
            "auto (with --debug), true (with or without --debug), false (never). Never with "
            "--prod, never when listening off loopback.",
            choices=DEV_LOGIN_MODES,
        ),
        Key(
            "EXTERNAL_URL",
            doc="The site's public address (e.g. https://houses.example.com): the provider's "
            "callback URL is built on it, never on the request's Host header. Needed with "
            "--prod unless [APP] SERVER_NAME or TRUSTED_HOSTS is set.",
        ),
        Key("URL_PREFIX", default="/auth", doc="Where the sign-in routes are mounted."),
    ],
    "Sign-in through OpenID Connect (Google or any provider), allow-lists, roles and API "
    "tokens (flasker-auth).",
)

#: Keyword argument of AuthManager for each key (the same name, lower case).
OPTION_NAMES = {key.lower(): key for key in AUTH_SECTION.keys}
