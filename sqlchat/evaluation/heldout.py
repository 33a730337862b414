"""The held-out suite: databases nobody working on sqlchat tuned on, scored as the product ships.

``tests/data/heldout/<db>/`` holds a public sample database (``<db>.sqlite``), its answerable questions
(``questions.jsonl``: gold SQL for SQLite, and ``query_postgres`` where PostgreSQL needs other functions) and
questions it cannot answer (``unanswerable.jsonl``). Each question is asked through :func:`sqlchat.pipeline.ask`
with the settings a user gets (:func:`sqlchat.evaluation.runner.as_scored`): an answerable question is right when
its rows hold the gold's (answer accuracy) and wrong when declined; an unanswerable one is right when declined.

The same suite runs on PostgreSQL copies (``--postgres URL``): each database is the schema ``heldout_<db>`` of that
server's database, made by ``scripts/copy_demo_to_postgres.py --sqlite <db>=<file> --prefix heldout_``.
"""

from __future__ import annotations

import json
import math
import shutil
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import quote

import sqlalchemy as sa

from sqlchat.config import Settings
from sqlchat.errors import ConfigError
from sqlchat.evaluation.checkpoint import Checkpoint
from sqlchat.evaluation.runner import (
    EvalReport, MeteredBackend, QuestionRecord, SpiderDatabases, _failure_record, _read_text, _report, _score_all,
    as_scored, score_on_database, spread,
)
from sqlchat.models.backends import Backend
from sqlchat.sources.connection import Database, connect

SCHEMA_PREFIX = "heldout_"  # the PostgreSQL copy of <db> is the schema heldout_<db>
UNANSWERABLE = "unanswerable"


@dataclass(frozen=True)
class HeldoutRow:
    """One question of the suite: answerable (with gold SQL per dialect) or not (with what is missing)."""

    id: str
    db: str
    question: str
    query: str = ""
    query_postgres: str | None = None
    level: str = UNANSWERABLE
    tags: tuple[str, ...] = ()
    missing: str | None = None

    @property
    def answerable(self) -> bool:
        return self.missing is None

    def gold(self, dialect: str) -> str:
        """The gold SQL for a database of ``dialect``."""
        return self.query_postgres if dialect == "postgres" and self.query_postgres else self.query


def suite_databases(directory: str | Path) -> list[str]:
    """The suite's database ids: the folders of ``directory`` holding ``<db>/<db>.sqlite``."""
    directory = Path(directory)
    found = sorted(path.name for path in directory.iterdir() if (path / f"{path.name}.sqlite").is_file()) \
        if directory.is_dir() else []
    if not found:
        raise ConfigError(f"{directory} holds no held-out databases (folders <db>/<db>.sqlite).")
    return found


def load_heldout(directory: str | Path, answerable: bool = True, unanswerable: bool = True) -> list[HeldoutRow]:
    """Every question of the suite, database by database, answerable ones first within each."""
    directory = Path(directory)
    rows: list[HeldoutRow] = []
    for db in suite_databases(directory):
        for name, wanted in (("questions.jsonl", answerable), ("unanswerable.jsonl", unanswerable)):
            path = directory / db / name
            if wanted and path.exists():
                rows += _rows(path, db)
    return rows


def _rows(path: Path, db: str) -> list[HeldoutRow]:
    rows = []
    for number, line in enumerate(_read_text(path).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            row = HeldoutRow(id=str(item["id"]), db=str(item["db"]), question=str(item["question"]),
                             query=str(item.get("query") or ""), query_postgres=item.get("query_postgres"),
                             level=str(item.get("level") or UNANSWERABLE),
                             tags=tuple(str(tag) for tag in item.get("tags") or ()), missing=item.get("missing"))
        except (ValueError, KeyError, TypeError) as exc:
            raise ConfigError(f"Line {number} of {path} is not a held-out question.", detail=str(exc)) from exc
        if row.db != db or (row.answerable and not row.query):
            raise ConfigError(f"Line {number} of {path} names the database {row.db!r} or has no gold SQL.")
        rows.append(row)
    return rows


class SuiteFiles(SpiderDatabases):
    """The suite's SQLite files, each copied to a private folder on first use (no run can change them)."""

    def __init__(self, directory: Path, settings: Settings):
        super().__init__(directory, settings)
        self._copies = Path(tempfile.mkdtemp(prefix="sqlchat-heldout-"))

    def path(self, db_id: str) -> Path:
        copy = self._copies / f"{db_id}.sqlite"
        if not copy.exists():
            shutil.copyfile(self.directory / db_id / f"{db_id}.sqlite", copy)
        return copy

    def close(self) -> None:
        super().close()
        shutil.rmtree(self._copies, ignore_errors=True)


class PostgresCopies(SpiderDatabases):
    """The suite's PostgreSQL copies: ``<db>`` is the schema ``heldout_<db>`` of the database ``url`` names; the
    product connects to it as a user would (a URL with that search path), the gold runs on its own connection."""

    def __init__(self, url: str, settings: Settings, schema_prefix: str = SCHEMA_PREFIX):
        super().__init__(Path("."), settings)
        self.url = url
        self.schema_prefix = schema_prefix
        self._engines: dict[str, sa.Engine] = {}

    def schema_url(self, db_id: str) -> str:
        joiner = "&" if "?" in self.url else "?"
        return f"{self.url}{joiner}options={quote(f'-csearch_path={self.schema_prefix}{db_id}')}"

    def database(self, db_id: str) -> Database:
        if db_id not in self._databases:
            db = connect(self.schema_url(db_id), timeout_s=self.settings.execution.statement_timeout_s)
            with db.engine.connect() as conn:
                present = conn.exec_driver_sql("SELECT count(*) FROM information_schema.tables WHERE table_schema = %s",
                                               (f"{self.schema_prefix}{db_id}",)).scalar()
            if not present:
                db.close()
                raise ConfigError(f"The PostgreSQL copy of {db_id} is missing: run scripts/copy_demo_to_postgres.py "
                                  f"--sqlite {db_id}=tests/data/heldout/{db_id}/{db_id}.sqlite --prefix {SCHEMA_PREFIX}")
            self._databases[db_id] = db
        return self._databases[db_id]

    def gold_rows(self, db_id: str, gold: str, settings: Settings) -> list[tuple] | None:
        engine = self._engines.get(db_id) or self._engines.setdefault(db_id, sa.create_engine(
            self.database(db_id).engine.url))
        timeout_ms = int(settings.execution.statement_timeout_s * 1000)
        try:
            with engine.connect() as conn:
                conn.exec_driver_sql(f"SET statement_timeout = {timeout_ms}")
                result = conn.exec_driver_sql(gold.replace("%", "%%"))
                return [tuple(_plain(value) for value in row) for row in result.fetchmany(settings.execution.max_rows)]
        except sa.exc.SQLAlchemyError:
            return None

    def close(self) -> None:
        for engine in self._engines.values():
            engine.dispose()
        self._engines.clear()
        super().close()


def _plain(value: object) -> object:
    """A PostgreSQL value as SQLite's driver would give it: Decimal as float, dates as ISO text."""
    from datetime import date, datetime
    from decimal import Decimal

    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def evaluate_heldout(
    directory: str | Path, backend: Backend, settings: Settings, limit: int | None = None, progress: bool = True,
    checkpoint: Checkpoint | None = None, postgres: str | None = None, schema_prefix: str = SCHEMA_PREFIX,
) -> EvalReport:
    """Score ``backend`` on the held-out suite, on its SQLite files or (``postgres``) their PostgreSQL copies:
    answer accuracy over the answerable questions (a decline is wrong), and the share of each kind declined."""
    started = time.perf_counter()
    directory = Path(directory)
    rows = spread(load_heldout(directory), limit)
    settings = as_scored(settings)
    metered = MeteredBackend(backend)
    with (PostgresCopies(postgres, settings, schema_prefix) if postgres else SuiteFiles(directory, settings)) as databases:
        for db in dict.fromkeys(row.db for row in rows):  # a wrong URL or a missing copy stops here, with its sentence
            databases.database(db)
        records = _score_all(
            rows, lambda row: score_heldout_row(row, databases, metered, settings),
            lambda row, exc: _labelled(_failure_record(row.question, row.query, exc, row.db, answer=False), row),
            desc="eval held-out", progress=progress, checkpoint=checkpoint)
    where = "postgres" if postgres else "sqlite"
    return _report(f"heldout:{directory.name}:{where}", backend, settings, records, started)


def score_heldout_row(row: HeldoutRow, databases: SpiderDatabases, backend: MeteredBackend,
                      settings: Settings) -> QuestionRecord:
    """An answerable question scored against its gold; an unanswerable one by whether it was declined."""
    if row.answerable:
        dialect = databases.database(row.db).dialect
        return _labelled(score_on_database(row.question, row.gold(dialect), row.db, databases, backend, settings), row)
    record = score_on_database(row.question, "", row.db, databases, backend, settings)
    return _labelled(replace(record, ex=None, answer=None, em=False, answerable=False), row)


def _labelled(record: QuestionRecord, row: HeldoutRow) -> QuestionRecord:
    return replace(record, id=row.id, level=row.level, tags=list(row.tags), answerable=row.answerable)


def by_database(report: EvalReport) -> dict[str, dict[str, float | int | None]]:
    """Per database: questions, answer accuracy, answerable declined, unanswerable declined."""
    from sqlchat.evaluation.metrics import mean_of

    out: dict[str, dict[str, float | int | None]] = {}
    for db in dict.fromkeys(r.db_id for r in report.records):
        records = [r for r in report.records if r.db_id == db]
        answerable = [r for r in records if r.answerable]
        out[str(db)] = {"n": len(answerable), "unanswerable": len(records) - len(answerable),
                        "answer_accuracy": mean_of(r.answer for r in answerable),
                        "declined_answerable": mean_of(r.declined for r in answerable),
                        "declined_unanswerable": mean_of(r.declined for r in records if not r.answerable)}
    return out

