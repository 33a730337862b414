"""The reflected schema's model: tables, columns and keys, and how a name is written in SQL.

The lowest layer of the schema stage: sources (a CSV column's clean name), the access rules
and reflection all build on these types and on :func:`quote_identifier`, so this module
imports nothing of sqlchat.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

# --------------------------------------------------------------------------- model


TEXT_TYPES = ("CHAR", "TEXT", "CLOB", "STRING")


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # simplified: INTEGER, REAL, NUMERIC, VARCHAR, TEXT, DATE, DATETIME, BOOLEAN...
    primary_key: bool = False
    nullable: bool = True

    @property
    def is_text(self) -> bool:
        """Holds text (CHAR, VARCHAR, TEXT, CLOB, STRING): where names, places and codes are stored."""
        return any(kind in (self.type or "").upper() for kind in TEXT_TYPES)


@dataclass(frozen=True)
class ForeignKey:
    columns: tuple[str, ...]
    ref_table: str
    ref_columns: tuple[str, ...]

    def __post_init__(self) -> None:
        # Accept lists from callers, keep tuples so the key stays hashable.
        object.__setattr__(self, "columns", tuple(self.columns))
        object.__setattr__(self, "ref_columns", tuple(self.ref_columns))


@dataclass
class Table:
    name: str
    columns: list[Column]
    foreign_keys: list[ForeignKey] = field(default_factory=list)
    row_count: int | None = None
    comment: str | None = None
    is_view: bool = False
    # True on PostgreSQL, which folds unquoted names to lower case: mixed-case names must be quoted.
    fold_case: bool = False

    @property
    def primary_key(self) -> list[str]:
        return [c.name for c in self.columns if c.primary_key]

    def is_key(self, name: str) -> bool:
        """Whether ``name`` is one of this table's declared keys: its primary key or a foreign key's column."""
        lowered = name.lower()
        return (any(key.lower() == lowered for key in self.primary_key)
                or any(column.lower() == lowered for key in self.foreign_keys for column in key.columns))

    def column(self, name: str) -> Column | None:
        """The column called ``name`` (case-insensitive), or None."""
        lowered = name.lower()
        return next((c for c in self.columns if c.name.lower() == lowered), None)

    def create_statement(self, keys: bool = True) -> str:
        """``CREATE TABLE t (a INTEGER, b VARCHAR, PRIMARY KEY (a), FOREIGN KEY (b) REFERENCES u(b))``.

        ``keys=False`` leaves out the key clauses, as in the training data's contexts. Names keep the
        database's spelling and are quoted only where any SQL needs it (spaces, reserved words), not
        for their letter case: the model then reads the same context for a PostgreSQL copy as for the
        SQLite original, and :mod:`sqlchat.schema.names` quotes its SQL as the database needs.
        """
        q = lambda name: quote_identifier(prompt_text(name))  # noqa: E731
        parts = [f"{q(c.name)} {prompt_text(c.type)}".rstrip() for c in self.columns]
        if not keys:
            return f"CREATE TABLE {q(self.name)} ({', '.join(parts)})"
        if self.primary_key:
            parts.append(f"PRIMARY KEY ({', '.join(q(n) for n in self.primary_key)})")
        for fk in self.foreign_keys:
            ref = q(fk.ref_table) + (f"({', '.join(q(n) for n in fk.ref_columns)})" if fk.ref_columns else "")
            parts.append(f"FOREIGN KEY ({', '.join(q(n) for n in fk.columns)}) REFERENCES {ref}")
        return f"CREATE TABLE {q(self.name)} ({', '.join(parts)})"


@dataclass
class Schema:
    """All reflected tables (then views), with case-insensitive lookup by name."""

    tables: list[Table]

    def get(self, name: str) -> Table | None:
        exact = next((t for t in self.tables if t.name == name), None)
        if exact is not None:
            return exact
        lowered = name.lower()
        return next((t for t in self.tables if t.name.lower() == lowered), None)

    def __getitem__(self, name: str) -> Table:
        table = self.get(name)
        if table is None:
            raise KeyError(name)
        return table

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.get(name) is not None

    def __iter__(self) -> Iterator[Table]:
        return iter(self.tables)

    def __len__(self) -> int:
        return len(self.tables)

    @property
    def names(self) -> list[str]:
        return [t.name for t in self.tables]


# --------------------------------------------------------------------------- quoting

_PLAIN_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Words reserved in SQLite, PostgreSQL or MySQL that a schema might still use as a name.
RESERVED_WORDS = frozenset(
    """abort add all alter analyze and any array as asc between both by case cast check collate column
    constraint create cross current_date current_time current_timestamp current_user default deferrable
    delete desc distinct drop else end escape except exists false fetch for foreign from full glob grant
    group having if ilike in index inner insert intersect into is isnull join key lateral leading left
    like limit match natural not notnull null of offset on or order outer over partition placing primary
    range references regexp rename replace returning right row rows select session_user set some table
    then to trailing true union unique update user using values when where window with""".split()
)


_CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def prompt_text(name: str) -> str:
    """A name as the prompt shows it: control characters (new lines that fake instructions) dropped."""
    return _CONTROL_CHARACTERS.sub("", str(name))


def quote_identifier(name: str, *, fold_case: bool = False) -> str:
    """``name`` as is when plain, else in double quotes (reserved words, spaces, unicode, mixed case on PG)."""
    plain = _PLAIN_NAME.match(name) is not None and name.lower() not in RESERVED_WORDS
    if plain and not (fold_case and name != name.lower()):
        return name
    return '"' + name.replace('"', '""') + '"'
