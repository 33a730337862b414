"""Tell a question the database cannot answer, instead of answering another one.

"What is the average salary of employees?" on a database that stores no salary still gets SQL from a model, and
rows, from some unrelated query. The evidence used here holds on any database, in any wording; no list of words
decides (a question is never declined for one word the schema lacks):

- the model's words: it may answer :data:`DECLINE_MARKER` (a SQL comment, so it can never run) followed by what is
  missing; :func:`model_decline` recognises it in a raw completion;
- the model's lean: how likely its first token was to begin that marker (``Generation.decline_p``), read off the
  greedy answer even when it went on to write SQL;
- the model's reach: :func:`invented_names` lists the tables and columns its SQL reads that the schema lacks
  (``Employee.Salary``, ``Album.ReleaseYear``), in every form the repairs could make of it.

``sqlchat.answers.trust.decide`` weighs them under ``TrustConfig``; the thresholds are measured in
docs/benchmarks.md. The hidden-column check (:func:`withheld_subjects`) is the operator's, not the model's.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

import sqlglot
from sqlglot import exp
from sqlglot.errors import OptimizeError, SqlglotError
from sqlglot.optimizer.qualify import qualify

from sqlchat.language import KEY_NAME_WORDS, QUESTION_WORDS, STOPWORDS, content_words, same_word, stemmed_words
from sqlchat.schema.model import Table

DECLINE_MARKER = "-- cannot answer:"
"""What the model may answer instead of SQL, followed by what is missing:
``-- cannot answer: the database stores no salaries``."""

_MARKER = re.compile(r"--\s*cannot\s+answer\s*:?(?P<reason>[^\n]*)", re.IGNORECASE)
_UNRESOLVED = re.compile(r"^(?:Unknown column: |Column ')(?P<name>[^']+)")


def model_decline(completion: str) -> str | None:
    """What the model says is missing when its completion is :data:`DECLINE_MARKER` (possibly empty); None otherwise."""
    found = _MARKER.search(completion or "")
    if found is None:
        return None
    return found.group("reason").strip().rstrip(";").strip()


def invented_names(sql: str | None, tables: Sequence[Table], dialect: str = "sqlite") -> tuple[str, ...]:
    """The tables and columns ``sql`` reads that ``tables`` do not have: ``("Salary",)`` for
    ``SELECT e.Salary FROM Employee e``. Empty when every name resolves, or when the SQL cannot be read (no evidence).

    Names are resolved as sqlglot's qualifier does (aliases, CTEs, derived tables, output aliases), ignoring case.
    """
    if not sql or not sql.strip():
        return ()
    try:
        tree = sqlglot.parse_one(sql, read=dialect)
    except (SqlglotError, ValueError, TypeError, RecursionError):
        return ()
    if tree is None:
        return ()
    known = {table.name.lower() for table in tables}
    columns = {column.name.lower() for table in tables for column in table.columns}
    ctes = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
    missing = [table.name for table in tree.find_all(exp.Table)
               if table.name and not table.args.get("db") and table.name.lower() not in known | ctes]
    if missing:
        return tuple(dict.fromkeys(missing))
    if dialect == "sqlite":  # SQLite reads a double-quoted name no column has as a string ("Russia")
        for column in list(tree.find_all(exp.Column)):
            if column.this.quoted and not column.table and column.name.lower() not in columns:
                column.replace(exp.Literal.string(column.name))
    schema = {table.name: {column.name: "text" for column in table.columns} for table in tables}
    try:
        qualify(tree.copy(), schema=schema, dialect=dialect, validate_qualify_columns=True, quote_identifiers=False,
                identify=False)
    except OptimizeError as error:
        found = _UNRESOLVED.match(str(error))
        if found is None:
            return ()
        if found.group("name").lower() in known | columns:  # a column or table the SQL did not join
            return _named_nowhere(tree, known | columns)
        name = found.group("name")  # the qualifier lower-cases it: the SQL's own spelling reads better
        return (next((column.name for column in tree.find_all(exp.Column) if column.name.lower() == name.lower()), name),)
    except Exception:  # noqa: BLE001 - sqlglot's qualifier on odd SQL: no evidence either way
        return ()
    return ()


def _named_nowhere(tree: exp.Expression, names: set[str]) -> tuple[str, ...]:
    """The columns ``tree`` reads that are none of the database's table and column ``names`` (lower-cased) and that
    the query does not name itself (an output alias, a CTE's or a derived table's column). A column that some table
    has, read from a table that lacks it, is a join the SQL left out, not data the database lacks: ``SELECT g.Total
    FROM Genre g`` asks for what ``Invoice`` holds, and ``weather = 'rain'`` beside a ``weather`` table for its rows."""
    defined = {alias.alias.lower() for alias in tree.find_all(exp.Alias)}
    defined |= {column.name.lower() for table_alias in tree.find_all(exp.TableAlias) for column in table_alias.columns}
    known = names | defined
    return tuple(dict.fromkeys(column.name for column in tree.find_all(exp.Column)
                               if column.name and column.name.lower() not in known))


def decline_sentence(invented: Sequence[str] = (), model_reason: str | None = None) -> str:
    """The sentence a user reads when a question is declined: what the model said is missing, or what it looked for."""
    if model_reason:
        return f"This database cannot answer that: {model_reason.rstrip('.')}."
    if invented:
        listed = ", ".join(f"“{name}”" for name in invented)
        return (f"This database does not seem to hold what the question asks for: the query needed {listed}, which no "
                "table has, so the question is not answered rather than answered with unrelated rows. "
                "Rephrase it with the names in the schema if the data is there.")
    return "This database does not hold what the question asks for, so it is not answered."


# --------------------------------------------------------------------------- what the operator withheld


def _name_words(name: str) -> set[str]:
    """The words of a table or column name that could name it in a question (``SupportRepId`` -> support, rep)."""
    return {w for w in stemmed_words(name) if len(w) >= 2 and w not in KEY_NAME_WORDS and w not in STOPWORDS
            and w not in QUESTION_WORDS}


def _all_named(words: set[str], asked: Sequence[str]) -> bool:
    return bool(words) and all(any(same_word(q, w) for q in asked) for w in words)


def withheld_subjects(question: str, hidden: Iterable[tuple[str, str]], tables: Sequence[Table],
                      earlier: Sequence[str] = ()) -> list[tuple[str, str]]:
    """The hidden ``(table, column)`` pairs ``question`` asks for: every word of the column's name and of its table's
    name appears in it (stemmed, word forms matched by :func:`sqlchat.language.same_word`; the table may also be
    named by an ``earlier`` question of the conversation), and no visible table the question names has a column of
    that name to give instead ("the employees' email" on a connection that hides only the customers').

    A column whose name is only asking words (``Total``) is never listed: the model's SQL is refused if it reads it.
    ``tables`` is the visible schema; a visible table is named by its own name's words or by a foreign-key column
    pointing to it (``SupportRepId`` names the employees).
    """
    asked = content_words(question)
    before = [w for text in earlier for w in content_words(text)]
    named_visible = set()
    for table in tables:
        if _all_named(_name_words(table.name), asked):
            named_visible.add(table.name.lower())
        for fk in table.foreign_keys:
            if any(_all_named(_name_words(c), asked) for c in fk.columns):
                named_visible.add(fk.ref_table.lower())
    withheld = []
    for table, column in hidden:
        if not _all_named(_name_words(column), asked):
            continue
        if not (_all_named(_name_words(table), asked) or _all_named(_name_words(table), before)):
            continue
        substitutes = [t for t in tables if t.name.lower() in named_visible and t.name.lower() != table.lower()
                       and any(c.name.lower() == column.lower() for c in t.columns)]
        if not substitutes and (table, column) not in withheld:
            withheld.append((table, column))
    return withheld


def withheld_sentence(withheld: Sequence[tuple[str, str]]) -> str:
    """What a user reads when the question asks for what the connection withholds: no substitute is offered."""
    listed = " and ".join(f"{column} of {table}" for table, column in withheld)
    return (f"This connection does not make {listed} available, so the question is not answered "
            "rather than answered with other data.")
