"""Schema-aware repair: point names the model invented at the nearest names that exist.

A 135M model knows SQL far better than it knows a particular schema: it writes
``artist_name`` where the table has ``Name``, ``singers`` for ``singer``, or puts a
column on the wrong table of a join. Those queries fail with "no such column".
This module maps each unknown table or column to the closest real one in the
tables the query reads (same letters ignoring case and underscores, the table's
own name as a prefix, singular/plural, then close spelling); a joined table with no close
name (the Qwen models' ``JOIN Address a`` for a customer's own ``City``) is dropped when
every column read from it is a real table's. It never invents a name the schema lacks
and leaves a query it cannot parse untouched; the pipeline runs the model's own SQL first
and the repaired one only when that fails. Joins on the wrong keys are
:mod:`sqlchat.corrections.joins`' job; :mod:`sqlchat.corrections.registry` orders every correction (this one is
its ``invented_names`` rule).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping, Sequence

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError

from sqlchat.language import stem
from sqlchat.schema.model import Schema

# Table name -> its column names, the only schema facts repair needs.
SchemaNames = Mapping[str, Sequence[str]]
SPELLING_CUTOFF = 0.75


def schema_names(schema: Schema | Iterable) -> dict[str, list[str]]:
    """``{table: [column, ...]}`` from a reflected :class:`Schema` (or any iterable of tables)."""
    return {table.name: [column.name for column in table.columns] for table in schema}


def repair_sql(sql: str, names: SchemaNames, dialect: str = "sqlite") -> str:
    """``sql`` with unknown table and column names replaced by the nearest real ones.

    Returns ``sql`` unchanged when nothing needs repair or nothing close enough exists.
    """
    try:
        return _repaired(sql, {name.lower(): (name, list(columns)) for name, columns in names.items()}, dialect)
    except (SqlglotError, ValueError, TypeError, AttributeError, RecursionError):
        return sql  # repair is a second chance, never a new way to fail


def _repaired(sql: str, tables: dict[str, tuple[str, list[str]]], dialect: str) -> str:
    tree = sqlglot.parse_one(sql, read=dialect)
    if tree is None:
        return sql
    before = _self_comparisons(tree)
    changed = _repair_tables(tree, tables)
    ctes = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
    for select in list(tree.find_all(exp.Select)):
        changed |= _drop_invented_joins(select, tables, ctes)
    for select in tree.find_all(exp.Select):
        changed |= _repair_columns(select, tables)
    if not changed or _self_comparisons(tree) > before:
        return sql  # a repair that makes ``a.x = a.x`` turns an error into wrong rows: refuse it
    return tree.sql(dialect=dialect)


def _self_comparisons(tree: exp.Expression) -> int:
    """How many ``col = col`` comparisons of a column with itself ``tree`` holds."""
    return sum(
        1
        for eq in tree.find_all(exp.EQ)
        if isinstance(eq.this, exp.Column) and isinstance(eq.expression, exp.Column)
        and eq.this.name.lower() == eq.expression.name.lower() and eq.this.table.lower() == eq.expression.table.lower()
    )


def _repair_tables(tree: exp.Expression, tables: dict[str, tuple[str, list[str]]]) -> bool:
    ctes = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
    changed = False
    for table in tree.find_all(exp.Table):
        name = table.name
        if not name or name.lower() in tables or name.lower() in ctes:
            continue
        match = closest_name(name, [real for real, _ in tables.values()])
        if match is not None:
            table.set("this", exp.to_identifier(match, quoted=table.this.quoted))
            changed = True
    return changed


def _drop_invented_joins(select: exp.Select, tables: dict[str, tuple[str, list[str]]], ctes: set[str]) -> bool:
    """Remove a joined table the schema lacks (nothing is spelled close to it) when each column the query reads
    from it is a column of exactly one of the query's real tables (or, of several, of the one it was joined
    to), and read it from there instead.

    Models normalise schemas in their heads: ``FROM Customer c JOIN Address a ON c.AddressId = a.AddressId
    WHERE a.City = 'Paris'`` where ``City`` is the customer's own column. The join's condition goes with it.
    """
    changed = False
    for join in list(select.args.get("joins") or []):
        source = join.this
        if not isinstance(source, exp.Table) or not source.name or source.name.lower() in tables \
                or source.name.lower() in ctes:
            continue
        sources, _ = _sources(select, tables)
        alias = (source.alias or source.name).lower()
        condition = join.args.get("on")
        joining = list(condition.find_all(exp.Column)) if condition is not None else []
        reads = [column for column in select.find_all(exp.Column)
                 if column.table.lower() == alias and all(column is not other for other in joining)]
        if not sources or any(column.find_ancestor(exp.Select) is not select for column in reads):
            continue  # a subquery reads it too: leave the query to the other repairs
        linked = {column.table.lower() for column in joining}
        owners = {}
        for column in reads:
            holding = [name for name, key in sources.items() if _has_column(tables, key, column.name)]
            if len(holding) > 1:  # several have it: the table the invented one was joined to
                holding = [name for name in holding if name in linked]
            if len(holding) != 1:
                break
            owners[id(column)] = holding[0]
        else:
            for column in reads:
                column.set("table", exp.to_identifier(_spelling(column, owners[id(column)])))
            join.pop()
            changed = True
    return changed


def _sources(select: exp.Select, tables: dict[str, tuple[str, list[str]]]) -> tuple[dict[str, str], bool]:
    """The schema tables this SELECT reads, ``{alias or name (lower): table key}``, and whether
    it also reads something repair cannot see into (a subquery, a CTE, an unknown table)."""
    sources: dict[str, str] = {}
    opaque = False
    for node in [select.args.get("from_"), *(select.args.get("joins") or [])]:
        if node is None:
            continue
        source = node.this
        if isinstance(source, exp.Table) and source.name.lower() in tables:
            key = source.name.lower()
            sources[(source.alias or source.name).lower()] = key
        else:
            opaque = True
    return sources, opaque


def _own_columns(select: exp.Select) -> Iterable[exp.Column]:
    """Columns whose nearest enclosing SELECT is ``select`` (not those of its subqueries)."""
    for column in select.find_all(exp.Column):
        if column.find_ancestor(exp.Select) is select:
            yield column


def _repair_columns(select: exp.Select, tables: dict[str, tuple[str, list[str]]]) -> bool:
    sources, opaque = _sources(select, tables)
    if not sources:
        return False
    output_aliases = {e.alias.lower() for e in select.expressions if isinstance(e, exp.Alias)}
    changed = False
    for column in list(_own_columns(select)):
        identifier = column.this
        if not isinstance(identifier, exp.Identifier) or identifier.quoted:
            continue  # ``*``, or a double-quoted word that may be a string literal
        name, qualifier = column.name, column.table.lower()
        if qualifier:
            changed |= _repair_qualified(column, name, qualifier, sources, tables)
        elif not opaque and name.lower() not in output_aliases:
            changed |= _repair_unqualified(column, name, sources, tables)
    return changed


def _spelling(column: exp.Column, lowered_alias: str) -> str:
    """``lowered_alias`` as the query itself spells it."""
    select = column.find_ancestor(exp.Select)
    for table in select.find_all(exp.Table) if select else ():
        if (table.alias or table.name).lower() == lowered_alias:
            return table.alias or table.name
    return lowered_alias


def _has_column(tables: dict[str, tuple[str, list[str]]], key: str, name: str) -> bool:
    return name.lower() in {c.lower() for c in tables[key][1]}


def _repair_qualified(column: exp.Column, name: str, qualifier: str, sources: dict[str, str],
                      tables: dict[str, tuple[str, list[str]]]) -> bool:
    key = sources.get(qualifier)
    if key is None or _has_column(tables, key, name):
        return False
    # Right name, wrong table of the join: move the qualifier to the one table that has it.
    owners = {other for other in sources.values() if _has_column(tables, other, name)}
    if len(owners) == 1:
        owner = owners.pop()
        alias = next(a for a, k in sources.items() if k == owner)
        column.set("table", exp.to_identifier(_spelling(column, alias)))
        return True
    match = closest_column(name, tables[key])
    if match is None:
        return False
    column.set("this", exp.to_identifier(match))
    return True


def _repair_unqualified(column: exp.Column, name: str, sources: dict[str, str],
                        tables: dict[str, tuple[str, list[str]]]) -> bool:
    keys = list(dict.fromkeys(sources.values()))
    if any(_has_column(tables, key, name) for key in keys):
        return False
    matches = [match for key in keys if (match := closest_column(name, tables[key])) is not None]
    if len(matches) != 1:
        return False  # no match, or one in each of several joined tables: a guess
    column.set("this", exp.to_identifier(matches[0]))
    return True


def _squash(name: str) -> str:
    return name.lower().replace("_", "")


def closest_name(name: str, candidates: Sequence[str]) -> str | None:
    """The candidate equal to ``name`` up to case, underscores and plural; else the closest
    spelling above :data:`SPELLING_CUTOFF`; else None."""
    wanted = _squash(name)
    for candidate in candidates:
        if _squash(candidate) == wanted or stem(_squash(candidate)) == stem(wanted):
            return candidate
    squashed = {_squash(c): c for c in candidates}
    close = difflib.get_close_matches(wanted, list(squashed), n=2, cutoff=SPELLING_CUTOFF)
    if len(close) == 2 and difflib.SequenceMatcher(None, wanted, close[0]).ratio() == difflib.SequenceMatcher(
        None, wanted, close[1]
    ).ratio():
        return None  # a tie is a guess
    return squashed[close[0]] if close else None


def closest_column(name: str, table: tuple[str, list[str]]) -> str | None:
    """The column of ``table`` that ``name`` most likely means, or None.

    Beyond :func:`closest_name`: ``artist_name`` on table ``artists`` means ``Name``
    (the table's own name as a prefix), and ``Title`` beats nothing when only one
    column ends with the word the model used.
    """
    table_name, columns = table
    match = closest_name(name, columns)
    if match is not None:
        return match
    lowered = name.lower()
    for prefix in {stem(table_name.lower()), table_name.lower()}:
        for separator in ("_", ""):
            if lowered.startswith(prefix + separator) and len(lowered) > len(prefix + separator):
                stripped = closest_name(name[len(prefix + separator):], columns)
                if stripped is not None:
                    return stripped
    return None
