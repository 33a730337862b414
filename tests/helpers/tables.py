"""One table made and filled on any server, for the tests that run a correction on SQLite, PostgreSQL and MariaDB."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa


def fill_table(url: str, name: str, columns: Sequence[sa.Column], rows: Sequence[Sequence]) -> str:
    """``url``, with the table ``name`` of ``columns`` created in it and ``rows`` (values in column order) inserted."""
    table = sa.Table(name, sa.MetaData(), *columns)
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            table.metadata.create_all(conn)
            conn.execute(table.insert(), [dict(zip(table.columns.keys(), row)) for row in rows])
    finally:
        engine.dispose()
    return url
