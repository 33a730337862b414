"""Access rules of named connections, attacked on real SQLite, PostgreSQL and MariaDB databases.

Each database holds the same small shop: ``Customer`` (with a hidden ``Email`` and ``Phone``),
a hidden ``Employee`` table, ``Invoice``, and views that read hidden things (and one that does
not). The hidden values are unique strings, so a test can search every output, prompt and log
line for them: whatever the query, they must never come back.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa

from sqlchat import pipeline
from sqlchat.config import ModelConfig, Settings
from sqlchat.corrections.readable import make_readable
from sqlchat.corrections.values import link_values
from sqlchat.errors import UnsafeSQL
from sqlchat.governance.deployment import parse_deployment
from sqlchat.governance.policy import policy_for
from sqlchat.governance.rules import AccessRules
from sqlchat.safety import check_sql
from sqlchat.schema.context import render_context
from sqlchat.schema.reflection import reflect_schema
from sqlchat.sources.connection import Database
from sqlchat.sources.named import open_named
from tests.test_pipeline import ScriptedBackend

SECRET_EMAILS = ["ada.secret.mail@hidden.example", "grace.secret.mail@hidden.example"]
SECRET_PHONES = ["+44-SECRETPHONE-1", "+1-SECRETPHONE-2"]
SECRET_SALARY = "987654321"
SECRETS = SECRET_EMAILS + SECRET_PHONES + [SECRET_SALARY, "Topsecret Manager"]
RULES = {"hidden_tables": ["Employee"], "hidden_columns": ["Customer.Email", "Customer.Phone"]}

METADATA = sa.MetaData()
CUSTOMER = sa.Table("Customer", METADATA,
                    sa.Column("CustomerId", sa.Integer, primary_key=True),
                    sa.Column("FirstName", sa.String(40)),
                    sa.Column("Country", sa.String(40)),
                    sa.Column("Email", sa.String(80)),
                    sa.Column("Phone", sa.String(40)),
                    sa.Column("SupportRepId", sa.Integer, sa.ForeignKey("Employee.EmployeeId")))
EMPLOYEE = sa.Table("Employee", METADATA,
                    sa.Column("EmployeeId", sa.Integer, primary_key=True),
                    sa.Column("Name", sa.String(40)),
                    sa.Column("Salary", sa.Integer))
INVOICE = sa.Table("Invoice", METADATA,
                   sa.Column("InvoiceId", sa.Integer, primary_key=True),
                   sa.Column("CustomerId", sa.Integer, sa.ForeignKey("Customer.CustomerId")),
                   sa.Column("Total", sa.Numeric(10, 2)))
# view name -> (definition with {q} quoting, visible?)
VIEWS = {
    "CustomerNames": ("SELECT {CustomerId}, {FirstName} FROM {Customer}", True),
    "CustomerContacts": ("SELECT {CustomerId}, {Email} FROM {Customer}", False),
    "Payroll": ("SELECT {Name}, {Salary} FROM {Employee}", False),
    "AllCustomers": ("SELECT * FROM {Customer}", False),
    "ContactsAgain": ("SELECT {CustomerId} FROM {CustomerContacts}", False),
    "EmailDomains": ("SELECT {CustomerId}, substr({Email}, 5) AS dom FROM {Customer}", False),
}


def _fill(engine: sa.Engine) -> None:
    METADATA.create_all(engine)
    quote = engine.dialect.identifier_preparer.quote
    names = {n: quote(n) for n in ("CustomerId", "FirstName", "Email", "Customer", "Name", "Salary", "Employee",
                                   "CustomerContacts")}
    with engine.begin() as conn:
        conn.execute(EMPLOYEE.insert(), [{"EmployeeId": 1, "Name": "Topsecret Manager", "Salary": int(SECRET_SALARY)}])
        conn.execute(CUSTOMER.insert(), [
            {"CustomerId": 1, "FirstName": "Ada", "Country": "UK", "Email": SECRET_EMAILS[0],
             "Phone": SECRET_PHONES[0], "SupportRepId": 1},
            {"CustomerId": 2, "FirstName": "Grace", "Country": "USA", "Email": SECRET_EMAILS[1],
             "Phone": SECRET_PHONES[1], "SupportRepId": 1},
        ])
        conn.execute(INVOICE.insert(), [{"InvoiceId": 1, "CustomerId": 1, "Total": 10}, {"InvoiceId": 2, "CustomerId": 2,
                                                                                          "Total": 20}])
        for view, (definition, _) in VIEWS.items():  # in order: ContactsAgain reads CustomerContacts
            conn.exec_driver_sql(f"CREATE VIEW {quote(view)} AS {definition.format(**names)}")


@dataclass
class Shop:
    db: Database
    dialect: str
    url: str


def _named(url: str, **extra) -> Database:
    deployment = parse_deployment({"connections": {"shop": {"url": url, "label": "The shop", **RULES, **extra}}})
    return open_named(deployment.connection("shop"))


@pytest.fixture
def sqlite_shop(tmp_path: Path) -> Iterator[Shop]:
    path = tmp_path / "shop.sqlite"
    engine = sa.create_engine(f"sqlite:///{path}")
    _fill(engine)
    engine.dispose()
    db = _named(f"sqlite:///{path}")
    yield Shop(db, "sqlite", f"sqlite:///{path}")
    db.close()


def _server_shop(url: str, dialect: str) -> Iterator[Shop]:
    engine = sa.create_engine(url)
    _fill(engine)
    engine.dispose()
    db = _named(url)
    yield Shop(db, dialect, url)
    db.close()


@pytest.fixture
def pg_shop(pg_url: str) -> Iterator[Shop]:
    yield from _server_shop(pg_url, "postgres")


@pytest.fixture
def mysql_shop(mysql_url: str) -> Iterator[Shop]:
    yield from _server_shop(mysql_url, "mysql")


@pytest.fixture(params=["sqlite_shop", "pg_shop", "mysql_shop"])
def shop(request) -> Shop:
    return request.getfixturevalue(request.param)


def settings() -> Settings:
    return Settings(model=ModelConfig(num_candidates=1, retry_candidates=0))


_NAMES = re.compile(r"(?<![\"\w])(CustomerNames|CustomerId|FirstName|Country|SupportRepId|Customer|InvoiceId|Invoice|Total)"
                    r"(?![\"\w])")


def written_for(shop: Shop, sql: str) -> str:
    """PostgreSQL keeps the mixed-case names quoted, as Chinook's are: quote them there."""
    return _NAMES.sub(r'"\1"', sql) if shop.dialect == "postgres" else sql


def _leaks(*texts: object) -> list[str]:
    joined = "\n".join(str(t) for t in texts)
    return [s for s in SECRETS if s in joined]


# --------------------------------------------------------------------------- the schema everyone sees


def test_the_visible_schema_has_no_hidden_table_column_key_or_view(shop: Shop) -> None:
    schema = reflect_schema(shop.db)
    names = {n.lower() for n in schema.names}
    assert names == {"customer", "invoice", "customernames"}
    customer = schema["Customer"]
    assert [c.name for c in customer.columns] == ["CustomerId", "FirstName", "Country", "SupportRepId"]
    assert customer.foreign_keys == []  # SupportRepId -> Employee: the target is hidden
    assert [fk.ref_table for fk in schema["Invoice"].foreign_keys] == ["Customer"]
    context = render_context(list(schema), keys=True)
    assert "Email" not in context and "Phone" not in context and "Employee" not in context
    assert "Salary" not in context and "Payroll" not in context


def test_views_are_hidden_unless_their_definition_reads_only_visible_things(sqlite_shop: Shop) -> None:
    for view, (_, visible) in VIEWS.items():
        assert (view in reflect_schema(sqlite_shop.db)) is visible, view


def test_visible_tables_is_an_allow_list(sqlite_shop: Shop) -> None:
    db = _named(sqlite_shop.url, visible_tables=["Invoice", "CustomerContacts"])
    try:
        assert reflect_schema(db).names == ["Invoice"]  # the listed view still reads a hidden column
        with pytest.raises(UnsafeSQL):
            check_sql("SELECT FirstName FROM Customer", "sqlite", access=policy_for(db))
    finally:
        db.close()


def test_a_connection_without_rules_is_untouched(sqlite_shop: Shop) -> None:
    deployment = parse_deployment({"connections": {"open": {"url": sqlite_shop.url}}})
    db = open_named(deployment.connection("open"))
    try:
        assert db.rules is None and policy_for(db) is None and "Employee" in reflect_schema(db)
        assert db.display_name == "open"
    finally:
        db.close()


# --------------------------------------------------------------------------- hostile queries

COMMON_ATTACKS = [
    "SELECT Email FROM Customer",
    "SELECT c.Email FROM Customer c",
    "SELECT c.Email AS harmless FROM Customer AS c",
    'SELECT "Email" FROM "Customer"',
    "SELECT email FROM CUSTOMER",
    "SELECT FirstName, Phone FROM Customer",
    "SELECT FirstName FROM Customer WHERE Email LIKE 'ada%'",
    "SELECT FirstName FROM Customer WHERE CustomerId IN (SELECT CustomerId FROM Customer WHERE Email LIKE 'a%')",
    "SELECT (SELECT Email FROM Customer LIMIT 1) AS x",
    "SELECT i.Total, (SELECT c.Email FROM Customer c WHERE c.CustomerId = i.CustomerId) AS who FROM Invoice i",
    "WITH contacts AS (SELECT Email AS e FROM Customer) SELECT e FROM contacts",
    "WITH x AS (SELECT * FROM Customer) SELECT x.Email FROM x",
    "SELECT t.e FROM (SELECT Email AS e FROM Customer) t",
    "SELECT i.Total FROM Invoice i JOIN Customer c ON c.CustomerId = i.CustomerId AND c.Email LIKE 'ada%'",
    "SELECT FirstName FROM Customer ORDER BY Email",
    "SELECT COUNT(*) FROM Customer GROUP BY Phone",
    "SELECT FirstName FROM Customer GROUP BY FirstName HAVING MAX(Email) > ''",
    "SELECT UPPER(Email) FROM Customer",
    "SELECT SUBSTR(Email, 1, 3) FROM Customer",
    "SELECT LENGTH(Email) FROM Customer",
    "SELECT MAX(Email) OVER (PARTITION BY Country) FROM Customer",
    "SELECT CASE WHEN Email LIKE 'a%' THEN 1 ELSE 0 END FROM Customer",
    "SELECT COALESCE(Phone, 'none') FROM Customer",
    "SELECT FirstName FROM Customer UNION SELECT Email FROM Customer",
    "SELECT FirstName FROM Customer UNION SELECT FirstName FROM Customer ORDER BY Email",
    "SELECT FirstName, ROW_NUMBER() OVER (ORDER BY Email) FROM Customer",
    "SELECT FirstName FROM Customer c WHERE EXISTS (SELECT 1 FROM Invoice i WHERE i.CustomerId = c.CustomerId "
    "AND c.Email IS NOT NULL)",
    "SELECT FirstName FROM Customer WHERE (SELECT Email) IS NOT NULL",
    "SELECT FirstName FROM Customer c1 JOIN Customer c2 ON c1.Phone = c2.Phone",
    "SELECT a.FirstName FROM Customer a JOIN Customer b USING (Email)",
    "SELECT FirstName FROM Customer NATURAL JOIN Invoice",
    "SELECT * FROM Employee",
    "SELECT Name, Salary FROM Employee",
    "SELECT e.Salary FROM Customer c JOIN Employee e ON e.EmployeeId = c.SupportRepId",
    "SELECT FirstName FROM Customer WHERE SupportRepId IN (SELECT EmployeeId FROM Employee WHERE Salary > 1000)",
    "WITH Customer AS (SELECT * FROM Employee) SELECT * FROM Customer",
    "WITH RECURSIVE r(n, e) AS (SELECT 1, '' UNION ALL SELECT n + 1, (SELECT Email FROM Customer LIMIT 1) FROM r "
    "WHERE n < 2) SELECT * FROM r",
    "SELECT * FROM CustomerContacts",
    "SELECT * FROM Payroll",
    "SELECT * FROM AllCustomers",
    "SELECT * FROM EmailDomains",
    "SELECT COUNT(*) FROM ContactsAgain",
    "SELECT Customer.Email FROM Invoice",
    "SELECT COUNT(c.*) FROM Customer c",
]
DIALECT_ATTACKS = {
    "sqlite": [
        "SELECT [Email] FROM Customer",
        "SELECT sql FROM sqlite_master",
        "SELECT * FROM main.Employee",
        "SELECT json_object('e', Email) FROM Customer",
        "SELECT group_concat(Email) FROM Customer",
    ],
    "postgres": [
        'SELECT row_to_json(c) FROM "Customer" c',
        'SELECT c::text FROM "Customer" c',
        'SELECT (c)."Email" FROM "Customer" c',
        'SELECT to_jsonb(c.*) FROM "Customer" c',
        'SELECT "Customer" FROM "Customer"',
        'SELECT string_agg("Email", \',\') FROM "Customer"',
        'SELECT * FROM public."Employee"',
        "SELECT most_common_vals::text FROM pg_stats",
        "SELECT definition FROM pg_views",
        "SELECT column_name FROM information_schema.columns",
        'SELECT DISTINCT ON ("Email") "FirstName" FROM "Customer"',
        'SELECT a."FirstName" FROM "Customer" a, LATERAL (SELECT a."Phone") x',
        'SELECT "FirstName" FROM "Customer" WINDOW w AS (ORDER BY "Email")',
    ],
    "mysql": [
        "SELECT `Email` FROM `Customer`",
        "SELECT JSON_OBJECT('e', `Email`) FROM `Customer`",
        "SELECT GROUP_CONCAT(Email SEPARATOR ',') FROM Customer",
        "SELECT column_name FROM information_schema.columns",
        "SELECT * FROM mysql.user",
    ],
}


def _attacks(dialect: str) -> list[str]:
    return COMMON_ATTACKS + DIALECT_ATTACKS[dialect]


def test_every_hostile_query_is_refused_before_the_database(shop: Shop) -> None:
    policy = policy_for(shop.db)
    let_through = []
    for sql in _attacks(shop.dialect):
        try:
            checked = check_sql(sql, shop.dialect, access=policy)
        except UnsafeSQL as refusal:
            assert not _leaks(refusal.message, refusal.detail)
            continue
        let_through.append((sql, checked.sql))
    assert let_through == []


def test_refused_queries_run_through_the_pipeline_leak_nothing(shop: Shop, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    for sql in _attacks(shop.dialect):
        answer = pipeline.run_sql(sql, shop.db, settings())
        assert not answer.ok, sql
        assert not _leaks(json.dumps(answer.to_json(), default=str), answer.error_detail), sql
    assert not _leaks(caplog.text)


def test_a_refusal_is_one_clear_sentence(sqlite_shop: Shop) -> None:
    answer = pipeline.run_sql("SELECT c.Email FROM Customer c", sqlite_shop.db, settings())
    assert answer.error_kind == "refused"
    assert answer.error == "This query was not run: it reads c.Email, which is not available on this connection."
    unknown = pipeline.run_sql("SELECT * FROM NoSuchTable", sqlite_shop.db, settings())
    hidden = pipeline.run_sql("SELECT * FROM Employee", sqlite_shop.db, settings())
    assert unknown.error.replace("NoSuchTable", "X") == hidden.error.replace("Employee", "X")  # confirms nothing


# --------------------------------------------------------------------------- what still works


def test_stars_expand_to_the_visible_columns_only(shop: Shop) -> None:
    for sql in ("SELECT * FROM Customer ORDER BY CustomerId",
                "SELECT c.* FROM Customer c ORDER BY c.CustomerId",
                "SELECT * FROM (SELECT * FROM Customer) t ORDER BY 1",
                "WITH x AS (SELECT * FROM Customer) SELECT * FROM x ORDER BY 1"):
        answer = pipeline.run_sql(written_for(shop, sql), shop.db, settings())
        assert answer.ok, (sql, answer.error, answer.error_detail)
        assert answer.columns == ["CustomerId", "FirstName", "Country", "SupportRepId"], sql
        assert answer.rows[0][:3] == [1, "Ada", "UK"]
        assert not _leaks(json.dumps(answer.to_json(), default=str))
    joined = pipeline.run_sql(written_for(
        shop, "SELECT * FROM Customer c JOIN Invoice i ON i.CustomerId = c.CustomerId ORDER BY i.InvoiceId"), shop.db, settings())
    assert joined.ok and joined.columns == ["CustomerId", "FirstName", "Country", "SupportRepId", "InvoiceId",
                                            "CustomerId", "Total"]
    assert not _leaks(json.dumps(joined.to_json(), default=str))


def test_ordinary_questions_still_run(shop: Shop) -> None:
    for sql, expected in [
        ("SELECT COUNT(*) FROM Customer", [[2]]),
        ("SELECT c.FirstName, SUM(i.Total) AS spent FROM Customer c JOIN Invoice i ON i.CustomerId = c.CustomerId "
         "GROUP BY c.FirstName ORDER BY spent DESC", [["Grace", 20], ["Ada", 10]]),
        ("SELECT FirstName FROM CustomerNames ORDER BY FirstName", [["Ada"], ["Grace"]]),
        ("SELECT FirstName FROM Customer WHERE Country = 'UK'", [["Ada"]]),
    ]:
        answer = pipeline.run_sql(written_for(shop, sql), shop.db, settings())
        assert answer.ok, (sql, answer.error, answer.error_detail)
        assert [[float(v) if isinstance(v, str) and v.replace(".", "").isdigit() else v for v in row]
                for row in answer.rows] == expected


def test_the_model_sees_no_hidden_name_and_its_hostile_sql_is_refused(shop: Shop,
                                                                     caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    backend = ScriptedBackend(["SELECT FirstName, Email FROM Customer"])
    examples = [("Who earns most?", "SELECT Name FROM Employee ORDER BY Salary DESC"),
                ("Which countries?", "SELECT DISTINCT Country FROM Customer")]
    # (a question naming the customers' email gets the withheld sentence instead: see the issue-29 tests below)
    answer = pipeline.ask("List people with their email and phone, and the employees' salaries",
                          shop.db, backend, settings(), examples=examples)
    assert answer.error_kind == "refused"
    prompt = backend.prompts[0]
    for name in ("Email", "Phone", "Employee", "Salary", "Payroll", "CustomerContacts"):
        assert name not in prompt.replace("email and phone", "").replace("employees' salaries", ""), name
    assert "SELECT DISTINCT Country FROM Customer" in prompt  # the permitted example is still shown
    assert not _leaks(prompt, json.dumps(answer.to_json(), default=str), caplog.text)


def test_value_linking_and_readable_columns_never_use_a_hidden_column(sqlite_shop: Shop) -> None:
    tables = list(reflect_schema(sqlite_shop.db))
    asked: list[tuple[str, str]] = []

    def lookup(table: str, column: str, text: str) -> list[str]:
        asked.append((table, column))
        return []

    link_values("SELECT FirstName FROM Customer WHERE Email = 'ADA.SECRET.MAIL@HIDDEN.EXAMPLE'", tables, lookup, "sqlite")
    assert ("Customer", "Email") not in asked
    readable = make_readable("SELECT CustomerId FROM Invoice", tables, "sqlite")
    assert "Email" not in readable and "Phone" not in readable


def test_rules_come_from_the_named_connection() -> None:
    deployment = parse_deployment({"connections": {"a": {"url": "sqlite:///x.db", **RULES, "visible_tables": ["x"]}}})
    rules = AccessRules.of(deployment.connection("a"))
    assert rules is not None and rules.hides_table("employee") and rules.hides_table("Other")
    assert not rules.hides_table("X") and rules.hidden_columns_of("CUSTOMER") == {"email", "phone"}


def test_a_column_of_a_visible_view_can_be_hidden_too(sqlite_shop: Shop) -> None:
    db = _named(sqlite_shop.url, hidden_columns=["Customer.Email", "CustomerNames.FirstName"])
    try:
        assert [c.name for c in reflect_schema(db)["CustomerNames"].columns] == ["CustomerId"]
        assert pipeline.run_sql("SELECT * FROM CustomerNames", db, settings()).columns == ["CustomerId"]
        assert pipeline.run_sql("SELECT FirstName FROM CustomerNames", db, settings()).error_kind == "refused"
    finally:
        db.close()


def test_join_corrections_and_name_repair_never_reach_a_hidden_column(sqlite_shop: Shop) -> None:
    from sqlchat.corrections.joins import join_missing_tables
    from sqlchat.corrections.repair import repair_sql, schema_names
    from sqlchat.schema.reflection import _reflect_all

    visible = list(reflect_schema(sqlite_shop.db))
    full = list(_reflect_all(sqlite_shop.db))
    sql = "SELECT i.Total, Email FROM Invoice i"
    assert "JOIN" in join_missing_tables(sql, full, "sqlite")  # unfiltered, it would join Customer for Email
    assert join_missing_tables(sql, visible, "sqlite") == sql
    salary = "SELECT FirstName, Salary FROM Customer"
    assert "Employee" in join_missing_tables(salary, full, "sqlite") and join_missing_tables(salary, visible) == salary
    assert "Email" not in repair_sql("SELECT Emial FROM Customer", schema_names(visible), "sqlite")
    assert "Email" in repair_sql("SELECT Emial FROM Customer", schema_names(full), "sqlite")


def test_the_legitimate_corpus_passes_and_the_hostile_one_never_crashes_the_access_check(tmp_path: Path) -> None:
    from tests.helpers.business_db import build_business_sqlite
    from tests.hostile_sql import HOSTILE, LEGITIMATE

    path = build_business_sqlite(tmp_path / "business.sqlite")
    deployment = parse_deployment({"connections": {"b": {"url": f"sqlite:///{path}", "hidden_columns": ["customers.email"]}}})
    db = open_named(deployment.connection("b"))
    try:
        policy = policy_for(db)
        for dialect in ("sqlite", "postgres", "mysql"):
            for sql in LEGITIMATE:
                if "email" not in sql.lower():
                    check_sql(sql, dialect, access=policy)  # raises if the rules refused an innocent query
            for _, sql in HOSTILE:
                with pytest.raises(UnsafeSQL):  # refused, as without rules; never another exception
                    check_sql(sql, dialect, access=policy)
    finally:
        db.close()


def test_on_sqlite_the_database_itself_refuses_hidden_reads_when_the_check_is_bypassed(sqlite_shop: Shop) -> None:
    from sqlchat.errors import ExecutionFailed
    from sqlchat.execution import execute
    from sqlchat.safety import CheckedSQL

    config = settings().execution
    let_through = []
    for sql in _attacks("sqlite"):
        try:
            result = execute(sqlite_shop.db, CheckedSQL(sql, "sqlite", False), config)
        except ExecutionFailed as failure:
            assert not _leaks(failure.message, failure.detail)
            continue
        if _leaks(result.frame.to_csv()):
            let_through.append(sql)
    assert let_through == []
    visible = execute(sqlite_shop.db, CheckedSQL("SELECT FirstName FROM CustomerNames ORDER BY 1", "sqlite", False), config)
    assert visible.frame["FirstName"].tolist() == ["Ada", "Grace"]  # a clean view and COUNT(*) still run
    assert execute(sqlite_shop.db, CheckedSQL("SELECT COUNT(*) FROM Customer", "sqlite", False), config).frame.iloc[0, 0] == 2


# --------------------------------------------------------------------------- issue 29: names as each dialect resolves them
#
# PostgreSQL folds an unquoted name to lower case and keeps a quoted one exact, renames a table's columns by
# position through an alias column list, and reads a bare alias (or a table's own name) as the whole row. The
# queries below are generated: every hidden column, every alias form, every clause. Each is checked, then run on
# the real server through the pipeline; a hidden value must never come back, and the visible ones still must.

CUSTOMER_COLUMNS = ["CustomerId", "FirstName", "Country", "Email", "Phone", "SupportRepId"]  # the table's order
HIDDEN = {"Email": SECRET_EMAILS, "Phone": SECRET_PHONES}
VISIBLE = {"CustomerId": [1, 2], "FirstName": ["Ada", "Grace"], "Country": ["UK", "USA"], "SupportRepId": [1, 1]}


def _confuser(alias: str) -> str:
    """A derived table whose only column is ``alias`` in another case than PostgreSQL reads it: a case-blind check
    takes the bare alias for that column, PostgreSQL takes it for the whole row."""
    folded = alias.strip('"') if alias.startswith('"') else alias.lower()
    other = folded.upper() if folded != folded.upper() else folded.lower()
    return f'(SELECT 1 AS "{other}") AS confuser'


def _whole_row_forms(a: str) -> list[str]:
    return [a, f"row_to_json({a})", f"to_jsonb({a})", f"{a}::text", f"CAST({a} AS text)", f"ROW({a}.*)",
            f"to_jsonb({a}.*)", f"json_build_array({a})", f"concat({a})", f"format('%s', {a})",
            f"({a}).*", f"json_agg({a})", f"{a} IS NOT NULL"]


def _in_every_clause(expr: str, source: str) -> list[str]:
    """``expr`` (a value over ``source``'s alias) in each clause a query can read it in."""
    text = f"({expr})::text"
    return [
        f"SELECT {expr} FROM {source}",
        f"SELECT 1 FROM {source} WHERE {text} LIKE '%secret%'",
        f"SELECT count(*) FROM {source} GROUP BY {expr}",
        f"SELECT count(*) FROM {source} HAVING bool_or({text} LIKE '%secret%')",
        f"SELECT 1 AS one FROM {source} ORDER BY {text}",
        f"SELECT 1 AS one FROM {source} ORDER BY substr({text}, 1, 5)::int",
        f'SELECT 1 FROM "Invoice" inv JOIN {source} ON {text} LIKE \'%secret%\'',
        f"SELECT (SELECT {text} LIMIT 1) FROM {source}",
        f'SELECT x FROM (SELECT {text} AS x FROM {source}) AS derived',
        f"WITH w AS (SELECT {text} AS x FROM {source}) SELECT x FROM w",
        f"SELECT upper(lower({text})) FROM {source}",
        f'SELECT "InvoiceId" FROM "Invoice" WHERE EXISTS (SELECT 1 FROM {source} WHERE {text} LIKE \'%secret%\')',
        f"SELECT j.value FROM {source}, json_each_text(row_to_json({expr})) j",
    ]


def _aliases() -> list[str]:
    """Aliases of the Customer table: ordinary ones, and ones spelled like its visible columns in other cases."""
    forms = ["c", "C_", '"c"', '"Cust"']
    for column in VISIBLE:
        forms += [column.lower(), f'"{column.upper()}"', f'"{column.lower()}"']
    return forms


def whole_row_attacks() -> list[str]:
    attacks = ['SELECT row_to_json(city) FROM "Customer" AS city, (SELECT "CITY" FROM (SELECT 1 AS "CITY") q) d LIMIT 2',
               'SELECT row_to_json("Customer") FROM "Customer"', 'SELECT "Customer"::text FROM "Customer"',
               'SELECT row_to_json(public."Customer") FROM "Customer"']
    for alias in _aliases():
        for with_as in (" AS ", " "):
            source = f'"Customer"{with_as}{alias}, {_confuser(alias)}'
            for expr in _whole_row_forms(alias):
                attacks += _in_every_clause(expr, source)
    return list(dict.fromkeys(attacks))


def alias_list_attacks() -> list[str]:
    """``"Customer" AS x(a, b, ...)`` renames by position: each hidden column under a new name, in every clause."""
    attacks = ['SELECT x.m FROM "Customer" AS x(a,b,c,m) WHERE a = 1']  # the probe's, on this table's 6 columns
    for hidden in HIDDEN:
        position = CUSTOMER_COLUMNS.index(hidden)
        for new in ("m", '"M"', "country", '"FirstName"'):
            names = [f"a{i}" for i in range(position)] + [new]
            for tail in ("", ", z1, z2, z3, z4, z5"[: 4 * (len(CUSTOMER_COLUMNS) - position - 1)]):
                listed = ", ".join(names) + tail
                for alias in ("x", '"X"', "city"):
                    source = f'"Customer" AS {alias}({listed})'
                    ref = f"{alias}.{new}"
                    attacks += [
                        f"SELECT {ref} FROM {source}",
                        f"SELECT {new} FROM {source}",
                        f"SELECT 1 FROM {source} WHERE {ref} LIKE 'ada%'",
                        f"SELECT count(*) FROM {source} GROUP BY {ref}",
                        f"SELECT count(*) FROM {source} HAVING max({ref}) > ''",
                        f"SELECT 1 AS one FROM {source} ORDER BY {ref}",
                        f'SELECT 1 FROM "Invoice" i JOIN {source} ON {ref} LIKE \'a%\'',
                        f"SELECT (SELECT {ref} FROM {source} LIMIT 1)",
                        f"SELECT t.v FROM (SELECT {ref} AS v FROM {source}) t",
                        f"WITH w AS (SELECT {ref} AS v FROM {source}) SELECT v FROM w",
                        f"SELECT upper({ref}) FROM {source}",
                        f"SELECT * FROM {source}",
                        f"SELECT {alias}.* FROM {source}",
                    ]
    return list(dict.fromkeys(attacks))


def hidden_column_attacks() -> list[str]:
    """Every hidden column, in every spelling and alias form, in every clause."""
    attacks = []
    for hidden in HIDDEN:
        for alias, qualifier in (("", ""), (" c", "c."), (" AS c", "c."), (' AS "C"', '"C".'), (" AS C", "c."),
                                 ("", '"Customer".'), ("", 'public."Customer".')):
            source = f'"Customer"{alias}'
            for ref in (f'{qualifier}"{hidden}"', f"{qualifier}{hidden.lower()}", f"{qualifier}{hidden.upper()}"):
                attacks += [
                    f"SELECT {ref} FROM {source}",
                    f"SELECT 1 FROM {source} WHERE {ref} LIKE '%secret%'",
                    f"SELECT count(*) FROM {source} GROUP BY {ref}",
                    f"SELECT count(*) FROM {source} HAVING max({ref}) > ''",
                    f"SELECT 1 AS one FROM {source} ORDER BY {ref}",
                    f'SELECT 1 FROM "Invoice" i JOIN {source} ON {ref} LIKE \'%secret%\'',
                    f"SELECT (SELECT {ref} FROM {source} LIMIT 1)",
                    f"SELECT t.v FROM (SELECT {ref} AS v FROM {source}) t",
                    f"WITH w AS (SELECT {ref} AS v FROM {source}) SELECT v FROM w",
                    f"SELECT length(upper({ref})) FROM {source}",
                    f"SELECT CAST({ref} AS varchar(80)) FROM {source}",
                    f"SELECT {ref}::text FROM {source}",
                ]
    # the same table twice, once quoted: sqlglot's scope keeps one of the two
    attacks += ['SELECT "Email" FROM "Customer" C, (SELECT 1 AS z) "C"',
                'SELECT * FROM "Customer" C, (SELECT 1 AS z) "C"',
                'SELECT c."FirstName" FROM "Customer" c WHERE EXISTS (SELECT 1 FROM "Invoice" "C" WHERE c."Email" > \'\')',
                'SELECT c.* FROM "Customer" c WHERE EXISTS (SELECT 1 FROM "Invoice" "C" WHERE c.* IS NOT NULL)',
                'SELECT row_to_json(j) FROM ("Customer" c JOIN "Invoice" i ON c."CustomerId" = i."CustomerId") AS j',
                'SELECT j."Email" FROM ("Customer" c JOIN "Invoice" i ON c."CustomerId" = i."CustomerId") AS j']
    return list(dict.fromkeys(attacks))


def _run_all(shop: Shop, attacks: list[str]) -> tuple[list[str], list[str]]:
    """(let through by the check, leaked when run through the pipeline on the server)."""
    policy = policy_for(shop.db)
    let_through, leaked = [], []
    for sql in attacks:
        try:
            check_sql(sql, shop.dialect, access=policy)
            let_through.append(sql)
        except UnsafeSQL as refusal:
            assert not _leaks(refusal.message, refusal.detail), sql
        answer = pipeline.run_sql(sql, shop.db, settings())
        if _leaks(json.dumps(answer.to_json(), default=str), answer.error, answer.error_detail):
            leaked.append(sql)
    return let_through, leaked


def _raw_leaks(shop: Shop, sql: str) -> bool:
    """Whether ``sql`` sent straight to the server (no check) returns a hidden value: the attack is real."""
    engine = sa.create_engine(shop.url)
    try:
        with engine.connect() as conn:
            return bool(_leaks(conn.exec_driver_sql(sql).fetchall()))
    except sa.exc.DBAPIError:
        return False
    finally:
        engine.dispose()


def test_issue29_alias_column_lists_never_read_a_hidden_column(pg_shop: Shop) -> None:
    attacks = alias_list_attacks()
    assert len(attacks) > 300
    assert _raw_leaks(pg_shop, attacks[0])
    let_through, leaked = _run_all(pg_shop, attacks)
    assert leaked == []
    assert let_through == []


def test_issue29_alias_column_list_over_a_hidden_total_is_refused(pg_shop: Shop) -> None:
    db = _named(pg_shop.url, hidden_columns=["Customer.Email", "Customer.Phone", "Invoice.Total"])
    try:
        for sql in ('SELECT sum(t) FROM "Invoice" AS i(a,b,t)', 'SELECT sum(i.t) FROM "Invoice" i(a, b, t)',
                    'SELECT 1 FROM "Invoice" AS i(a,b,t) WHERE t > 15', 'SELECT max(x) FROM "Invoice" "I"(a,b,x)'):
            answer = pipeline.run_sql(sql, db, settings())
            assert answer.error_kind == "refused", (sql, answer.rows)
    finally:
        db.close()


def test_issue29_whole_row_references_through_any_alias_are_refused(pg_shop: Shop) -> None:
    attacks = whole_row_attacks()
    assert len(attacks) > 1000
    assert _raw_leaks(pg_shop, attacks[0])  # the probe's query does read e-mails when sent as it is
    let_through, leaked = _run_all(pg_shop, attacks)
    assert leaked == []
    assert let_through == []


def test_issue29_hidden_columns_in_every_spelling_and_clause_are_refused(pg_shop: Shop) -> None:
    attacks = hidden_column_attacks()
    assert _raw_leaks(pg_shop, 'SELECT "Email" FROM "Customer" C, (SELECT 1 AS z) "C"')
    let_through, leaked = _run_all(pg_shop, attacks)
    assert leaked == []
    assert let_through == []


def test_issue29_a_cte_spelled_like_a_hidden_table_in_another_case_does_not_hide_it(pg_url: str) -> None:
    engine = sa.create_engine(pg_url)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE staff (id int, pay text)")
        conn.exec_driver_sql(f"INSERT INTO staff VALUES (1, '{SECRET_SALARY}')")
        conn.exec_driver_sql("CREATE TABLE shop (id int, name text)")
    engine.dispose()
    deployment = parse_deployment({"connections": {"s": {"url": pg_url, "hidden_tables": ["staff"]}}})
    db = open_named(deployment.connection("s"))
    try:
        for sql in ('WITH "STAFF" AS (SELECT 1 AS id) SELECT * FROM STAFF',
                    'WITH "Staff" AS (SELECT 1 AS id) SELECT pay FROM Staff',
                    'WITH "STAFF" AS (SELECT 1 AS id) SELECT s.* FROM shop, STAFF s'):
            answer = pipeline.run_sql(sql, db, settings())
            assert answer.error_kind == "refused", (sql, answer.rows)
            assert not _leaks(json.dumps(answer.to_json(), default=str))
        ok = pipeline.run_sql('WITH "STAFF" AS (SELECT 1 AS id) SELECT id FROM "STAFF"', db, settings())
        assert ok.ok and ok.rows == [[1]], ok.error
    finally:
        db.close()


def _visible_queries() -> list[tuple[str, list]]:
    """Visible columns in every alias form and clause, with the rows they must return."""
    queries: list[tuple[str, list]] = []
    for column, values in VISIBLE.items():
        for alias, qualifier in (("", ""), (" c", "c."), (" AS c", "c."), (' AS "C"', '"C".'), ("", '"Customer".')):
            source = f'"Customer"{alias}'
            for ref in (f'{qualifier}"{column}"', f"{qualifier}{column.lower()}", f"{qualifier}{column}"):
                key = f'{qualifier}"CustomerId"'
                queries += [
                    (f"SELECT {ref} FROM {source} ORDER BY {key}", [[v] for v in values]),
                    (f"SELECT {ref} FROM {source} WHERE {key} = 1", [[values[0]]]),
                    (f"SELECT {ref} AS v FROM {source} GROUP BY {ref} ORDER BY v", [[v] for v in sorted(set(values))]),
                    (f"SELECT count(*) FROM {source} GROUP BY {ref} HAVING count({ref}) > 0 ORDER BY 1",
                     sorted([[values.count(v)] for v in set(values)])),
                    (f"SELECT t.v FROM (SELECT {ref} AS v, {key} AS k FROM {source}) t ORDER BY t.k",
                     [[v] for v in values]),
                    (f"WITH w AS (SELECT {ref} AS v, {key} AS k FROM {source}) SELECT v FROM w ORDER BY k",
                     [[v] for v in values]),
                    (f"SELECT (SELECT {ref} FROM {source} WHERE {key} = 1)", [[values[0]]]),
                    (f"SELECT CAST({ref} AS text) FROM {source} ORDER BY {key}", [[str(v)] for v in values]),
                ]
                if qualifier:
                    queries.append((f'SELECT i."InvoiceId" FROM "Invoice" i JOIN {source} ON {key} = i."CustomerId" '
                                    f"AND {ref} = {values[0]!r} ORDER BY 1",
                                    [[n + 1] for n, v in enumerate(values) if v == values[0]]))
    queries += [
        ('SELECT x.t FROM "Invoice" AS x(i, c, t) ORDER BY x.i', [[10.0], [20.0]]),  # no hidden column: renaming is fine
        ('SELECT row_to_json(i)->>\'InvoiceId\' FROM "Invoice" i ORDER BY 1', [["1"], ["2"]]),
        ('SELECT "FirstName" AS c FROM "Customer" c ORDER BY c', [["Ada"], ["Grace"]]),  # a bare ORDER BY output name
        ('SELECT firstname FROM "Customer" firstname, (SELECT 1 AS z) d ORDER BY 1', [["Ada"], ["Grace"]]),
        ('SELECT t.* FROM (SELECT "FirstName" FROM "Customer") t ORDER BY 1', [["Ada"], ["Grace"]]),
        ('SELECT row_to_json(t)::text FROM (SELECT "FirstName" FROM "Customer" ORDER BY 1) t',
         [['{"FirstName":"Ada"}'], ['{"FirstName":"Grace"}']]),
    ]
    return queries


def test_issue29_visible_columns_still_work_in_every_alias_form_and_clause(pg_shop: Shop) -> None:
    failed = []
    for sql, expected in _visible_queries():
        answer = pipeline.run_sql(sql, pg_shop.db, settings())
        rows = [[float(v) if "x.t" in sql else v for v in row] for row in answer.rows]  # numeric: "10.00"
        if not answer.ok or (expected is not None and rows != expected):
            failed.append((sql, answer.error, answer.error_detail, answer.rows))
        assert not _leaks(json.dumps(answer.to_json(), default=str))
    assert failed == [], "\n".join(map(str, failed))


# --------------------------------------------------------------------------- issue 29, item 14: asked for what is hidden

STAFF_EMAILS = ["jane.rep@staff.example", "ravi.rep@staff.example"]


@pytest.fixture
def support_shop(pg_url: str) -> Iterator[Database]:
    """Chinook's shape on PostgreSQL: customers and employees both have an ``Email``; only the customers' is hidden."""
    metadata = sa.MetaData()
    employee = sa.Table("Employee", metadata, sa.Column("EmployeeId", sa.Integer, primary_key=True),
                        sa.Column("FirstName", sa.String(40)), sa.Column("Email", sa.String(80)))
    customer = sa.Table("Customer", metadata, sa.Column("CustomerId", sa.Integer, primary_key=True),
                        sa.Column("FirstName", sa.String(40)), sa.Column("Country", sa.String(40)),
                        sa.Column("Email", sa.String(80)), sa.Column("Phone", sa.String(40)),
                        sa.Column("SupportRepId", sa.Integer, sa.ForeignKey("Employee.EmployeeId")))
    engine = sa.create_engine(pg_url)
    with engine.begin() as conn:
        metadata.create_all(conn)
        conn.execute(employee.insert(), [{"EmployeeId": 1, "FirstName": "Jane", "Email": STAFF_EMAILS[0]},
                                         {"EmployeeId": 2, "FirstName": "Ravi", "Email": STAFF_EMAILS[1]}])
        conn.execute(customer.insert(), [
            {"CustomerId": 1, "FirstName": "Luís", "Country": "Brazil", "Email": SECRET_EMAILS[0],
             "Phone": SECRET_PHONES[0], "SupportRepId": 1},
            {"CustomerId": 2, "FirstName": "Ada", "Country": "UK", "Email": SECRET_EMAILS[1],
             "Phone": SECRET_PHONES[1], "SupportRepId": 2}])
    engine.dispose()
    deployment = parse_deployment({"connections": {"pg": {
        "url": pg_url, "hidden_columns": ["Customer.Email", "Customer.Phone"]}}})
    db = open_named(deployment.connection("pg"))
    yield db
    db.close()


SUBSTITUTE = ("SELECT e.Email FROM Customer c JOIN Employee e ON e.EmployeeId = c.SupportRepId "
              "WHERE c.Country = 'Brazil'")
WITHHELD_QUESTIONS = [
    ("List the email addresses of the customers in Brazil", SUBSTITUTE, "Email"),
    ("What are the emails of our customers?", "SELECT Email FROM Employee", "Email"),
    ("Show each customer's email", "SELECT FirstName, Email FROM Employee", "Email"),
    ("Which customers have a phone number?", "SELECT FirstName FROM Customer WHERE Phone IS NOT NULL", "Phone"),
    ("Give me the phone of every customer in the UK", "SELECT FirstName, Phone FROM Customer WHERE Country = 'UK'",
     "Phone"),
    ("Customers' emails, please", "SELECT * FROM Employee", "Email"),
    ("Email addresses of customers from Brazil, please", "SELECT c.Email FROM Customer c", "Email"),
]


def test_issue29_a_question_about_a_hidden_column_says_so_and_offers_no_substitute(support_shop: Database) -> None:
    for question, model_sql, column in WITHHELD_QUESTIONS:
        backend = ScriptedBackend([model_sql])
        answer = pipeline.ask(question, support_shop, backend, settings())
        assert answer.error_kind == "unanswerable", (question, answer.error, answer.rows)
        assert answer.error == (f"This connection does not make {column} of Customer available, so the question is "
                                "not answered rather than answered with other data."), question
        assert answer.frame is None and answer.sql is None
        out = json.dumps(answer.to_json(), default=str)
        assert not _leaks(out) and not any(e in out for e in STAFF_EMAILS), question


def test_issue29_rows_shown_before_the_doubt_check_never_hold_a_substitute(support_shop: Database) -> None:
    for question, model_sql, column in WITHHELD_QUESTIONS:
        shown = list(pipeline.answers(question, support_shop, ScriptedBackend([model_sql] * 3, least_logprob=-3.0), settings()))
        assert [answer.error_kind for answer in shown] == ["unanswerable"], (question, [a.rows for a in shown])
        assert not any(a.checking for a in shown)
        out = json.dumps([answer.to_json() for answer in shown], default=str)
        assert not _leaks(out) and not any(e in out for e in STAFF_EMAILS), question


def test_issue29_questions_about_visible_columns_of_the_same_name_still_get_answers(support_shop: Database) -> None:
    for question, model_sql, expected in [
        ("List the email addresses of the employees", 'SELECT Email FROM Employee ORDER BY 1', [[e] for e in STAFF_EMAILS]),
        ("List the customers in Brazil with their support rep's email", SUBSTITUTE, [[STAFF_EMAILS[0]]]),
        ("How many customers are in Brazil?", "SELECT COUNT(*) FROM Customer WHERE Country = 'Brazil'", [[1]]),
        ("Which employee emails end in example?", "SELECT Email FROM Employee ORDER BY 1", [[e] for e in STAFF_EMAILS]),
        # the hidden subject asked for, but the answer reads nothing in its place: the names stand
        ("First names and emails of the customers in the UK",
         "SELECT FirstName FROM Customer WHERE Country = 'UK'", [["Ada"]]),
    ]:
        answer = pipeline.ask(question, support_shop, ScriptedBackend([model_sql]), settings())
        assert answer.ok, (question, answer.error)
        assert answer.rows[:len(expected)] == expected or [r[-1:] for r in answer.rows] == expected, question
        assert not _leaks(json.dumps(answer.to_json(), default=str))


def test_issue29_withheld_subjects_are_matched_by_name_words_not_a_word_list() -> None:
    from sqlchat.answers.declining import withheld_subjects
    from sqlchat.schema.model import Column, ForeignKey, Table

    tables = [Table("patients", [Column("patient_id", "INTEGER"), Column("full_name", "TEXT")]),
              Table("doctors", [Column("doctor_id", "INTEGER"), Column("home_address", "TEXT")]),
              Table("visits", [Column("visit_id", "INTEGER"), Column("attending_doctor_id", "INTEGER")],
                    [ForeignKey(["attending_doctor_id"], "doctors", ["doctor_id"])])]
    hidden = [("patients", "home_address"), ("patients", "DiagnosisCode"), ("visits", "Total")]
    assert withheld_subjects("What is the home address of each patient?", hidden, tables) == [("patients", "home_address")]
    assert withheld_subjects("List patients' diagnoses", hidden, tables) == [("patients", "DiagnosisCode")]  # word forms
    assert withheld_subjects("List the patients' names", hidden, tables) == []
    assert withheld_subjects("Which diagnosis does each patient have?", hidden, tables) == [("patients", "DiagnosisCode")]
    assert withheld_subjects("Home addresses of the doctors", hidden, tables) == []  # the doctors' is visible
    assert withheld_subjects("Home address of the patients' doctors", hidden, tables) == []
    assert withheld_subjects("What is the total of all visits?", hidden, tables) == []  # only asking words
    assert withheld_subjects("And their home address?", hidden, tables, ["List the patients"]) == [
        ("patients", "home_address")]  # a follow-up: the table was named in the turn before
