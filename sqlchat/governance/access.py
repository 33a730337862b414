"""Access rules of a named connection: what the model and the users may not see, enforced in the engine.

An operator hides tables and columns per connection (:mod:`sqlchat.governance.deployment`; the
rules themselves are :class:`~sqlchat.governance.rules.AccessRules`). Two places enforce them, so everything downstream is filtered by construction:

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
from sqlchat.governance.rules import AccessRules
from sqlchat.schema.model import Schema, Table

if TYPE_CHECKING:
    from sqlchat.sources.connection import Database

log = logging.getLogger(__name__)

# Schema qualifiers that name the database's own tables (besides the MySQL database's own name).
OWN_SCHEMAS = frozenset({"main", "public"})


@dataclass(frozen=True)
class AccessPolicy:
    """What :func:`enforce` needs: the rules and the visible tables with their visible columns."""

    rules: AccessRules
    visible: dict[str, list[str]]  # lower-cased table name -> visible column names, as spelt in the schema
    own_schemas: frozenset[str] = OWN_SCHEMAS
    dialect: str = "sqlite"  # how names resolve (PostgreSQL: unquoted folds to lower case, quoted is exact)

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
        policy = AccessPolicy(rules, {t.name.lower(): [c.name for c in t.columns] for t in tables + kept},
                              dialect=dialect)
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


def enforce(tree: exp.Expression, policy: AccessPolicy, *, rewrite_stars: bool = True, any_schema: bool = False,
            dialect: str | None = None) -> None:
    """Raise UnsafeSQL when ``tree`` reads anything hidden; rewrite its stars to the visible columns.

    ``rewrite_stars=False`` refuses a star over a table with hidden columns instead (view
    definitions, and the re-check of the text that will be sent). ``any_schema`` ignores
    schema qualifiers (view definitions MySQL stores as ``db.table``). ``dialect`` (default: the
    policy's) decides how names resolve: on PostgreSQL an unquoted name folds to lower case and a
    quoted one is exact, so a name counts as a visible column only when it is spelled exactly so;
    anything that may be a whole-row reference to a table with hidden columns is refused.
    """
    try:
        _enforce(tree, policy, rewrite_stars, any_schema, dialect or policy.dialect)
    except UnsafeSQL:
        raise
    except (SqlglotError, ValueError, KeyError, AttributeError, TypeError, RecursionError) as exc:  # fail closed
        raise UnsafeSQL("This query was not run: its tables and columns could not be checked against "
                        "this connection's access rules.", detail=f"{type(exc).__name__}: {exc}") from None


def _enforce(tree: exp.Expression, policy: AccessPolicy, rewrite_stars: bool, any_schema: bool, dialect: str) -> None:
    scopes = list(traverse_scope(tree))
    seen: set[int] = set()
    for scope in scopes:
        _check_sources(scope, policy)
        _check_tables(scope, policy, seen, any_schema, dialect)
    for table in tree.find_all(exp.Table):  # a table no scope accounts for is not trusted
        if id(table) not in seen and isinstance(table.this, exp.Identifier):
            raise _refuse(table.name)
    for scope in scopes:
        _check_columns(scope, policy, rewrite_stars, dialect)


def _fold(identifier: exp.Expression | str | None, dialect: str) -> str:
    """A name as ``dialect`` compares it: PostgreSQL folds an unquoted name to lower case and keeps a quoted one
    exact; the others compare column names ignoring case."""
    if isinstance(identifier, exp.Identifier):
        return identifier.name if dialect == "postgres" and identifier.quoted else identifier.name.lower()
    return str(identifier or "").lower()


def _from_items(query: exp.Expression) -> list[exp.Expression]:
    """The FROM and JOIN items of a SELECT, as written."""
    if not isinstance(query, exp.Select):
        return []
    items = [query.args["from_"].this] if query.args.get("from_") else []
    return items + [join.this for join in query.args.get("joins") or []]


def _check_sources(scope: Scope, policy: AccessPolicy) -> None:
    """Two FROM items whose names differ only in case (``C`` and ``"C"`` on PostgreSQL) are two sources to the
    database but one to sqlglot's scope, which would then attribute one's columns to the other: refused."""
    names: dict[str, exp.Expression] = {}
    for item in _from_items(scope.expression):
        name = item.alias_or_name.lower()
        if not name:
            continue
        if name in names:
            raise _refuse(f"two sources named {item.alias_or_name}")
        names[name] = item


def _cte_alias(table: exp.Table) -> exp.Identifier | None:
    """The name of the CTE an enclosing WITH defines under ``table``'s name, ignoring case; None when there is none."""
    node: exp.Expression | None = table.parent
    lowered = table.name.lower()
    while node is not None:
        with_ = node.args.get("with_") or node.args.get("with") if isinstance(node, exp.Query) else None
        if isinstance(with_, exp.With):
            for cte in with_.expressions:
                alias = cte.args.get("alias")
                if isinstance(alias, exp.TableAlias) and alias.name.lower() == lowered:
                    return alias.this if isinstance(alias.this, exp.Identifier) else None
        node = node.parent
    return None


def _check_tables(scope: Scope, policy: AccessPolicy, seen: set[int], any_schema: bool, dialect: str) -> None:
    for table in scope.tables:
        source = scope.sources.get(table.alias_or_name)
        if isinstance(source, Scope) and not table.db:  # a CTE of that name, if the database reads the name alike
            cte = _cte_alias(table)
            if cte is not None and _fold(cte, dialect) == _fold(table.this, dialect):
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
        alias = table.args.get("alias")
        if isinstance(alias, exp.TableAlias) and alias.columns and policy.hidden_of(table.name):
            # x(a, b, ...) renames the table's columns by position, hidden ones included: refused
            raise _refuse(f"every column of {alias.name}")
        seen.add(id(table))


def _chain(scope: Scope | None) -> Iterator[tuple[str, exp.Table | Scope]]:
    """(name, source) of every source ``scope`` and its enclosing scopes read: where a name may resolve. A real
    table is listed under its alias and its own name, and also when sqlglot's scope left it out."""
    while scope is not None:
        listed: set[tuple[str, int]] = set()
        for table in scope.tables:
            if isinstance(table.this, exp.Identifier) and not isinstance(scope.sources.get(table.alias_or_name), Scope):
                for name in {table.alias_or_name, table.name}:
                    listed.add((name.lower(), id(table)))
                    yield name, table
        for name, source in scope.sources.items():
            if (name.lower(), id(source)) not in listed:
                yield name, source
        scope = scope.parent


def _real_tables(scope: Scope | None) -> Iterator[tuple[str, exp.Table]]:
    """(name, table) of every real table ``scope`` and its enclosing scopes read."""
    for name, source in _chain(scope):
        if isinstance(source, exp.Table) and isinstance(source.this, exp.Identifier):
            yield name, source


def _check_columns(scope: Scope, policy: AccessPolicy, rewrite_stars: bool, dialect: str) -> None:
    nodes = list(walk_in_scope(scope.expression))
    # scope.columns leaves out some (an aggregate's argument in HAVING): take every Column node in the scope too
    columns = {id(c): c for c in [*scope.columns, *(n for n in nodes if isinstance(n, exp.Column))]}
    for column in columns.values():
        if not isinstance(column.this, exp.Star):
            _check_column(column, scope, policy, dialect)
    for join in scope.expression.args.get("joins") or []:
        _check_join(join, scope, policy)
    for node in nodes:
        bare_star = isinstance(node, exp.Star) and not isinstance(node.parent, exp.Column)
        if bare_star or (isinstance(node, exp.Column) and isinstance(node.this, exp.Star)):
            if node is not scope.expression:
                _check_star(node, scope, policy, rewrite_stars)


def _check_column(column: exp.Column, scope: Scope, policy: AccessPolicy, dialect: str) -> None:
    name = column.name.lower()
    if column.table:
        # every source the qualifier may name, in this scope or an enclosing one, ignoring case: PostgreSQL tells
        # c from "C", so sqlglot's (or a case-blind) choice of one could judge the wrong table
        sources = [source for alias, source in _chain(scope) if alias.lower() == column.table.lower()]
        if not sources and (column.table.lower() not in policy.visible or name in policy.hidden_of(column.table)):
            raise _refuse(f"{column.table}.{column.name}")  # not a source of this query (or schema.table: a row)
        for source in sources:
            if isinstance(source, exp.Table) and name in policy.hidden_of(source.name):
                raise _refuse(f"{column.table}.{column.name}")
            if isinstance(source, Scope) and name in policy.all_hidden:
                # a derived table or CTE: what it reads is judged in its own scope; a hidden name it does not
                # output is refused first (the database would say no such column)
                outputs = getattr(source.expression, "named_selects", None)
                if outputs is None or name not in {n.lower() for n in outputs}:
                    raise _refuse(f"{column.table}.{column.name}")
        return
    if isinstance(scope.expression, exp.SetOperation) and name in policy.all_hidden:
        raise _refuse(column.name)  # ORDER BY of a UNION: its branches' tables are in their own scopes
    rows = []
    for alias, table in _real_tables(scope):
        if name in policy.hidden_of(table.name):
            raise _refuse(column.name)
        if name == alias.lower() and policy.hidden_of(table.name):
            rows.append(alias)
    if rows and not _is_column(column, scope, policy, dialect):
        raise _refuse(f"every column of {rows[0]}")  # a whole-row reference: row_to_json(c), c::text, ORDER BY c


def _is_column(column: exp.Column, scope: Scope, policy: AccessPolicy, dialect: str) -> bool:
    """Whether the database reads the unqualified ``column`` as a column (of a source, or the SELECT's own output in a
    bare ORDER BY item) rather than as a whole row: only on exact evidence, spelled as ``dialect`` compares names."""
    key = _fold(column.this, dialect)
    query = scope.expression
    ordered = column.parent
    if (isinstance(ordered, exp.Ordered) and isinstance(ordered.parent, exp.Order) and ordered.parent.parent is query
            and isinstance(query, exp.Select)
            and key in {_fold(s.args.get("alias"), dialect) for s in query.selects if isinstance(s, exp.Alias)}):
        return True
    for _, source in _chain(scope):
        if isinstance(source, exp.Table) and isinstance(source.this, exp.Identifier):
            if key in {_fold(exp.to_identifier(c, quoted=True), dialect) for c in policy.visible.get(source.name.lower(), [])}:
                return True
        elif isinstance(source, Scope) and key in _output_names(source, dialect):
            return True
    return False


def _output_names(source: Scope, dialect: str) -> set[str]:
    """The column names a derived table or CTE gives, as ``dialect`` compares them; only those known exactly."""
    expression = source.expression
    alias = expression.parent.args.get("alias") if expression.parent is not None else None
    if isinstance(alias, exp.TableAlias) and alias.columns:
        return {_fold(c, dialect) for c in alias.columns}
    if not isinstance(expression, exp.Query):
        return set()
    names = set()
    for select in expression.selects:
        if isinstance(select, exp.Alias):
            names.add(_fold(select.args.get("alias"), dialect))
        elif isinstance(select, exp.Column) and isinstance(select.this, exp.Identifier):
            names.add(_fold(select.this, dialect))
    return names


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
    if not (rewrite and projection) or (isinstance(star, exp.Column) and star.table and len(sources) > 1):
        raise _refuse("every column of " + ", ".join(alias for alias, _ in sources))
    _replace_star(select, star, sources, policy)


def _star_sources(star: exp.Expression, scope: Scope) -> list[tuple[str, exp.Table | Scope]]:
    if isinstance(star, exp.Column) and star.table:  # every source the qualifier may name, ignoring case
        sources = [(star.table, source) for alias, source in _chain(scope) if alias.lower() == star.table.lower()]
        return list({id(source): (alias, source) for alias, source in sources}.values())
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
