"""Alembic environment of a Flasker project (written by 'flasker db init').

Migrations use the project's own engine and Model metadata: DB_URL in the cfg file is the only
place the database is named.
"""

from alembic import context

from flasker import current_project
from flasker.model import Model

project = context.config.attributes.get("project") or current_project
target_metadata = Model.metadata


def run_migrations_offline() -> None:
    context.configure(
        url=project.db.url,
        target_metadata=target_metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
        render_as_batch=project.db.url.startswith("sqlite"),
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    with project.db.engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
