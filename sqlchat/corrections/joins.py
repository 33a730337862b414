"""Join conditions checked against the schema's declared foreign keys.

A small model picks the right tables more often than the right join keys. It writes
``Artist.ArtistId = Track.AlbumId``, which runs (both are integers) and returns nonsense, or
``T1.id = T2.singer_id`` when the key is called ``Singer_ID``. When the database declares its
foreign keys, the keys that link two tables are known, so a join that compares key columns which
do not reference each other is rewritten into the declared link: directly when the two tables have
exactly one, or through the one table that links them both (Artist -> Album -> Track).

Only unambiguous cases are touched: both compared columns must be keys (primary, foreign, or an
invented ``..._id`` the table lacks), the two tables must have exactly one link or exactly one
bridging table, and anything the module cannot read (subqueries as join sources, compound
conditions, self joins) is left as written. It never raises; the pipeline tries the corrected
query first and the model's own after it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError

from sqlchat.schema.links import Link, schema_links
from sqlchat.schema.model import Table

_ID_LIKE = re.compile(r"(^|_)id$|[a-z]Id$|ID$")


def correct_joins(sql: str, tables: Sequence[Table], dialect: str = "sqlite") -> str:
    """``sql`` with join conditions on unrelated keys replaced by the declared foreign-key link.

    Returns ``sql`` unchanged when every join already follows a link, when the schema declares
    none, or when the right link is not certain.
    """
    return _rewrite_selects(sql, tables, dialect, _correct_select)


SelectRewrite = Callable[[exp.Select, dict[str, Table], list[Link]], bool]


def _rewrite_selects(sql: str, tables: Sequence[Table], dialect: str, rewrite: SelectRewrite) -> str:
    """Apply ``rewrite`` to every SELECT of ``sql``; ``sql`` itself when the schema declares no
    links, nothing changed, or the SQL cannot be read."""
    links = schema_links(tables)
    if not links or not sql or not sql.strip():
        return sql
    try:
        tree = sqlglot.parse_one(sql, read=dialect)
        by_name = {table.name.lower(): table for table in tables}
        changed = False
        for select in list(tree.find_all(exp.Select)):
            changed |= rewrite(select, by_name, links)
        return tree.sql(dialect=dialect) if changed else sql
    except (SqlglotError, ValueError, TypeError, AttributeError, RecursionError):
        return sql  # a second chance, never a new way to fail


def _correct_select(select: exp.Select, by_name: dict[str, Table], links: list[Link]) -> bool:
    sources = select_sources(select, by_name)
    if sources is None:
        return False
    changed = False
    for join in list(select.args.get("joins") or []):
        changed |= _correct_join(select, join, sources, by_name, links)
    for condition in list(select.find_all(exp.In, exp.EQ)):
        if condition.find_ancestor(exp.Select) is select:
            changed |= _correct_subquery_key(condition, sources, by_name, links)
    return changed


def _correct_subquery_key(condition: exp.In | exp.EQ, sources: dict[str, Table], by_name: dict[str, Table],
                          links: list[Link]) -> bool:
    """``Customer.CustomerId IN (SELECT CustomerId FROM Employee WHERE ...)`` (or ``= (SELECT ...)``): the subquery
    selects a column its own table lacks, which SQL quietly reads from the outer row, so every row matches. When
    one link joins the two tables, compare along it: ``SupportRepId IN (SELECT EmployeeId FROM Employee ...)``."""
    inner = condition.args.get("query") if isinstance(condition, exp.In) else condition.expression
    inner = inner.this if isinstance(inner, exp.Subquery) else inner
    outer_column = condition.this
    if not isinstance(inner, exp.Select) or not isinstance(outer_column, exp.Column) or len(inner.expressions) != 1:
        return False
    selected = inner.expressions[0]
    inner_sources = select_sources(inner, by_name)
    if not isinstance(selected, exp.Column) or not inner_sources or len(inner_sources) != 1:
        return False
    (inner_alias, inner_table), = inner_sources.items()
    if selected.table and selected.table.lower() != inner_alias or inner_table.column(selected.name) is not None:
        return False  # it reads its own table (or names the outer one on purpose)
    owner = column_owner(outer_column, sources)
    if owner is None:
        return False
    outer_table = sources[owner[0]]
    direct = [link for link in links if link.between(outer_table.name, inner_table.name)]
    if len(direct) != 1 or outer_table.name.lower() == inner_table.name.lower():
        return False
    link = direct[0]
    outer_column.set("this", exp.to_identifier(link.column_of(outer_table.name), quoted=_needs_quotes(link.column_of(outer_table.name), outer_table)))
    inner_name = link.column_of(inner_table.name)
    selected.replace(exp.column(exp.to_identifier(inner_name, quoted=_needs_quotes(inner_name, inner_table)),
                                table=selected.args.get("table")))
    return True


def select_sources(select: exp.Select, by_name: dict[str, Table]) -> dict[str, Table] | None:
    """``{alias (lower): table}`` of the SELECT's FROM and JOINs; None if one is not a schema table."""
    sources: dict[str, Table] = {}
    for node in [select.args.get("from_"), *(select.args.get("joins") or [])]:
        if node is None:
            continue
        source = node.this
        if not isinstance(source, exp.Table) or source.name.lower() not in by_name:
            return None
        sources[(source.alias or source.name).lower()] = by_name[source.name.lower()]
    return sources


def _correct_join(select: exp.Select, join: exp.Join, sources: dict[str, Table], by_name: dict[str, Table],
                  links: list[Link]) -> bool:
    condition = join.args.get("on")
    joined_alias = (join.this.alias or join.this.name).lower()
    if _always_true(condition):
        return _link_to_earlier(select, join, joined_alias, sources, links)
    if not isinstance(condition, exp.EQ) or not all(isinstance(side, exp.Column) for side in condition.args.values()):
        return False
    ends = [column_owner(column, sources) for column in (condition.this, condition.expression)]
    if None in ends:
        return False
    (left_alias, left_column), (right_alias, right_column) = ends
    left, right = sources[left_alias], sources[right_alias]
    if left_alias == right_alias or left.name.lower() == right.name.lower() or joined_alias not in (left_alias, right_alias):
        return False
    if not (_is_key(left, left_column, links) and _is_key(right, right_column, links)):
        return False  # a join on names, dates or codes is the user's business
    if _linked(left.name, left_column, right.name, right_column, links):
        return False
    direct = [link for link in links if link.between(left.name, right.name)]
    if len(direct) == 1:
        link = direct[0]
        join.set("on", _equals(select, left_alias, link.column_of(left.name), right_alias, link.column_of(right.name), sources))
        return True
    if direct:
        return False  # several links (e.g. two roles of one key): a guess
    return _route_through_bridge(select, join, (left_alias, right_alias), joined_alias, sources, by_name, links)


def _always_true(condition: exp.Expression | None) -> bool:
    """``ON a.x = a.x``: a condition that constrains nothing. (A bare ``JOIN t``, which sqlglot reads
    as ``ON TRUE``, is left alone: Spider's gold uses it for intended cross joins.)"""
    return (isinstance(condition, exp.EQ) and isinstance(condition.this, exp.Column)
            and condition.this.sql().lower() == condition.expression.sql().lower())


def _link_to_earlier(select: exp.Select, join: exp.Join, joined_alias: str, sources: dict[str, Table],
                     links: list[Link]) -> bool:
    """Give an unconstrained join the one link from its table to a table joined before it."""
    if joined_alias not in sources:
        return False
    joined = sources[joined_alias]
    earlier = list(sources)[: list(sources).index(joined_alias)]
    options = [(alias, link) for alias in earlier for link in links
               if sources[alias].name.lower() != joined.name.lower() and link.between(sources[alias].name, joined.name)]
    if len(options) != 1:
        return False
    alias, link = options[0]
    join.set("on", _equals(select, alias, link.column_of(sources[alias].name), joined_alias, link.column_of(joined.name), sources))
    return True


def _route_through_bridge(select: exp.Select, join: exp.Join, aliases: tuple[str, str], joined_alias: str,
                          sources: dict[str, Table], by_name: dict[str, Table], links: list[Link]) -> bool:
    earlier_alias = aliases[0] if aliases[1] == joined_alias else aliases[1]
    earlier, joined = sources[earlier_alias], sources[joined_alias]
    bridges = [
        table for name, table in by_name.items()
        if name not in (earlier.name.lower(), joined.name.lower())
        and sum(link.between(table.name, earlier.name) for link in links) == 1
        and sum(link.between(table.name, joined.name) for link in links) == 1
    ]
    if len(bridges) != 1:
        return False
    bridge = bridges[0]
    alias = bridge.name.lower()
    if alias in sources or any(table.name.lower() == alias for table in sources.values()):
        return False  # the bridge is already in the query: the model meant something else
    to_earlier = next(link for link in links if link.between(bridge.name, earlier.name))
    to_joined = next(link for link in links if link.between(bridge.name, joined.name))
    all_sources = {**sources, alias: bridge}
    bridge_join = exp.Join(
        this=exp.Table(this=exp.to_identifier(bridge.name, quoted=_needs_quotes(bridge.name, bridge))),
        kind=join.args.get("kind"),
        on=_equals(select, alias, to_earlier.column_of(bridge.name), earlier_alias, to_earlier.column_of(earlier.name), all_sources),
    )
    joins = select.args["joins"]
    joins.insert(joins.index(join), bridge_join)
    select.set("joins", joins)
    join.set("on", _equals(select, joined_alias, to_joined.column_of(joined.name), alias, to_joined.column_of(bridge.name), all_sources))
    return True


def column_owner(column: exp.Column, sources: dict[str, Table]) -> tuple[str, str] | None:
    """(source alias, column name) that ``column`` reads; None when it cannot be told."""
    qualifier = column.table.lower()
    if qualifier:
        return (qualifier, column.name) if qualifier in sources else None
    owners = [alias for alias, table in sources.items() if table.column(column.name) is not None]
    return (owners[0], column.name) if len(owners) == 1 else None


def _is_key(table: Table, column: str, links: list[Link]) -> bool:
    """A primary or foreign key of ``table``, or an id-like name the table does not have."""
    found = table.column(column)
    if found is None:
        return bool(_ID_LIKE.search(column))
    if found.primary_key:
        return True
    lowered, name = column.lower(), table.name.lower()
    return any(
        (link.table.lower() == name and link.column.lower() == lowered)
        or (link.ref_table.lower() == name and link.ref_column.lower() == lowered)
        for link in links
    )


def _linked(table: str, column: str, other: str, other_column: str, links: list[Link]) -> bool:
    """Whether the two columns are ends of one link, or both reference the same key."""
    ends = {(table.lower(), column.lower()), (other.lower(), other_column.lower())}
    if any({(l.table.lower(), l.column.lower()), (l.ref_table.lower(), l.ref_column.lower())} == ends for l in links):
        return True
    targets = [
        {(l.ref_table.lower(), l.ref_column.lower()) for l in links if (l.table.lower(), l.column.lower()) == end}
        for end in ends
    ]
    return len(targets) == 2 and bool(targets[0] & targets[1])


def _needs_quotes(name: str, table: Table) -> bool | None:
    """Quote mixed-case names where the server folds case; otherwise let sqlglot decide."""
    return True if table.fold_case and name != name.lower() else None


def _equals(select: exp.Select, alias: str, column: str, other_alias: str, other_column: str,
            sources: dict[str, Table]) -> exp.EQ:
    def ref(source_alias: str, name: str) -> exp.Column:
        table = sources[source_alias]
        real = table.column(name)
        spelled = real.name if real is not None else name
        qualifier = written_alias(select, source_alias, table.name)
        return exp.column(exp.to_identifier(spelled, quoted=_needs_quotes(spelled, table)),
                          table=exp.to_identifier(qualifier, quoted=_needs_quotes(qualifier, table)))
    return exp.EQ(this=ref(alias, column), expression=ref(other_alias, other_column))


def written_alias(select: exp.Select, alias: str, default: str | None = None) -> str:
    """``alias`` (lower case, as :func:`select_sources` keys it) as the query spells it; ``default`` (else ``alias``)
    when no table of the query goes by it, e.g. a bridge it does not name yet."""
    for node in select.find_all(exp.Table):
        if node.alias_or_name.lower() == alias:
            return node.alias_or_name
    return default or alias


def join_missing_tables(sql: str, tables: Sequence[Table], dialect: str = "sqlite") -> str:
    """``sql`` with a table joined in for each column that none of its tables has.

    ``SELECT COUNT(*) FROM Paragraphs WHERE Document_Name = 'x'`` names a column of Documents,
    which Paragraphs references: the query gets ``JOIN Documents ON ...`` along that declared key
    and the column is read from it. Only when exactly one foreign key links a table of the query to
    a table outside it that has the column (other tables with that column, further away, do not
    count); the SELECT's other columns are qualified first, so the added table cannot make them
    ambiguous. Unchanged otherwise.
    """
    return _rewrite_selects(sql, tables, dialect, _join_missing)


def _join_missing(select: exp.Select, by_name: dict[str, Table], links: list[Link]) -> bool:
    sources = select_sources(select, by_name)
    if not sources or select.args.get("from_") is None:
        return False
    aliases = {a.alias.lower() for a in select.expressions if isinstance(a, exp.Alias)}
    columns = [c for c in select.find_all(exp.Column) if c.find_ancestor(exp.Select) is select]
    missing = [c for c in columns if c.name.lower() not in aliases and _nowhere(c, sources)]
    if not missing:
        return False
    plans = []  # (column, plan): sqlglot nodes compare by content, so no dict keyed by node
    for column in missing:
        plan = _the_one_join(column.name, sources, by_name, links)
        if plan is None:
            return False  # one column that cannot be placed: leave the query to the other repairs
        plans.append((column, plan))
    placed = {id(column) for column, _ in plans}
    for column in columns:  # qualify the rest before new tables can make them ambiguous
        owner = column_owner(column, sources) if id(column) not in placed and not column.table else None
        if owner is not None:
            column.set("table", exp.to_identifier(written_alias(select, owner[0], sources[owner[0]].name)))
    added: dict[str, str] = {}
    for column, (table, link, source_alias) in plans:
        alias = added.get(table.name.lower())
        if alias is None:
            alias = _add_join(select, table, link, source_alias, sources)
            added[table.name.lower()] = alias
        real = table.column(column.name).name
        column.set("this", exp.to_identifier(real, quoted=_needs_quotes(real, table)))
        column.set("table", exp.to_identifier(alias, quoted=_needs_quotes(alias, table)))
    return True


def _nowhere(column: exp.Column, sources: dict[str, Table]) -> bool:
    """No table of the query has ``column`` (a qualifier naming another source counts as a mistake)."""
    qualifier = column.table.lower()
    if qualifier and qualifier not in sources:
        return False  # a subquery or an outer query's alias: not ours to judge
    return all(table.column(column.name) is None for table in sources.values())


def _the_one_join(name: str, sources: dict[str, Table], by_name: dict[str, Table],
                  links: list[Link]) -> tuple[Table, Link, str] | None:
    """(table, link, query alias) when exactly one foreign key reaches, from the query's tables, a
    table outside it that has ``name``; None when none or several do."""
    used = {table.name.lower() for table in sources.values()}
    owners = [table for key, table in by_name.items() if key not in used and table.column(name) is not None]
    reach = [(owner, link, alias) for owner in owners for alias, table in sources.items()
             for link in links if link.between(owner.name, table.name)]
    return reach[0] if len(reach) == 1 else None


def _add_join(select: exp.Select, table: Table, link: Link, source_alias: str, sources: dict[str, Table]) -> str:
    alias = table.name if table.name.lower() not in sources else f"{table.name}_joined"
    all_sources = {**sources, alias.lower(): table}
    select.append("joins", exp.Join(
        this=exp.Table(this=exp.to_identifier(table.name, quoted=_needs_quotes(table.name, table)),
                       alias=None if alias == table.name else exp.TableAlias(this=exp.to_identifier(alias))),
        on=_equals(select, alias.lower(), link.column_of(table.name), source_alias,
                   link.column_of(sources[source_alias].name), all_sources),
    ))
    sources[alias.lower()] = table
    return alias
