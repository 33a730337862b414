"""Access rules of a named connection: what the model and the users may not see, enforced in the engine.

An operator hides tables and columns per connection (:mod:`sqlchat.governance.deployment`). Two
places enforce it, so everything downstream is filtered by construction:

- :func:`visible_schema` is what :func:`sqlchat.schema.reflection.reflect_schema` returns for a
  :class:`~sqlchat.sources.connection.Database` that carries rules: hidden tables, hidden columns,
  foreign keys touching them and views that read them are gone. The prompt, the schema
  browser, value linking, readable columns, join corrections and ``sqlchat schema`` only
  ever see this schema.
- :func:`enforce` judges a query's parse tree (called by :func:`sqlchat.safety.check_sql`):
  every table it reads must be a visible one (catalogs, other schemas and unknown names
  are refused), no column it reads anywhere (select list, subquery, CTE, join condition,
  ``USING``, ``WHERE``, ``GROUP BY``, ``ORDER BY``, inside a function) may be hidden, and a
  whole-row reference (PostgreSQL's ``row_to_json(c)``, ``c::text``) to a table with hidden
  columns is refused. ``SELECT *`` and ``t.*`` are rewritten to the visible columns.
  Columns are attributed with sqlglot's scopes, so aliases, CTEs and correlated
  subqueries resolve as the database resolves them; an unqualified name is refused when
  any table it could belong to hides a column of that name.

Views: a view stays visible only when its definition, checked by the same rules, reads
nothing hidden (and does not ``SELECT *`` a table with hidden columns); a view whose
definition cannot be read or parsed is hidden. Names are compared ignoring case, which
can only hide more.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import sqlalchemy as sa
import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError
from sqlglot.optimizer.scope import Scope, traverse_scope, walk_in_scope

from sqlchat.errors import UnsafeSQL
from sqlchat.schema.model import Schema, Table

if TYPE_CHECKING:
    from sqlchat.governance.deployment import NamedConnection
    from sqlchat.sources.connection import Database

log = logging.getLogger(__name__)

# Schema qualifiers that name the database's own tables (besides the MySQL database's own name).
OWN_SCHEMAS = frozenset({"main", "public"})


@dataclass(frozen=True)
class AccessRules:
    """Which tables and columns are withheld; all names lower-cased."""

    hidden_tables: frozenset[str] = frozenset()
    hidden_columns: frozenset[tuple[str, str]] = frozenset()  # (table, column)
    visible_tables: frozenset[str] | None = None  # an allow-list; None: every table not hidden

    @classmethod
    def of(cls, named: "NamedConnection") -> "AccessRules | None":
        """The rules of a named connection; None when it withholds nothing."""
        if not named.has_rules:
            return None
        columns = frozenset((table.strip().lower(), column.strip().lower())
                            for table, _, column in (name.partition(".") for name in named.hidden_columns))
        visible = None if named.visible_tables is None else frozenset(n.lower() for n in named.visible_tables)
        return cls(frozenset(n.lower() for n in named.hidden_tables), columns, visible)

    def hides_table(self, name: str) -> bool:
        lowered = name.lower()
        return lowered in self.hidden_tables or (self.visible_tables is not None and lowered not in self.visible_tables)

    def hidden_columns_of(self, table: str) -> frozenset[str]:
        lowered = table.lower()
        return frozenset(column for owner, column in self.hidden_columns if owner == lowered)


@dataclass(frozen=True)
class AccessPolicy:
    """What :func:`enforce` needs: the rules and the visible tables with their visible columns."""

    rules: AccessRules
    visible: dict[str, list[str]]  # lower-cased table name -> visible column names, as spelt in the schema
    own_schemas: frozenset[str] = OWN_SCHEMAS

    def hidden_of(self, table: str) -> frozenset[str]:
        return self.rules.hidden_columns_of(table)

    @property
    def all_hidden(self) -> frozenset[str]:
        """Every hidden column name, whatever its table."""
        return frozenset(column for _, column in self.rules.hidden_columns)


# --------------------------------------------------------------------------- the schema


def visible_schema(db: "Database", full: Schema, rules: AccessRules) -> Schema:
    """``full`` without what ``rules`` hide: tables, columns, keys touching them, and views reading them."""
    tables = [_visible_table(t, rules) for t in full if not t.is_view and not rules.hides_table(t.name)]
    candidates = [_visible_table(t, rules) for t in full if t.is_view and not rules.hides_table(t.name)]
    definitions = {view.name: _view_definition(db, view.name) for view in candidates}
    views = _clean_views(candidates, definitions, tables, rules, db.dialect)
    kept = {t.name.lower() for t in tables + views}
    for table in tables:
        table.foreign_keys = [fk for fk in table.foreign_keys if fk.ref_table.lower() in kept
                              and not set(c.lower() for c in fk.ref_columns) & rules.hidden_columns_of(fk.ref_table)]
    return Schema(tables + views)


def _visible_table(table: Table, rules: AccessRules) -> Table:
    hidden = rules.hidden_columns_of(table.name)
    return replace(
        table,
        columns=[c for c in table.columns if c.name.lower() not in hidden],
        foreign_keys=[fk for fk in table.foreign_keys if not {c.lower() for c in fk.columns} & hidden],
    )


def _view_definition(db: "Database", name: str) -> str | None:
    try:
        return sa.inspect(db.engine).get_view_definition(name)
    except (NotImplementedError, sa.exc.SQLAlchemyError) as exc:
        log.info("view %s hidden: its definition could not be read (%s)", name, type(exc).__name__)
        return None


def _clean_views(views: list[Table], definitions: dict[str, str | None], tables: list[Table], rules: AccessRules,
                 dialect: str) -> list[Table]:
    """The views whose definitions read only visible things, repeated until no view reads a dropped one."""
    kept = list(views)
    while True:
        policy = AccessPolicy(rules, {t.name.lower(): [c.name for c in t.columns] for t in tables + kept})
        still = [v for v in kept if _definition_is_clean(definitions.get(v.name), policy, dialect)]
        if len(still) == len(kept):
            return still
        kept = still


def _definition_is_clean(definition: str | None, policy: AccessPolicy, dialect: str) -> bool:
    if not definition:
        return False
    try:
        tree = sqlglot.parse_one(definition, read=dialect)
        if isinstance(tree, exp.Create):
            tree = tree.expression
        if not isinstance(tree, exp.Query):
            return False
        enforce(tree, policy, rewrite_stars=False, any_schema=True)
        return True
    except (UnsafeSQL, SqlglotError, ValueError, RecursionError):
        return False


# --------------------------------------------------------------------------- the query


def _refuse(what: str) -> UnsafeSQL:
    # The same words whether the thing is hidden or does not exist: a refusal confirms nothing.
    return UnsafeSQL(f"This query was not run: it reads {what}, which is not available on this connection.")


def enforce(tree: exp.Expression, policy: AccessPolicy, *, rewrite_stars: bool = True, any_schema: bool = False) -> None:
    """Raise UnsafeSQL when ``tree`` reads anything hidden; rewrite its stars to the visible columns.

    ``rewrite_stars=False`` refuses a star over a table with hidden columns instead (view
    definitions, and the re-check of the text that will be sent). ``any_schema`` ignores
    schema qualifiers (view definitions MySQL stores as ``db.table``).
    """
    try:
        _enforce(tree, policy, rewrite_stars, any_schema)
    except UnsafeSQL:
        raise
    except (SqlglotError, ValueError, KeyError, AttributeError, TypeError, RecursionError) as exc:  # fail closed
        raise UnsafeSQL("This query was not run: its tables and columns could not be checked against "
                        "this connection's access rules.", detail=f"{type(exc).__name__}: {exc}") from None


def _enforce(tree: exp.Expression, policy: AccessPolicy, rewrite_stars: bool, any_schema: bool) -> None:
    scopes = list(traverse_scope(tree))
    seen: set[int] = set()
    for scope in scopes:
        _check_tables(scope, policy, seen, any_schema)
    for table in tree.find_all(exp.Table):  # a table no scope accounts for is not trusted
        if id(table) not in seen and isinstance(table.this, exp.Identifier):
            raise _refuse(table.name)
    for scope in scopes:
        _check_columns(scope, policy, rewrite_stars)


def _check_tables(scope: Scope, policy: AccessPolicy, seen: set[int], any_schema: bool) -> None:
    for table in scope.tables:
        source = scope.sources.get(table.alias_or_name)
        if isinstance(source, Scope) and not table.db:  # a CTE of that name
            seen.add(id(table))
            continue
        if not isinstance(table.this, exp.Identifier):  # a table function: json_each(...), generate_series(...)
            seen.add(id(table))
            continue
        written = ".".join(p for p in (table.catalog, table.db, table.name) if p)
        if table.catalog or (table.db and not any_schema and table.db.lower() not in policy.own_schemas):
            raise _refuse(written)
        if table.name.lower() not in policy.visible:
            raise _refuse(written)
        seen.add(id(table))


def _real_tables(scope: Scope | None) -> Iterator[tuple[str, exp.Table]]:
    """(alias, table) of every real table ``scope`` and its enclosing scopes read: where a name may resolve."""
    while scope is not None:
        for alias, source in scope.sources.items():
            if isinstance(source, exp.Table) and isinstance(source.this, exp.Identifier):
                yield alias, source
        scope = scope.parent


def _resolve(scope: Scope | None, alias: str) -> exp.Table | Scope | None:
    lowered = alias.lower()
    while scope is not None:
        for name, source in scope.sources.items():
            if name.lower() == lowered:
                return source
        scope = scope.parent
    return None


def _check_columns(scope: Scope, policy: AccessPolicy, rewrite_stars: bool) -> None:
    nodes = list(walk_in_scope(scope.expression))
    # scope.columns leaves out some (an aggregate's argument in HAVING): take every Column node in the scope too
    columns = {id(c): c for c in [*scope.columns, *(n for n in nodes if isinstance(n, exp.Column))]}
    for column in columns.values():
        if not isinstance(column.this, exp.Star):
            _check_column(column, scope, policy)
    for join in scope.expression.args.get("joins") or []:
        _check_join(join, scope, policy)
    for node in nodes:
        bare_star = isinstance(node, exp.Star) and not isinstance(node.parent, exp.Column)
        if bare_star or (isinstance(node, exp.Column) and isinstance(node.this, exp.Star)):
            if node is not scope.expression:
                _check_star(node, scope, policy, rewrite_stars)


def _check_column(column: exp.Column, scope: Scope, policy: AccessPolicy) -> None:
    name = column.name.lower()
    if column.table:
        source = _resolve(scope, column.table)
        if isinstance(source, Scope):  # a derived table or CTE: what it reads is judged in its own scope
            if name not in {n.lower() for n in source.expression.named_selects} and name in policy.all_hidden:
                raise _refuse(f"{column.table}.{column.name}")  # the database would say no such column: say it first
            return
        table_name = source.name if isinstance(source, exp.Table) else column.table
        unknown = source is None and table_name.lower() not in policy.visible  # not a source of this query
        if unknown or name in policy.hidden_of(table_name):
            raise _refuse(f"{column.table}.{column.name}")
        return
    if isinstance(scope.expression, exp.SetOperation) and name in policy.all_hidden:
        raise _refuse(column.name)  # ORDER BY of a UNION: its branches' tables are in their own scopes
    for alias, table in _real_tables(scope):
        if name in policy.hidden_of(table.name):
            raise _refuse(column.name)
        if name == alias.lower() and policy.hidden_of(table.name) and not _is_visible_column(name, scope, policy):
            raise _refuse(f"every column of {alias}")  # a whole-row reference: row_to_json(c), c::text


def _is_visible_column(name: str, scope: Scope, policy: AccessPolicy) -> bool:
    return any(name in {c.lower() for c in policy.visible.get(t.name.lower(), [])} for _, t in _real_tables(scope))


def _check_join(join: exp.Join, scope: Scope, policy: AccessPolicy) -> None:
    """``USING (col)`` compares that column in both tables; ``NATURAL`` compares every shared one."""
    hidden = {c for _, table in _real_tables(scope) for c in policy.hidden_of(table.name)}
    for identifier in join.args.get("using") or []:
        if identifier.name.lower() in hidden:
            raise _refuse(identifier.name)
    if hidden and str(join.args.get("method") or "").upper() == "NATURAL":
        raise _refuse("the columns a NATURAL JOIN compares")


def _check_star(star: exp.Expression, scope: Scope, policy: AccessPolicy, rewrite: bool) -> None:
    select = scope.expression
    projection = isinstance(select, exp.Select) and any(star is p for p in select.expressions)
    sources = _star_sources(star, scope)
    if not any(policy.hidden_of(table.name) for _, table in sources if isinstance(table, exp.Table)):
        return
    if isinstance(star, exp.Star) and isinstance(star.parent, exp.Count):
        return  # COUNT(*) counts rows, it reads no column
    if not (rewrite and projection):
        raise _refuse("every column of " + ", ".join(alias for alias, _ in sources))
    _replace_star(select, star, sources, policy)


def _star_sources(star: exp.Expression, scope: Scope) -> list[tuple[str, exp.Table | Scope]]:
    if isinstance(star, exp.Column) and star.table:
        source = _resolve(scope, star.table)
        return [(star.table, source)] if source is not None else []
    return [(alias, scope.sources[alias]) for alias in scope.selected_sources if alias in scope.sources]


def _expanded(sources: list[tuple[str, exp.Table | Scope]], policy: AccessPolicy) -> list[exp.Expression]:
    columns: list[exp.Expression] = []
    for alias, source in sources:
        qualifier = _qualifier(alias, source)
        if isinstance(source, exp.Table) and policy.hidden_of(source.name):
            columns.extend(exp.Column(this=exp.to_identifier(name, quoted=True), table=qualifier.copy())
                           for name in policy.visible.get(source.name.lower(), []))
        else:
            columns.append(exp.Column(this=exp.Star(), table=qualifier))
    return columns


def _qualifier(alias: str, source: exp.Table | Scope) -> exp.Identifier:
    """The name the query itself uses for a source, quoted as it was written (PostgreSQL folds unquoted names)."""
    if isinstance(source, exp.Table):
        written = source.args["alias"].this if source.args.get("alias") else source.this
        if isinstance(written, exp.Identifier):
            return written.copy()
    return exp.to_identifier(alias)


def _replace_star(select: exp.Select, star: exp.Expression, sources: list[tuple[str, exp.Table | Scope]],
                  policy: AccessPolicy) -> None:
    projections: list[exp.Expression] = []
    for projection in select.expressions:
        projections.extend(_expanded(sources, policy) if projection is star else [projection])
    select.set("expressions", projections)


# --------------------------------------------------------------------------- SQLite's own check


@contextmanager
def sqlite_read_guard(conn: sa.Connection, db: "Database", read_only: Callable[..., int]) -> Iterator[None]:
    """On SQLite, let the database itself refuse to read hidden tables and columns while a statement runs.

    SQLite reports every column a statement reads to its authorizer, through views too, so a
    query that got past :func:`enforce` by a bug still fails ("not authorized"). The read-only
    authorizer :mod:`sqlchat.execution` installed (``read_only``, passed in: this module stays below
    the executor) keeps deciding everything else, and is put back after.
    Servers have no such hook: give their database user column-level grants (docs/security.md).
    """
    rules = getattr(db, "rules", None)
    if rules is None or conn.dialect.name != "sqlite":
        yield
        return
    raw = conn.connection.driver_connection
    raw.set_authorizer(_hiding_authorizer(rules, read_only))
    try:
        yield
    finally:
        raw.set_authorizer(read_only)


def _hiding_authorizer(rules: AccessRules, then: Callable[..., int]) -> Callable[..., int]:
    def authorize(action: int, table: str | None, column: str | None, *rest: object) -> int:
        if action == sqlite3.SQLITE_READ and table and (
                rules.hides_table(table) or (column or "").lower() in rules.hidden_columns_of(table)):
            return sqlite3.SQLITE_DENY
        return then(action, table, column, *rest)
    return authorize
