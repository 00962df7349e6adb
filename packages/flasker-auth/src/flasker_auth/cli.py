"""`flasker auth user …` and `flasker auth token …`, for operators.

Added to the `flasker` command through the `flasker.commands` entry point. Each command loads
the project (whose modules register the `AuthManager`) and works in its database::

    flasker auth user add ops@example.com --role admin
    flasker auth token create --email ops@example.com --scopes api:read,api:write --expires 30d
    flasker auth token create --email ops@example.com --scopes metrics:read --name prometheus
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from flasker.cli import CONTEXT_SETTINGS, ScriptInfo, pass_info

from .exceptions import AuthError
from .policy import ADMIN, ADMIN_SCOPES, ROLES, SCOPES, VIEWER, WRITE_SCOPE, normalize_email

if TYPE_CHECKING:
    from .manager import AuthManager
    from .models import UserRecord


def _auth(info: ScriptInfo) -> AuthManager:
    project = info.load_project(start=False)
    if not project.is_started:
        if not project.config.modules and project.config.section("AUTH"):
            # a cfg with no code of its own (the standalone console's `--auth` cfg): its
            # [AUTH] section is the whole sign-in setup, so it gets the manager it describes
            from .manager import AuthManager

            project.register_manager(AuthManager())
        project.start()
    # The manager registers itself on the app; looking it up there (not by isinstance) also
    # holds when this command module outlives a re-import of flasker_auth (test suites).
    manager = project.app.extensions.get("flasker_auth")
    if manager is not None:
        return manager  # type: ignore[no-any-return]
    raise AuthError(
        f"{project.config.path}: no AuthManager is registered; add "
        "'current_project.register_manager(AuthManager(...))' to a module in [PROJECT] MODULES"
    )


def _user(auth: AuthManager, email: str) -> UserRecord:
    user = auth.find_user(email)
    if user is None:
        raise AuthError(f"no user {email}: add one with 'flasker auth user add {email}'")
    return user


def _email(text: str) -> str:
    address = normalize_email(text)
    if address is None:
        raise click.BadParameter(f"{text!r} is not an email address")
    return address


def _table(headers: list[str], rows: list[list[Any]]) -> None:
    widths = [max([len(h), *(len(str(r[i])) for r in rows)]) for i, h in enumerate(headers)]
    click.echo("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip())
    click.echo("  ".join("-" * w for w in widths))
    for row in rows:
        click.echo("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())


@click.group("auth", context_settings=CONTEXT_SETTINGS, short_help="Users and API tokens.")
def auth_group() -> None:
    """Manage who may sign in (users, roles) and API tokens."""


# -- users ------------------------------------------------------------------------------------
@auth_group.group("user", context_settings=CONTEXT_SETTINGS, short_help="Users and roles.")
def user_group() -> None:
    """List, add and remove users, and set their role (admin or viewer)."""


@user_group.command("list", short_help="List users.")
@pass_info
def user_list_command(info: ScriptInfo) -> None:
    """List every stored user with role, creation and last sign-in."""
    from sqlalchemy import select

    from .tokens import _when

    auth = _auth(info)
    with auth.project.app.app_context():  # type: ignore[union-attr]
        model = auth.models.User
        users = auth.db_session().scalars(select(model).order_by(model.email)).all()
        _table(
            ["email", "role", "name", "added by", "created", "last sign-in"],
            [
                [
                    u.email,
                    u.role,
                    u.name or "",
                    "operator" if u.invited else "sign-in",
                    _when(u.created),
                    _when(u.last_sign_in) or "never",
                ]
                for u in users
            ],
        )


@user_group.command("add", short_help="Add (invite) a user.")
@click.argument("email")
@click.option(
    "--role", type=click.Choice(ROLES), default=VIEWER, show_default=True, help="The user's role."
)
@click.option("--name", help="Display name (the provider's name replaces it at sign-in).")
@pass_info
def user_add_command(info: ScriptInfo, email: str, role: str, name: str | None) -> None:
    """Add EMAIL: the user may sign in even when not on the cfg allow-list."""
    from .models import utcnow

    address = _email(email)
    auth = _auth(info)
    with auth.project.app.app_context():  # type: ignore[union-attr]
        session = auth.db_session()
        user = auth.find_user(address)
        if user is None:
            user = auth.models.User(
                email=address, role=role, name=name, invited=True, created=utcnow()
            )
            session.add(user)
            verb = "added"
        else:
            if user.role != role:
                user.role = role
                user.end_sessions()
            user.invited = True
            if name:
                user.name = name
            verb = "updated"
        session.commit()
    click.echo(f"{verb} {address} ({role})")


@user_group.command("remove", short_help="Remove a user and their tokens.")
@click.argument("email")
@pass_info
def user_remove_command(info: ScriptInfo, email: str) -> None:
    """Remove EMAIL and revoke access at once: their sessions and API tokens stop working.

    A user still on the cfg allow-list can sign in again; remove them from it too."""
    from sqlalchemy import select

    auth = _auth(info)
    with auth.project.app.app_context():  # type: ignore[union-attr]
        session = auth.db_session()
        user = _user(auth, _email(email))
        tokens = auth.models.ApiToken
        for token in session.scalars(select(tokens).where(tokens.user_id == user.id)):
            session.delete(token)
        address = user.email
        session.delete(user)
        session.commit()
        still = auth.policy.allows(address)
    click.echo(f"removed {address}")
    if still:
        click.echo(
            f"note: {address} is still allowed by [AUTH] in the cfg and may sign in again",
            err=True,
        )


@user_group.command("role", short_help="Set a user's role.")
@click.argument("email")
@click.argument("role", type=click.Choice(ROLES))
@pass_info
def user_role_command(info: ScriptInfo, email: str, role: str) -> None:
    """Set the ROLE (admin or viewer) of EMAIL; their current sessions end (they sign in again
    with the new role)."""
    auth = _auth(info)
    with auth.project.app.app_context():  # type: ignore[union-attr]
        user = _user(auth, _email(email))
        if user.role != role:
            user.role = role
            user.end_sessions()
        auth.db_session().commit()
        click.echo(f"{user.email} is now {role}")


# -- tokens -----------------------------------------------------------------------------------
@auth_group.group("token", context_settings=CONTEXT_SETTINGS, short_help="API tokens.")
def token_group() -> None:
    """Create, list and revoke API tokens (sent as 'Authorization: Bearer <token>')."""


@token_group.command("create", short_help="Create a token (printed once).")
@click.option("--email", required=True, help="The user the token acts as.")
@click.option(
    "--scopes",
    default="api:read",
    show_default=True,
    help=f"Comma list of {', '.join(SCOPES)} (api read: GET/HEAD/OPTIONS, api write: the "
    "others; metrics:read: the console's Prometheus /metrics, nothing else).",
)
@click.option("--expires", help="Lifetime, e.g. 30d, 12h or never (default: TOKEN_DEFAULT_EXPIRY).")
@click.option("--name", help="What the token is for (shown by 'list').")
@pass_info
def token_create_command(
    info: ScriptInfo, email: str, scopes: str, expires: str | None, name: str | None
) -> None:
    """Create an API token for an existing user and print it once: only its hash is kept.

    A token never does more than its user's role allows: api:write and metrics:read are refused
    for a viewer.
    For admin@localhost (the development admin) the user is created if needed; its tokens work
    while 'flasker server' runs with the development sign-in link enabled (DEV_LOGIN)."""
    from ._duration import parse_duration
    from .tokens import create_token, describe, parse_scopes

    try:
        scope_list = parse_scopes(scopes)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--scopes") from None
    auth = _auth(info)
    if expires is None:
        lifetime = auth.token_default_expiry
    else:
        try:
            lifetime = parse_duration(expires)
        except ValueError as error:
            raise click.BadParameter(str(error), param_hint="--expires") from None
    with auth.project.app.app_context():  # type: ignore[union-attr]
        address = _email(email)
        user = auth.find_user(address) or _dev_admin(auth, address) or _user(auth, address)
        if WRITE_SCOPE in scope_list and user.role != ADMIN:
            raise AuthError(
                f"{user.email} is a {user.role}, and viewers may only read through the API: "
                f"an {WRITE_SCOPE} token would be refused. Create an api:read token, or make "
                f"them an admin first: flasker auth user role {user.email} admin"
            )
        admin_only = [s for s in scope_list if s in ADMIN_SCOPES]
        if admin_only and user.role != ADMIN:
            raise AuthError(
                f"{user.email} is a {user.role}, and only an admin's token may carry "
                f"{', '.join(admin_only)}: it would be refused. Make them an admin first "
                f"(flasker auth user role {user.email} admin), or create it for an admin"
            )
        token, record = create_token(
            auth.db_session(), auth.models, user, scope_list, lifetime, name
        )
        auth.db_session().commit()
        row = describe(record, user.email)
    click.echo(token)
    click.echo(
        f"token {row['id']} ({row['prefix']}…) for {user.email}, scopes {row['scopes']}, "
        f"expires {row['expires']}. It is shown only now: store it safely.",
        err=True,
    )
    if user_email_is_dev(row["email"]):
        click.echo(
            f"note: {row['email']} is the development admin: this token works while "
            "'flasker server' runs on this machine with the one-time sign-in link enabled "
            "(DEV_LOGIN), never with --prod",
            err=True,
        )


def user_email_is_dev(email: str) -> bool:
    from .devlink import DEV_EMAIL

    return email == DEV_EMAIL


def _dev_admin(auth: AuthManager, address: str) -> UserRecord | None:
    """The development admin, created on first use unless DEV_LOGIN is false."""
    from .devlink import DEV_EMAIL, DEV_NAME
    from .models import utcnow

    if address != DEV_EMAIL or auth.dev_login == "false":
        return None
    user = auth.models.User(email=DEV_EMAIL, name=DEV_NAME, role=ADMIN, created=utcnow())
    session = auth.db_session()
    session.add(user)
    session.flush()
    return user  # type: ignore[no-any-return]


@token_group.command("list", short_help="List tokens.")
@click.option("--email", help="Only this user's tokens.")
@pass_info
def token_list_command(info: ScriptInfo, email: str | None) -> None:
    """List tokens (never their value): id, prefix, user, scopes, expiry, last use, status."""
    from sqlalchemy import select

    from .tokens import describe

    auth = _auth(info)
    with auth.project.app.app_context():  # type: ignore[union-attr]
        models = auth.models
        query = (
            select(models.ApiToken, models.User.email)
            .join(models.User, models.User.id == models.ApiToken.user_id)
            .order_by(models.ApiToken.id)
        )
        if email:
            query = query.where(models.User.email == _email(email))
        rows = [
            describe(token, user_email) for token, user_email in auth.db_session().execute(query)
        ]
    keys = ["id", "prefix", "email", "scopes", "created", "expires", "last_used", "status", "name"]
    _table(keys, [[row[k] for k in keys] for row in rows])


@token_group.command("revoke", short_help="Revoke a token.")
@click.argument("token_id")
@pass_info
def token_revoke_command(info: ScriptInfo, token_id: str) -> None:
    """Revoke the token with this id (or prefix, as 'list' shows it); it stops working at once."""
    from sqlalchemy import select

    from .models import utcnow
    from .tokens import TOKEN_PREFIX

    auth = _auth(info)
    with auth.project.app.app_context():  # type: ignore[union-attr]
        models = auth.models
        session = auth.db_session()
        if token_id.isdigit():
            candidates = [session.get(models.ApiToken, int(token_id))]
        else:
            prefix = token_id.removeprefix(TOKEN_PREFIX).rstrip("…")
            candidates = list(
                session.scalars(select(models.ApiToken).where(models.ApiToken.prefix == prefix))
            )
        found = [t for t in candidates if t is not None]
        if len(found) != 1:
            raise AuthError(
                f"no token {token_id}"
                if not found
                else f"{token_id} matches several tokens: use the id"
            )
        token = found[0]
        revoked_id = token.id
        if token.revoked is None:
            token.revoked = utcnow()
            session.commit()
    click.echo(f"revoked token {revoked_id}")
