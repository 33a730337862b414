"""Fixtures for real databases: the bundled demo files and fresh databases on local servers.

``pg_url`` / ``mysql_url`` create a uniquely named empty database on the local PostgreSQL
(trust auth) or MariaDB server and drop it afterwards; they skip, with the reason, only
when the server cannot be reached. Fill them with ``tests.helpers.business_db``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from sqlchat.config import DEMO_DIR
from sqlchat.sources.connection import Database, connect

PG_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
MYSQL_ADMIN_URL = "mysql+pymysql://root@127.0.0.1:3306/test"


def _demo(filename: str) -> Path:
    path = DEMO_DIR / filename
    if not path.exists():
        pytest.fail(f"demo database missing: {path}")
    return path


@pytest.fixture(autouse=True)
def no_operator_file(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never read a developer's own .streamlit/secrets.toml; those about named connections set their own."""
    monkeypatch.setenv("SQLCHAT_SECRETS", str(tmp_path_factory.getbasetemp() / "no-secrets.toml"))


@pytest.fixture
def chinook_path() -> Path:
    return _demo("chinook.sqlite")


@pytest.fixture
def northwind_path() -> Path:
    return _demo("northwind.sqlite")


@pytest.fixture
def chinook(chinook_path: Path) -> Iterator[Database]:
    """The bundled Chinook database, opened read-only as the engine opens it."""
    with connect(chinook_path) as db:
        yield db


@pytest.fixture
def northwind(northwind_path: Path) -> Iterator[Database]:
    with connect(northwind_path) as db:
        yield db


@pytest.fixture(scope="session")
def chinook_tables() -> Iterator[list]:
    """Chinook's reflected tables, read once: what the corrections and explanations read the schema from."""
    from sqlchat.schema.reflection import reflect_schema

    with connect(_demo("chinook.sqlite")) as db:
        yield list(reflect_schema(db))


def _admin_engine(url: str, server: str) -> sa.Engine:
    """An AUTOCOMMIT engine on the admin database, or a skip if the server is not reachable."""
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 5})
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
    except sa.exc.OperationalError as exc:
        engine.dispose()
        pytest.skip(f"{server} server not reachable at {sa.make_url(url).host}:{sa.make_url(url).port}: "
                    f"{str(exc.orig).splitlines()[0]}")
    return engine


def _fresh_database(admin_url: str, server: str, drop_sql: str) -> Iterator[str]:
    name = f"sqlchat_test_{uuid.uuid4().hex[:12]}"
    engine = _admin_engine(admin_url, server)
    try:
        with engine.connect() as conn:
            create = f"CREATE DATABASE {name}"
            if server == "MariaDB":
                create += " CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
            conn.exec_driver_sql(create)
        yield sa.make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        try:
            with engine.connect() as conn:
                conn.exec_driver_sql(drop_sql.format(name=name))
        finally:
            engine.dispose()


@pytest.fixture
def pg_url() -> Iterator[str]:
    """URL of a fresh, empty PostgreSQL database (dropped after the test)."""
    yield from _fresh_database(PG_ADMIN_URL, "PostgreSQL", "DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def mysql_url() -> Iterator[str]:
    """URL of a fresh, empty MariaDB database (dropped after the test)."""
    yield from _fresh_database(MYSQL_ADMIN_URL, "MariaDB", "DROP DATABASE IF EXISTS {name}")


@pytest.fixture(scope="session")
def local_backend():
    """The real embedded model with the default adapter, loaded once for the whole run."""
    from sqlchat.config import Settings
    from sqlchat.models.backends import load_backend

    return load_backend(Settings.from_env({}).model)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres),
                        pytest.param("mariadb", marks=pytest.mark.mariadb)])
def server_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """URL of an empty database on each engine a rule must hold on: a SQLite file, PostgreSQL, MariaDB."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'empty.sqlite'}"
    return request.getfixturevalue("pg_url" if request.param == "postgres" else "mysql_url")
