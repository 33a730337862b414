"""Compute the figures quoted in docs/security.md, so anyone can reproduce them.

    .venv/bin/python scripts/security_report.py            # SQLite + local PostgreSQL + MariaDB
    .venv/bin/python scripts/security_report.py --sqlite-only

It runs the safety check over the hostile corpus and the legitimate queries in three
dialects, then sends every hostile statement *unchecked* to execute() on a throwaway
SQLite file and on fresh databases of the local servers (created and dropped here), and
prints what each layer refused, which rows changed (must be 0), the timeouts and the row cap.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

import sqlalchemy as sa  # noqa: E402

from helpers.readonly_harness import (  # noqa: E402
    MYSQL_ADMIN_URL,
    PG_ADMIN_URL,
    HarnessDatabase,
    fresh_server_database,
    measure_cap,
    measure_timeouts,
    prepare,
    remove_leftovers,
    run_corpus,
    session_refusals,
    sqlite_engine,
)
from hostile_sql import CHECK_ONLY_HOSTILE, HOSTILE, LEGITIMATE  # noqa: E402
from sqlchat.config import ExecutionConfig  # noqa: E402
from sqlchat.errors import InvalidSQL, UnsafeSQL  # noqa: E402
from sqlchat.safety import check_sql  # noqa: E402

DIALECTS = ("sqlite", "postgres", "mysql")
CONFIG = ExecutionConfig(row_limit=1000, max_rows=10_000, statement_timeout_s=1.0)


HOSTILE_STATEMENTS = [sql for _, sql in HOSTILE] + CHECK_ONLY_HOSTILE


def check_outcomes(dialect: str, statements: list[str] = HOSTILE_STATEMENTS) -> Counter:
    """How the parse-tree check judges ``statements`` in ``dialect``: ``refused as unsafe``, ``refused as invalid``
    or ``ACCEPTED`` (tests/test_mcp.py holds `sqlchat mcp`'s run_sql to the same counts)."""
    outcome: Counter = Counter()
    for sql in statements:
        try:
            check_sql(sql, dialect)
            outcome["ACCEPTED"] += 1
        except InvalidSQL:
            outcome["refused as invalid"] += 1
        except UnsafeSQL:
            outcome["refused as unsafe"] += 1
    return outcome


def check_figures() -> None:
    """How the parse-tree check judged the corpus in each dialect."""
    statements = HOSTILE_STATEMENTS
    print(f"## Safety check: {len(statements)} hostile statements, {len(LEGITIMATE)} legitimate queries")
    for dialect in DIALECTS:
        outcome = check_outcomes(dialect, statements)
        accepted = sum(1 for sql in LEGITIMATE if _accepts(sql, dialect))
        print(f"- {dialect}: hostile refused {outcome['refused as unsafe'] + outcome['refused as invalid']}"
              f"/{len(statements)} (unsafe {outcome['refused as unsafe']}, invalid {outcome['refused as invalid']},"
              f" accepted {outcome['ACCEPTED']}); legitimate accepted {accepted}/{len(LEGITIMATE)}")


def _accepts(sql: str, dialect: str) -> bool:
    try:
        check_sql(sql, dialect)
        return True
    except UnsafeSQL:
        return False


def engine_figures(label: str, db: HarnessDatabase, admin_url: str | None) -> None:
    """The corpus, unchecked, against one database; then the session alone, timeouts, cap."""
    run = run_corpus(db, CONFIG, admin_url)
    counts = run.counts()
    print(f"\n## {label}: {len(run.outcomes)} hostile statements sent with the check bypassed")
    for outcome in ("refused-read-only", "refused-executor-guard", "stopped-timeout", "refused-error", "ran"):
        print(f"- {outcome}: {counts.get(outcome, 0)}")
    print(f"- write statements that ran: {len(run.writes_not_refused())}")
    print(f"- tables/views/sequences changed: {len(run.changed_tables)} {run.changed_tables or ''}")
    print(f"- files/users left behind: {len(run.leftovers)} {run.leftovers or ''}")
    ran = [sql for _, sql, outcome, _ in run.outcomes if outcome == "ran"]
    if ran:
        print("- statements that ran (all read-only or no-ops): " + "; ".join(repr(s[:60]) for s in ran))
    refusals = session_refusals(db, CONFIG)
    print(f"- read-only session alone: {sum(r for _, r, _ in refusals)}/{len(refusals)} plain writes refused")
    for sql, seconds, message in measure_timeouts(db, CONFIG):
        print(f"- timeout 1 s: {sql[:60]!r} stopped after {seconds:.2f} s: {message}")
    rows, capped = measure_cap(db)
    print(f"- row cap 1000 on a 5000-row table: {rows} rows, capped={capped}")


def sqlite_figures() -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "business.sqlite"
        prepare(f"sqlite:///{path}")
        db = HarnessDatabase(engine=sqlite_engine(path), dialect="sqlite", display_name=path.name)
        try:
            engine_figures("SQLite", db, None)
        finally:
            db.engine.dispose()
            remove_leftovers(None)


def server_figures(label: str, admin_url: str, dialect: str) -> None:
    try:
        with fresh_server_database(admin_url) as url:
            prepare(url)
            db = HarnessDatabase(engine=sa.create_engine(url), dialect=dialect, display_name=label)
            try:
                engine_figures(label, db, admin_url)
            finally:
                db.engine.dispose()
                remove_leftovers(admin_url)
    except sa.exc.OperationalError as exc:
        print(f"\n## {label}: skipped, server not reachable ({str(exc.orig).splitlines()[0]})")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sqlite-only", action="store_true", help="skip the PostgreSQL and MariaDB servers")
    parser.add_argument("--pg-admin-url", default=PG_ADMIN_URL)
    parser.add_argument("--mysql-admin-url", default=MYSQL_ADMIN_URL)
    parser.add_argument("--access-only", action="store_true", help="only the access-rule categories on PostgreSQL")
    args = parser.parse_args(argv)
    if not args.access_only:
        _all_figures(args)
    if not args.sqlite_only:
        access_figures(args.pg_admin_url)


def access_figures(admin_url: str) -> None:
    """Issue 29: the generated PostgreSQL access-rule attacks of tests/test_access.py, by category, on a fresh
    database holding the shop with hidden Customer.Email/Phone: refused by the check, and hidden values that
    came back through the pipeline (must be 0); the same statements sent unchecked show which attacks are real."""
    import test_access as shop  # noqa: PLC0415 - the tests' generators and shop

    from sqlchat import pipeline  # noqa: PLC0415
    from sqlchat.governance.policy import policy_for  # noqa: PLC0415

    try:
        with fresh_server_database(admin_url) as url:
            engine = sa.create_engine(url)
            shop._fill(engine)
            db = shop._named(url)
            policy = policy_for(db)
            print("\n## Access rules on PostgreSQL (hidden Customer.Email, Customer.Phone; Employee hidden)")
            categories = [("alias column lists", shop.alias_list_attacks()),
                          ("whole-row references through any alias", shop.whole_row_attacks()),
                          ("hidden columns, every spelling and clause", shop.hidden_column_attacks()),
                          ("the original hostile access corpus", shop._attacks("postgres"))]
            for label, attacks in categories:
                refused = leaked = raw = 0
                for sql in attacks:
                    try:
                        check_sql(sql, "postgres", access=policy)
                    except UnsafeSQL:
                        refused += 1
                    answer = pipeline.run_sql(sql, db, shop.settings())
                    leaked += bool(shop._leaks(answer.to_json(), answer.error, answer.error_detail))
                    try:
                        with engine.connect() as conn:
                            raw += bool(shop._leaks(conn.exec_driver_sql(sql).fetchall()))
                    except sa.exc.DBAPIError:
                        pass
                print(f"- {label}: {len(attacks)} statements; refused by the check {refused}; "
                      f"hidden values returned {leaked}; would return hidden values if sent unchecked {raw}")
            visible = shop._visible_queries()
            ok = sum(pipeline.run_sql(sql, db, shop.settings()).ok for sql, _ in visible)
            print(f"- visible columns in every alias form and clause: {ok}/{len(visible)} answered")
            db.close()
            engine.dispose()
    except sa.exc.OperationalError as exc:
        print(f"\n## Access rules: skipped, server not reachable ({str(exc.orig).splitlines()[0]})")


def _all_figures(args: argparse.Namespace) -> None:
    check_figures()
    sqlite_figures()
    if not args.sqlite_only:
        server_figures("PostgreSQL", args.pg_admin_url, "postgres")
        server_figures("MariaDB", args.mysql_admin_url, "mysql")


if __name__ == "__main__":
    main()
