"""A small SQLite database per know_sql row, on which the gold query returns something.

know_sql rows carry only ``CREATE TABLE`` statements. On empty tables nearly every query
returns the same empty result, so execution accuracy would reward wrong filters. Here the
gold SQL is read with sqlglot: every ``column <op> literal`` it tests (=, <>, <, >, LIKE, IN,
BETWEEN, also inside HAVING aggregates) yields rows that satisfy it, rows that violate
exactly one condition, and random distractor rows, so a missing or wrong filter and a wrong
aggregate change the result. Columns joined in the gold share a small key pool so joins
meet. Several seeds are tried until the gold result is informative (not empty, not all
NULL/0); otherwise the row is unscorable and the caller counts it.

Values respect SQLite's type affinity: know_sql declares most columns VARCHAR and then
compares them to numbers (``goals > 25``), which SQLite compares as text; generated numbers
keep the threshold's digit count, so the text order and the numeric order agree.
"""

from __future__ import annotations

import random
import re
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlglot import exp

from sqlchat.evaluation.metrics import is_informative, parse_sql
from sqlchat.schema.model import Column, Table

DEFAULT_ATTEMPTS = 8
MATCHING_ROWS = 3  # rows per table satisfying all its conditions (MAX vs MIN needs several)
RANDOM_ROWS = 3  # rows of pure filler per table
KEY_POOL = (1, 2, 3)  # values of joined columns, small so that joins meet
PROGRESS_STEPS = 1_000

ColumnKey = tuple[str, str]  # (table, column), both lower-case

_OPERATORS: dict[type[exp.Expression], str] = {
    exp.EQ: "=", exp.NEQ: "!=", exp.GT: ">", exp.GTE: ">=", exp.LT: "<", exp.LTE: "<=",
    exp.Like: "like", exp.ILike: "like", exp.Glob: "glob",
}
_FLIPPED = {">": "<", ">=": "<=", "<": ">", "<=": ">=", "=": "=", "!=": "!="}
_VALUE_AGGREGATES = (exp.Sum, exp.Avg, exp.Min, exp.Max)
_NUMERIC_AFFINITY = re.compile(r"INT|REAL|FLOA|DOUB|NUM|DEC", re.IGNORECASE)
_WORDS = ("alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel")


@dataclass(frozen=True)
class Condition:
    """One test the gold applies to a column: ``op`` with literal ``values``."""

    op: str  # "=", "!=", ">", ">=", "<", "<=", "like", "glob", "in", "between"
    values: tuple[Any, ...]


@dataclass
class TableInfo:
    name: str
    columns: list[tuple[str, str]]  # (name, declared type)


@dataclass
class GoldPlan:
    """What the gold query looks at, per column."""

    conditions: dict[ColumnKey, list[Condition]] = field(default_factory=dict)
    keys: set[ColumnKey] = field(default_factory=set)  # columns in column = column joins
    numeric: set[ColumnKey] = field(default_factory=set)  # compared to numbers or aggregated


@dataclass
class Synthesis:
    """The database built for one row; ``gold_rows`` is None when the row is unscorable."""

    connection: sqlite3.Connection
    columns: list[str]
    gold_rows: list[tuple] | None
    seed: int | None = None
    reason: str | None = None

    @property
    def scorable(self) -> bool:
        return self.gold_rows is not None

    @property
    def tables(self) -> list[Table]:
        """The built database's tables as the engine describes them (no keys: the contexts declare none)."""
        return [Table(t.name, [Column(name, declared) for name, declared in t.columns])
                for t in read_tables(self.connection).values()]

    def close(self) -> None:
        self.connection.close()


# -- running SQL -----------------------------------------------------------------------------


def run_query(conn: sqlite3.Connection, sql: str, timeout_s: float, max_rows: int = 10_000) -> list[tuple]:
    """Run ``sql`` with a wall-clock limit (progress handler); raises sqlite3.Error."""
    deadline = time.monotonic() + timeout_s
    conn.set_progress_handler(lambda: int(time.monotonic() > deadline), PROGRESS_STEPS)
    try:
        return conn.execute(sql).fetchmany(max_rows)
    finally:
        conn.set_progress_handler(None, 0)


# -- schema ------------------------------------------------------------------------------------


def create_schema(context: str) -> sqlite3.Connection:
    """An in-memory database with the context's tables; raises sqlite3.Error on a bad script."""
    conn = sqlite3.connect(":memory:")
    try:
        conn.executescript(context)
    except sqlite3.Error:
        conn.close()
        raise
    return conn


def read_tables(conn: sqlite3.Connection) -> dict[str, TableInfo]:
    """Tables as SQLite itself sees them, keyed by lower-case name."""
    names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    tables = {}
    for name in names:
        quoted = '"' + name.replace('"', '""') + '"'
        columns = [(row[1], row[2] or "") for row in conn.execute(f"PRAGMA table_info({quoted})")]
        tables[name.lower()] = TableInfo(name, columns)
    return tables


def all_columns(tables: dict[str, TableInfo]) -> list[str]:
    return [column for table in tables.values() for column, _ in table.columns]


def is_numeric_type(declared: str) -> bool:
    return bool(_NUMERIC_AFFINITY.search(declared))


# -- reading the gold ------------------------------------------------------------------------


def analyse_gold(tree: exp.Expression, tables: dict[str, TableInfo]) -> GoldPlan:
    """Collect the gold's literal conditions, join keys and numerically used columns."""
    plan = GoldPlan()
    for node in tree.walk():
        if isinstance(node, (exp.In, exp.Between)) or type(node) in _OPERATORS:
            _add_condition(plan, node, tables)
        if isinstance(node, _VALUE_AGGREGATES):
            for column in node.find_all(exp.Column):
                key = resolve_column(column, tables)
                if key:
                    plan.numeric.add(key)
    return plan


def _add_condition(plan: GoldPlan, node: exp.Expression, tables: dict[str, TableInfo]) -> None:
    if isinstance(node, exp.EQ) and _is_join(node):
        plan.keys.update(k for k in (resolve_column(node.this, tables), resolve_column(node.expression, tables)) if k)
        return
    parsed = _condition_of(node)
    if parsed is None:
        return
    column, condition = parsed
    key = resolve_column(column, tables)
    if key is None:
        return
    plan.conditions.setdefault(key, []).append(condition)
    if condition.op in (">", ">=", "<", "<=", "between") or any(_is_number(v) for v in condition.values):
        plan.numeric.add(key)


def _is_join(node: exp.EQ) -> bool:
    return isinstance(node.this, exp.Column) and isinstance(node.expression, exp.Column)


def _condition_of(node: exp.Expression) -> tuple[exp.Column, Condition] | None:
    """``(column, condition)`` for ``col op literal`` (either side), IN lists and BETWEEN."""
    if isinstance(node, exp.In):
        values = tuple(literal_value(v) for v in node.expressions)
        column = _tested_column(node.this)
        if column is None or not values or any(v is _MISSING for v in values):
            return None
        return column, Condition("in", values)
    if isinstance(node, exp.Between):
        column = _tested_column(node.this)
        low, high = literal_value(node.args.get("low")), literal_value(node.args.get("high"))
        if column is None or low is _MISSING or high is _MISSING:
            return None
        return column, Condition("between", (low, high))
    op = _OPERATORS[type(node)]
    column, value = _tested_column(node.this), literal_value(node.expression)
    if column is None or value is _MISSING:
        column, value, op = _tested_column(node.expression), literal_value(node.this), _FLIPPED.get(op)
    if column is None or value is _MISSING or op is None:
        return None
    return column, Condition(op, (value,))


def _tested_column(node: exp.Expression | None) -> exp.Column | None:
    """The column a condition tests, looking through parentheses, casts and value aggregates."""
    while isinstance(node, (exp.Paren, exp.Cast, exp.Lower, exp.Upper, exp.Trim) + _VALUE_AGGREGATES):
        node = node.this
    return node if isinstance(node, exp.Column) and not isinstance(node.this, exp.Star) else None


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


_MISSING: Any = _Missing()


def literal_value(node: exp.Expression | None) -> Any:
    """The Python value of a literal (strings, numbers, negative numbers), else _MISSING."""
    while isinstance(node, exp.Paren):
        node = node.this
    negative = isinstance(node, exp.Neg)
    if negative:
        node = node.this
    if not isinstance(node, exp.Literal):
        return _MISSING
    if node.is_string:
        return _MISSING if negative else node.this
    number = _to_number(node.this)
    if number is None:
        return _MISSING
    return -number if negative else number


def resolve_column(column: exp.Expression | None, tables: dict[str, TableInfo]) -> ColumnKey | None:
    """The (table, column) a column reference means, via aliases in its own SELECT's FROM."""
    if not isinstance(column, exp.Column) or isinstance(column.this, exp.Star):
        return None
    name = column.name.lower()
    scope = _scope_tables(column)
    if column.table:
        candidates = [scope.get(column.table.lower(), column.table.lower())]
    else:
        candidates = list(dict.fromkeys(scope.values())) + list(tables)
    for table in candidates:
        info = tables.get(table)
        if info and any(c.lower() == name for c, _ in info.columns):
            return table, name
    return None


def _scope_tables(node: exp.Expression) -> dict[str, str]:
    """alias (or name) -> table for the tables in the nearest enclosing SELECT."""
    select = node.find_ancestor(exp.Select)
    if select is None:
        return {}
    sources = []
    if select.args.get("from_") is not None:
        sources.append(select.args["from_"].this)
    sources.extend(join.this for join in select.args.get("joins") or [])
    return {t.alias_or_name.lower(): t.name.lower() for t in sources if isinstance(t, exp.Table)}


# -- values --------------------------------------------------------------------------------------


def _to_number(text: Any) -> int | float | None:
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        return text
    try:
        return int(str(text))
    except ValueError:
        pass
    try:
        return float(str(text))
    except ValueError:
        return None


def _is_number(value: Any) -> bool:
    return _to_number(value) is not None


def _above(value: Any, rng: random.Random) -> Any:
    """A value greater than ``value``, with the same digit count when it can (text order agrees)."""
    number = _to_number(value)
    if number is None:
        return str(value) + rng.choice("bcdxyz")
    if isinstance(number, int) and number >= 0:
        top = 10 ** len(str(number)) - 1
        if number < top:
            return rng.randint(number + 1, top)
        return int(f"{number}{rng.randint(1, 9)}")  # 9 -> 9x: greater as a number and as text
    return number + rng.choice((0.5, 1, 2))


def _below(value: Any, rng: random.Random) -> Any:
    """A value smaller than ``value``, with the same digit count when it can."""
    number = _to_number(value)
    if number is None:
        text = str(value)
        return text[:-1] if len(text) > 1 else ""
    if isinstance(number, int) and number > 0:
        bottom = 10 ** (len(str(number)) - 1) if number >= 10 else 0
        if number > bottom:
            return rng.randint(bottom, number - 1)
        return rng.choice((0, number // 10))  # 10 -> 0 or 1: smaller as a number and as text
    return number - rng.choice((0.5, 1, 2))


def _other(value: Any, rng: random.Random) -> Any:
    """A different value of the same kind: a neighbouring number or another category."""
    if _is_number(value):
        return rng.choice((_above, _below))(value, rng)
    return f"{value} {rng.choice(_WORDS)}"


def _fill_pattern(pattern: str, many: str, one: str, rng: random.Random) -> str:
    """A string matching a LIKE (``%``, ``_``) or GLOB (``*``, ``?``) pattern."""
    return "".join(rng.choice(("", "x", "yy ")) if ch == many else "q" if ch == one else ch for ch in str(pattern))


def satisfying(condition: Condition, rng: random.Random) -> Any:
    """One value that passes ``condition``."""
    op, values = condition.op, condition.values
    if op in ("=", "in"):
        return rng.choice(values)
    if op in (">", ">="):
        return values[0] if op == ">=" and rng.random() < 0.3 else _above(values[0], rng)
    if op in ("<", "<="):
        return values[0] if op == "<=" and rng.random() < 0.3 else _below(values[0], rng)
    if op == "between":
        low, high = (_to_number(v) for v in values)
        if isinstance(low, int) and isinstance(high, int) and low <= high:
            return rng.randint(low, high)
        return values[0]
    if op == "like":
        return _fill_pattern(values[0], "%", "_", rng)
    if op == "glob":
        return _fill_pattern(values[0], "*", "?", rng)
    return _other(values[0], rng)  # "!="


def violating(condition: Condition, rng: random.Random) -> Any:
    """One value that fails ``condition``: just across a threshold, or another category."""
    op, values = condition.op, condition.values
    if op in (">", ">="):
        return values[0] if op == ">" else _below(values[0], rng)
    if op in ("<", "<="):
        return values[0] if op == "<" else _above(values[0], rng)
    if op == "between":
        return _below(values[0], rng) if rng.random() < 0.5 else _above(values[1], rng)
    if op == "!=":
        return values[0]
    if op in ("like", "glob"):
        return f"zz{rng.randint(100, 999)}"
    return _other(rng.choice(values), rng)  # "=", "in"


def holds(value: Any, condition: Condition) -> bool:
    """Roughly how SQLite would judge ``value`` (numbers numerically, text as text)."""
    op, values = condition.op, condition.values
    if op == "in":
        return any(_equal(value, v) for v in values)
    if op == "between":
        return _compare(value, values[0]) >= 0 and _compare(value, values[1]) <= 0
    if op in ("like", "glob"):
        return _pattern_regex(values[0], op).fullmatch(str(value)) is not None
    if op in ("=", "!="):
        return _equal(value, values[0]) == (op == "=")
    order = _compare(value, values[0])
    return {">": order > 0, ">=": order >= 0, "<": order < 0, "<=": order <= 0}[op]


def _equal(a: Any, b: Any) -> bool:
    return _compare(a, b) == 0


def _compare(a: Any, b: Any) -> int:
    x, y = _to_number(a), _to_number(b)
    if x is None or y is None:
        x, y = str(a), str(b)
    return (x > y) - (x < y)


def _pattern_regex(pattern: str, op: str) -> re.Pattern[str]:
    many, one = ("%", "_") if op == "like" else ("*", "?")
    parts = [".*" if ch == many else "." if ch == one else re.escape(ch) for ch in str(pattern)]
    return re.compile("".join(parts), re.IGNORECASE if op == "like" else 0)


# -- rows ----------------------------------------------------------------------------------------


# Numbers for unconstrained numeric columns: matching rows in the middle band, distractors
# below and above it, so dropping a filter moves MIN, MAX, SUM and AVG. All two digits, so
# the text order of VARCHAR columns agrees with the numeric order.
_BANDS = {"low": range(10, 40), "mid": range(40, 70), "high": range(70, 100)}


class RowMaker:
    """Builds rows for one table under one seed: matching, one-condition-off and random rows."""

    def __init__(self, plan: GoldPlan, rng: random.Random):
        self.plan = plan
        self.rng = rng
        self._numbers: dict[tuple[ColumnKey, str], Iterator[int]] = {}

    def rows_for(self, table: str, info: TableInfo, distractors: bool) -> list[list[Any]]:
        keys = [(table, column.lower()) for column, _ in info.columns]
        rows = [self._row(keys, info, "mid") for _ in range(MATCHING_ROWS)]
        if distractors:
            rows.extend(self._one_condition_off(keys, info))
            rows.extend(self._row(keys, info, self.rng.choice(("low", "high")), random=True) for _ in range(RANDOM_ROWS))
        return rows

    def _one_condition_off(self, keys: list[ColumnKey], info: TableInfo) -> list[list[Any]]:
        """Per condition, a row failing only it, with low and with high numbers elsewhere."""
        rows = []
        for index, key in enumerate(keys):
            for condition in self.plan.conditions.get(key, []):
                for band in ("low", "high"):
                    row = self._row(keys, info, band)
                    row[index] = self._typed(violating(condition, self.rng), info, index)
                    rows.append(row)
        return rows

    def _row(self, keys: list[ColumnKey], info: TableInfo, band: str, random: bool = False) -> list[Any]:
        return [
            self._typed(self._value(key, band, match=not random or self.rng.random() < 0.3), info, i)
            for i, key in enumerate(keys)
        ]

    def _value(self, key: ColumnKey, band: str, match: bool) -> Any:
        conditions = self.plan.conditions.get(key)
        if conditions and match:
            return self._satisfying_all(conditions)
        if conditions:
            return violating(self.rng.choice(conditions), self.rng)
        if key in self.plan.keys:
            return self.rng.choice(KEY_POOL)
        if key in self.plan.numeric:
            return self._distinct_number(key, band)
        return f"{key[1]} {self.rng.choice(_WORDS[:4])}"  # few categories: GROUP BY sees groups

    def _satisfying_all(self, conditions: list[Condition]) -> Any:
        """A value passing every condition on the column; for ``a = 1 OR a = 2``, one of them."""
        candidates = [satisfying(c, self.rng) for c in conditions for _ in range(3)]
        good = [v for v in candidates if all(holds(v, c) for c in conditions)]
        return self.rng.choice(good or candidates)

    def _distinct_number(self, key: ColumnKey, band: str) -> int:
        """No repeats per column and band, so MAX, MIN and SUM differ between row sets."""
        if (key, band) not in self._numbers:
            numbers = _BANDS[band]
            self._numbers[key, band] = iter(self.rng.sample(numbers, len(numbers)))
        return next(self._numbers[key, band], self.rng.randint(100, 999))

    @staticmethod
    def _typed(value: Any, info: TableInfo, index: int) -> Any:
        """Numbers for numeric columns, text for text columns (as SQLite's affinity would store)."""
        if is_numeric_type(info.columns[index][1]):
            number = _to_number(value)
            return value if number is None else number
        return value if isinstance(value, str) else str(value)


def fill(conn: sqlite3.Connection, tables: dict[str, TableInfo], plan: GoldPlan, seed: int) -> None:
    """Insert this seed's rows; odd seeds leave out distractors (some golds need sparse data)."""
    maker = RowMaker(plan, random.Random(seed))
    for table, info in tables.items():
        rows = maker.rows_for(table, info, distractors=seed % 2 == 0)
        if not info.columns or not rows:
            continue
        quoted = '"' + info.name.replace('"', '""') + '"'
        marks = ", ".join("?" for _ in info.columns)
        conn.executemany(f"INSERT INTO {quoted} VALUES ({marks})", rows)
    conn.commit()


# -- the whole thing -----------------------------------------------------------------------------


def synthesize(context: str, gold: str, *, attempts: int = DEFAULT_ATTEMPTS, timeout_s: float = 5.0) -> Synthesis:
    """A database from ``context`` on which ``gold`` returns an informative result.

    When no seed works, or the context itself is not valid SQLite, the Synthesis is
    unscorable and holds the last attempt's database (still fine for checking that a
    prediction runs); it never raises for a bad row.
    """
    try:
        conn = create_schema(context)
    except sqlite3.Error as exc:
        return Synthesis(sqlite3.connect(":memory:"), [], None, reason=f"the context fails: {exc}")
    tables = read_tables(conn)
    tree = parse_sql(gold, all_columns(tables))
    plan = analyse_gold(tree, tables) if tree is not None else GoldPlan()
    reason = "the gold SQL does not parse" if tree is None else "the gold returned nothing on every seed"
    for seed in range(attempts):
        if seed:
            conn.close()
            conn = create_schema(context)
        fill(conn, tables, plan, seed)
        try:
            rows = run_query(conn, gold, timeout_s)
        except sqlite3.Error as exc:
            reason = f"the gold SQL fails: {exc}"
            break
        if is_informative(rows):
            return _read_only(Synthesis(conn, all_columns(tables), rows, seed=seed))
    return _read_only(Synthesis(conn, all_columns(tables), None, reason=reason))


def _read_only(synthesis: Synthesis) -> Synthesis:
    """Predictions run here after the safety check; query_only is the second lock."""
    synthesis.connection.execute("PRAGMA query_only = ON")
    return synthesis
