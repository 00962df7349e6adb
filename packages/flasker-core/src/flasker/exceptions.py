"""Every error flasker raises on purpose.

One base class (`FlaskerError`) so callers can catch flasker's own errors apart from bugs, and
the CLI can print them without a traceback. Each message says what is wrong, where, and how to
fix it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from werkzeug.exceptions import HTTPException


class FlaskerError(Exception):
    """Base class for every error flasker raises on purpose."""

    #: Exit code the CLI uses when this error reaches it.
    exit_code = 1


class ConfigProblem(NamedTuple):
    """One thing wrong in a cfg file, with where it is."""

    path: str
    line: int | None
    section: str | None
    key: str | None
    problem: str

    def __str__(self) -> str:
        where = self.path if self.line is None else f"{self.path}:{self.line}"
        what = ""
        if self.section is not None:
            what = f"[{self.section}]" + (f" {self.key}" if self.key else "")
        return f"{where}: {what}: {self.problem}" if what else f"{where}: {self.problem}"


class ConfigError(FlaskerError):
    """A cfg file (or an override of it) is invalid.

    Carries every problem found, not just the first, so a user fixes them in one go::

        try:
            load_config("default.cfg")
        except ConfigError as error:
            for problem in error.problems:
                print(problem.line, problem.key, problem.problem)
    """

    def __init__(self, *problems: ConfigProblem) -> None:
        if not problems:
            raise ValueError("ConfigError needs at least one problem")
        self.problems: tuple[ConfigProblem, ...] = problems
        super().__init__("\n".join(str(p) for p in problems))

    @classmethod
    def at(
        cls,
        path: str,
        line: int | None,
        section: str | None,
        key: str | None,
        problem: str,
    ) -> ConfigError:
        """Build an error with a single problem."""
        return cls(ConfigProblem(str(path), line, section, key, problem))

    # The first problem's location, for callers that only show one.
    @property
    def path(self) -> str:
        return self.problems[0].path

    @property
    def line(self) -> int | None:
        return self.problems[0].line

    @property
    def section(self) -> str | None:
        return self.problems[0].section

    @property
    def key(self) -> str | None:
        return self.problems[0].key


class ConfigNotFoundError(FlaskerError):
    """No cfg file could be found; the message lists every place looked at."""

    exit_code = 2


class StaleConfigError(FlaskerError):
    """A cfg write was based on a version of the file that has changed on disk since.

    `current_version` and `current_text` let an editor show both versions to the user.
    """

    def __init__(self, path: str, base_version: str, current_version: str, current_text: str):
        self.path = path
        self.base_version = base_version
        self.current_version = current_version
        self.current_text = current_text
        super().__init__(
            f"{path}: the file changed on disk since it was read "
            f"(read version {base_version[:12]}, now {current_version[:12]}); "
            "reload it and apply the change again"
        )


class ProjectError(FlaskerError):
    """A project cannot be built or started as configured (a module fails, a bad order of calls)."""


class NoProjectError(ProjectError):
    """`current_project` was used while no project is active."""


class ServiceUnavailableError(FlaskerError):
    """A service the request needs (the database, the task broker) cannot answer now.

    Requests answer it with 503 and `Retry-After` (`http_exception()`), not a 500: the server
    itself is sound. Kept free of werkzeug so that `flasker --help`, which imports this module,
    stays light.
    """

    code = 503
    #: Seconds the client is asked to wait before it sends the request again.
    retry_after_seconds = 5

    def __init__(self, description: str) -> None:
        super().__init__(description)
        self.description = description

    def http_exception(self) -> HTTPException:
        """werkzeug's 503 with this description, for the app's handler of HTTP errors (the
        API's problem+json, else werkzeug's page)."""
        from werkzeug.exceptions import ServiceUnavailable

        return ServiceUnavailable(self.description, retry_after=self.retry_after_seconds)


class DatabaseUnavailableError(ServiceUnavailableError):
    """The database cannot answer now: its connection was lost (a restart, a terminated backend,
    a network cut) or refused, it is locked, or the pool had no connection free in time.

    A request that meets it answers 503 with `Retry-After` instead of a 500: the server itself
    is sound, and the next request gets a fresh connection. `may_be_stored` says what the client
    can know: False when the request had not begun a COMMIT (PostgreSQL and SQLite roll back an
    unfinished transaction, so nothing of it is stored and sending it again is safe); True when
    it had (the change may be stored, in whole or in part: read it back before sending it again).

        raise DatabaseUnavailableError("the connection was lost", may_be_stored=False)
    """

    def __init__(self, reason: str, *, may_be_stored: bool = False) -> None:
        self.reason = reason
        self.may_be_stored = may_be_stored
        if may_be_stored:
            description = (
                f"the database is unavailable ({reason}) and the request had begun to commit: "
                "what it changed, if anything, may or may not be stored; read it back before "
                "sending it again"
            )
        else:
            description = (
                f"the database is unavailable ({reason}); nothing of this request was stored: "
                f"send it again in {self.retry_after_seconds} s"
            )
        super().__init__(description)


class BrokerUnavailableError(ServiceUnavailableError):
    """The task broker (or the result backend beside it) cannot be reached now: it is
    restarting, or the network to it is cut. A view that sends a task then answers 503 with
    `Retry-After` instead of a 500: the server is sound and reconnects by itself.

        raise BrokerUnavailableError("redis", "the connection was refused or lost")
    """

    def __init__(self, kind: str, reason: str) -> None:
        self.kind = kind
        self.reason = reason
        super().__init__(
            f"the task broker ({kind}) is unavailable ({reason}): no task was sent; "
            f"send the request again in {self.retry_after_seconds} s"
        )
