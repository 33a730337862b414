"""Contexts with tables the answer does not use, taken from the same source database where it is known.

sql-create-context shows only the tables (and columns) the gold answer reads, so a model trained on it
learns to use every table it is shown: the "joins nothing reads" failure the engine patches with a rule.
Real schemas sent by the engine hold other tables too. Here a row's context gets 5-15 extra tables:
first the other tables of its own Spider database (recognised below), then tables of other databases;
its own tables get their database's other columns. The gold answer is unchanged and stays unambiguous:
no added table or column has a name the answer spells.

Spider's rows in ``train-spider-extra.jsonl`` come database by database, so rows close in the file that
share a table name belong to one database (:func:`database_groups`). A ``train.jsonl`` row (a random
sample) joins the group whose tables it names most. WikiSQL's anonymous tables (``table_name_12``) have
no database: they get other databases' tables only.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

from .rows import Row

WINDOW = 20  # rows of train-spider-extra this close that share a table name are one database
MIN_EXTRA, MAX_EXTRA = 5, 15  # extra tables per widened context (issue 30: "realistic numbers (5-15 tables)")
MAX_DISTRACTOR_COLUMNS = 8  # columns shown of a distractor table (keeps a row within sequence_len)
MAX_ADDED_COLUMNS = 8  # columns added to one of the answer's own tables
ANONYMOUS = re.compile(r"table_(name_)?\d+$", re.IGNORECASE)
_CREATE = re.compile(r"CREATE TABLE\s+(\S+)\s*\((.*)\)\s*$", re.IGNORECASE | re.DOTALL)

Table = tuple[str, tuple[str, ...]]  # (name, column definitions such as "age INTEGER")


def parse_context(context: str) -> list[Table]:
    """``CREATE TABLE a (x INT, y TEXT); CREATE TABLE b (...)`` -> tables, a repeated table merged; [] when the
    context is not plain ``CREATE TABLE`` statements (such a row is left as it is)."""
    merged: dict[str, tuple[str, list[str]]] = {}
    for statement in context.split("; "):
        match = _CREATE.match(statement.strip().rstrip(";"))
        if not match:
            return []
        name, columns = merged.setdefault(match[1].lower(), (match[1], []))
        known = {column.split()[0].lower() for column in columns}
        columns.extend(c.strip() for c in match[2].split(",") if c.strip() and c.split()[0].lower() not in known)
    return [(name, tuple(columns)) for name, columns in merged.values()]


def render_tables(tables: Sequence[Table]) -> str:
    """Tables as the engine renders a context (``sqlchat.schema.context.render_context`` without keys)."""
    return "; ".join(f"CREATE TABLE {name} ({', '.join(columns)})" for name, columns in tables)


def _named(tables: Sequence[Table]) -> list[str]:
    return [name.lower() for name, _ in tables if not ANONYMOUS.match(name)]


def database_groups(contexts: Sequence[str], window: int = WINDOW) -> list[int]:
    """A group id per context: contexts at most ``window`` apart that share a (non-anonymous) table name are
    one database (union-find); a context with no named table is its own group."""
    parent = list(range(len(contexts)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    last_seen: dict[str, int] = {}
    for index, context in enumerate(contexts):
        for name in _named(parse_context(context)):
            if name in last_seen and index - last_seen[name] <= window:
                parent[root(index)] = root(last_seen[name])
            last_seen[name] = index
    return [root(i) for i in range(len(contexts))]


@dataclass
class Databases:
    """The recognised source databases: each one's tables with every column any of its rows shows."""

    tables: dict[int, dict[str, Table]]  # group id -> lowercased name -> (name, columns)

    @classmethod
    def from_rows(cls, contexts: Sequence[str], groups: Sequence[int]) -> "Databases":
        tables: dict[int, dict[str, Table]] = {}
        for context, group in zip(contexts, groups):
            for name, columns in parse_context(context):
                if ANONYMOUS.match(name):
                    continue
                known_name, known = tables.setdefault(group, {}).get(name.lower(), (name, ()))
                seen = {c.split()[0].lower() for c in known}
                tables[group][name.lower()] = (known_name, known + tuple(c for c in columns if c.split()[0].lower() not in seen))
        return cls({group: found for group, found in tables.items() if found})

    def group_of(self, context: str) -> int | None:
        """The database whose tables ``context`` names most (ties: the first recognised), None for none."""
        names = set(_named(parse_context(context)))
        best = max(self.tables, key=lambda group: len(names & self.tables[group].keys()), default=None)
        return best if best is not None and names & self.tables[best].keys() else None


def _words(sql: str) -> set[str]:
    return {word.lower() for word in re.findall(r"[A-Za-z_][A-Za-z0-9_]*", sql)}


def widen_context(row: Row, own: dict[str, Table] | None, others: Sequence[dict[str, Table]], rng: random.Random,
                  low: int = MIN_EXTRA, high: int = MAX_EXTRA) -> Row:
    """``row`` with ``low``-``high`` extra tables: its database's (``own``) first, then whole other databases'
    (``others``, in a seeded order); its own tables get their database's other columns. Nothing added has a
    name the answer spells, so the gold stays right and unambiguous. An unparsable context is returned as is."""
    gold = parse_context(row.context)
    if not gold:
        return row
    spelled = _words(row.answer)
    taken = {name.lower() for name, _ in gold} | spelled
    wanted = rng.randint(low, high)
    widened = []
    for name, columns in gold:
        known = (own or {}).get(name.lower())
        present = {c.split()[0].lower() for c in columns}
        added = [c for c in (known[1] if known else ()) if c.split()[0].lower() not in present | spelled]
        widened.append((name, columns + tuple(added[:MAX_ADDED_COLUMNS])))
    candidates = list((own or {}).values())
    rng.shuffle(candidates)
    for index in rng.sample(range(len(others)), len(others)):
        if len(candidates) >= 4 * high:
            break
        candidates.extend(others[index].values())
    extra: list[Table] = []
    for name, columns in candidates:
        if len(extra) == wanted:
            break
        if name.lower() in taken or not columns:
            continue
        taken.add(name.lower())
        extra.append((name, tuple(columns[:MAX_DISTRACTOR_COLUMNS])))
    if len(extra) < low:
        return row
    tables = extra
    for table in widened:  # the answer's tables anywhere among the others, as a schema lists them
        tables.insert(rng.randint(0, len(tables)), table)
    return replace(row, context=render_tables(tables))


def add_distractor_tables(rows: Sequence[Row], fraction: float, seed: int, grouped_sources: Sequence[str] = ("train-spider-extra",)) -> list[Row]:
    """``fraction`` of ``rows`` (a seeded choice) with 5-15 extra tables each; the rest unchanged, order kept.

    The databases are recognised on the rows of ``grouped_sources`` (files listed database by database);
    other rows are placed in the database whose tables they name most.
    """
    rng = random.Random(seed)
    grouped = [i for i, row in enumerate(rows) if row.source in grouped_sources]
    databases = Databases.from_rows([rows[i].context for i in grouped], database_groups([rows[i].context for i in grouped]))
    pools = list(databases.tables.values())
    result = []
    for row in rows:
        if rng.random() >= fraction:
            result.append(row)
            continue
        group = databases.group_of(row.context)
        own = databases.tables.get(group) if group is not None else None
        others = [pool for pool in pools if pool is not own]
        result.append(widen_context(row, own, others, rng))
    return result


def extra_table_count(before: str, after: str) -> int:
    """How many tables ``after`` lists that ``before`` does not."""
    return len({n.lower() for n, _ in parse_context(after)} - {n.lower() for n, _ in parse_context(before)})
