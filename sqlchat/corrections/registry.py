"""Every correction as a named rule, in one ordered list: the registry, and the contract each rule keeps.

A rule is a function of the model's query and a small immutable :class:`Context` (the schema's tables, the
connection's dialect, the question, the SQL a follow-up follows) that returns the corrected query, or None
when it does not apply (it did not *fire*). A rule reads a sqlglot tree (a copy: it may change it) and
returns a tree; the ones that mend text the parser cannot read yet (apostrophes inside strings, names with spaces written
bare, joins written after ``WHERE``, another dialect's functions) read and return the text. Each rule declares

- its ``kind``: a ``repair`` keeps the query's meaning (quoting, apostrophes in strings, clause order, names as the database spells
  them, invented names mapped to real ones, division with decimals as in arithmetic, a date range's last day
  whole, join keys along the declared foreign keys, a missing table joined in, dialect functions, a string
  spelled as stored); a ``reinterpretation`` changes what the query asks
  (a join nothing reads dropped, a value moved to the column that holds it). A reinterpretation stays only
  while it pays on databases it was not written for (the held-out suite and Spider, docs/benchmarks.md): the
  borrowed-column, summed-key, asked-subject and carried-condition readings went when they did not;
- its ``dialects``: the connections it runs on;
- its ``stage``: ``text`` (before parsing, always), ``always`` (the repaired form is tried before the query as
  written), ``fallback`` (tried after those forms, which may fail: invented names), ``empty`` (only when the
  forms before came back with nothing informative; it reads stored values), ``reading`` (a reinterpretation).

Rules do no I/O (the ``empty`` rules ask stored values through the context's read-only ``lookup``, which the
pipeline gives them only after an empty result) and never raise: :func:`apply_rule` catches any exception,
records the rule's name and one line in ``failures`` and skips it. :data:`RULES` is the order they apply in.

How the pipeline uses them (:mod:`sqlchat.pipeline`): :func:`written_forms` gives a candidate's forms with
every repair (the repaired form first, the as-written one after, then the fallbacks), :func:`linked_form`
its stored spellings after an empty result, and :func:`reinterpreted` the reinterpretations, which the
pipeline runs as an extra candidate that must win by agreement with other candidates' results, not merely
by returning rows. Each form carries the names of the rules that made it and what they did, in words.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import sqlglot
from sqlglot import exp

from sqlchat.corrections.apostrophes import escape_apostrophes
from sqlchat.corrections.clauses import joins_before_where
from sqlchat.corrections.days import whole_last_days
from sqlchat.corrections.dialects import in_dialect
from sqlchat.corrections.division import DIVIDES_WHOLE_NUMBERS, exact_division
from sqlchat.corrections.joins import correct_joins, join_missing_tables
from sqlchat.corrections.repair import repair_sql
from sqlchat.corrections.spaces import quote_spaced_names, split_dotted_names
from sqlchat.corrections.unused import drop_unused_joins
from sqlchat.corrections.values import ValueLookup, link_values
from sqlchat.schema.model import Table

log = logging.getLogger(__name__)

REPAIR, REINTERPRETATION = "repair", "reinterpretation"
KINDS = (REPAIR, REINTERPRETATION)
STAGES = ("text", "always", "fallback", "empty", "reading")
ALL_DIALECTS = frozenset({"sqlite", "postgres", "mysql", "duckdb"})


@dataclass(frozen=True)
class Context:
    """What a rule may read besides the query: nothing it could change, nothing that reaches outside."""

    tables: tuple[Table, ...] = ()
    dialect: str = "sqlite"
    question: str = ""
    follows: str | None = None  # a follow-up's previous turn's SQL
    lookup: ValueLookup | None = field(default=None, compare=False)  # stored values; only after an empty result

    @property
    def names(self) -> dict[str, list[str]]:
        return {table.name: [column.name for column in table.columns] for table in self.tables}


Tree = exp.Expression


@dataclass(frozen=True)
class Rule:
    """One correction: ``apply(query, context) -> query | None`` (None: it did not fire)."""

    name: str
    kind: str
    dialects: frozenset[str]
    stage: str
    apply: Callable[[Any, Context], Any]
    says: str  # what it did, in words for the user ("{tables}" is the tables it dropped or added)
    reads: str = "tree"  # "tree" (a sqlglot tree, a copy) or "text" (SQL the parser may not read yet)

    def __post_init__(self) -> None:
        if self.kind not in KINDS or self.stage not in STAGES or self.reads not in ("tree", "text"):
            raise ValueError(f"rule {self.name}: kind {self.kind!r}, stage {self.stage!r}, reads {self.reads!r}")
        if not self.dialects or not self.dialects <= ALL_DIALECTS:
            raise ValueError(f"rule {self.name}: dialects {sorted(self.dialects)}")
        if (self.kind == REINTERPRETATION) != (self.stage == "reading"):
            raise ValueError(f"rule {self.name}: only reinterpretations read the question's meaning")


@dataclass(frozen=True)
class Form:
    """A query to try and how it came to be: the rules that fired on the way and what they did, in words."""

    sql: str
    fired: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    def then(self, rule: Rule, sql: str, note: str) -> Form:
        return Form(sql, self.fired + (rule.name,), self.notes + (note,))

    @property
    def reinterpreted(self) -> bool:
        return any(RULES_BY_NAME[name].kind == REINTERPRETATION for name in self.fired if name in RULES_BY_NAME)


# -- the rules: the corrections' modules, each seen as tree in, tree (or nothing) out ------------------------


def _text_of(tree: Tree, context: Context) -> str:
    return tree.sql(dialect=context.dialect)


def _tree_rule(correct: Callable[[str, Context], str]) -> Callable[[Tree, Context], Tree | None]:
    """A module's correction (SQL text in, the same text when it does nothing) as a tree rule."""
    def rule(tree: Tree, context: Context) -> Tree | None:
        text = _text_of(tree, context)
        corrected = correct(text, context)
        if corrected == text:
            return None
        return sqlglot.parse_one(corrected, read=context.dialect)
    return rule


def _text_rule(correct: Callable[[str, Context], str]) -> Callable[[str, Context], str | None]:
    def rule(sql: str, context: Context) -> str | None:
        corrected = correct(sql, context)
        return None if corrected == sql else corrected
    return rule


def _spaced(sql: str, context: Context) -> str:
    spaced = [name for table, columns in context.names.items() for name in (table, *columns) if " " in name]
    return quote_spaced_names(sql, spaced, context.dialect)


def _linked(lookup_rule: Callable[[str, Context], str]) -> Callable[[str, Context], str]:
    return lambda sql, context: sql if context.lookup is None else lookup_rule(sql, context)


def _rule(name: str, kind: str, stage: str, apply: Callable, says: str, reads: str = "tree",
          dialects: frozenset[str] = ALL_DIALECTS) -> Rule:
    return Rule(name, kind, dialects, stage, apply, says, reads)


RULES: tuple[Rule, ...] = (
    # text: the query may not parse until these apply
    _rule("apostrophes", REPAIR, "text", _text_rule(lambda s, c: escape_apostrophes(s, c.dialect)),
          "wrote the apostrophes inside a string as SQL reads them", "text"),
    _rule("spaced_names", REPAIR, "text", _text_rule(_spaced), "quoted the names with spaces", "text"),
    _rule("dotted_names", REPAIR, "text", _text_rule(lambda s, c: split_dotted_names(s, c.names, c.dialect)),
          "split a quoted \"table.column\" name in two", "text"),
    _rule("clause_order", REPAIR, "text", _text_rule(lambda s, c: joins_before_where(s, c.dialect)),
          "moved the joins written after WHERE before it", "text"),
    _rule("dialect_functions", REPAIR, "text", _text_rule(lambda s, c: in_dialect(s, c.dialect)),
          "wrote another SQL dialect's functions in this database's", "text",
          dialects=frozenset({"sqlite", "postgres", "mysql"})),
    # always: the repaired form goes first, the form as written after it
    _rule("join_keys", REPAIR, "always", _tree_rule(lambda s, c: correct_joins(s, c.tables, c.dialect)),
          "joined the tables along their declared foreign keys"),
    _rule("exact_division", REPAIR, "always", lambda tree, c: exact_division(tree, c.dialect),
          "divided with decimals, not in whole numbers", dialects=DIVIDES_WHOLE_NUMBERS),
    _rule("whole_days", REPAIR, "always", lambda tree, c: whole_last_days(tree),
          "counted the last day of the date range whole"),
    # fallback: tried after those forms (which fail when a name is invented)
    _rule("missing_table", REPAIR, "fallback", _tree_rule(lambda s, c: join_missing_tables(s, c.tables, c.dialect)),
          "joined in {tables}, which has the column the query reads"),
    _rule("invented_names", REPAIR, "fallback", _tree_rule(lambda s, c: repair_sql(s, c.names, c.dialect)),
          "replaced names the database does not have with its own"),
    # empty: only after the forms before came back with nothing informative
    _rule("stored_spelling", REPAIR, "empty",
          _tree_rule(_linked(lambda s, c: link_values(s, c.tables, c.lookup, c.dialect, move=False))),
          "spelled a compared value as the data stores it"),
    # reinterpretations, in this order (a moved value can leave a join unread): extra candidates
    _rule("moved_value", REINTERPRETATION, "reading",
          _tree_rule(_linked(lambda s, c: link_values(s, c.tables, c.lookup, c.dialect, respell=False))),
          "compared a value with the column that holds it"),
    _rule("unused_joins", REINTERPRETATION, "reading",
          _tree_rule(lambda s, c: drop_unused_joins(s, c.question, c.tables, c.dialect)),
          "dropped the join to {tables} that nothing read"),
)
RULES_BY_NAME: dict[str, Rule] = {rule.name: rule for rule in RULES}


def rules_for(dialect: str, stage: str | None = None, rules: Sequence[Rule] | None = None) -> list[Rule]:
    """The rules that run on ``dialect`` (those of one ``stage``), in the registry's order."""
    return [rule for rule in (RULES if rules is None else rules) if dialect in rule.dialects and (stage is None or rule.stage == stage)]


# -- applying them ----------------------------------------------------------------------------------------


def apply_rule(rule: Rule, sql: str, context: Context, failures: list[str] | None = None) -> str | None:
    """``sql`` as ``rule`` corrects it, or None when it does not fire (or fails: recorded in ``failures``)."""
    if not sql or not sql.strip() or context.dialect not in rule.dialects:
        return None
    try:
        if rule.reads == "text":
            out = rule.apply(sql, context)
            return out if isinstance(out, str) and out.strip() and out != sql else None
        tree = sqlglot.parse_one(sql, read=context.dialect)
        if tree is None:
            return None
        result = rule.apply(tree.copy(), context)
        if result is None:
            return None
        text = result.sql(dialect=context.dialect)
        sqlglot.parse_one(text, read=context.dialect)  # a correction that does not read again is none
        return text if text != sql and text != tree.sql(dialect=context.dialect) else None
    except sqlglot.errors.SqlglotError:
        return None  # the query (or the rule's result) does not parse in this dialect: the rule does not apply
    except Exception as error:  # noqa: BLE001 - the contract: a failing rule is skipped and recorded
        line = f"{rule.name}: {type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}".rstrip(": ")
        log.warning("correction rule failed: %s", line)
        if failures is not None:
            failures.append(line)
        return None


def _note(rule: Rule, before: str, after: str, context: Context) -> str:
    """What ``rule`` did, in words: the tables it dropped or added named."""
    if "{tables}" not in rule.says:
        return rule.says
    changed = _tables_of(before, context) ^ _tables_of(after, context)
    names = sorted(changed) or ["a table"]
    return rule.says.replace("{tables}", " and ".join(names))


def _tables_of(sql: str, context: Context) -> set[str]:
    try:
        return {table.name for table in sqlglot.parse_one(sql, read=context.dialect).find_all(exp.Table)}
    except Exception:  # noqa: BLE001
        return set()


def _through(form: Form, rules: Sequence[Rule], context: Context, failures: list[str] | None) -> Form:
    """``form`` after each of ``rules`` in turn."""
    for rule in rules:
        out = apply_rule(rule, form.sql, context, failures)
        if out is not None:
            form = form.then(rule, out, _note(rule, form.sql, out, context))
    return form


def written_forms(sql: str, context: Context, failures: list[str] | None = None) -> list[Form]:
    """A candidate's forms with every repair, in the order to try: the text repairs always; then the form with
    the ``always`` repairs, the form without them, and each ``fallback`` repair of each (distinct forms only)."""
    if not sql or not sql.strip():
        return [Form(sql)]
    mended = _through(Form(sql), rules_for(context.dialect, "text"), context, failures)
    repaired = _through(mended, rules_for(context.dialect, "always"), context, failures)
    forms = [repaired, mended]
    for base in (repaired, mended):
        for rule in rules_for(context.dialect, "fallback"):
            out = apply_rule(rule, base.sql, context, failures)
            if out is not None:
                forms.append(base.then(rule, out, _note(rule, base.sql, out, context)))
    unique: dict[str, Form] = {}
    for form in forms:
        unique.setdefault(form.sql, form)
    return list(unique.values())


def linked_form(form: Form, context: Context, failures: list[str] | None = None) -> Form:
    """``form`` after the ``empty`` repairs (given a ``lookup``): tried when it came back with nothing informative."""
    if context.lookup is None:
        return form
    return _through(form, rules_for(context.dialect, "empty"), context, failures)


def reinterpreted(form: Form, context: Context, failures: list[str] | None = None) -> Form | None:
    """``form`` read as the question means it (every reinterpretation that fires, in order); None when none fires.
    Rules that need stored values fire only when ``context`` has a ``lookup``."""
    read = _through(Form(form.sql, form.fired, form.notes), rules_for(context.dialect, "reading"), context, failures)
    return read if read.sql != form.sql else None


def with_lookup(context: Context, lookup: ValueLookup | None) -> Context:
    return replace(context, lookup=lookup)


def describe(fired: Sequence[str]) -> list[str]:
    """The words of each fired rule's generic sentence (for a form whose notes were not kept)."""
    return [RULES_BY_NAME[name].says.replace("{tables}", "a table") for name in fired if name in RULES_BY_NAME]
