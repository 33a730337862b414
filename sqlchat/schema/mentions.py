"""Schema linking by stored values: where the names a question mentions are kept in the data.

"How many customers does Jane Peacock look after?" names a person the schema cannot place: Chinook has
first and last names in ``Customer`` and in ``Employee``, and a small model, told about customers, counts
customers called Jane Peacock. The data can place her: ``Employee.FirstName = 'Jane'`` and
``Employee.LastName = 'Peacock'``. :func:`find_mentions` looks the question's names up among the stored
text values and returns where each one is (:class:`Mention`); the prompt shows them after the schema
(``sqlchat.prompt``) and the schema focus sends their tables (``sqlchat.schema.context``).

What is looked up: quoted text, runs of capitalised words ("Nancy Davolio", "Led Zeppelin", "Jazz") and
runs of two or more lower-case words that name nothing in the schema ("heavy metal"). A phrase matches a
value equal to it ignoring letter case; a name of two or three words not stored whole matches when each
word is a whole value of a different column of one row (a first and a last name). A phrase found in more
than one column is left out: it says nothing about where to look, and a small model shown every place
writes every condition. Nothing is guessed, and every look-up shares one time budget, so a large
database costs at most that.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from sqlglot import exp

from sqlchat.language import STOPWORDS, stemmed_words
from sqlchat.schema.model import Table, prompt_text, quote_identifier
from sqlchat.schema.reader import ValueReader

MAX_PHRASES = 6  # phrases taken from a question, at most
MAX_LOOKUPS = 10  # phrases and parts of phrases looked up per question, at most
MAX_PLACES = 1  # columns a phrase may be found in and still say where to look (see find_mentions)
MAX_WORDS = 3  # words of a name matched one column each (first, middle, last)
ROWS_READ = 20  # rows read per table and phrase


class StoredValues(Protocol):
    """What :func:`find_mentions` asks of a database."""

    def rows(self, table: str, columns: Sequence[str], texts: Sequence[str]) -> Sequence[tuple[object, ...]]:
        """Rows of ``columns`` in which some column equals one of ``texts`` ignoring letter case (a few at most)."""


@dataclass(frozen=True)
class Mention:
    """A phrase of the question and where the data stores it: ``(table, column, stored value)`` per part
    (one part for a value stored whole, one per word for a name split over columns)."""

    phrase: str
    parts: tuple[tuple[str, str, str], ...]

    @property
    def tables(self) -> list[str]:
        return list(dict.fromkeys(table for table, _, _ in self.parts))

    def tells(self, named: Sequence[str]) -> bool:
        """Whether the prompt should say it: a name split over columns (a first and a last name) in a table the
        question does not name (``named``), the one case the schema alone leaves open: "How many customers does
        Jane Peacock look after?" names customers, whose table has first and last names too. Said of values the
        question's words already place ("Which employees report to Nancy Edwards?", "Jazz" for ``Genre``), it
        only changed the 1.5B's SQL, for the worse (docs/benchmarks.md)."""
        return len(self.parts) > 1 and not {table.lower() for table in self.tables} & {name.lower() for name in named}

    def text(self) -> str:
        """``Employee.FirstName = 'Jane' AND Employee.LastName = 'Peacock'``: the condition, as SQL the
        model can copy."""
        return " AND ".join(f"{_name(table)}.{_name(column)} = {_string(value)}" for table, column, value in self.parts)


def _name(name: str) -> str:
    return prompt_text(quote_identifier(name))


def _string(value: str) -> str:
    return "'" + prompt_text(value).replace("'", "''") + "'"


# --------------------------------------------------------------------------- the question's phrases

_QUOTED = re.compile(r"""(?<!\w)'([^']{2,60})'(?!\w)|"([^"]{2,60})"|“([^”]{2,60})”|‘([^’]{2,60})’|``(.{2,60}?)''""")
_WORD = re.compile(r"[^\W_][\w'&./-]*")
_JOINERS = frozenset({"of", "the", "and", "de", "la", "le", "von", "van", "&"})
_BREAKS = ",;:?!()\""


def mentioned_phrases(question: str, schema_words: set[str] | frozenset[str] = frozenset(),
                      asking_words: set[str] | frozenset[str] = frozenset()) -> list[str]:
    """The phrases of ``question`` that may be stored values, in order, at most :data:`MAX_PHRASES`: quoted
    text, then runs of words that are no stop word, asking word (``asking_words``: "Which", "List") or schema
    name (``schema_words``, stemmed): capitalised ones ("Nancy Davolio"; "of", "the", "and" join them: "Bank of
    America"), and lower-case ones two or more at a time ("heavy metal")."""
    quoted = [next(group for group in m.groups() if group is not None).strip() for m in _QUOTED.finditer(question)]
    quoted_texts = [text for text in quoted if text]
    found: list[str] = list(quoted_texts)
    unquoted = _QUOTED.sub(" , ", question)
    run: list[str] = []

    def close() -> None:
        while run and run[-1].lower() in _JOINERS:
            run.pop()
        if run:
            found.append(" ".join(run))
        run.clear()

    previous_end = 0
    for match in _WORD.finditer(unquoted):
        word = re.sub(r"'s$", "", match.group(0)).rstrip(".'-/")
        if any(mark in unquoted[previous_end:match.start()] for mark in _BREAKS):
            close()
        previous_end = match.end()
        asks = _only_asking(word, schema_words, asking_words)
        capitalised = run[:1] and run[0][:1].isupper()
        if word[:1].isupper() and not asks:
            run.append(word)
        elif capitalised and word.lower() in _JOINERS:
            run.append(word)
        elif word[:1].islower() and len(word) >= 3 and not asks:
            if capitalised:
                close()  # "U2 release": a name, then the question's own words
            run.append(word)  # kept only in a run of two or more: alone, a common word matches titles by chance
        elif run and word[:1].isdigit():
            run.append(word)
        else:
            close()
    close()
    runs = [phrase for phrase in found[len(quoted_texts):] if not _lone_lower_case(phrase)]
    return [phrase for phrase in dict.fromkeys([*quoted_texts, *runs])
            if not _only_asking(phrase, schema_words, asking_words)][:MAX_PHRASES]


def _lone_lower_case(phrase: str) -> bool:
    """One word typed in lower case ("music", "release"): in a column of titles or playlists, a common word
    is a value by chance (Chinook has a playlist called "Music"), so it is not looked up unless quoted."""
    return phrase.islower() and len(phrase.split()) == 1


def _only_asking(text: str, schema_words: set[str] | frozenset[str], asking_words: set[str] | frozenset[str]) -> bool:
    """Every word asks ("Which", "How many"), is a number, or names the schema ("Customers", "Order Details"): no value."""
    return all(w in STOPWORDS or w in asking_words or w in schema_words or w.isdigit() for w in stemmed_words(text))


# --------------------------------------------------------------------------- where they are stored


def find_mentions(question: str, tables: Sequence[Table], values: StoredValues, schema_words: set[str] | frozenset[str] = frozenset(),
                  asking_words: set[str] | frozenset[str] = frozenset(), budget_s: float = 1.0) -> list[Mention]:
    """Where the data stores the phrases :func:`mentioned_phrases` finds in ``question``: a :class:`Mention`
    for each phrase found in one column only (or split over the columns of one row). A phrase found in
    several ("Queen": ``Artist.Name`` and ``Track.Composer``; "Paris": ``Customer.City`` and
    ``Invoice.BillingCity``) says nothing: shown all of them, the 1.5B wrote every condition into one query
    (docs/benchmarks.md). Look-ups stop when ``budget_s`` seconds are spent, and what was found until then is all
    that is returned: a phrase whose tables were not all searched could be in a second place."""
    searched = [(t, [c.name for c in t.columns if c.is_text]) for t in tables if not t.is_view]
    searched = [(t, columns) for t, columns in searched if columns]
    deadline = time.monotonic() + budget_s
    mentions: list[Mention] = []
    phrases = mentioned_phrases(question, schema_words, asking_words)
    looked_up = 0
    placed: set[str] = set()  # words of the phrases found: a part of one is not looked up again
    while phrases and looked_up < MAX_LOOKUPS:
        phrase = phrases.pop(0)
        words = phrase.split()
        if {word.lower() for word in words} <= placed:
            continue
        looked_up += 1
        texts = [phrase, *words] if 1 < len(words) <= MAX_WORDS else [phrase]
        whole: list[Mention] = []
        split: list[Mention] = []
        for table, columns in searched:
            if time.monotonic() >= deadline:
                return mentions
            rows = values.rows(table.name, columns, texts)
            whole += [Mention(phrase, ((table.name, column, value),)) for column, value in _columns_equal(rows, columns, phrase)]
            if len(texts) > 1:
                parts = _split_over_columns(rows, columns, words)
                if parts is not None:
                    split.append(Mention(phrase, tuple((table.name, column, value) for column, value in parts)))
        places = whole or split
        if places:
            placed |= {word.lower() for word in words}
        if 0 < len(places) <= MAX_PLACES:
            mentions += places
        elif not places and len(words) > 1:  # "Led Zeppelin and U2", "heavy metal": its parts may be values
            phrases[:0] = [part for part in _parts(words)
                           if not _only_asking(part, schema_words, asking_words) and not _lone_lower_case(part)]
    return mentions


def _parts(words: Sequence[str]) -> list[str]:
    """A phrase not found whole, cut at its joining words ("Led Zeppelin", "U2"), else into its words."""
    parts, current = [], []
    for word in [*words, "and"]:
        if word.lower() in _JOINERS:
            if current:
                parts.append(" ".join(current))
            current = []
        else:
            current.append(word)
    if len(parts) > 1:
        return parts
    words = [word for word in words if word.lower() not in _JOINERS]
    return [" ".join(words[:-1]), " ".join(words[1:])] if len(words) > 2 else words


def _columns_equal(rows: Sequence[tuple[object, ...]], columns: Sequence[str], text: str) -> list[tuple[str, str]]:
    """(column, stored value) for each column whose value equals ``text`` ignoring case, once each."""
    found: dict[str, str] = {}
    for row in rows:
        for column, value in zip(columns, row):
            if isinstance(value, str) and value.strip().lower() == text.lower() and column not in found:
                found[column] = value.strip()
    return list(found.items())


def _split_over_columns(rows: Sequence[tuple[object, ...]], columns: Sequence[str], words: Sequence[str]) -> list[tuple[str, str]] | None:
    """One row holding each word whole in a column of its own (``FirstName = 'Nancy'``, ``LastName = 'Davolio'``)."""
    for row in rows:
        values = {column: value.strip() for column, value in zip(columns, row) if isinstance(value, str)}
        parts: list[tuple[str, str]] = []
        for word in words:
            column = next((c for c, v in values.items() if v.lower() == word.lower() and c not in dict(parts)), None)
            if column is None:
                break
            parts.append((column, values[column]))
        else:
            return parts
    return None


def equal_values_sql(table: str, columns: Sequence[str], texts: Sequence[str], dialect: str) -> str:
    """``SELECT a, b FROM t WHERE LOWER(a) IN (...) OR LOWER(b) IN (...) LIMIT n``, built as a tree (the texts are literals)."""
    targets = [exp.column(column, quoted=True) for column in columns]
    wanted = [exp.Literal.string(text.lower()) for text in texts]
    condition = exp.or_(*(exp.In(this=exp.Lower(this=target.copy()), expressions=[w.copy() for w in wanted]) for target in targets))
    return exp.select(*targets).from_(exp.table_(table, quoted=True)).where(condition).limit(ROWS_READ).sql(dialect=dialect)


class DatabaseValues:
    """:class:`StoredValues` read through ``reader`` (the pipeline's: the safety check and the read-only executor),
    each statement within what is left of ``budget_s``; a statement that fails or runs out of time finds nothing."""

    def __init__(self, reader: ValueReader, budget_s: float):
        self.reader = reader
        self.deadline = time.monotonic() + budget_s

    def rows(self, table: str, columns: Sequence[str], texts: Sequence[str]) -> list[tuple[object, ...]]:
        left = self.deadline - time.monotonic()
        if left <= 0:
            return []
        return self.reader.rows(equal_values_sql(table, columns, texts, self.reader.dialect), timeout_s=left)
