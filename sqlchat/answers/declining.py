"""Tell a question the database cannot answer, instead of answering another one.

"What is the average salary of employees?" on a database that stores no salary still gets SQL from
a model, and rows, from some unrelated query. Two signals, each usable alone:

- the model's: the prompt allows it to answer :data:`DECLINE_MARKER` (a SQL comment, so it can
  never run) followed by what is missing; :func:`model_decline` recognises it in a raw completion;
- the schema's: :func:`schema_gaps` lists the question's words that name nothing the database
  has: no table or column name (CamelCase and snake_case split, plurals and word forms matched),
  no common business synonym of one (song/track, client/customer...), and no stored text value
  (``Brazil``, ``Rock``). Words that ask rather than name (most, average, revenue, last year...)
  are never gaps.

``sqlchat.answers.trust.decide`` combines them with the answer's other signals under ``TrustConfig``.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError

from sqlchat.config import ExecutionConfig
from sqlchat.errors import SqlchatError
from sqlchat.execution import execute
from sqlchat.safety import check_sql
from sqlchat.schema.context import STOPWORDS, stem, stemmed_words
from sqlchat.schema.model import Table

if TYPE_CHECKING:
    from sqlchat.sources.connection import Database

DECLINE_MARKER = "-- cannot answer:"
"""What the model may answer instead of SQL, followed by what is missing:
``-- cannot answer: the database stores no salaries``."""

DECLINE_INSTRUCTION = (f"If these tables cannot answer the question, write only {DECLINE_MARKER} "
                       "followed by what the tables do not hold.")
"""The sentence a prompt may carry so the model can decline (``sqlchat.prompt`` decides where)."""

_MARKER = re.compile(r"--\s*cannot\s+answer\s*:?(?P<reason>[^\n]*)", re.IGNORECASE)
_MIN_TERM = 3
_MAX_TERMS_LOOKED_UP = 6  # words looked up among stored values per question, at most; the rest are not gaps
_VALUES_READ = 50  # rows read per table to tell a whole word from a part of one

# Words that ask for something rather than name data: measures, comparisons, time, quantities.
# A gap must be a word that could only be answered by a column or value the database would store.
ASKING_WORDS = frozenset(stem(w) for w in """
    about above across after again against ago all alphabetical alphabetically also among amount amounts
    any anyone appear appears are around ascending average averages bad base based been before being below
    best between big bigger biggest both bottom bought buy buys call called cheap cheaper cheapest combined
    compare compared contain contains cost costs count counted counts current currently data database date
    dates day daily days decreasing descending detail details did different distinct during each earliest
    earn earned earns either else empty end ending ever exactly except expensive fewer fewest first following
    frequent frequently full get gets give given go gone got greater greatest group grouped had half has
    have having high higher highest hold holds include included including increasing info information into
    item items just kind kinds large larger largest last latest least less like list listed long longer longest
    low lower lowest made make many max maximum mean median member members mention mentioned min minimum month
    monthly months more most much name named names new newest next none not number numbers off often old older
    oldest once one only order ordered other others our out over overall own pair pairs past per percent
    percentage place placed popular popularity present quarter quarterly range rank ranked ranking rate ratio
    recent recently record records result results revenue revenues row rows same second sell seller selling sells
    several share short shorter shortest show shown side since single size small smaller smallest sold some
    someone something sort sorted spend spending spent start started starting still such sum summary than
    that them then third through time times together top total totals twice under unique unit units until
    use used using value values versus via want week weekly weeks well were whole within without worst year
    yearly years yet young younger youngest zero sale sales amount income money paid pay
    between both together first second third fourth fifth one two three four five six seven eight nine ten
    hundred thousand million january february march april may june july august september october november december
    monday tuesday wednesday thursday friday saturday sunday today yesterday tomorrow week weekend morning evening
    you your we us they he she his her its would could should will shall might must can may
    add remove delete update insert change drop create set modify rename replace clear erase alter truncate
    see know tell need like please look lookup check find display
    issue issued handle handled handles carry carried carries process processed place placed make made ship
    shipped deliver delivered receive received send sent register registered sign signed belong belongs
    work works worked serve served assign assigned contain contained live lives lived come comes came
    bill billed billing bring brings brought take takes took taken measure measured never always ever
    catalogue catalog everything anything does doing done went goes going gone
    dollar dollars cent cents euro euros pound pounds usd eur currency late later early earlier soon now right
    break down breakdown split broken
""".split())

# Everyday words for what business schemas name otherwise; a question word in a group matches a schema
# name in the same group. Generic, never one database's: the same words serve any sales schema.
SYNONYMS: tuple[frozenset[str], ...] = tuple(frozenset(stem(w) for w in group.split()) for group in (
    "song songs track tracks tune tunes recording",
    "singer singers band bands musician musicians artist artists performer group",
    "client clients customer customers buyer buyers shopper account",
    "staff employee employees worker workers rep reps representative colleague manager agent",
    "purchase purchases order orders sale invoice invoices bill bills transaction transactions",
    "supplier suppliers vendor vendors provider",
    "product products item goods merchandise article",
    "category categories genre genres type types kind",
    "city cities town towns",
    "country countries nation nations",
    "phone telephone mobile",
    "mail email address",
    "cost price prices fee charge",
    "record album albums",
    "playlist playlists",
    "shipper shippers carrier courier",
    "boss supervisor report reports",
    "length duration milliseconds minutes seconds long",
    "size bytes",
    "hire hired hiring employed",
    "born birth birthday",
    "freight ship ships shipped shipping shipment shipments delivery deliveries",
    "discount discounts",
    "stock inventory",
    "region regions territory territories area",
    "company companies firm business",
))


def model_decline(completion: str) -> str | None:
    """What the model says is missing when its completion is :data:`DECLINE_MARKER` (possibly empty); None otherwise."""
    found = _MARKER.search(completion or "")
    if found is None:
        return None
    return found.group("reason").strip().rstrip(";").strip()


ValueHolder = Callable[[str], bool]
"""``word`` -> whether some stored text value contains it (ignoring letter case)."""


def schema_terms(tables: Sequence[Table]) -> set[str]:
    """Every word of the schema's table and column names, stemmed, plus each name's whole form."""
    terms: set[str] = set()
    for table in tables:
        for name in [table.name, *(c.name for c in table.columns), table.comment or ""]:
            parts = stemmed_words(name)
            terms.update(parts)
            if parts:
                terms.add(stem("".join(parts)))
    return terms


def question_words(question: str) -> list[str]:
    """The question's content words, stemmed, in order: no stop words, numbers or words shorter than 3."""
    found = []
    for raw in _raw_words(question):
        word = stem(raw)
        if len(word) < _MIN_TERM or word.isdigit() or {raw, word} & (STOPWORDS | ASKING_WORDS):
            continue
        if word not in found:
            found.append(word)
    return found


def _raw_words(text: str) -> list[str]:
    """A question's lower-case words before stemming ("does" must meet the stop word, not "doe")."""
    return re.findall(r"[^\W_]+", text.lower())


def _names_it(word: str, terms: set[str]) -> bool:
    if word in terms:
        return True
    if len(word) >= 5 and any(len(t) >= 5 and (t.startswith(word[:5]) and word.startswith(t[:5])) for t in terms):
        return True  # word forms: "invoiced"/"invoice", "shipped"/"shipping"
    return any(word in group and group & terms for group in SYNONYMS)


def schema_gaps(question: str, tables: Sequence[Table], holds_value: ValueHolder | None = None) -> list[str]:
    """The question's words that match no table or column name, synonym of one, or stored value.

    Without ``holds_value`` (a database with no data, from a CREATE TABLE script) a missing thing
    cannot be told from a value ("customers in Brazil"), so nothing is reported: the model decides alone.
    """
    terms = schema_terms(tables)
    unknown = [word for word in question_words(question) if not _names_it(word, terms)]
    if holds_value is None:
        return []
    return [word for word in unknown[:_MAX_TERMS_LOOKED_UP] if not holds_value(word)]


def compared_words(sql: str | None, dialect: str = "sqlite") -> set[str]:
    """The words of the strings ``sql`` compares with (``Name = 'Polka'`` -> polka), stemmed.

    A question word the data lacks but the SQL looks up as a value ("Which genre is polka?") is a
    value that is not there: the empty answer says so truthfully, so it is no reason to decline.
    """
    if not sql:
        return set()
    try:
        tree = sqlglot.parse_one(sql, read=dialect)
    except (SqlglotError, ValueError, TypeError, RecursionError):
        return set()
    return {word for literal in tree.find_all(exp.Literal) if literal.is_string for word in stemmed_words(literal.this)}


def gaps_sentence(gaps: Sequence[str], model_reason: str | None = None) -> str:
    """The sentence a user reads when a question is declined: what is missing, from the schema or the model."""
    if gaps:
        listed = ", ".join(f"“{g}”" for g in gaps[:-1]) + (" or " if len(gaps) > 1 else "") + f"“{gaps[-1]}”"
        return (f"This database has nothing about {listed}: no table, column or stored value matches, "
                "so the question is not answered rather than answered with unrelated rows.")
    if model_reason:
        return f"This database cannot answer that: {model_reason.rstrip('.')}."
    return "This database does not hold what the question asks for, so it is not answered."


# --------------------------------------------------------------------------- stored values


def _text_columns(tables: Iterable[Table]) -> list[tuple[str, str]]:
    return [(t.name, c.name) for t in tables if not t.is_view for c in t.columns if c.is_text]


def containing_values_sql(table: str, columns: Sequence[str], word: str, dialect: str) -> str:
    """``SELECT a, b FROM table WHERE LOWER(a) LIKE '%word%' OR LOWER(b) LIKE '%word%' LIMIT n``, built as a
    tree (the word is a literal)."""
    targets = [exp.column(column, quoted=True) for column in columns]
    pattern = f"%{word.lower()}%"
    condition = exp.or_(*(exp.Like(this=exp.Lower(this=t.copy()), expression=exp.Literal.string(pattern)) for t in targets))
    query = exp.select(*targets).from_(exp.table_(table, quoted=True)).where(condition).limit(_VALUES_READ)
    return query.sql(dialect=dialect)


def _has_word(value: object, word: str) -> bool:
    """``word`` starts a word of ``value``: "Brazil" holds brazil, "Page" does not hold age."""
    return isinstance(value, str) and re.search(rf"(?<![^\W_]){re.escape(word)}", value.lower()) is not None


def stored_words(db: "Database", tables: Sequence[Table], config: ExecutionConfig, budget_s: float = 3.0) -> ValueHolder:
    """A :data:`ValueHolder` that asks ``db`` through the safety check and the read-only executor,
    a table at a time, stopping at the first stored value that has the word.

    All look-ups of one question share ``budget_s`` seconds (a scan of a large table is slow): a word
    not settled in time counts as held, so a slow database never declines a question it could answer.
    """
    by_table: dict[str, list[str]] = {}
    for table, column in _text_columns(tables):
        by_table.setdefault(table, []).append(column)
    deadline = time.monotonic() + budget_s

    def holds(word: str) -> bool:
        for table, columns in by_table.items():
            left = deadline - time.monotonic()
            if left <= 0:
                return True  # not settled in time: do not decline on it
            try:
                checked = check_sql(containing_values_sql(table, columns, word, db.dialect), db.dialect, row_limit=None)
                frame = execute(db, checked, replace(config, statement_timeout_s=min(config.statement_timeout_s, left))).frame
            except SqlchatError:
                if time.monotonic() >= deadline:
                    return True
                continue  # a column LOWER() cannot read: it holds no such word
            if any(_has_word(value, word) for row in frame.itertuples(index=False, name=None) for value in row):
                return True
        return False
    return holds


# --------------------------------------------------------------------------- what the operator withheld

_NOT_NAMING = frozenset({"id", "code", "key", "no", "num"})  # words of a key column's name that name nothing


def _name_words(name: str) -> set[str]:
    """The words of a table or column name that could name it in a question (``SupportRepId`` -> support, rep)."""
    return {w for w in stemmed_words(name) if len(w) >= 2 and w not in _NOT_NAMING and w not in STOPWORDS
            and w not in ASKING_WORDS}


def _all_named(words: set[str], asked: Sequence[str]) -> bool:
    return bool(words) and all(any(_names_it(q, {w}) for q in asked) for w in words)


def withheld_subjects(question: str, hidden: Iterable[tuple[str, str]], tables: Sequence[Table],
                      earlier: Sequence[str] = ()) -> list[tuple[str, str]]:
    """The hidden ``(table, column)`` pairs ``question`` asks for: every word of the column's name and of its table's
    name appears in it (stemmed, word forms and synonyms matched as :func:`schema_gaps` does; the table may also be
    named by an ``earlier`` question of the conversation), and no visible table the question names has a column of
    that name to give instead ("the employees' email" on a connection that hides only the customers').

    A column whose name is only asking words (``Total``) is never listed: the model's SQL is refused if it reads it.
    ``tables`` is the visible schema; a visible table is named by its own name's words or by a foreign-key column
    pointing to it (``SupportRepId`` names the employees).
    """
    asked = question_words(question)
    before = [w for text in earlier for w in question_words(text)]
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
