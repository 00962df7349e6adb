"""Fixtures of flasker-api's tests: real projects served through a Flask test client.

Each test module describes its models as source text; `make_api` writes them with a cfg into a
temporary folder, starts the project (on SQLite and on PostgreSQL: `db_url` is parametrized)
and returns an `ApiHarness` around it. A project is started once per module and backend, and
its rows are put back before every test (`ApiHarness.reseed`), so tests may write freely.

This folder has no `__init__.py` (flasker-core's tests are the package `tests`), so shared
helpers live here and reach tests through fixtures.
"""

from __future__ import annotations

import contextlib
import json
import sys
import textwrap
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from flasker import Project
from flasker.model import Model
from flasker.testing import close_project
from flasker.testing import restored_process_state as process_state_restored

PROBLEM = "application/problem+json"


def unique(prefix: str) -> str:
    """A module name no other project of this process uses."""
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


# -- databases ----------------------------------------------------------------------------------
BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(scope="module", params=BACKENDS)
def db_url(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    postgres_database: Callable[..., contextlib.AbstractContextManager[str]],
) -> Iterator[str]:
    """A fresh database URL for the module: SQLite, then PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'api.sqlite'}"
    else:
        with postgres_database() as url:
            yield url


# -- the harness ----------------------------------------------------------------------------------
class ApiHarness:
    """A started project with the API, its test client and helpers to look at its data."""

    def __init__(
        self, project: Project, seed: Mapping[str, Sequence[Mapping[str, Any]]], prefix: str
    ) -> None:
        self.project = project
        self.app = project.app
        self.client = project.app.test_client()
        self.engine: sa.Engine = project.db.engine
        self.seed = seed
        self.prefix = prefix
        self.module = sys.modules[project.config.modules[0]]
        model = Model
        owned = {
            mapper.local_table.name
            for mapper in model.registry.mappers
            if mapper.class_.__module__ == self.module.__name__
        }
        #: The tables of this project's models, parents first.
        self.tables = [t for t in model.metadata.sorted_tables if t.name in owned]

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    # -- HTTP -------------------------------------------------------------------------------
    def url(self, path: str) -> str:
        return self.prefix + path

    def get(self, path: str, **kw: Any) -> Any:
        return self.client.get(self.url(path), **kw)

    def post(self, path: str, **kw: Any) -> Any:
        return self.client.post(self.url(path), **kw)

    def put(self, path: str, **kw: Any) -> Any:
        return self.client.put(self.url(path), **kw)

    def patch(self, path: str, **kw: Any) -> Any:
        return self.client.patch(self.url(path), **kw)

    def delete(self, path: str, **kw: Any) -> Any:
        return self.client.delete(self.url(path), **kw)

    def ok(self, path: str, **kw: Any) -> Any:
        """GET that must answer 200 with JSON; returns the body."""
        response = self.get(path, **kw)
        assert response.status_code == 200, (path, response.status_code, response.get_data(True))
        assert response.mimetype == "application/json"
        return response.get_json()

    def data(self, path: str, **kw: Any) -> list[dict[str, Any]]:
        """The `data` list of a collection GET."""
        return self.ok(path, **kw)["data"]

    def names(self, path: str, key: str = "name", **kw: Any) -> list[Any]:
        return [item[key] for item in self.data(path, **kw)]

    # -- problems -----------------------------------------------------------------------------
    @staticmethod
    def problem(
        response: Any,
        status: int | Sequence[int],
        *,
        parameter: str | None = None,
        pointer: str | None = None,
        mentions: Sequence[str] = (),
    ) -> dict[str, Any]:
        """Check that `response` is an application/problem+json error with `status` which names
        the bad query `parameter` or body field (JSON `pointer`); return its body."""
        statuses = (status,) if isinstance(status, int) else tuple(status)
        text = response.get_data(as_text=True)
        assert response.status_code in statuses, (response.status_code, text)
        assert response.mimetype == PROBLEM, (response.mimetype, text)
        body = json.loads(text)
        assert body["status"] == response.status_code
        assert isinstance(body.get("title"), str)
        assert body["title"]
        errors = body.get("errors") or []
        if parameter is not None:
            assert any(e.get("parameter") == parameter for e in errors), body
        if pointer is not None:
            assert any(e.get("pointer") == pointer for e in errors), body
        for word in mentions:
            assert word in text, (word, body)
        return body

    # -- the database ---------------------------------------------------------------------------
    def rows(self, table: str) -> list[dict[str, Any]]:
        """Every row of `table`, ordered by its primary key, read with plain SQL."""
        metadata = Model.metadata
        t = metadata.tables[table]
        with self.engine.connect() as connection:
            result = connection.execute(sa.select(t).order_by(*t.primary_key.columns))
            return [dict(row._mapping) for row in result]

    def row(self, table: str, **key: Any) -> dict[str, Any] | None:
        for row in self.rows(table):
            if all(row[k] == v for k, v in key.items()):
                return row
        return None

    def insert(self, table: str, *rows: Mapping[str, Any]) -> None:
        """Add rows behind the API's back (plain SQL)."""
        with self.engine.begin() as connection:
            connection.execute(Model.metadata.tables[table].insert(), [dict(r) for r in rows])

    def snapshot(self) -> dict[str, list[dict[str, Any]]]:
        return {table.name: self.rows(table.name) for table in self.tables}

    def reseed(self) -> None:
        """Put back exactly the seed rows (and, on PostgreSQL, the id sequences after them)."""
        tables = self.tables
        with self.engine.begin() as connection:
            for table in reversed(tables):
                connection.execute(table.delete())
            for table in tables:
                rows = self.seed.get(table.name)
                if rows:
                    connection.execute(table.insert(), [dict(r) for r in rows])
            if self.dialect == "postgresql":
                for table in tables:
                    columns = list(table.primary_key.columns)
                    if len(columns) == 1 and columns[0].autoincrement is not False:
                        column = columns[0]
                        if not isinstance(column.type, sa.Integer):
                            continue
                        connection.exec_driver_sql(
                            f"SELECT setval(pg_get_serial_sequence('{table.name}', "
                            f"'{column.name}'), COALESCE((SELECT max({column.name}) "
                            f"FROM {table.name}), 0) + 1, false)"
                        )
        self.project.db.remove()

    # -- queries --------------------------------------------------------------------------------
    @contextlib.contextmanager
    def queries(self) -> Iterator[list[str]]:
        """Collect the SQL statements sent to the project's database inside the block."""
        statements: list[str] = []

        def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
            statements.append(statement)

        sa.event.listen(self.engine, "before_cursor_execute", record)
        try:
            yield statements
        finally:
            sa.event.remove(self.engine, "before_cursor_execute", record)

    def count_queries(self, path: str, **kw: Any) -> int:
        """Number of SQL statements one successful GET of `path` costs."""
        with self.queries() as statements:
            response = self.get(path, **kw)
        assert response.status_code == 200, response.get_data(as_text=True)
        return len(statements)


def write_project(folder: Path, cfg: str, modules: Mapping[str, str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, source in modules.items():
        path = folder / (name.replace(".", "/") + ".py")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source), encoding="utf-8")
    cfg_path = folder / "default.cfg"
    cfg_path.write_text(textwrap.dedent(cfg).lstrip(), encoding="utf-8")
    return cfg_path


@pytest.fixture(scope="module")
def make_api(
    db_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[..., ApiHarness]]:
    """Factory: `make_api(models_source, seed, api_cfg="")` starts a project whose one module is
    `models_source` (which registers the APIManager) on `db_url`, and seeds it."""
    made: list[Project] = []
    with process_state_restored():

        def make(
            source: str,
            seed: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
            api_cfg: str = "",
            prefix: str = "/api",
        ) -> ApiHarness:
            module = unique("api_models")
            cfg = f"[PROJECT]\nNAME = ApiTest\nMODULES = {module}\nDB_URL = {db_url}\n"
            if api_cfg:
                cfg += "\n[API]\n" + textwrap.dedent(api_cfg).strip() + "\n"
            folder = tmp_path_factory.mktemp("project")
            project = Project(write_project(folder, cfg, {module: source}))
            made.append(project)
            project.start()
            harness = ApiHarness(project, seed or {}, prefix)
            harness.reseed()
            return harness

        try:
            yield make
        finally:
            for project in made:
                close_project(project)


@pytest.fixture(scope="module")
def backend_isolated(db_url: str) -> Iterator[str]:
    """`db_url`, and put back what starting projects changes in the process after the module
    has run on that backend."""
    with process_state_restored():
        yield db_url


# -- the standard project: the example's houses and cats, and a model per column type ------------
MODELS = """
    from __future__ import annotations

    import enum

    from sqlalchemy import (
        JSON, Boolean, Column, Date, DateTime, Enum, ForeignKey, Integer, Numeric, String, Unicode,
    )
    from sqlalchemy.orm import Mapped, mapped_column, relationship

    from flasker import current_project
    from flasker.ext.api import APIManager
    from flasker.util import Model

    api = current_project.register_manager(APIManager(add_all_models=True))


    class House(Model):
        id = Column(Integer, primary_key=True)
        address = Column(Unicode(128), nullable=False)

        cats = relationship("Cat", back_populates="house", order_by="Cat.name")

        @property
        def label(self) -> str:
            return f"House {self.id}: {self.address}"

        @property
        @api.property(loads=["cats"])
        def cat_count(self) -> int:
            return len(self.cats)


    class Cat(Model):
        name = Column(Unicode(64), primary_key=True)
        color = Column(Unicode(32))
        age = Column(Integer)
        house_id = Column(ForeignKey("houses.id"))

        house = relationship("House", back_populates="cats")
        toys = relationship("Toy", back_populates="cat", order_by="Toy.id")


    class Kind(enum.Enum):
        ball = "ball"
        mouse = "mouse"
        feather = "feather"


    class Toy(Model):
        id = Column(Integer, primary_key=True)
        sku = Column(String(32), unique=True, nullable=False)
        kind = Column(Enum(Kind), nullable=False)
        price = Column(Numeric(8, 2))
        bought = Column(Date)
        last_played = Column(DateTime)
        squeaky = Column(Boolean, nullable=False, default=False)
        specs = Column(JSON)
        cat_name = Column(ForeignKey("cats.name"))

        cat = relationship("Cat", back_populates="toys")


    class Club(Model):
        id: Mapped[int] = mapped_column(primary_key=True)
        name: Mapped[str] = mapped_column(String(64))

        memberships: Mapped[list[Membership]] = relationship(
            back_populates="club", cascade="all, delete-orphan", order_by="Membership.person_id"
        )


    class Person(Model):
        id: Mapped[int] = mapped_column(primary_key=True)
        name: Mapped[str] = mapped_column(String(64))
        email: Mapped[str | None] = mapped_column(String(128), unique=True)


    class Membership(Model):
        club_id: Mapped[int] = mapped_column(ForeignKey("clubs.id"), primary_key=True)
        person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"), primary_key=True)
        role: Mapped[str] = mapped_column(String(32), default="member")

        club: Mapped[Club] = relationship(back_populates="memberships")
        person: Mapped[Person] = relationship()
"""

HOUSES = [
    {"id": 1, "address": "1 Rue des Chats, Paris"},
    {"id": 2, "address": "42 Wallaby Way, Sydney"},
    {"id": 3, "address": "221B Baker Street, London"},
    {"id": 4, "address": "Empty House"},
]
CATS = [
    {"name": "Felix", "color": "black", "age": 3, "house_id": 1},
    {"name": "Garfield", "color": "orange", "age": 7, "house_id": 1},
    {"name": "Tom", "color": "grey", "age": 5, "house_id": 2},
    {"name": "Salem", "color": "black", "age": 12, "house_id": 3},
    {"name": "Mittens", "color": "white", "age": 1, "house_id": 3},
    {"name": "Luna", "color": "tabby", "age": 2, "house_id": 3},
    {"name": "Ghost", "color": None, "age": None, "house_id": None},
]


def _toys() -> list[dict[str, Any]]:
    import datetime as dt
    from decimal import Decimal

    return [
        {
            "id": 1,
            "sku": "BALL-1",
            "kind": "ball",
            "price": Decimal("2.50"),
            "bought": dt.date(2024, 1, 15),
            "last_played": dt.datetime(2024, 3, 1, 9, 30),
            "squeaky": True,
            "specs": {"colors": ["red"], "size": 3},
            "cat_name": "Felix",
        },
        {
            "id": 2,
            "sku": "MOUSE-1",
            "kind": "mouse",
            "price": Decimal("9.99"),
            "bought": dt.date(2024, 6, 1),
            "last_played": dt.datetime(2024, 6, 2, 18, 0),
            "squeaky": False,
            "specs": {"colors": ["grey"], "size": 1},
            "cat_name": "Felix",
        },
        {
            "id": 3,
            "sku": "FEATHER-1",
            "kind": "feather",
            "price": Decimal("15.00"),
            "bought": dt.date(2023, 12, 24),
            "last_played": None,
            "squeaky": False,
            "specs": None,
            "cat_name": "Salem",
        },
    ]


SEED: dict[str, list[dict[str, Any]]] = {
    "houses": HOUSES,
    "cats": CATS,
    "toys": _toys(),
    "clubs": [{"id": 1, "name": "Chess"}, {"id": 2, "name": "Rowing"}],
    "persons": [
        {"id": 1, "name": "Ada", "email": "ada@example.org"},
        {"id": 2, "name": "Bob", "email": "bob@example.org"},
        {"id": 3, "name": "Cy", "email": None},
    ],
    "memberships": [
        {"club_id": 1, "person_id": 1, "role": "captain"},
        {"club_id": 1, "person_id": 2, "role": "member"},
        {"club_id": 2, "person_id": 2, "role": "cox"},
    ],
}


@pytest.fixture(scope="module")
def standard_api(request: pytest.FixtureRequest, make_api: Callable[..., ApiHarness]) -> ApiHarness:
    """The standard project (houses, cats, toys, clubs, persons, memberships), once per module.

    A test module may define `api_seed(SEED) -> seed` to start it with other rows."""
    seed = getattr(request.module, "api_seed", lambda default: default)(SEED)
    return make_api(MODELS, seed)


@pytest.fixture
def api(standard_api: ApiHarness) -> ApiHarness:
    """The standard project with exactly its seed rows."""
    standard_api.reseed()
    return standard_api
