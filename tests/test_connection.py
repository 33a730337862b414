"""Opening databases: files, uploads, CSV/Excel, CREATE TABLE scripts and servers, always read-only."""

from __future__ import annotations

import io
import random
import sqlite3

import pandas as pd
import pytest
import sqlalchemy as sa
from helpers.business_db import CUSTOMERS, build_business_db

from sqlchat.errors import ConnectionFailed
from sqlchat.sources.connection import (
    Database,
    connect,
    connect_schema_script,
    connect_sqlite_bytes,
    connect_tabular_files,
    mask_url,
)

PASSWORD = "Sup3r-Secret-pw"


def table_info(db: Database, table: str) -> list[tuple[str, str]]:
    """(column, declared type) pairs of a SQLite table."""
    with db.engine.connect() as conn:
        return [(r[1], r[2]) for r in conn.exec_driver_sql(f'PRAGMA table_info("{table}")')]


def rows(db: Database, sql: str) -> list[tuple]:
    with db.engine.connect() as conn:
        return [tuple(r) for r in conn.exec_driver_sql(sql)]


def table_names(db: Database) -> list[str]:
    return sorted(sa.inspect(db.engine).get_table_names())


def assert_no_secret(error: ConnectionFailed, *extra: str) -> None:
    for text in (str(error), error.message, error.detail or "", repr(error), *extra):
        assert PASSWORD not in text


# --------------------------------------------------------------------------- SQLite files


def test_sqlite_file_opens_read_only(chinook_path):
    db = connect(chinook_path)
    try:
        assert (db.dialect, db.display_name, db.executable) == ("sqlite", "chinook.sqlite", True)
        assert rows(db, "SELECT COUNT(*) FROM Track") == [(3503,)]
        with pytest.raises(sa.exc.OperationalError, match="readonly|read-only|query_only"):
            with db.engine.begin() as conn:
                conn.exec_driver_sql("DELETE FROM Track")
        assert rows(db, "SELECT COUNT(*) FROM Track") == [(3503,)]
    finally:
        db.close()


def test_sqlite_url_and_string_path_open_the_same_file(chinook_path):
    for target in (f"sqlite:///{chinook_path}", str(chinook_path)):
        with connect(target) as db:
            assert rows(db, "SELECT COUNT(*) FROM Artist") == [(275,)]
            assert db.display_name == "chinook.sqlite"


def test_missing_file_is_one_clear_sentence(tmp_path):
    with pytest.raises(ConnectionFailed, match="does not exist") as info:
        connect(tmp_path / "nope.sqlite")
    assert "\n" not in info.value.message


def test_text_file_named_db_is_rejected(tmp_path):
    path = tmp_path / "notes.db"
    path.write_text("these are my notes, not a database\n" * 20)
    with pytest.raises(ConnectionFailed, match="notes.db is not a valid SQLite database"):
        connect(path)


def test_unknown_file_type_is_rejected(tmp_path):
    path = tmp_path / "photo.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(100))
    with pytest.raises(ConnectionFailed, match="not a SQLite, CSV, Excel or .sql file"):
        connect(path)


def test_in_memory_sqlite_url_is_refused():
    with pytest.raises(ConnectionFailed, match="in-memory"):
        connect("sqlite://")


# --------------------------------------------------------------------------- SQLite uploads


def test_sqlite_upload_opens_read_only_and_cleans_up(chinook_path):
    db = connect_sqlite_bytes("my music.sqlite", chinook_path.read_bytes())
    temp_dir = db.temp_dir
    assert temp_dir is not None and temp_dir.exists()
    assert db.display_name == "my music.sqlite"
    assert len(table_names(db)) == 11
    with pytest.raises(sa.exc.OperationalError):
        with db.engine.begin() as conn:
            conn.exec_driver_sql("DROP TABLE Artist")
    db.close()
    assert not temp_dir.exists()
    db.close()  # twice is fine


def _corrupt_uploads(chinook_bytes: bytes) -> dict[str, bytes]:
    junk = random.Random(7).randbytes(8192)
    middle = len(chinook_bytes) // 2
    return {
        "empty": b"",
        "text": b"hello, this is not a database",
        "random": junk,
        "header then junk": b"SQLite format 3\x00" + junk,
        "truncated": chinook_bytes[:5000],
        "scrambled pages": chinook_bytes[:middle] + junk * 40 + chinook_bytes[middle + len(junk) * 40:],
    }


@pytest.mark.parametrize(
    "case", ["empty", "text", "random", "header then junk", "truncated", "scrambled pages"]
)
def test_corrupt_sqlite_upload_is_rejected(chinook_path, case):
    data = _corrupt_uploads(chinook_path.read_bytes())[case]
    with pytest.raises(ConnectionFailed, match=r"^broken\.db .*not a valid SQLite database\.$"):
        connect_sqlite_bytes("broken.db", data)


def test_wal_mode_upload_opens(tmp_path):
    path = tmp_path / "wal.sqlite"
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE t (x INTEGER)")
    conn.execute("INSERT INTO t VALUES (42)")
    conn.commit()
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    with connect_sqlite_bytes("wal.sqlite", path.read_bytes()) as db:
        assert rows(db, "SELECT x FROM t") == [(42,)]


# --------------------------------------------------------------------------- CSV and Excel


def test_csv_upload_infers_types_and_cleans_names():
    csv = (
        "Customer ID,Full Name,Unit Price,Signup Date,Zip,2nd Choice,Full Name,Order,LastSeenAt,Notes\n"
        "1,Ada Lovelace,12.50,2024-03-15,01234,7,x,a,2024-03-15 10:30:00,\n"
        "2,Alan Turing,3,2024-03-16,90210,8,y,b,2024-03-16T11:00:00,hello\n"
        "3,Grace Hopper,,NULL,00501,9,z,c,,NA\n"
    ).encode()
    with connect_tabular_files([("Customer List (2024).csv", csv)]) as db:
        assert table_names(db) == ["customer_list_2024"]
        assert table_info(db, "customer_list_2024") == [
            ("customer_id", "INTEGER"), ("full_name", "TEXT"), ("unit_price", "REAL"),
            ("signup_date", "DATE"), ("zip", "TEXT"), ("col_2nd_choice", "INTEGER"),
            ("full_name_2", "TEXT"), ("order_", "TEXT"), ("last_seen_at", "DATETIME"), ("notes", "TEXT"),
        ]
        assert rows(db, "SELECT * FROM customer_list_2024 ORDER BY customer_id") == [
            (1, "Ada Lovelace", 12.5, "2024-03-15", "01234", 7, "x", "a", "2024-03-15 10:30:00", None),
            (2, "Alan Turing", 3.0, "2024-03-16", "90210", 8, "y", "b", "2024-03-16 11:00:00", "hello"),
            (3, "Grace Hopper", None, None, "00501", 9, "z", "c", None, "NA"),
        ]
        assert db.dialect == "sqlite" and db.executable


def test_semicolon_csv_with_decimal_commas_and_day_first_dates():
    csv = "Produit;Prix;Date\nCafé;3,50;15/03/2024\nThé;2,75;01/04/2024\n".encode()
    with connect_tabular_files([("ventes.csv", csv)]) as db:
        assert table_info(db, "ventes") == [("produit", "TEXT"), ("prix", "REAL"), ("date", "DATE")]
        assert rows(db, "SELECT * FROM ventes") == [("Café", 3.5, "2024-03-15"), ("Thé", 2.75, "2024-04-01")]


def test_tab_separated_csv():
    csv = b"name\tqty\nwidget\t3\ngadget\t5\n"
    with connect_tabular_files([("stock.csv", csv)]) as db:
        assert rows(db, "SELECT name, qty FROM stock ORDER BY qty") == [("widget", 3), ("gadget", 5)]


def test_cp1252_csv_keeps_accents_and_euro_sign():
    csv = "Nom,Ville,Prix\nRené,Besançon,5 €\nZoë,Köln,7 €\n".encode("cp1252")
    with connect_tabular_files([("clients.csv", csv)]) as db:
        assert rows(db, "SELECT nom, ville, prix FROM clients") == [("René", "Besançon", "5 €"), ("Zoë", "Köln", "7 €")]


def test_utf8_bom_csv_header_is_clean():
    csv = "\ufeffid,name\n1,a\n".encode("utf-8")
    with connect_tabular_files([("bom.csv", csv)]) as db:
        assert table_info(db, "bom") == [("id", "INTEGER"), ("name", "TEXT")]


def _excel_bytes(sheets: dict[str, pd.DataFrame]) -> bytes:
    buffer = io.BytesIO()
    with pd.ExcelWriter(buffer, engine="openpyxl") as writer:
        for name, frame in sheets.items():
            frame.to_excel(writer, sheet_name=name, index=False)
    return buffer.getvalue()


def test_excel_with_two_sheets_gives_two_tables():
    data = _excel_bytes({
        "Sales Q1": pd.DataFrame({"Region": ["North", "South"], "Revenue": [1200.5, 900.0],
                                  "Day": pd.to_datetime(["2024-01-31", "2024-02-29"])}),
        "Staff": pd.DataFrame({"Employee Name": ["Ann", "Bob"], "Age": [34, 51]}),
    })
    with connect_tabular_files([("report.xlsx", data)]) as db:
        assert table_names(db) == ["sales_q1", "staff"]
        assert table_info(db, "sales_q1") == [("region", "TEXT"), ("revenue", "REAL"), ("day", "DATE")]
        assert rows(db, "SELECT * FROM sales_q1") == [("North", 1200.5, "2024-01-31"), ("South", 900.0, "2024-02-29")]
        assert table_info(db, "staff") == [("employee_name", "TEXT"), ("age", "INTEGER")]
        assert rows(db, "SELECT * FROM staff") == [("Ann", 34), ("Bob", 51)]


def test_single_sheet_excel_is_named_after_the_file_and_mixes_with_csv():
    data = _excel_bytes({"Sheet1": pd.DataFrame({"a": [1, 2]})})
    with connect_tabular_files([("Budget 2025.xlsx", data), ("budget_2025.csv", b"b\n1\n")]) as db:
        assert table_names(db) == ["budget_2025", "budget_2025_2"]


def test_empty_csv_is_a_clear_error():
    for data in (b"", b"\n\n  \n"):
        with pytest.raises(ConnectionFailed, match=r"^empty\.csv is empty"):
            connect_tabular_files([("empty.csv", data)])


def test_binary_junk_named_csv_is_a_clear_error():
    junk = random.Random(1).randbytes(20_000)
    with pytest.raises(ConnectionFailed, match="does not look like a CSV text file"):
        connect_tabular_files([("data.csv", junk)])


def test_junk_named_xlsx_and_unknown_suffix_are_clear_errors():
    with pytest.raises(ConnectionFailed, match="not a valid Excel file"):
        connect_tabular_files([("book.xlsx", b"just text")])
    with pytest.raises(ConnectionFailed, match="not a CSV or Excel file"):
        connect_tabular_files([("notes.docx", b"PK\x03\x04")])
    with pytest.raises(ConnectionFailed, match="No files"):
        connect_tabular_files([])


def test_csv_path_goes_through_the_tabular_loader(tmp_path):
    path = tmp_path / "Team Scores.csv"
    path.write_text("player,score\nann,3\nbob,5\n")
    with connect(path) as db:
        assert rows(db, "SELECT SUM(score) FROM team_scores") == [(8,)]
        assert db.display_name == "Team Scores.csv"


@pytest.mark.slow
def test_big_csv_file_loads_in_chunks(tmp_path):
    path = tmp_path / "Big Orders.csv"
    rng = random.Random(0)
    with path.open("w") as fh:
        fh.write("order_id,customer,amount,order_date,comment\n")
        for i in range(1, 800_001):
            fh.write(f"{i},customer {rng.randrange(10_000)},{rng.random() * 1000:.2f},"
                     f"2024-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d},some free text number {i}\n")
    assert path.stat().st_size > 45_000_000
    with connect(path) as db:  # streamed from the file, CSV_CHUNK_ROWS rows at a time
        assert table_info(db, "big_orders") == [("order_id", "INTEGER"), ("customer", "TEXT"), ("amount", "REAL"),
                                                ("order_date", "DATE"), ("comment", "TEXT")]
        assert rows(db, "SELECT COUNT(*), MIN(order_id), MAX(order_id) FROM big_orders") == [(800_000, 1, 800_000)]


def test_csv_spanning_several_chunks_keeps_one_type_per_column(monkeypatch):
    """A column that looks numeric in the first chunk but has text later must end up TEXT, not lose rows."""
    import sqlchat.sources.connection as connection

    monkeypatch.setattr(connection, "CSV_CHUNK_ROWS", 10)
    lines = ["code,qty"] + [f"{i},{i}" for i in range(25)] + ["X-1,26"]
    with connect_tabular_files([("codes.csv", ("\n".join(lines) + "\n").encode())]) as db:
        assert table_info(db, "codes") == [("code", "TEXT"), ("qty", "INTEGER")]
        assert rows(db, "SELECT COUNT(*), MAX(qty) FROM codes") == [(26, 26)]
        assert rows(db, "SELECT code FROM codes WHERE qty = 26") == [("X-1",)]


def test_utf16_csv_from_excel_unicode_export():
    data = "Name\tCity\nJosé\tMálaga\n".encode("utf-16")
    with connect_tabular_files([("export.txt", data)]) as db:
        assert rows(db, "SELECT name, city FROM export") == [("José", "Málaga")]


# --------------------------------------------------------------------------- CREATE TABLE scripts

PG_SCRIPT = """
CREATE TYPE order_status AS ENUM ('new', 'paid');
CREATE TABLE public.customers (
    id SERIAL PRIMARY KEY,
    email VARCHAR(200) NOT NULL UNIQUE,
    created_at TIMESTAMPTZ DEFAULT now(),
    tags TEXT[]
);
CREATE TABLE public.orders (
    id BIGSERIAL PRIMARY KEY,
    customer_id INT NOT NULL REFERENCES public.customers(id) ON DELETE CASCADE,
    status order_status,
    amount NUMERIC(10, 2),
    paid BOOLEAN DEFAULT false
);
CREATE INDEX orders_customer ON orders (customer_id);
INSERT INTO customers (email) VALUES ('a@example.com');
"""


def test_postgres_create_table_script_gives_schema_only_database():
    with connect_schema_script(PG_SCRIPT, dialect="postgres") as db:
        assert db.executable is False
        assert db.display_name == "CREATE TABLE script (2 tables)"
        assert table_names(db) == ["customers", "orders"]
        assert table_info(db, "orders") == [("id", "INTEGER"), ("customer_id", "INTEGER"), ("status", "TEXT"),
                                            ("amount", "NUMERIC"), ("paid", "BOOLEAN")]
        fks = sa.inspect(db.engine).get_foreign_keys("orders")
        assert [(f["constrained_columns"], f["referred_table"], f["referred_columns"]) for f in fks] == [
            (["customer_id"], "customers", ["id"])]
        assert rows(db, "SELECT COUNT(*) FROM customers") == [(0,)]  # INSERTs are ignored


def test_script_dialect_is_detected_when_not_given():
    mysql = "CREATE TABLE `users` (`id` int(11) NOT NULL AUTO_INCREMENT, `name` varchar(50), " \
            "PRIMARY KEY (`id`)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;"
    with connect_schema_script(mysql) as db:
        assert table_info(db, "users") == [("id", "INTEGER"), ("name", "VARCHAR")]


def test_script_without_create_table_is_refused():
    with pytest.raises(ConnectionFailed, match="no CREATE TABLE"):
        connect_schema_script("INSERT INTO t VALUES (1); SELECT 1;")
    with pytest.raises(ConnectionFailed, match="empty"):
        connect_schema_script("   ")


def test_sql_file_path_is_a_schema_script(tmp_path):
    path = tmp_path / "schema.sql"
    path.write_text(PG_SCRIPT)
    with connect(path) as db:
        assert not db.executable and table_names(db) == ["customers", "orders"]


# --------------------------------------------------------------------------- URLs and secrets


def test_mask_url_hides_the_password():
    assert mask_url(f"postgresql://bob:{PASSWORD}@db.example.com:5432/sales") == \
        "postgresql://bob:***@db.example.com:5432/sales"
    assert mask_url("mysql+pymysql://root@127.0.0.1/test") == "mysql+pymysql://root@127.0.0.1/test"
    assert PASSWORD not in mask_url(f"postgresql://bob@h/db?password={PASSWORD}")


@pytest.mark.parametrize("url, expected", [
    (f"oracle://scott:{PASSWORD}@db/orcl", "cannot open 'oracle' databases"),
    (f"postgresql://bob:{PASSWORD}@host:notaport/db", "malformed"),
    (f"postgresql+nodriver://bob:{PASSWORD}@host/db", "no database driver"),
])
def test_bad_urls_give_one_line_without_password(url, expected):
    with pytest.raises(ConnectionFailed, match=expected) as info:
        connect(url)
    assert "\n" not in info.value.message
    assert_no_secret(info.value)


@pytest.mark.postgres
def test_pg_refused_port_is_one_clear_line_without_password():
    with pytest.raises(ConnectionFailed) as info:
        connect(f"postgresql://postgres:{PASSWORD}@127.0.0.1:1/whatever", timeout_s=4)
    assert info.value.message == ("The PostgreSQL server at 127.0.0.1:1 refused the connection; "
                                  "is it running on that port?")
    assert_no_secret(info.value)


@pytest.mark.postgres
def test_pg_unknown_database_is_one_clear_line_without_password(pg_url):
    url = sa.make_url(pg_url).set(password=PASSWORD, database="no_such_db_sqlchat")
    with pytest.raises(ConnectionFailed) as info:
        connect(url.render_as_string(hide_password=False))
    assert info.value.message == ("The database 'no_such_db_sqlchat' does not exist on the PostgreSQL "
                                  "server at 127.0.0.1:5432.")
    assert_no_secret(info.value)


@pytest.mark.postgres
def test_pg_connection_is_read_only_and_masks_password(pg_url):
    build_business_db(pg_url)
    url = sa.make_url(pg_url).set(password=PASSWORD, drivername="postgres")  # bare scheme gets normalised
    with connect(url.render_as_string(hide_password=False)) as db:
        assert db.dialect == "postgres"
        assert db.engine.url.drivername == "postgresql+psycopg"
        assert PASSWORD not in db.display_name and PASSWORD not in repr(db)
        assert ":***@" in db.display_name
        assert rows(db, "SELECT COUNT(*) FROM customers") == [(len(CUSTOMERS),)]
        with pytest.raises(sa.exc.DBAPIError, match="read-only"):
            with db.engine.begin() as conn:
                conn.exec_driver_sql("DELETE FROM order_items")


@pytest.mark.mariadb
def test_mariadb_wrong_password_is_one_clear_line_without_password(mysql_url):
    url = sa.make_url(mysql_url).set(password=PASSWORD, drivername="mysql")
    with pytest.raises(ConnectionFailed) as info:
        connect(url.render_as_string(hide_password=False))
    assert info.value.message == "The MySQL/MariaDB server at 127.0.0.1:3306 rejected the user name or password."
    assert_no_secret(info.value)


@pytest.mark.mariadb
def test_mariadb_unknown_database_and_refused_port(mysql_url):
    with pytest.raises(ConnectionFailed, match="The database 'no_such_db_sqlchat' does not exist"):
        connect(sa.make_url(mysql_url).set(database="no_such_db_sqlchat").render_as_string(hide_password=False))
    with pytest.raises(ConnectionFailed, match="127.0.0.1:1 refused the connection"):
        connect("mariadb://root@127.0.0.1:1/x", timeout_s=4)


@pytest.mark.mariadb
def test_mariadb_connection_is_read_only(mysql_url):
    build_business_db(mysql_url)
    with connect(mysql_url.replace("mysql+pymysql://", "mariadb://")) as db:
        assert db.dialect == "mysql"
        assert rows(db, "SELECT COUNT(*) FROM customers") == [(len(CUSTOMERS),)]
        with pytest.raises(sa.exc.DBAPIError, match="READ ONLY"):
            with db.engine.begin() as conn:
                conn.exec_driver_sql("DELETE FROM order_items")
