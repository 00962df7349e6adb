"""Core's cfg sections: what [PROJECT], [APP], [CELERY], [ENGINE], [CACHE] and [LOGGING] may
contain, with the names flasker 0.1 wrote that are read as ours or refused with what to write
instead. Their validators are in `flasker.section_validators`.
"""

from __future__ import annotations

from .section_schema import Key, SectionSchema

#: Extension sections and the distribution that declares each, to explain an unknown section.
EXTENSION_SECTIONS = {"API": "flasker-api", "AUTH": "flasker-auth", "CONSOLE": "flasker-console"}

PROJECT = SectionSchema.of(
    "PROJECT",
    [
        Key("NAME", doc="Human name of the project; defaults to the cfg folder's name."),
        Key(
            "MODULES",
            "list",
            (),
            "Modules imported in order at start-up (comma list), with the cfg folder on sys.path.",
        ),
        Key(
            "DB_URL",
            doc="SQLAlchemy database URL; defaults to SQLite in the project folder (db.sqlite).",
        ),
        Key(
            "APP_FOLDER",
            doc="Folder of the Flask app (where TEMPLATE_FOLDER and STATIC_FOLDER are), relative "
            "to the cfg file. Default: the cfg file's folder; but when that folder has neither "
            "of them and app/ beside it has one, app/ (flasker 0.1's default layout).",
        ),
        Key(
            "STATIC_FOLDER",
            doc="Static files folder, relative to APP_FOLDER (flasker 0.1: APP_STATIC_FOLDER).",
            default="static",
        ),
        Key("STATIC_URL", doc="URL path the static folder is served at.", default="/static"),
        Key(
            "TEMPLATE_FOLDER",
            doc="Templates folder, relative to APP_FOLDER (flasker 0.1: APP_TEMPLATE_FOLDER).",
            default="templates",
        ),
        Key(
            "AUTOCOMMIT",
            "bool",
            True,
            "Commit db.session after each successful request and task, roll back on error "
            "(flasker 0.1's SMARTCOMMIT).",
        ),
        Key(
            "CREATE_TABLES",
            "bool",
            True,
            "Create missing tables at start-up while the project has no migrations folder.",
        ),
    ],
    "The project itself: its name, its modules and its database.",
)

#: flasker 0.1's names of [PROJECT] keys, read as ours (same meaning, relative to APP_FOLDER).
PROJECT_ALIASES = {"APP_STATIC_FOLDER": "STATIC_FOLDER", "APP_TEMPLATE_FOLDER": "TEMPLATE_FOLDER"}

#: Keys and sections of later flasker 0.1.x versions that have no counterpart to alias: what to
#: write instead. (Renaming [FLASK] to [APP] silently would make the console's editor write a
#: second, [APP], section beside it.)
LEGACY_PROJECT_KEYS = {
    "DISABLE_FLASK": "flasker 0.1's DISABLE_FLASK is not needed: the Flask app is built only "
    "when something uses it; remove this key",
    "DISABLE_CELERY": "flasker 0.1's DISABLE_CELERY is not needed: the Celery app is built only "
    "when something uses it (flasker server --no-worker starts no worker); remove this key",
}
LEGACY_SECTIONS = {
    "FLASK": "flasker 0.1's [FLASK] section is called [APP] here: rename the section header",
    "SESSION": "flasker 0.1's [SESSION] SMARTCOMMIT is [PROJECT] AUTOCOMMIT here (on by default)"
    ": move or remove this section",
}


APP = SectionSchema(
    "APP",
    doc="Any Flask configuration option (see Flask's documentation); apps may add their own keys.",
    open=True,
)

ENGINE = SectionSchema.of(
    "ENGINE",
    # create_engine's common arguments, typed so that `pool_size = many` is reported at its line
    # rather than as an arithmetic error from the pool; other (dialect) arguments stay open.
    [
        Key("echo", "bool", doc="Log every SQL statement."),
        Key("echo_pool", "bool", doc="Log connection pool check-ins and check-outs."),
        Key("pool_size", "int", doc="Connections kept open in the pool."),
        Key("max_overflow", "int", doc="Connections allowed beyond pool_size."),
        Key("pool_timeout", "float", doc="Seconds to wait for a free connection."),
        Key("pool_recycle", "int", doc="Seconds after which a connection is replaced (-1: never)."),
        Key("pool_pre_ping", "bool", doc="Test each connection before use."),
        Key("pool_use_lifo", "bool", doc="Reuse the most recent connection first."),
        Key("isolation_level", "str", doc="e.g. READ COMMITTED, SERIALIZABLE, AUTOCOMMIT."),
        Key("connect_args", "json", doc="JSON object passed to the DBAPI's connect()."),
        Key("execution_options", "json", doc="JSON object of default execution options."),
    ],
    doc=(
        "Extra keyword arguments for SQLAlchemy's create_engine (e.g. pool_size = 10, echo = true)."
    ),
    open=True,
)

CACHE = SectionSchema.of(
    "CACHE",
    [
        Key(
            "TYPE",
            default="SimpleCache",
            doc="Flask-Caching backend: NullCache, SimpleCache (in-process), RedisCache, "
            "FileSystemCache, or an import path.",
        ),
        Key("DEFAULT_TIMEOUT", "int", 300, "Seconds an entry lives unless told otherwise."),
        Key("KEY_PREFIX", doc="Prefix of every key (shared Redis servers)."),
        Key("THRESHOLD", "int", doc="Most entries kept by SimpleCache/FileSystemCache."),
        Key("REDIS_URL", doc="Redis URL for RedisCache, e.g. redis://127.0.0.1:6379/1."),
        Key("DIR", doc="Folder for FileSystemCache, relative to the cfg file."),
        Key("IGNORE_ERRORS", "bool", doc="Ignore errors of delete_many on backends that fail."),
        Key("OPTIONS", "dict", doc="Extra keyword arguments for the backend (JSON object)."),
    ],
    "Caching through Flask-Caching, available as project.cache.",
)

LOGGING = SectionSchema.of(
    "LOGGING",
    [
        Key(
            "LEVEL",
            default="INFO",
            choices=("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"),
            doc="Level of the root logger.",
        ),
        Key(
            "FORMAT",
            default="plain",
            choices=("plain", "json"),
            doc="plain text lines, or one JSON object per line for log collectors.",
        ),
        Key("FILE", doc="Write logs to this file (relative to the cfg file) instead of stderr."),
        Key("LEVELS", "dict", doc='Per-logger levels, e.g. {"sqlalchemy.engine": "INFO"}.'),
    ],
    "Logging of the app, the workers and the CLI.",
)


#: Flask keys whose default is None, so their type cannot be read off `Flask.default_config`.
FLASK_KEY_TYPES = {
    "DEBUG": "bool",
    "PROPAGATE_EXCEPTIONS": "bool",
    "TRAP_BAD_REQUEST_ERRORS": "bool",
    "TEMPLATES_AUTO_RELOAD": "bool",
    "MAX_CONTENT_LENGTH": "int",
    "SEND_FILE_MAX_AGE_DEFAULT": "int",
    "SECRET_KEY": "str",
    "SERVER_NAME": "str",
    "SESSION_COOKIE_DOMAIN": "str",
    "SESSION_COOKIE_PATH": "str",
    "SESSION_COOKIE_SAMESITE": "str",
    "SECRET_KEY_FALLBACKS": "list",
    "TRUSTED_HOSTS": "list",
}

CELERY = SectionSchema(
    "CELERY",
    doc="Any Celery setting, in Celery 5 lower-case names or the old upper-case ones.",
)
