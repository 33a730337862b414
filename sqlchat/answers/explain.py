"""Say in plain English what a query does, read from its sqlglot tree, never from the model.

The people who ask do not read SQL, and a wrong answer looks exactly like a right one. So the
answer carries one or two sentences that say what the *chosen SQL* computes: what is counted,
summed or listed, from which tables and along which links, the filters with their values, the
grouping, the order and the limit, e.g. "Counts tracks for each artist (Artist → Album → Track),
highest 5 first." Every noun comes from the tree and the schema (``InvoiceDate`` → "invoice date",
table ``Track`` → "tracks"), so a question the SQL does not answer shows up as a sentence that
does not match the question. Set operations, CTEs, subqueries and window functions are read too;
anything else gets a plain fallback naming the tables it reads. It never raises.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError

from sqlchat.language import stem
from sqlchat.schema.labels import label_columns
from sqlchat.schema.links import schema_links
from sqlchat.schema.model import Table

ARROW = " → "
_AGGREGATE_WORDS = {exp.Sum: "the sum of", exp.Avg: "the average", exp.Max: "the highest", exp.Min: "the lowest"}
_AGGREGATE_VERBS = {exp.Sum: "Adds up", exp.Avg: "Averages", exp.Max: "Finds the highest", exp.Min: "Finds the lowest"}
_COMPARISONS = {exp.EQ: "is", exp.NEQ: "is not", exp.GT: "is more than", exp.GTE: "is at least",
                exp.LT: "is less than", exp.LTE: "is at most"}
_ARITHMETIC = {exp.Mul: "×", exp.Div: "/", exp.Add: "+", exp.Sub: "−"}
_DATE_PARTS = {"%Y": "year", "%m": "month", "%d": "day", "%Y-%m": "month", "%H": "hour", "%W": "week"}
_RANKS = {exp.RowNumber: "the position", exp.Rank: "the rank", exp.DenseRank: "the rank"}
_GENERIC_COLUMNS = {"name", "title", "id", "total", "date", "type", "description", "price", "status", "country",
                    "city", "email", "phone"}
_PARSE_ERRORS = (SqlglotError, ValueError, TypeError, AttributeError, KeyError, IndexError, RecursionError)


# --------------------------------------------------------------------------- names


def words(name: str) -> str:
    """A schema name as lower-case words: ``InvoiceDate`` → "invoice date", ``unit_price`` → "unit price"."""
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", name)
    spaced = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1 \2", spaced)
    return " ".join(part.lower() for part in re.split(r"[\s_]+", spaced) if part)


def plural(name: str) -> str:
    """A table name as the plural noun for its rows: ``Track`` → "tracks", ``Category`` → "categories"."""
    text = words(name)
    if not text:
        return name
    head, _, last = text.rpartition(" ")
    if last.endswith("s"):
        noun = last
    elif last.endswith("y") and len(last) > 1 and last[-2] not in "aeiou":
        noun = last[:-1] + "ies"
    elif last.endswith(("ch", "sh", "x", "z")):
        noun = last + "es"
    else:
        noun = last + "s"
    return f"{head} {noun}".strip()


def singular(name: str) -> str:
    """A table name as one row of it: ``Customers`` → "customer", ``Categories`` → "category" (the last word
    singular, as :func:`sqlchat.language.stem` makes it)."""
    head, _, last = words(name).rpartition(" ")
    return f"{head} {stem(last)}".strip()


# --------------------------------------------------------------------------- scopes


@dataclass
class Source:
    """One thing a SELECT reads from: a schema table, a CTE or a sub-result."""

    label: str  # as shown in the join path: the table's own name, or the CTE's
    noun: str  # its rows, plural: "tracks"
    one: str  # one of its rows: "track"
    table: Table | None = None
    columns: dict[str, str] = field(default_factory=dict)  # a CTE's or sub-result's named columns, as phrases
    alias: str = ""  # as the query names it; shown only when one table is read twice (a self join)


@dataclass
class Scope:
    """The sources of one SELECT (by lower-case alias), its projections' aliases, and the scope around it."""

    sources: dict[str, Source]
    aliases: dict[str, exp.Expression] = field(default_factory=dict)
    parent: "Scope | None" = None
    named: dict[str, Source] = field(default_factory=dict)  # CTEs visible here

    @property
    def single(self) -> bool:
        return len(self.sources) == 1

    def owner(self, column: exp.Column) -> Source | None:
        qualifier = column.table.lower()
        scope: Scope | None = self
        while scope is not None:
            if qualifier:
                if qualifier in scope.sources:
                    return scope.sources[qualifier]
            else:
                owners = [s for s in scope.sources.values() if s.table is not None and s.table.column(column.name)]
                if len(owners) == 1:
                    return owners[0]
                if len(scope.sources) == 1 and not owners:
                    return next(iter(scope.sources.values()))
            scope = scope.parent
        return None


class Explainer:
    """Turns one parsed statement into sentences, against the schema's ``tables``."""

    def __init__(self, tables: Sequence[Table]):
        self.by_name = {table.name.lower(): table for table in tables}
        self.links = schema_links(tables)

    # ------------------------------------------------------------------ statements

    def statement(self, node: exp.Expression, named: dict[str, Source] | None = None) -> str:
        """Full sentences for a query (with its CTEs, set operations and sub-results)."""
        named = dict(named or {})
        prefix = ""
        with_ = node.args.get("with_")
        if with_ is not None:
            steps = []
            for cte in with_.expressions:
                alias = cte.alias_or_name
                steps.append(f"works out {words(alias)}: {_lower_first(self.statement(cte.this, named).rstrip('.'))}")
                named[alias.lower()] = Source(alias, words(alias), words(alias), columns=self._columns_of(cte.this, named))
            prefix = "First " + "; then ".join(steps) + ". Then "
        body = self._body(node, named)
        return prefix + (_lower_first(body) if prefix else body)

    def _body(self, node: exp.Expression, named: dict[str, Source]) -> str:
        if isinstance(node, exp.Subquery):
            return self._body(node.this, named)
        if isinstance(node, (exp.Union, exp.Intersect, exp.Except)):
            left = self.statement(node.this, named).rstrip(".")
            right = _lower_first(self.statement(node.expression, named).rstrip("."))
            if isinstance(node, exp.Union):
                return f"{left}; together with: {right}{'' if node.args.get('distinct') else ' (duplicates kept)'}."
            if isinstance(node, exp.Intersect):
                return f"{left}; keeping only what also appears when it {right}."
            return f"{left}; leaving out what appears when it {right}."
        if isinstance(node, exp.Select):
            return self.select(node, named)
        raise ValueError(f"not a query: {type(node).__name__}")

    def select(self, select: exp.Select, named: dict[str, Source], parent: Scope | None = None) -> str:
        scope, path, extra = self._scope(select, named, parent)
        groups = self._group_names(select, scope)
        ranking = self._ranking_measure(select, scope) if groups else None
        if ranking:  # "Which country has the most customers?": the groups, ranked by a measure not shown
            parts = [f"Ranks {_join([many for _, many in groups])} by {ranking}"]
        else:
            parts = [self._what(select, scope)]
            if groups:
                parts.append(f"for each {_join([one for one, _ in groups])}")
        if len(path) > 1:
            parts.append(f"({ARROW.join(path)})")
        where = select.args.get("where")
        condition = self.condition(where.this, scope) if where is not None else ""
        if condition:
            parts.append(f"where {condition}")
        having = select.args.get("having")
        if having is not None:
            parts.append(f"keeping only those where {self.condition(having.this, scope)}")
        sentence = " ".join(parts)
        order = self._order(select, scope)
        if order:
            sentence += f", {order}"
        return sentence + "." + "".join(f" {e}" for e in extra)

    # ------------------------------------------------------------------ parts of a SELECT

    def _scope(self, select: exp.Select, named: dict[str, Source], parent: Scope | None) -> tuple[Scope, list[str], list[str]]:
        sources: dict[str, Source] = {}
        path: list[str] = []
        extra: list[str] = []
        for node in [select.args.get("from_"), *(select.args.get("joins") or [])]:
            if node is None:
                continue
            item = node.this
            if isinstance(item, exp.Table) and item.name.lower() in named:
                source = named[item.name.lower()]
            elif isinstance(item, exp.Table):
                table = self.by_name.get(item.name.lower())
                name = table.name if table is not None else item.name
                source = Source(name, plural(name), singular(name), table)
            elif isinstance(item, exp.Subquery):
                alias = item.alias_or_name
                inner = self.statement(item.this, named).rstrip(".")
                source = Source(alias or "sub-result", "rows of a sub-result", "row", columns=self._columns_of(item.this, named))
                extra.append(f"The rows it reads come from a step that {_lower_first(inner)}.")
            else:
                raise ValueError(f"unreadable source: {type(item).__name__}")
            alias = item.alias_or_name or source.label
            source = replace(source, alias=alias)
            sources[alias.lower()] = source
            path.append(source.label)
        if not sources and parent is None:
            sources = {}
        scope = Scope(sources, parent=parent, named=named)
        scope.aliases = {e.alias.lower(): e.this for e in select.expressions if isinstance(e, exp.Alias)}
        return scope, path, extra

    def _columns_of(self, query: exp.Expression, named: dict[str, Source]) -> dict[str, str]:
        """``{alias: phrase}`` of a CTE's or sub-result's projections: ``cnt`` is "the number of tracks"."""
        if not isinstance(query, exp.Select):
            return {}
        scope, _, _ = self._scope(query, named, None)
        return {e.alias.lower(): self.phrase(e.this, scope) for e in query.expressions if isinstance(e, exp.Alias)}

    def rows_noun(self, scope: Scope) -> str:
        """What one row of the joined tables is: the table no other joined table references
        (Artist → Album → Track: tracks), else the first."""
        sources = list(scope.sources.values())
        if not sources:
            return "rows"
        tables = {s.table.name.lower(): s for s in sources if s.table is not None}
        referenced = {link.ref_table.lower() for link in self.links
                      if link.table.lower() in tables and link.ref_table.lower() in tables and link.table.lower() != link.ref_table.lower()}
        leaves = [s for name, s in tables.items() if name not in referenced]
        if len(tables) > 1 and len(leaves) == 1:
            return leaves[0].noun
        return sources[0].noun

    def _what(self, select: exp.Select, scope: Scope) -> str:
        projections = [e for e in select.expressions]
        stars = [e for e in projections if _is_star(e)]
        if stars and len(stars) == len(projections):
            return f"Lists {self.rows_noun(scope)} with all their columns" if scope.sources else "Lists everything"
        group_keys = {_key(g) for g in (select.args.get("group").expressions if select.args.get("group") else [])}
        measures = [e for e in projections if not _is_star(e) and _has_aggregate(e.unalias())]
        # With GROUP BY, the other columns shown describe the group ("for each artist" covers its name).
        plain_columns = [] if group_keys else [e for e in projections if not _is_star(e) and not _has_aggregate(e.unalias())]
        if measures:
            if len(measures) == 1 and not plain_columns:
                return self._measure_verb(measures[0].unalias(), scope)
            return "Works out " + _join([self.phrase(m.unalias(), scope) for m in measures + plain_columns])
        shown = [self.phrase(e.unalias(), scope, in_list=True) for e in projections if not _is_star(e)]
        shown = list(dict.fromkeys(shown))
        distinct = "the different " if select.args.get("distinct") else "the "
        if not shown:
            return f"Lists {self.rows_noun(scope)}"
        if scope.single:
            return f"Lists {distinct}{_join(shown)} of {self.rows_noun(scope)}"
        return f"Lists {distinct}{_join(shown)}"

    def _measure_verb(self, node: exp.Expression, scope: Scope) -> str:
        """One aggregate as the sentence's verb: "Counts tracks", "Adds up unit price × quantity"."""
        if isinstance(node, (exp.Round, exp.Cast, exp.Paren)) and _has_aggregate(node.this):
            verb = self._measure_verb(node.this, scope)
            return verb + " (rounded)" if isinstance(node, exp.Round) else verb
        if isinstance(node, exp.Count):
            inner = node.this
            if isinstance(inner, exp.Distinct):
                return "Counts the different " + _join([self._plural_phrase(e, scope) for e in inner.expressions])
            return f"Counts {self.rows_noun(scope)}"
        for kind, verb in _AGGREGATE_VERBS.items():
            if isinstance(node, kind):
                across = f" across {self.rows_noun(scope)}" if scope.sources else ""
                return f"{verb} {self.phrase(node.this, scope)}{across}"
        return "Works out " + self.phrase(node, scope)

    def _plural_phrase(self, node: exp.Expression, scope: Scope) -> str:
        text = self.phrase(node, scope)
        return plural(text) if isinstance(node, exp.Column) else text

    def _ranking_measure(self, select: exp.Select, scope: Scope) -> str | None:
        """The aggregate a grouped SELECT orders by without showing any: "the number of customers"."""
        order = select.args.get("order")
        if order is None or not order.expressions or any(_has_aggregate(e.unalias()) for e in select.expressions):
            return None
        key = _positional(order.expressions[0].this, select)
        return self.phrase(key, scope) if _has_aggregate(key) else None

    def _grouping(self, select: exp.Select, scope: Scope) -> str:
        return _join([one for one, _ in self._group_names(select, scope)])

    def _group_names(self, select: exp.Select, scope: Scope) -> list[tuple[str, str]]:
        """What a SELECT groups by, as (one, many): ("artist", "artists") for its key or name,
        ("customer", "customers") for a foreign key to Customer, else the expression's phrase."""
        group = select.args.get("group")
        if group is None:
            return []
        names: list[tuple[str, str]] = []
        for key in group.expressions:
            key = _positional(key, select)
            owner = scope.owner(key) if isinstance(key, exp.Column) else None
            table = owner.table if owner is not None else None
            referenced = _referenced_table(table, key.name) if isinstance(key, exp.Column) and table is not None else None
            if isinstance(key, exp.Column) and table is not None and _identifies(table, key.name):
                names.append((owner.one, owner.noun))
            elif referenced is not None:
                names.append((singular(referenced), plural(referenced)))
            else:
                text = self.phrase(key, scope).removeprefix("the ")
                names.append((text, _plural_phrase(text)))
        return list(dict.fromkeys(names))

    def _order(self, select: exp.Select, scope: Scope) -> str:
        order = select.args.get("order")
        limit = _number(select.args.get("limit"))
        offset = _number(select.args.get("offset"))
        skip = f", skipping the first {offset}" if offset else ""
        if order is None or not order.expressions:
            return f"first {limit} rows only{skip}" if limit is not None else ""
        first = order.expressions[0]
        key = _positional(first.this, select)
        if isinstance(key, exp.Column) and not key.table and key.name.lower() in scope.aliases:
            key = scope.aliases[key.name.lower()]
        direction = "highest" if first.args.get("desc") else "lowest"
        if _has_aggregate(key):
            if limit == 1:
                return f"only the {direction}{skip}"
            return f"{direction} {limit} first{skip}" if limit is not None else f"{direction} first{skip}"
        by = _join([self.phrase(_positional(o.this, select), scope) for o in order.expressions])
        sorted_by = f"sorted by {by}" + (" from highest to lowest" if first.args.get("desc") else "")
        if limit is not None:
            return f"{sorted_by}, first {limit} only{skip}" if limit != 1 else f"{sorted_by}, the first only{skip}"
        return sorted_by + skip

    # ------------------------------------------------------------------ expressions

    def column(self, column: exp.Column, scope: Scope, in_list: bool = False) -> str:
        """A column as a user would name it; a generic one gets its table: "genre name", "invoice total"."""
        if not column.table and column.name.lower() in scope.aliases and not _is_schema_column(column, scope):
            return self.phrase(scope.aliases[column.name.lower()], scope)
        owner = scope.owner(column)
        if owner is not None and column.name.lower() in owner.columns:
            return owner.columns[column.name.lower()]
        table = owner.table if owner is not None else None
        real = table.column(column.name) if table is not None else None
        text = words(real.name if real is not None else column.name)
        if table is not None and sum(s.table is table for s in scope.sources.values()) > 1:
            return f"{text} ({owner.alias})"  # a self join: which of the two rows
        if owner is None or (in_list and scope.single):
            return text
        one = owner.one
        if text.split()[-1] in _GENERIC_COLUMNS and not text.startswith(one) and len(text.split()) == 1:
            return f"{one} {text}"
        return text

    def phrase(self, node: exp.Expression, scope: Scope, in_list: bool = False) -> str:
        """A noun phrase for an expression; the SQL text itself when it is nothing this module reads."""
        if isinstance(node, exp.Alias):
            return self.phrase(node.this, scope, in_list)
        if isinstance(node, exp.Paren):
            inner = self.phrase(node.this, scope, in_list)
            return f"({inner})" if isinstance(node.this, tuple(_ARITHMETIC)) else inner
        if isinstance(node, exp.Column):
            if isinstance(node.this, exp.Star):
                return f"all columns of {self.rows_noun(scope)}"
            return self.column(node, scope, in_list)
        if isinstance(node, exp.Literal):
            return f"'{node.this}'" if node.is_string else str(node.this)
        if isinstance(node, exp.Null):
            return "nothing"
        if isinstance(node, exp.Boolean):
            return "true" if node.this else "false"
        if isinstance(node, exp.Neg):
            return "-" + self.phrase(node.this, scope)
        if isinstance(node, exp.Count):
            inner = node.this
            if isinstance(inner, exp.Distinct):
                return "the number of different " + _join([self.phrase(e, scope) for e in inner.expressions])
            return f"the number of {self.rows_noun(scope)}"
        for kind, word in _AGGREGATE_WORDS.items():
            if isinstance(node, kind):
                inner = self.phrase(node.this, scope)
                return f"{word} of {inner}" if inner.startswith("the ") and not word.endswith(" of") else f"{word} {inner}"
        for kind, sign in _ARITHMETIC.items():
            if isinstance(node, kind):
                return f"{self.phrase(node.this, scope)} {sign} {self.phrase(node.expression, scope)}"
        if isinstance(node, (exp.Cast, exp.TryCast, exp.Lower, exp.Upper, exp.Trim, exp.TsOrDsToTimestamp,
                             exp.TsOrDsToDate, exp.Date)):
            return self.phrase(node.this, scope, in_list)
        if isinstance(node, exp.Round):
            return f"{self.phrase(node.this, scope)} (rounded)"
        if isinstance(node, (exp.TimeToStr, exp.Extract, exp.TimestampTrunc, exp.DateTrunc)) or type(node) in _DATE_FUNCTIONS:
            return self._date_part(node, scope)
        if isinstance(node, exp.Window):
            return self._window(node, scope)
        if isinstance(node, exp.Subquery):
            return self.noun_phrase(node.this, scope)
        if isinstance(node, (exp.Coalesce,)):
            return self.phrase(node.this, scope)
        if isinstance(node, exp.Case):
            return "a value chosen case by case"
        if isinstance(node, exp.DPipe):
            return _join([self.phrase(e, scope) for e in node.flatten()])
        if isinstance(node, exp.Func):
            name = node.name if isinstance(node, exp.Anonymous) else node.sql_name()
            args = [self.phrase(a, scope) for a in node.iter_expressions()]
            return f"{words(name)} of {_join(args)}" if args else words(name)
        return node.sql()

    def _date_part(self, node: exp.Expression, scope: Scope) -> str:
        if isinstance(node, exp.TimeToStr):
            fmt = node.args.get("format")
            part = _DATE_PARTS.get(fmt.this if isinstance(fmt, exp.Literal) else "", "date")
            return f"the {part} of {self.phrase(node.this, scope)}"
        if isinstance(node, exp.Extract):
            part = node.this.name.lower() if isinstance(node.this, (exp.Var, exp.Identifier)) else "part"
            return f"the {part} of {self.phrase(node.expression, scope)}"
        if isinstance(node, (exp.TimestampTrunc, exp.DateTrunc)):
            unit = node.args.get("unit")
            part = unit.name.lower() if isinstance(unit, (exp.Var, exp.Identifier, exp.Literal)) else "period"
            return f"the {part} of {self.phrase(node.this, scope)}"
        return f"the {_DATE_FUNCTIONS[type(node)]} of {self.phrase(node.this, scope)}"

    def _window(self, node: exp.Window, scope: Scope) -> str:
        function = node.this
        order = node.args.get("order")
        partition = node.args.get("partition_by") or []
        within = f" within each {_join([self.phrase(p, scope) for p in partition])}" if partition else ""
        if type(function) in _RANKS:
            by = ""
            if order is not None and order.expressions:
                first = order.expressions[0]
                by = f" by {self.phrase(first.this, scope)} ({'highest' if first.args.get('desc') else 'lowest'} first)"
            return f"{_RANKS[type(function)]}{by}{within}"
        measure = self.phrase(function, scope)
        if order is not None and order.expressions:
            return f"{measure} so far, in order of {self.phrase(order.expressions[0].this, scope)}{within}"
        return f"{measure}{within}"

    def noun_phrase(self, node: exp.Expression, outer: Scope) -> str:
        """A subquery as a noun: "the average unit price of tracks where ...", "the artist id of albums"."""
        if isinstance(node, exp.Subquery):
            return self.noun_phrase(node.this, outer)
        if not isinstance(node, exp.Select):
            return "the result of: " + _lower_first(self.statement(node, outer.named).rstrip("."))
        scope, path, _ = self._scope(node, outer.named, outer)
        shown = [self.phrase(e.unalias(), scope, in_list=True) for e in node.expressions]
        text = _join(shown)
        if not text.startswith("the "):
            text = "the " + text
        if not any(_has_aggregate(e.unalias()) for e in node.expressions) or len(path) > 1:
            text += f" of {self.rows_noun(scope)}"
        elif not any(isinstance(e.unalias(), exp.Count) for e in node.expressions):
            text += f" of {self.rows_noun(scope)}" if not scope.single else f" of all {self.rows_noun(scope)}"
        where = node.args.get("where")
        condition = self.condition(where.this, scope) if where is not None else ""
        if condition:
            text += f" where {condition}"
        group = self._grouping(node, scope)
        if group:
            text += f" for each {group}"
        order = self._order(node, scope)
        return text + (f" ({order})" if order else "")

    # ------------------------------------------------------------------ conditions

    def condition(self, node: exp.Expression, scope: Scope) -> str:
        """A WHERE/HAVING condition in words; join conditions written in WHERE are left out."""
        if isinstance(node, exp.Paren):
            return self.condition(node.this, scope)
        if isinstance(node, exp.And):
            parts = [p for p in (self.condition(c, scope) for c in node.flatten()) if p]
            return " and ".join(parts)
        if isinstance(node, exp.Or):
            parts = [p for p in (self.condition(c, scope) for c in node.flatten()) if p]
            return "(" + " or ".join(parts) + ")" if len(parts) > 1 else "".join(parts)
        if isinstance(node, exp.Not):
            return self._negated(node.this, scope)
        if isinstance(node, exp.EQ) and _is_join_condition(node):
            return ""
        for kind, words_ in _COMPARISONS.items():
            if isinstance(node, kind):
                return f"{self.phrase(node.this, scope)} {words_} {self.phrase(node.expression, scope)}"
        if isinstance(node, (exp.Like, exp.ILike)):
            return self._like(node, scope, negated=bool(node.args.get("negate")))
        if isinstance(node, exp.In):
            return self._in(node, scope, negated=False)
        if isinstance(node, exp.Exists):
            return self._exists(node.this, scope, negated=False)
        if isinstance(node, exp.Between):
            return (f"{self.phrase(node.this, scope)} is between {self.phrase(node.args['low'], scope)} "
                    f"and {self.phrase(node.args['high'], scope)}")
        if isinstance(node, exp.Is):
            return f"{self.phrase(node.this, scope)} is empty"
        return self.phrase(node, scope)

    def _negated(self, node: exp.Expression, scope: Scope) -> str:
        if isinstance(node, exp.Paren):
            return self._negated(node.this, scope)
        if isinstance(node, exp.Is):
            return f"{self.phrase(node.this, scope)} is not empty"
        if isinstance(node, exp.In):
            return self._in(node, scope, negated=True)
        if isinstance(node, (exp.Like, exp.ILike)):
            return self._like(node, scope, negated=True)
        if isinstance(node, exp.Between):
            return "not " + self.condition(node, scope).replace(" is between ", " between ", 1).join(["(", ")"])
        if isinstance(node, exp.Exists):
            return self._exists(node.this, scope, negated=True)
        return f"not ({self.condition(node, scope)})"

    def _exists(self, query: exp.Expression, outer: Scope, negated: bool) -> str:
        """``EXISTS (SELECT 1 FROM Album b WHERE b.ArtistId = a.ArtistId)``: "there are albums" (linked to the row)."""
        query = query.this if isinstance(query, exp.Subquery) else query
        if not isinstance(query, exp.Select):
            return f"there is {'no ' if negated else ''}result of: {_lower_first(self.statement(query, outer.named).rstrip('.'))}"
        scope, _, _ = self._scope(query, outer.named, outer)
        where = query.args.get("where")
        condition = self.condition(where.this, scope) if where is not None else ""
        return f"there are {'no ' if negated else ''}{self.rows_noun(scope)}" + (f" where {condition}" if condition else "")

    def _like(self, node: exp.Expression, scope: Scope, negated: bool) -> str:
        subject = self.phrase(node.this, scope)
        pattern = node.expression
        if not (isinstance(pattern, exp.Literal) and pattern.is_string):
            return f"{subject} {'does not match' if negated else 'matches'} {self.phrase(pattern, scope)}"
        text = pattern.this
        core = text.strip("%")
        if "%" in core or "_" in core:
            verb = "matches the pattern"
            core = text
        elif text.startswith("%") and text.endswith("%") and len(text) > 1:
            verb = "contains"
        elif text.endswith("%"):
            verb = "starts with"
        elif text.startswith("%"):
            verb = "ends with"
        else:
            verb = "is"
        if negated:
            verb = {"contains": "does not contain", "starts with": "does not start with", "ends with": "does not end with",
                    "is": "is not"}.get(verb, "does not match the pattern")
        return f"{subject} {verb} '{core}'"

    def _in(self, node: exp.In, scope: Scope, negated: bool) -> str:
        subject = self.phrase(node.this, scope)
        query = node.args.get("query")
        if query is not None:
            return f"{subject} is {'not ' if negated else ''}among {self.noun_phrase(query.this if isinstance(query, exp.Subquery) else query, scope)}"
        values = [self.phrase(v, scope) for v in node.expressions]
        return f"{subject} is {'not ' if negated else ''}one of {_join(values, 'or')}"


_DATE_FUNCTIONS: dict[type, str] = {
    cls: part for cls, part in ((getattr(exp, "Year", None), "year"), (getattr(exp, "Month", None), "month"),
                                (getattr(exp, "Day", None), "day")) if cls is not None
}


# --------------------------------------------------------------------------- helpers


def _plural_phrase(text: str) -> str:
    """"year of invoice date" -> "years of invoice date"; "billing country" -> "billing countries"."""
    head, of, rest = text.partition(" of ")
    return plural(head) + (f" of {rest}" if of else "")


def _lower_first(text: str) -> str:
    """Lower-case a sentence's first letter, unless it starts a name (two capitals: "SQL", "US")."""
    if len(text) > 1 and text[0].isupper() and not text[1].isupper():
        return text[0].lower() + text[1:]
    return text


def _join(items: Sequence[str], last: str = "and") -> str:
    items = [i for i in items if i]
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + f" {last} " + items[-1]


def _is_star(node: exp.Expression) -> bool:
    inner = node.unalias()
    return isinstance(inner, exp.Star) or isinstance(inner, exp.Column) and isinstance(inner.this, exp.Star)


def _has_aggregate(node: exp.Expression) -> bool:
    """An aggregate outside any window and any subquery: it makes the SELECT a summary."""
    if isinstance(node, exp.AggFunc):
        return True
    if isinstance(node, (exp.Window, exp.Subquery, exp.Select)):
        return False
    return any(_has_aggregate(child) for child in node.iter_expressions())


def _key(node: exp.Expression) -> str:
    return node.sql().lower()


def _positional(node: exp.Expression, select: exp.Select) -> exp.Expression:
    """``ORDER BY 2`` / ``GROUP BY 1``: the projection it points at."""
    if isinstance(node, exp.Literal) and not node.is_string and str(node.this).isdigit():
        index = int(node.this) - 1
        if 0 <= index < len(select.expressions):
            return select.expressions[index].unalias()
    return node


def _number(node: exp.Expression | None) -> int | None:
    """LIMIT n, OFFSET n, FETCH FIRST n ROWS: the n, when it is a plain number."""
    value = node.args.get("count") if isinstance(node, exp.Fetch) else node.expression if node is not None else None
    if isinstance(value, exp.Literal) and not value.is_string:
        try:
            return int(value.this)
        except ValueError:
            return None
    return None


def _identifies(table: Table, column: str) -> bool:
    """The table's primary key or the column that names its rows: grouping by it is "for each <row>"."""
    lowered = column.lower()
    return lowered in {c.lower() for c in table.primary_key} or lowered in {c.lower() for c in label_columns(table)}


def _referenced_table(table: Table, column: str) -> str | None:
    """The table a single-column foreign key ``column`` of ``table`` points at: grouping by it is "for each <that>"."""
    lowered = column.lower()
    for key in table.foreign_keys:
        if len(key.columns) == 1 and key.columns[0].lower() == lowered:
            return key.ref_table
    return None


def _is_schema_column(column: exp.Column, scope: Scope) -> bool:
    return any(s.table is not None and s.table.column(column.name) is not None for s in scope.sources.values())


def _is_join_condition(node: exp.EQ) -> bool:
    """``a.x = b.y``: two columns of two different tables, an implicit join."""
    left, right = node.this, node.expression
    return (isinstance(left, exp.Column) and isinstance(right, exp.Column) and bool(left.table) and bool(right.table)
            and left.table.lower() != right.table.lower())


def tables_read(tree: exp.Expression) -> list[str]:
    """Names of the tables a statement reads, in order of appearance (CTE names excluded)."""
    ctes = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
    names = [t.name for t in tree.find_all(exp.Table) if t.name and t.name.lower() not in ctes]
    return list(dict.fromkeys(names))


def explain(sql: str | None, tables: Sequence[Table], dialect: str = "sqlite") -> str | None:
    """One or two plain sentences saying what ``sql`` computes; None when there is no SQL to read.

    Anything the reader does not know how to say gets a plain fallback that names the tables read.
    """
    if not sql or not sql.strip():
        return None
    try:
        tree = sqlglot.parse_one(sql, read=dialect)
    except _PARSE_ERRORS:
        return "The SQL could not be read, so it is not explained here."
    try:
        return Explainer(tables).statement(tree)
    except _PARSE_ERRORS:
        names = tables_read(tree)
        return f"Runs the query shown on {_join(names)}." if names else "Runs the query shown."
