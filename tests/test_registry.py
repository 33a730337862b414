"""The correction rules' registry: its contract, and how a reinterpretation competes with the candidates."""

from __future__ import annotations

import pandas as pd
import pytest
from test_pipeline import ask_compared, ask_scripted

from sqlchat.answers.choice import choose, outranks
from sqlchat.answers.trust import result_key
from sqlchat.corrections import registry
from sqlchat.corrections.registry import (ALL_DIALECTS, KINDS, REINTERPRETATION, REPAIR, RULES, Context, Form, Rule,
                                          apply_rule, reinterpreted, rules_for, written_forms)
from sqlchat.schema.reflection import reflect_schema
from sqlchat.sources.connection import connect

EXPECTED_ORDER = [
    "apostrophes", "spaced_names", "dotted_names", "clause_order", "dialect_functions", "join_keys", "exact_division",
    "whole_days", "missing_table", "invented_names", "stored_spelling", "moved_value", "unused_joins",
]


def test_every_rule_declares_its_dialects_kind_and_stage_and_has_a_unique_name():
    assert [rule.name for rule in RULES] == EXPECTED_ORDER  # the one list is the order
    for rule in RULES:
        assert rule.kind in KINDS and rule.dialects and rule.dialects <= ALL_DIALECTS and rule.says
        assert (rule.kind == REINTERPRETATION) == (rule.stage == "reading")
    assert {rule.name for rule in RULES if rule.kind == REPAIR} >= {"spaced_names", "join_keys", "invented_names",
                                                                     "dialect_functions", "clause_order"}
    assert {rule.name for rule in RULES if rule.kind == REINTERPRETATION} == {
        "moved_value", "unused_joins"}


def test_a_rule_without_dialects_or_kind_is_refused():
    with pytest.raises(ValueError):
        Rule("x", "repair", frozenset(), "always", lambda t, c: None, "did x")
    with pytest.raises(ValueError):
        Rule("x", "maybe", ALL_DIALECTS, "always", lambda t, c: None, "did x")
    with pytest.raises(ValueError):
        Rule("x", REINTERPRETATION, ALL_DIALECTS, "always", lambda t, c: None, "did x")


def test_a_rule_that_raises_is_skipped_and_recorded(monkeypatch, chinook_path):
    def broken(tree, context):
        raise KeyError("boom")

    bad = Rule("broken_rule", REPAIR, ALL_DIALECTS, "always", broken, "broke")
    failures: list[str] = []
    assert apply_rule(bad, "SELECT 1", Context(), failures) is None
    assert failures == ["broken_rule: KeyError: 'boom'"]

    # in the registry, before the others: the query goes on through the rest, and the answer records it
    monkeypatch.setattr(registry, "RULES", (bad, *RULES))
    monkeypatch.setattr(registry, "RULES_BY_NAME", {rule.name: rule for rule in (bad, *RULES)})
    forms = written_forms("SELECT COUNT(*) FROM Track WHERE genre_id = 1", Context(), failures)
    assert forms[0].sql == "SELECT COUNT(*) FROM Track WHERE genre_id = 1"
    answer = ask_scripted(chinook_path, "How many rock tracks are there?", "SELECT COUNT(*) FROM Track WHERE genre_id = 1")
    assert answer.ok and answer.rows == [[1297]] and answer.rules == ("invented_names",)
    assert answer.rule_failures == ("broken_rule: KeyError: 'boom'",)
    assert answer.to_json()["rule_failures"] == ["broken_rule: KeyError: 'boom'"]


def test_a_rule_gets_a_copy_and_runs_only_on_its_dialects():
    seen = []

    def spoil(tree, context):
        seen.append(tree)
        tree.set("expressions", [])
        return None

    only_pg = Rule("pg_only", REPAIR, frozenset({"postgres"}), "always", spoil, "spoiled")
    assert apply_rule(only_pg, "SELECT 1", Context(dialect="sqlite")) is None and seen == []
    assert apply_rule(only_pg, "SELECT 1", Context(dialect="postgres")) is None and len(seen) == 1


def test_rules_for_keeps_the_registry_order():
    assert [r.name for r in rules_for("sqlite")] == EXPECTED_ORDER
    assert [r.name for r in rules_for("sqlite", "reading")] == EXPECTED_ORDER[-2:]
    assert "dialect_functions" not in [r.name for r in rules_for("duckdb")]
    assert "exact_division" not in [r.name for r in rules_for("mysql")]  # MySQL divides with decimals already


def test_the_fired_rules_and_their_words_are_on_the_form(chinook_path):
    with connect(chinook_path) as db:
        tables = tuple(reflect_schema(db))
    written = ("SELECT c.FirstName FROM Customer c JOIN Invoice i ON c.CustomerId = i.CustomerId "
               "WHERE c.Country = 'France'")
    read = reinterpreted(Form(written), Context(tables, question="Which customers live in France?"))
    assert read is not None and read.fired == ("unused_joins",)
    assert read.notes == ("dropped the join to Invoice that nothing read",)


def _outcome(rows):
    frame = pd.DataFrame(rows, columns=["x"])

    class Result:
        def __init__(self, frame):
            self.frame = frame
    return (None, Result(frame))


class _Scripted:
    """Tries each candidate as written; ``readings[sql]`` is its reinterpretation's SQL."""

    failures = ()

    def __init__(self, readings):
        self.readings = readings

    def of(self, candidate):
        return [candidate]

    def reading(self, sql, empty):
        return self.readings.get(sql)

    def made(self, sql):
        return None


def _choose(candidates, results, readings, votes=None):
    """The selection loop over scripted results: ``results[sql]`` rows (None: fails); ``readings[sql]`` its
    reinterpretation's SQL. The chosen SQL and its outcome."""
    from sqlchat.errors import ExecutionFailed

    def run(sql):
        if results.get(sql) is None:
            raise ExecutionFailed("no")
        return _outcome(results[sql])

    def informative(outcome):
        return len(outcome[1].frame) > 0

    choice = choose(candidates, votes or {}, _Scripted(readings), run, informative, 4)
    return choice.sql, choice.outcome


def test_a_reinterpretation_never_outranks_agreeing_candidates():
    # a and b agree; a's reinterpretation returns other rows: a as written stays
    results = {"a": [[1], [1]], "b": [[1], [1]], "a2": [[1]]}
    assert _choose(["a", "b"], results, {"a": "a2"})[0] == "a"
    # ... even when a third candidate agrees with the reinterpretation: a tie is no majority
    results["c"] = [[1]]
    assert _choose(["a", "b", "c"], results, {"a": "a2"})[0] == "a"


def test_a_reinterpretation_never_wins_merely_by_returning_rows():
    assert _choose(["a"], {"a": [[1], [1]], "a2": [[1]]}, {"a": "a2"})[0] == "a"
    assert _choose(["a", "b"], {"a": [[1], [1]], "b": [[7]], "a2": [[1]]}, {"a": "a2"})[0] == "a"


def test_a_reinterpretation_wins_by_agreement_or_when_the_written_form_says_nothing():
    assert _choose(["a", "b"], {"a": [[1], [1]], "b": [[1]], "a2": [[1]]}, {"a": "a2"})[0] == "a2"
    assert _choose(["a", "b"], {"a": [[1], [1]], "b": [[1]], "a2": [[1]]}, {"a": "a2"}, votes={"a": 3})[0] == "a2"
    assert _choose(["a"], {"a": [], "a2": [[1]]}, {"a": "a2"})[0] == "a2"  # as written: empty
    assert _choose(["a"], {"a2": [[1]]}, {"a": "a2"})[0] == "a2"  # as written: fails


def test_outranks_is_the_rule():
    key_a, key_b = result_key(pd.DataFrame([[1]])), result_key(pd.DataFrame([[2]]))
    assert not outranks(key_b, 0, key_a, 0, True)
    assert not outranks(key_b, 1, key_a, 1, True)
    assert outranks(key_b, 2, key_a, 1, True)
    assert outranks(key_b, 0, key_a, 0, False) and outranks(key_b, 0, None, 0, False)
    assert not outranks(None, 5, key_a, 0, True)


def test_the_answer_json_and_the_cli_say_which_rules_fired(northwind_path, capsys):
    japan = ("SELECT s.CompanyName FROM Suppliers s JOIN Products p ON s.SupplierID = p.SupplierID "
             "WHERE s.Country = 'Japan'")
    answer = ask_compared(northwind_path, "Which suppliers are based in Japan?",
                          [japan, "SELECT CompanyName FROM Suppliers WHERE Country = 'Japan'"])
    data = answer.to_json()
    assert data["rules"] == ["unused_joins"] and data["rule_notes"] == ["dropped the join to Products that nothing read"]
    from sqlchat.ui.answer import result_summary
    assert "dropped the join to Products that nothing read" in result_summary(answer)
