"""Names as the database spells them: every table and column reference, in the database's own case.

The model (and a user typing SQL) cannot know that a PostgreSQL copy of Chinook spells its table
``"Customer"``: ``SELECT FirstName FROM Customer`` goes to the server unquoted, PostgreSQL folds it
to ``customer`` and answers ``relation "customer" does not exist``. On MariaDB with
``lower_case_table_names=0`` a table's case matters too, and reserved words (``Order``, ``Group``)
need backticks. :func:`respell` looks every table and column reference of a parsed query up in the
reflected schema, ignoring case, and writes it as reflected, quoted exactly where the target dialect
needs it (PostgreSQL: a name not all lower case, a reserved word or one with odd characters; MySQL:
reserved words and odd characters). Aliases, CTE names and output column aliases are left as
written, and so is every name the schema does not know. SQLite compares names ignoring case, so
its SQL stays as written.

:func:`sqlchat.safety.check_sql` calls this on the tree it is about to send, so every path through
the check (the pipeline's candidates and their corrections, user SQL, value look-ups, readable
columns) reaches the database with names that exist. Tables of another schema (``sales.orders``)
are looked up in that schema when the query names it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.engine.reflection import ObjectKind
from sqlglot import exp
from sqlglot.errors import SqlglotError
from sqlglot.optimizer.scope import Scope, traverse_scope

from sqlchat.schema.model import Column, Table, quote_identifier
from sqlchat.schema.reflection import reflect_schema

if TYPE_CHECKING:
    from sqlchat.sources.connection import Database

log = logging.getLogger(__name__)

# Dialects that read a name's letter case (PostgreSQL folds unquoted names; MySQL table names can be case-sensitive).
CASE_SENSITIVE_DIALECTS = frozenset({"postgres", "mysql"})
_CACHE_KEY = "names"
_TREE_ERRORS = (SqlglotError, ValueError, KeyError, TypeError, AttributeError, RecursionError)

OtherSchema = Callable[[str], "tuple[str, dict[str, Table]] | None"]
"""lower-case schema name -> (its spelling, {lower-case table name: table}); None when there is no such schema."""


def needs_quotes(name: str, dialect: str) -> bool:
    """Whether ``name`` must be quoted for ``dialect`` to read it as spelled."""
    return quote_identifier(name, fold_case=dialect == "postgres") != name


@dataclass
class Spelling:
    """The reflected names of one database, looked up ignoring case, and how its dialect quotes them."""

    dialect: str
    tables: dict[str, Table]  # lower-case name -> table of the default schema
    schema: str | None = None  # the default schema as the database spells it
    other_schema: OtherSchema | None = None
    _others: dict[str, tuple[str, dict[str, Table]] | None] = field(default_factory=dict, repr=False)

    @classmethod
    def of(cls, tables: Iterable[Table], dialect: str, schema: str | None = None,
           other_schema: OtherSchema | None = None) -> "Spelling":
        return cls(dialect, {table.name.lower(): table for table in tables}, schema, other_schema)

    def table(self, name: str, schema: str | None = None) -> tuple[str | None, Table] | None:
        """(schema spelling or None, table) for a reference ``[schema.]name``; None when unknown."""
        if not schema or (self.schema is not None and schema.lower() == self.schema.lower()):
            found = self.tables.get(name.lower())
            return None if found is None else (self.schema if schema else None, found)
        other = self._other(schema.lower())
        if other is None or name.lower() not in other[1]:
            return None
        return other[0], other[1][name.lower()]

    def _other(self, schema: str) -> tuple[str, dict[str, Table]] | None:
        if schema not in self._others:
            self._others[schema] = self.other_schema(schema) if self.other_schema is not None else None
        return self._others[schema]

    def respell(self, tree: exp.Expression) -> None:
        """Rewrite, in place, every table and column reference of ``tree`` as the database spells it."""
        if self.dialect not in CASE_SENSITIVE_DIALECTS:
            return
        try:
            resolved = self._respell_tables(tree)
            done: set[int] = set()
            try:
                scopes = traverse_scope(tree)
            except _TREE_ERRORS as exc:
                log.debug("no scopes for name spelling (%s); columns by name only", exc)
                scopes = []
            for scope in scopes:
                for column in scope.columns:
                    if id(column) not in done and self._respell_column(column, scope, resolved):
                        done.add(id(column))
            self._respell_remaining_columns(tree, resolved, done)
        except _TREE_ERRORS as exc:  # a shape this module does not know: the database will name what is wrong
            log.debug("name spelling stopped: %s", exc)

    # -- tables ------------------------------------------------------------------------

    def _respell_tables(self, tree: exp.Expression) -> dict[int, Table]:
        """Respell table references (not CTE names); ``{id(table node): reflected table}``."""
        ctes = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
        resolved: dict[int, Table] = {}
        for node in tree.find_all(exp.Table):
            if not isinstance(node.this, exp.Identifier) or node.args.get("catalog"):
                continue
            if not node.db and node.name.lower() in ctes:
                continue
            found = self.table(node.name, node.db or None)
            if found is None:
                continue
            schema, table = found
            _spell(node.this, table.name, self.dialect)
            if schema is not None and isinstance(node.args.get("db"), exp.Identifier):
                _spell(node.args["db"], schema, self.dialect)
            resolved[id(node)] = table
        return resolved

    # -- columns -----------------------------------------------------------------------

    def _respell_column(self, column: exp.Column, scope: Scope, resolved: dict[int, Table]) -> bool:
        """Respell ``column`` from the sources of its scope (or an outer one); False when none claims it."""
        if not isinstance(column.this, exp.Identifier):
            return True
        if not column.table and _names_output_alias(column, scope, self.dialect):
            return True  # ORDER BY total, where total is the SELECT's own alias
        for current in _scope_chain(scope):
            sources = _sources(current)
            if column.table:
                source = sources.get(column.table.lower())
                if source is None:
                    continue
                self._respell_qualified(column, source, resolved)
                return True
            found = [spelled for source in sources.values()
                     if (spelled := _output_of(source, column.name, resolved)) is not None]
            if len({spelled if isinstance(spelled, str) else spelled.name for spelled in found}) == 1:
                _copy_spelling(column.this, found[0], self.dialect)
            if found:
                return True  # several spellings: ambiguous, the database will say so
        return False

    def _respell_qualified(self, column: exp.Column, source: exp.Table | Scope, resolved: dict[int, Table]) -> None:
        spelled = _output_of(source, column.name, resolved)
        if spelled is not None:
            _copy_spelling(column.this, spelled, self.dialect)
        if not isinstance(source, exp.Table) or source.alias:
            return  # an alias is referenced as written
        for part in ("table", "db"):  # Customer.FirstName, public.Customer.FirstName: the table's own name
            mine, its = column.args.get(part), source.args.get("this" if part == "table" else "db")
            if isinstance(mine, exp.Identifier) and isinstance(its, exp.Identifier):
                _copy_spelling(mine, its, self.dialect)

    def _respell_remaining_columns(self, tree: exp.Expression, resolved: dict[int, Table], done: set[int]) -> None:
        """Columns no scope claimed (a UNION's ORDER BY, a query sqlglot cannot scope): by name alone,
        when every table of the query that has the name spells it alike and no alias is called so."""
        aliases = {alias.lower() for alias in _aliases(tree)}
        spellings: dict[str, set[str]] = {}
        for table in resolved.values():
            for col in table.columns:
                spellings.setdefault(col.name.lower(), set()).add(col.name)
        for column in list(tree.find_all(exp.Column)):
            if id(column) in done or column.table or not isinstance(column.this, exp.Identifier):
                continue
            lowered = column.name.lower()
            if lowered in aliases or len(spellings.get(lowered, ())) != 1:
                continue
            _spell(column.this, next(iter(spellings[lowered])), self.dialect)


def _spell(identifier: exp.Identifier, name: str, dialect: str) -> None:
    identifier.set("this", name)
    identifier.set("quoted", bool(identifier.args.get("quoted")) or needs_quotes(name, dialect))


def _copy_spelling(identifier: exp.Identifier, spelled: exp.Identifier | str, dialect: str) -> None:
    """Spell ``identifier`` like ``spelled`` (an identifier already respelled, or a reflected name)."""
    if isinstance(spelled, str):
        _spell(identifier, spelled, dialect)
    elif spelled.name.lower() == identifier.name.lower():
        identifier.set("this", spelled.name)
        identifier.set("quoted", bool(spelled.args.get("quoted")))


def _scope_chain(scope: Scope) -> Iterable[Scope]:
    """The scope, then the scopes it is nested in (a correlated subquery reads the outer query's tables)."""
    current: Scope | None = scope
    while current is not None:
        yield current
        current = current.parent


def _sources(scope: Scope) -> dict[str, exp.Table | Scope]:
    """The scope's FROM/JOIN sources by lower-case alias or name."""
    try:
        selected = scope.selected_sources
    except (SqlglotError, ValueError, KeyError):
        return {}
    return {name.lower(): source for name, (_, source) in selected.items()}


def _output_of(source: exp.Table | Scope, name: str, resolved: dict[int, Table]) -> exp.Identifier | str | None:
    """How ``source`` spells its column ``name``: a reflected table's column name, or the identifier
    of a derived table's (or CTE's) output column that is a bare column reference; None if unknown."""
    if isinstance(source, exp.Table):
        table = resolved.get(id(source))
        column: Column | None = table.column(name) if table is not None else None
        return column.name if column is not None else None
    expression = source.expression
    if not isinstance(expression, exp.Query):
        return None
    lowered = name.lower()
    for select in expression.selects:
        if isinstance(select, exp.Column) and select.name.lower() == lowered and isinstance(select.this, exp.Identifier):
            return select.this
        if isinstance(select, exp.Alias) and select.alias.lower() == lowered:
            return None  # an alias the query wrote: referenced as written
    return None


def _names_output_alias(column: exp.Column, scope: Scope, dialect: str = "mysql") -> bool:
    """An unqualified ORDER BY / HAVING name that is one of the SELECT's own aliases (GROUP BY reads an
    input column before an alias of the same name, so it is respelled like any column).

    PostgreSQL reads an output alias only as a whole ORDER BY item (``ORDER BY total``), never inside an
    expression (``ORDER BY substr(total, 1)``) or in HAVING: there the name is an input column (or a whole
    row), so it is respelled like any column. MySQL and SQLite read aliases in both places."""
    clause = column.find_ancestor(exp.Order, exp.Having, exp.Select)
    if not isinstance(clause, (exp.Order, exp.Having)) or clause.parent is not scope.expression:
        return False
    if dialect == "postgres" and not (isinstance(clause, exp.Order) and isinstance(column.parent, exp.Ordered)
                                      and column.parent.parent is clause):
        return False
    query = scope.expression
    aliases = {select.alias.lower() for select in query.selects if isinstance(select, exp.Alias)} \
        if isinstance(query, exp.Query) else set()
    return column.name.lower() in aliases


def _aliases(tree: exp.Expression) -> Iterable[str]:
    """Every alias the query defines: output aliases, table and CTE aliases and their column lists."""
    for node in tree.find_all(exp.Alias, exp.TableAlias):
        if isinstance(node, exp.Alias):
            yield node.alias
        else:
            yield node.name
            yield from (c.name for c in node.columns)


# -- a database's spelling -------------------------------------------------------------


def database_spelling(db: "Database") -> Spelling | None:
    """The :class:`Spelling` of ``db``, kept beside its reflection (rebuilt when that is); None where case does not matter."""
    if db.dialect not in CASE_SENSITIVE_DIALECTS:
        return None
    schema = reflect_schema(db)
    cache = getattr(db, "cache", None)
    hit = cache.get(_CACHE_KEY) if cache is not None else None
    if hit is not None and hit[0] is schema:
        return hit[1]
    spelling = Spelling.of(schema, db.dialect, _default_schema(db), lambda name: _other_schema(db, name))
    if cache is not None:
        cache[_CACHE_KEY] = (schema, spelling)
    return spelling


def _default_schema(db: "Database") -> str | None:
    try:
        return sa.inspect(db.engine).default_schema_name
    except sa.exc.SQLAlchemyError as exc:
        log.debug("default schema unknown: %s", exc)
        return None


def _other_schema(db: "Database", lowered: str) -> tuple[str, dict[str, Table]] | None:
    """Table and column names of the schema the query names (``sales.orders``), as spelled there."""
    try:
        inspector = sa.inspect(db.engine)
        spelled = next((s for s in inspector.get_schema_names() if s.lower() == lowered), None)
        if spelled is None:
            return None
        found = inspector.get_multi_columns(schema=spelled, kind=ObjectKind.ANY)  # one query on PostgreSQL
        return spelled, {name.lower(): Table(name, [Column(c["name"], "") for c in columns])
                         for (_, name), columns in found.items()}
    except sa.exc.SQLAlchemyError as exc:
        log.debug("schema %s not reflected: %s", lowered, exc)
        return None
