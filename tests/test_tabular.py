"""sqlchat.sources.tabular on its own: the loader behind connect_tabular_files and CSV/Excel paths.

The user-facing behaviour is pinned in test_connection.py; these tests pin the seam
between the two modules, so the chunked-loading test there keeps testing chunks.
"""

from __future__ import annotations

import io
import sqlite3
from pathlib import Path

import sqlchat.sources.connection as connection
from sqlchat.sources.tabular import load_tabular_files

CODES_CSV = ("\n".join(["code,qty"] + [f"{i},{i}" for i in range(25)] + ["X-1,26"]) + "\n").encode()


def test_loader_narrows_types_across_chunks(tmp_path: Path):
    """Text in the last of several chunks still makes the column TEXT, and no row is lost."""
    path = tmp_path / "tables.sqlite"
    load_tabular_files(path, [("codes.csv", lambda: io.BytesIO(CODES_CSV))], chunk_rows=10)
    conn = sqlite3.connect(path)
    try:
        assert [(r[1], r[2]) for r in conn.execute('PRAGMA table_info("codes")')] == [("code", "TEXT"),
                                                                                     ("qty", "INTEGER")]
        assert conn.execute("SELECT COUNT(*), MAX(qty) FROM codes").fetchall() == [(26, 26)]
    finally:
        conn.close()


def test_chunk_size_patched_on_connection_reaches_the_loader(monkeypatch):
    """test_connection patches ``connection.CSV_CHUNK_ROWS``; that must still set the chunk size."""
    seen: list[int] = []
    real_loader = connection.load_tabular_files

    def spy(path: Path, sources: list, *, chunk_rows: int) -> None:
        seen.append(chunk_rows)
        real_loader(path, sources, chunk_rows=chunk_rows)

    monkeypatch.setattr(connection, "CSV_CHUNK_ROWS", 10)
    monkeypatch.setattr(connection, "load_tabular_files", spy)
    with connection.connect_tabular_files([("codes.csv", CODES_CSV)]) as db:
        assert db.display_name == "codes.csv"
    assert seen == [10]
