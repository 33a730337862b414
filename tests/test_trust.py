"""Confidence, "Did you mean" alternatives and declining: the rule on its own, then through the pipeline
on the real Chinook database with scripted model output, then through the CLI against an
OpenAI-compatible server on localhost."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from sqlchat.answers.declining import DECLINE_MARKER, invented_names, model_decline
from sqlchat.answers.trust import HIGH, LOW, MEDIUM, Signals, confidence, decide, result_key
from sqlchat.config import ModelConfig, Settings, TrustConfig
from sqlchat.models.backends import Generation
from sqlchat.pipeline import answers, ask
from sqlchat.schema.reflection import reflect_schema
from sqlchat.sources.connection import connect

ROOT = Path(__file__).resolve().parents[1]
CHINOOK = str(ROOT / "sqlchat" / "demo" / "chinook.sqlite")
CONFIG = TrustConfig()

COUNT_CUSTOMERS = "SELECT COUNT(*) FROM Customer"
COUNT_CUSTOMERS_TOO = "SELECT COUNT(CustomerId) FROM Customer"  # another text, the same result
COUNT_EMPLOYEES = "SELECT COUNT(*) FROM Employee"
LIST_GENRES = "SELECT Name FROM Genre ORDER BY GenreId"


@dataclass
class Model:
    """Fixed completions, each with a mean log-probability per token (None: the backend cannot tell)."""

    completions: list[str]
    logprob: float | None = None
    least_logprob: float | None = None  # the least likely token of each completion
    name: str = "scripted"
    asked: list[int] = field(default_factory=list)

    def generate(self, prompt: str, n: int = 1) -> list[Generation]:
        self.asked.append(n)
        from sqlchat.prompt import extract_sql

        return [Generation(text=text, sql=extract_sql(text), tokens=5, seconds=0.01, logprob=self.logprob,
                           least_logprob=self.least_logprob)
                for text in self.completions[:n]]


@pytest.fixture(scope="module")
def chinook():
    db = connect(CHINOOK)
    yield db
    db.close()


def settings(candidates: int = 1, **trust) -> Settings:
    return Settings(model=ModelConfig(num_candidates=candidates, retry_candidates=0), trust=replace(CONFIG, **trust))


# --------------------------------------------------------------------------- the rule


@pytest.mark.parametrize(("signals", "level"), [
    (Signals(informative=True, compared=3, agreeing=3), HIGH),
    (Signals(informative=True, compared=3, agreeing=2), HIGH),  # 2/3 >= 0.6
    (Signals(informative=True, compared=7, agreeing=4), MEDIUM),  # 0.57: neither sure nor in doubt
    (Signals(informative=True, compared=2, agreeing=1), LOW),  # two candidates, two answers
    (Signals(informative=True, compared=3, agreeing=1), LOW),  # most candidates found something else
    (Signals(informative=True, logprob=-0.05), HIGH),
    (Signals(informative=True, logprob=-0.3), MEDIUM),
    (Signals(informative=True, logprob=-1.2), LOW),
    (Signals(informative=True), MEDIUM),  # one candidate, no log-probabilities: no evidence either way
    (Signals(informative=False, compared=3, agreeing=3), LOW),  # empty / only 0 or NULL
    (Signals(informative=True, retried=True, compared=3, agreeing=3), LOW),
    (Signals(informative=True, repaired=True, compared=3, agreeing=3), MEDIUM),
    (Signals(informative=True, compared=3, agreeing=3, invented=("Salary",)), LOW),
])
def test_confidence_rule(signals, level):
    assert confidence(signals, CONFIG) == level


def test_thresholds_live_in_the_config_and_retune_a_stored_signal():
    stored = json.loads(json.dumps(Signals(informative=True, compared=7, agreeing=4, logprob=-0.1).to_json()))
    signals = Signals.from_json(stored)
    assert decide(signals, CONFIG).confidence == MEDIUM
    assert decide(signals, replace(CONFIG, high_agreement=0.5)).confidence == HIGH
    assert decide(signals, replace(CONFIG, low_agreement=0.6)).confidence == LOW


def test_decline_from_the_model_or_the_schema_and_only_when_on():
    model_says = Signals(ok=False, declines=2, generated=3, model_reason="no salaries are stored")
    assert decide(model_says, CONFIG).declined == "This database cannot answer that: no salaries are stored."
    assert decide(replace(model_says, declines=1), CONFIG).declined is None
    reached = Signals(ok=False, invented=("Salary",))  # the first answer read a column no table has, and nothing ran
    assert "“Salary”" in decide(reached, CONFIG).declined
    assert decide(reached, replace(CONFIG, decline=False)).declined is None
    assert decide(reached, replace(CONFIG, decline_invented="never")).declined is None
    answered = Signals(ok=True, informative=True, compared=3, agreeing=3, invented=("Salary",))  # a retry ran
    assert decide(answered, CONFIG).declined is not None  # "first", the default: declined at once
    waited = replace(CONFIG, decline_invented="failed")
    assert decide(answered, waited).declined is None and decide(answered, waited).confidence == LOW
    assert decide(reached, waited).declined is not None


def test_results_compare_as_bags_of_values_whatever_the_order_or_names():
    import pandas as pd

    one = pd.DataFrame({"a": [1, 2], "b": ["x", "y"]})
    same = pd.DataFrame({"name": ["y", "x"], "n": [2.0, 1.0]})
    assert result_key(one) == result_key(same)
    assert result_key(one) != result_key(pd.DataFrame({"a": [1], "b": ["x"]}))


# --------------------------------------------------------------------------- declining, its parts


def test_the_model_marker_is_recognised_with_its_reason():
    assert DECLINE_MARKER.startswith("--")  # a SQL comment: it can never run
    assert model_decline(f"{DECLINE_MARKER} the database stores no salaries") == "the database stores no salaries"
    assert model_decline("-- Cannot answer salaries;") == "salaries"
    assert model_decline("SELECT 1") is None
    assert model_decline(f"{DECLINE_MARKER}") == ""


@pytest.mark.parametrize(("sql", "invented"), [
    ("SELECT e.Salary FROM Employee e JOIN Customer c ON c.SupportRepId = e.EmployeeId", ("Salary",)),
    ("SELECT COUNT(*) FROM Stream WHERE Title = 'x'", ("Stream",)),
    ("SELECT T1.Title, T1.ReleaseYear FROM Album AS T1", ("ReleaseYear",)),
    ("SELECT name, COUNT(*) AS n FROM genre GROUP BY name ORDER BY n DESC", ()),  # case and output aliases resolve
    ("WITH t AS (SELECT FirstName AS f FROM Employee) SELECT f FROM t", ()),
    ("SELECT Name FROM Artist WHERE Name != \"AC/DC\"", ()),  # SQLite reads an unknown double-quoted name as text
    ("SELECT FROM WHERE", ()),  # unreadable: no evidence either way
    # A column some other table has is a join the SQL left out, not data the database lacks
    ("SELECT c.FirstName, c.Total FROM Customer c", ()),
    ("SELECT c.Total, c.Salary FROM Customer c", ("Salary",)),
    ("SELECT COUNT(*) FROM Track WHERE Genre = 'Rock'", ()),  # a table's name read as a column: a join left out
    ("SELECT e.LastName, SUM(e.Total) AS spent FROM Employee e GROUP BY e.LastName ORDER BY spent", ()),
    ("WITH t(n) AS (SELECT COUNT(*) FROM Invoice) SELECT c.Total, t.n FROM Customer c, t", ()),  # a CTE's column
])
def test_invented_names_are_the_tables_and_columns_no_table_has(chinook, sql, invented):
    assert invented_names(sql, list(reflect_schema(chinook))) == invented


# --------------------------------------------------------------------------- through the pipeline


def test_agreeing_candidates_are_high_and_explained(chinook):
    answer = ask("How many customers are there?", chinook, Model([COUNT_CUSTOMERS, COUNT_CUSTOMERS_TOO]), settings(2))
    assert answer.ok and answer.rows == [[59]]
    assert answer.confidence == HIGH and answer.alternatives == ()
    assert answer.explanation == "Counts customers."
    assert (answer.signals.compared, answer.signals.agreeing) == (2, 2)


def test_disagreeing_candidates_are_low_and_offer_the_other_answers(chinook):
    model = Model([COUNT_CUSTOMERS, COUNT_EMPLOYEES, LIST_GENRES])
    answer = ask("How many people are there?", chinook, model, settings(3))
    assert answer.rows == [[59]] and answer.confidence == LOW
    assert [a.sql for a in answer.alternatives] == [COUNT_EMPLOYEES, LIST_GENRES]
    employees, genres = answer.alternatives
    assert employees.explanation == "Counts employees." and employees.preview.values.tolist() == [[8]]
    assert genres.explanation == "Lists the name of genres, sorted by genre id."
    assert len(genres.preview) == CONFIG.preview_rows and genres.row_count == 25
    data = answer.to_json()
    assert data["confidence"] == "low" and data["explanation"] == "Counts customers."
    assert data["alternatives"][0] == {"sql": COUNT_EMPLOYEES, "explanation": "Counts employees.", "columns": ["COUNT(*)"],
                                       "rows": [[8]], "row_count": 1, "candidates": 1}


def test_comparing_runs_at_most_the_configured_number_of_candidates(chinook):
    model = Model([COUNT_CUSTOMERS, COUNT_EMPLOYEES, LIST_GENRES])
    answer = ask("How many customers are there?", chinook, model, settings(3, compare_candidates=1))
    assert answer.signals.compared == 1 and answer.signals.agreement is None and answer.alternatives == ()
    assert answer.confidence == MEDIUM


def test_a_low_log_probability_makes_a_single_answer_low(chinook):
    unsure = ask("How many customers are there?", chinook, Model([COUNT_CUSTOMERS], logprob=-1.5), settings())
    sure = ask("How many customers are there?", chinook, Model([COUNT_CUSTOMERS], logprob=-0.02), settings())
    assert (unsure.confidence, sure.confidence) == (LOW, HIGH)


def test_an_unsure_token_has_sampled_candidates_compared_and_their_other_answer_offered(chinook):
    model = Model([COUNT_CUSTOMERS, COUNT_EMPLOYEES, COUNT_EMPLOYEES], logprob=-0.05, least_logprob=-2.5)
    answer = ask("How many customers are there?", chinook, model, settings(doubt_candidates=2))
    assert model.asked == [1, 3]  # the greedy answer first, then two sampled ones beside it
    assert answer.rows == [[59]] and answer.chosen == COUNT_CUSTOMERS  # the answer itself does not change
    assert answer.signals.compared == 3 and answer.signals.agreeing == 1 and not answer.retried
    assert answer.confidence == LOW
    assert [(a.sql, a.candidates) for a in answer.alternatives] == [(COUNT_EMPLOYEES, 2)]  # two samples wrote it


def test_an_unsure_answer_shows_its_rows_before_the_doubt_check_rates_them(chinook):
    model = Model([COUNT_CUSTOMERS, COUNT_EMPLOYEES, COUNT_EMPLOYEES], logprob=-0.05, least_logprob=-2.5)
    seen = [(answer, list(model.asked))
            for answer in answers("How many customers are there?", chinook, model, settings(doubt_candidates=2))]
    (shown, asked_before), (settled, asked_after) = seen
    assert (asked_before, asked_after) == ([1], [1, 3])  # the rows came before the sampled candidates were asked for
    assert shown.checking and shown.rows == [[59]] and shown.explanation == "Counts customers."
    assert shown.confidence is None and shown.alternatives == () and not shown.checked
    assert not settled.checking and settled.checked and settled.confidence == LOW and settled.rows == shown.rows
    assert settled.shown_seconds == shown.seconds < settled.seconds
    assert settled.timings["rows shown"] == shown.seconds and "shown" in [step.stage for step in settled.trace]
    assert ask("How many customers are there?", chinook, Model(model.completions, logprob=-0.05, least_logprob=-2.5),
               settings(doubt_candidates=2)).confidence == settled.confidence  # ask() is the last of answers()


def test_a_sure_answer_comes_once_with_its_confidence(chinook):
    model = Model([COUNT_CUSTOMERS], logprob=-0.05, least_logprob=-0.3)
    (answer,) = answers("How many customers are there?", chinook, model, settings(doubt_candidates=2))
    assert answer.confidence == HIGH and not answer.checking and answer.shown_seconds == answer.seconds
    assert "rows shown" not in answer.timings


def test_a_sure_answer_costs_no_extra_candidates(chinook):
    model = Model([COUNT_CUSTOMERS, COUNT_EMPLOYEES], logprob=-0.05, least_logprob=-0.3)
    answer = ask("How many customers are there?", chinook, model, settings(doubt_candidates=2))
    assert model.asked == [1] and answer.confidence == HIGH and answer.alternatives == ()


def test_unsure_candidates_that_agree_keep_the_answer_sure(chinook):
    model = Model([COUNT_CUSTOMERS, COUNT_CUSTOMERS_TOO], logprob=-0.05, least_logprob=-2.5)
    answer = ask("How many customers are there?", chinook, model, settings(doubt_candidates=2))
    assert model.asked == [1, 3] and answer.signals.agreement == 1.0 and answer.confidence == HIGH


def test_samples_repeating_an_unsure_answer_word_for_word_make_it_sure(chinook):
    model = Model([COUNT_CUSTOMERS, COUNT_CUSTOMERS, COUNT_CUSTOMERS], logprob=-0.05, least_logprob=-2.5)
    answer = ask("How many customers are there?", chinook, model, settings(doubt_candidates=2))
    assert answer.checked and answer.signals.compared == 3 and answer.signals.agreeing == 3
    assert answer.confidence == HIGH


@dataclass
class Rounds:
    """A server that samples every candidate (no greedy one first): each call answers with the next round."""

    rounds: list[list[str]]
    name: str = "sampling server"

    def generate(self, prompt: str, n: int = 1) -> list[Generation]:
        from sqlchat.prompt import extract_sql

        return [Generation(text=t, sql=extract_sql(t), tokens=5, seconds=0.01) for t in self.rounds.pop(0)[:n]]


def test_a_retry_round_keeps_its_first_candidate_when_it_is_new(chinook):
    nothing = "SELECT COUNT(*) FROM Customer WHERE Country = 'Atlantis'"
    model = Rounds([[nothing], [COUNT_CUSTOMERS, COUNT_EMPLOYEES]])
    answer = ask("How many customers are there?", chinook, model,
                 Settings(model=ModelConfig(num_candidates=1, retry_candidates=2), trust=CONFIG))
    assert answer.retried and answer.chosen == COUNT_CUSTOMERS and answer.rows == [[59]]


def test_the_model_declining_gives_unanswerable_and_no_rows(chinook):
    model = Model([f"{DECLINE_MARKER} the database stores no salaries", "SELECT FirstName FROM Employee"])
    answer = ask("How much do employees earn?", chinook, model, settings(2))
    assert answer.error_kind == "unanswerable" and not answer.ok
    assert answer.error == "This database cannot answer that: the database stores no salaries."
    assert answer.frame is None and answer.rows == [] and answer.sql is None and answer.confidence is None
    assert answer.to_json()["error_kind"] == "unanswerable"


def test_sql_reaching_for_a_column_no_table_has_is_declined_with_what_it_needed(chinook):
    salary = "SELECT AVG(Salary) FROM Employee"
    answer = ask("What is the average salary of employees?", chinook, Model([salary]), settings())
    assert answer.error_kind == "unanswerable" and answer.frame is None and "“Salary”" in answer.error
    failed = ask("What is the average salary of employees?", chinook, Model([salary]), settings(decline=False))
    assert not failed.ok and failed.error_kind == "error"  # declining off: the database's own error, as before


def test_sql_reaching_for_what_no_table_has_is_declined_at_once_without_a_retry(chinook):
    model = Model(["SELECT AVG(Salary) FROM Employee", "SELECT AVG(Total) FROM Invoice"])
    with_retry = Settings(model=ModelConfig(num_candidates=1, retry_candidates=2), trust=CONFIG)
    answer = ask("What is the average salary of employees?", chinook, model, with_retry)
    assert model.asked == [1] and answer.error_kind == "unanswerable" and "“Salary”" in answer.error
    waited = Settings(model=with_retry.model, trust=replace(CONFIG, decline_invented="failed"))
    model = Model(list(model.completions))
    answer = ask("What is the average salary of employees?", chinook, model, waited)
    assert model.asked == [1, 2] and answer.ok  # "failed": the retry's answer, marked low
    assert answer.confidence == LOW and answer.signals.invented == ("Salary",)


def test_a_column_of_a_table_the_sql_did_not_join_is_retried_not_declined(chinook):
    """``Genre.Total`` is no column, but ``Invoice.Total`` is: the SQL left out joins (too many for a repair to add),
    the data is there."""
    model = Model(["SELECT g.Name, SUM(g.Total) FROM Genre g GROUP BY g.Name",
                   "SELECT g.Name, SUM(l.UnitPrice * l.Quantity) FROM Genre g JOIN Track t ON t.GenreId = g.GenreId "
                   "JOIN InvoiceLine l ON l.TrackId = t.TrackId GROUP BY g.Name"])
    answer = ask("How much revenue did each genre bring in?", chinook, model,
                 Settings(model=ModelConfig(num_candidates=1, retry_candidates=2), trust=CONFIG))
    assert model.asked == [1, 2] and answer.ok and answer.error_kind is None and answer.signals.invented == ()
    assert answer.rows and answer.retried


def test_a_question_about_what_the_schema_holds_in_other_words_is_answered(chinook):
    """Declining reads the model's SQL, not the question's words: a word no name or list holds declines nothing."""
    for question in ("What is our average stipend per invoice?", "How does the invoice total vary by billing country?",
                     "Excluding Brazil, how many customers are located in each country?"):
        answer = ask(question, chinook, Model(["SELECT AVG(Total) FROM Invoice"]), settings())
        assert answer.ok and answer.error_kind is None, question


def test_an_answerable_question_is_not_declined(chinook):
    answer = ask("How many rock songs are there?", chinook,
                 Model(["SELECT COUNT(*) FROM Track JOIN Genre ON Track.GenreId = Genre.GenreId WHERE Genre.Name = 'Rock'"]),
                 settings())
    assert answer.ok and answer.rows == [[1297]] and answer.signals.invented == ()
    assert answer.explanation == "Counts tracks (Track → Genre) where genre name is 'Rock'."


# --------------------------------------------------------------------------- through the CLI


class Completions(BaseHTTPRequestHandler):
    """A local OpenAI-compatible /v1/completions answering with ``Completions.text``."""

    text = COUNT_CUSTOMERS

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        payload = json.dumps({"choices": [{"text": Completions.text}] * body.get("n", 1),
                              "usage": {"completion_tokens": 5}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Completions)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    httpd.shutdown()


def cli_ask(base_url: str, question: str, *flags: str, tmp_path: Path) -> subprocess.CompletedProcess:
    args = ["ask", "--db", CHINOOK, "--backend", "openai", "--base-url", base_url, "--model", "sql",
            "--history", str(tmp_path / "history.sqlite"), question, *flags]
    return subprocess.run([sys.executable, "-m", "sqlchat", *args], cwd=ROOT, capture_output=True, text=True, timeout=120)


def test_cli_ask_prints_explanation_and_confidence_under_the_rows(server, tmp_path):
    Completions.text = COUNT_CUSTOMERS + ";"
    plain = cli_ask(server, "How many customers are there?", tmp_path=tmp_path)
    assert plain.returncode == 0, plain.stderr
    lines = [line.strip() for line in plain.stdout.splitlines()]
    assert lines.index("Counts customers.") > lines.index("59")
    assert "confidence: medium" in lines
    data = json.loads(cli_ask(server, "How many customers are there?", "--json", tmp_path=tmp_path).stdout)
    assert data["explanation"] == "Counts customers." and data["confidence"] == "medium" and data["rows"] == [[59]]


def test_cli_ask_declines_with_the_reason_and_exit_status_1(server, tmp_path):
    Completions.text = f"{DECLINE_MARKER} no weather data"
    result = cli_ask(server, "Will it rain in Oslo tomorrow?", "--json", tmp_path=tmp_path)
    assert result.returncode == 1
    data = json.loads(result.stdout)
    assert data["error_kind"] == "unanswerable" and data["rows"] == [] and data["confidence"] is None


# --------------------------------------------------------------------------- declining on a database nobody tuned on

SAKILA = ROOT / "tests" / "data" / "heldout" / "sakila" / "sakila.sqlite"
ORDINARY_WORDINGS = [  # the words the shipped word lists declined on other databases ("nothing about 'vary'")
    ("How does the number of films vary by rating?", "SELECT rating, COUNT(*) FROM film GROUP BY rating"),
    ("Where are our stores located? Give the city.",
     "SELECT city.city FROM store JOIN address ON store.address_id = address.address_id "
     "JOIN city ON address.city_id = city.city_id"),
    ("Excluding films rated R, what is the average rental rate?", "SELECT AVG(rental_rate) FROM film WHERE rating != 'R'"),
    ("Which languages do we offer films in?", "SELECT DISTINCT language.name FROM film JOIN language "
     "ON film.language_id = language.language_id"),
    ("Calculate the total amount our customers were charged in 2005, written in dollars.",
     "SELECT SUM(amount) FROM payment WHERE payment_date LIKE '2005%'"),
    ("What ids do the staff members who presented the most rentals have?",
     "SELECT staff_id FROM rental GROUP BY staff_id ORDER BY COUNT(*) DESC LIMIT 1"),
]


@pytest.fixture(scope="module")
def sakila():
    db = connect(SAKILA)
    yield db
    db.close()


@pytest.mark.parametrize(("question", "sql"), ORDINARY_WORDINGS, ids=[q[:30] for q, _ in ORDINARY_WORDINGS])
def test_ordinary_words_decline_nothing_on_a_database_nobody_tuned_on(sakila, question, sql):
    answer = ask(question, sakila, Model([sql]), settings())
    assert answer.ok and answer.error_kind is None and answer.rows, (question, answer.error)


def test_a_database_nobody_tuned_on_declines_sql_that_needs_what_it_lacks(sakila):
    answer = ask("What is each actor's salary?", sakila, Model(["SELECT first_name, salary FROM actor"]), settings())
    assert answer.error_kind == "unanswerable" and "“salary”" in answer.error
