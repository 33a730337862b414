"""Render tables as compact ``CREATE TABLE`` context and choose the ones a question needs.

The model is small (135M parameters, ~2k tokens of context) and was trained on
context shaped like ``CREATE TABLE head (age INTEGER, name VARCHAR)``, so types are
simplified to that vocabulary, constraints are rendered tersely, and
:func:`select_tables` keeps only the tables a question needs when the whole schema
would not fit the token budget.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Iterator, Sequence

from sqlchat.language import STOPWORDS, stem, stemmed_words
from sqlchat.schema.model import Schema, Table
from sqlchat.schema.samples import ColumnSample

CHARS_PER_TOKEN = 3.5


def render_context(tables: Sequence[Table], keys: bool = True, samples: Sequence[ColumnSample] = ()) -> str:
    """The prompt's schema context: one ``CREATE TABLE`` per table, joined by ``"; "``. With stored values
    (``samples``, :mod:`sqlchat.schema.samples`) each statement ends its own line and its columns' values follow it
    as comment lines: a follow-up that adds a table still begins as the last prompt did (llama.cpp's cache)."""
    statements = [table.create_statement(keys=keys) for table in tables]
    if not samples:
        return "; ".join(statements)
    lines = []
    for table, statement in zip(tables, statements):
        lines.append(f"{statement};")
        lines.extend(sample.text() for sample in samples if sample.table == table.name)
    return "\n".join(lines)


def estimate_tokens(text: str) -> int:
    """A tokenizer-free estimate (~3.5 characters per token for SQL DDL)."""
    return math.ceil(len(text) / CHARS_PER_TOKEN)


def schema_terms(tables: Iterable[Table]) -> set[str]:
    """Every word of the tables' and columns' names (and comments), stemmed, plus each name's whole form."""
    terms: set[str] = set()
    for table in tables:
        for name in [table.name, *(c.name for c in table.columns), table.comment or ""]:
            parts = stemmed_words(name)
            terms.update(parts)
            if parts:
                terms.add(stem("".join(parts)))
    return terms


def _question_terms(question: str) -> set[str]:
    words = [w for w in stemmed_words(question) if w not in STOPWORDS]
    joined = {stem(a + b) for a, b in zip(words, words[1:])}  # "order items" matches "orderitems"
    return set(words) | joined


def _name_terms(name: str) -> set[str]:
    words = stemmed_words(name)
    return set(words) | {stem("".join(words))}


def _score(table: Table, terms: set[str]) -> float:
    """Question words found in the table name weigh 3, in its column names 1 each."""
    name_terms = _name_terms(table.name)
    column_terms = set().union(*(_name_terms(c.name) for c in table.columns)) - name_terms
    return 3.0 * len(terms & name_terms) + len(terms & column_terms)


def focus_tables(tables: Sequence[Table], question: str, linked: Sequence[str] = ()) -> list[Table]:
    """The tables ``question`` mentions and the tables that join them by foreign keys
    (``Album`` between ``Artist`` and ``Track``); empty when it mentions none.

    Base tables first: a view comes only when the question names it whole ("the summary of sales by
    quarter"). A view repeats its tables' data under a long name that many questions match in part
    (Northwind's "Sales by Category", "Category Sales for 1997" for any question about sales or 1997),
    and a small model then queries the view, or names it unquoted, instead of the tables; a question
    that names no table gets every base table. ``linked`` names tables that store a value the question
    mentions (``sqlchat.schema.mentions``): they count as named.
    """
    base = [table for table in tables if not table.is_view]
    if not 0 < len(base) < len(tables):
        return _focus(tables, question, linked)
    asked = stemmed_words(question)
    named_views = [t for t in tables if t.is_view and _named_whole(t, asked)]
    return named_views or _focus(base, question, linked) or base


def _named_whole(table: Table, asked: list[str]) -> bool:
    """The table's whole name, word for word, is a phrase of the question."""
    name = stemmed_words(table.name)
    return any(asked[i:i + len(name)] == name for i in range(len(asked) - len(name) + 1)) if name else False


def _focus(tables: Sequence[Table], question: str, linked: Sequence[str] = ()) -> list[Table]:
    """:func:`focus_tables` over ``tables`` as given.

    A word names a table when it is the table's whole name (``tracks`` → ``Track``), else when it
    is part of names (``line`` → ``InvoiceLine``); a word naming no table picks the tables with such
    a column, unless a table already chosen has one. When only one table is named, its foreign-key
    neighbours come too ("flights from Aberdeen": the value may live in a table joined to it). A word
    about money changing hands ("revenue", "sold", "spent") adds the line-item tables (a quantity beside
    a price: ``InvoiceLine``, ``"Order Details"``), where sales are recorded whatever the question calls
    them, unless a table already sent holds a total (``Invoice.Total``). The tables on the shortest foreign-key paths between the chosen ones come too (``Invoice``
    and ``InvoiceLine`` between ``Customer`` and ``Track``).
    A year or month in the question brings the nearest table with a date when no chosen table has one.
    On Spider dev: 2.5 tables sent instead of 4.5, all the gold query's tables for 96.5 % of questions;
    ``benchmarks/bench_focus.py`` measures it. A small model confuses itself with every table it is shown;
    docs/benchmarks.md measures what this costs and gains.
    """
    terms = _question_terms(question)
    columns = [set().union(*(_name_terms(c.name) for c in t.columns)) if t.columns else set() for t in tables]
    chosen, unnamed = _named(tables, terms)
    for term in sorted(unnamed):
        if not any(term in columns[i] for i in chosen):
            chosen |= {i for i, c in enumerate(columns) if term in c}
    holding = {name.lower() for name in linked}
    named = chosen or {i for i, table in enumerate(tables) if table.name.lower() in holding}
    chosen = chosen | {i for i, table in enumerate(tables) if table.name.lower() in holding}
    if not chosen:
        return []
    links = _links(list(tables))
    sent = set(chosen)
    if len(named) == 1:  # a table holding a value the question mentions does not stand in for its neighbours
        sent |= links.get(next(iter(named)), set())
    if len(chosen) > 1:
        bridges = {k for k in range(len(tables)) if k not in chosen and len(links.get(k, set()) & chosen) >= 2}
        sent |= bridges | _paths_between(chosen, links)
    money = terms & MONEY_WORDS and not any(_has_total(tables[i]) for i in sent)
    sales = {i for i, table in enumerate(tables) if _is_line_items(table)} - sent if money else set()
    if sales:
        sent |= sales | _paths_between(sent | sales, links)
    if _asks_for_a_period(question) and not any(_has_date(tables[i]) for i in sent):
        dated = sorted(k for i in sent for k in links.get(i, set()) if _has_date(tables[k]))
        sent |= set(dated[:1])
    return [tables[i] for i in sorted(sent)]


def _named(tables: Sequence[Table], terms: set[str]) -> tuple[set[int], set[str]]:
    """The tables a question's words name (a word is a table's whole name, else part of names), and the
    words that name none."""
    whole = [stem("".join(stemmed_words(t.name))) for t in tables]
    parts = [set(stemmed_words(t.name)) for t in tables]
    chosen: set[int] = set()
    unnamed = set()
    for term in terms:
        hits = {i for i, name in enumerate(whole) if name == term} or {i for i, p in enumerate(parts) if term in p}
        chosen |= hits
        if not hits:
            unnamed.add(term)
    return chosen, unnamed


def named_tables(tables: Sequence[Table], question: str) -> list[Table]:
    """The tables whose names the question's words name ("customers" -> ``Customer``), nothing joined."""
    chosen, _ = _named(tables, _question_terms(question))
    return [tables[i] for i in sorted(chosen)]


# Words for money changing hands: the line-item tables record it, whatever the question calls it.
MONEY_WORDS = frozenset(stem(w) for w in """revenue revenues sales sold sell sells selling seller sellers earn earned
    earns earning earnings spend spent spends buy buys bought buying purchase purchased purchases income turnover""".split())
QUANTITY_NAMES = frozenset({"quantity", "qty"})
TOTAL_NAMES = frozenset({"total", "amount", "revenue"})
DATE_TYPES = ("DATE", "TIME")  # DATE, DATETIME, TIMESTAMP
MONTHS = ("january february march april june july august september october november december "
          "jan feb mar apr jun jul aug sep sept oct nov dec month monthly year yearly quarter").split()
# "may" is the month only where a date reads it so ("in May", "May 2024", "May 3"), not the verb ("may churn")
MAY = r"(?:in|during|of|since|until|till|before|after|from|through|between|by)\s+may\b|\bmay\s+\d"
PERIOD_PATTERN = re.compile(rf"\b(1[89]\d\d|20\d\d|{'|'.join(MONTHS)})s?\b|\b{MAY}", re.IGNORECASE)
MAX_PATH = 4  # tables on a joining path, ends included: longer chains are not what a question means


def _is_line_items(table: Table) -> bool:
    """A table recording sales line by line: a quantity column beside a price column."""
    names = [stem("".join(stemmed_words(c.name))) for c in table.columns]
    return not table.is_view and any(n in QUANTITY_NAMES for n in names) and any("price" in n for n in names)


def _has_total(table: Table) -> bool:
    """A column that already holds an amount of money (``Invoice.Total``): no line items needed."""
    return any(n in TOTAL_NAMES for c in table.columns for n in stemmed_words(c.name))


def _has_date(table: Table) -> bool:
    return any(any(kind in c.type.upper() for kind in DATE_TYPES) for c in table.columns)


def _asks_for_a_period(question: str) -> bool:
    """A year ("in 1997"), a month or a period word: the answer filters or groups by a date."""
    return PERIOD_PATTERN.search(question) is not None


def _links(tables: list[Table]) -> dict[int, set[int]]:
    """The foreign-key graph, both directions."""
    links: dict[int, set[int]] = {}
    for i, j in _fk_pairs(tables):
        links.setdefault(i, set()).add(j)
        links.setdefault(j, set()).add(i)
    return links


def _paths_between(chosen: set[int], links: dict[int, set[int]]) -> set[int]:
    """The tables on the shortest foreign-key paths that join each chosen table to the ones before it
    (at most ``MAX_PATH`` tables a path); a table no short path reaches stays unjoined."""
    order = sorted(chosen)
    joined, added = {order[0]}, set()
    for start in order[1:]:
        if start in joined:
            continue
        path = _shortest_path(start, joined, links)
        if path is not None and len(path) <= MAX_PATH:
            added |= set(path[1:-1])
            joined |= set(path)
        else:
            joined.add(start)
    return added - chosen


def _shortest_path(start: int, targets: set[int], links: dict[int, set[int]]) -> list[int] | None:
    """Breadth-first, neighbours in index order, so the path is deterministic."""
    previous: dict[int, int | None] = {start: None}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for neighbour in sorted(links.get(node, set())):
                if neighbour in previous:
                    continue
                previous[neighbour] = node
                if neighbour in targets:
                    path = [neighbour]
                    while previous[path[-1]] is not None:
                        path.append(previous[path[-1]])
                    return path[::-1]
                following.append(neighbour)
        frontier = following
    return None


def select_tables(schema: Schema, question: str, token_budget: int, focus: bool = False,
                  linked: Sequence[str] = ()) -> list[Table]:
    """The tables to show the model for ``question``, within ``token_budget`` (estimated) tokens.

    With ``focus``, only the tables :func:`focus_tables` finds (all of them when it finds none), the
    ``linked`` ones (holding a value the question mentions) among them.
    Then everything when it fits; otherwise the tables whose names match the question, then the
    tables joined to those by foreign keys, then tables matching only by column names.
    Never empty when the schema has tables; the result keeps schema order and is deterministic.
    """
    tables = list(schema.tables)
    if focus:
        tables = focus_tables(tables, question, linked) or tables
    if not tables or estimate_tokens(render_context(tables)) <= token_budget:
        return tables
    picker = _Picker(tables, token_budget)
    terms = _question_terms(question)
    scores = [_score(t, terms) for t in tables]
    name_hits = [i for i, t in enumerate(tables) if terms & _name_terms(t.name)]
    picker.add_all(sorted(name_hits, key=lambda i: (-scores[i], i)))
    picker.add_all(sorted(_neighbours(tables, picker.chosen), key=lambda i: (-scores[i], i)))
    picker.add_all(sorted((i for i, s in enumerate(scores) if s > 0), key=lambda i: (-scores[i], i)))
    if not picker.chosen:
        degree = _degrees(tables)
        order = sorted(range(len(tables)), key=lambda i: (-scores[i], -degree[i], i))
        picker.force(order[0])
        picker.add_all(order[1:])
    return [tables[i] for i in sorted(picker.chosen)]


class _Picker:
    """Adds tables while the rendered context stays within the budget."""

    def __init__(self, tables: list[Table], token_budget: int):
        self.tables = tables
        self.max_chars = token_budget * CHARS_PER_TOKEN
        self.chosen: set[int] = set()
        self.chars = 0

    def _cost(self, i: int) -> int:
        return len(self.tables[i].create_statement()) + (2 if self.chosen else 0)  # "; " separator

    def add_all(self, indices: Iterable[int]) -> None:
        for i in indices:
            if i not in self.chosen and self.chars + self._cost(i) <= self.max_chars:
                self.force(i)

    def force(self, i: int) -> None:
        self.chars += self._cost(i)
        self.chosen.add(i)


def _fk_pairs(tables: list[Table]) -> Iterator[tuple[int, int]]:
    index = {t.name.lower(): i for i, t in enumerate(tables)}
    for i, table in enumerate(tables):
        for fk in table.foreign_keys:
            j = index.get(fk.ref_table.lower())
            if j is not None and j != i:
                yield i, j


def _neighbours(tables: list[Table], chosen: set[int]) -> set[int]:
    """Tables that reference, or are referenced by, a chosen table."""
    found = set()
    for i, j in _fk_pairs(tables):
        if i in chosen:
            found.add(j)
        if j in chosen:
            found.add(i)
    return found - chosen


def _degrees(tables: list[Table]) -> list[int]:
    degree = [0] * len(tables)
    for i, j in _fk_pairs(tables):
        degree[i] += 1
        degree[j] += 1
    return degree
