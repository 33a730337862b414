"""The history store: verified answers in, few-shot examples and training rows out, no secrets kept."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from test_pipeline import ScriptedBackend

from sqlchat import cli
from sqlchat.config import DEFAULT_HISTORY_PATH, DEMO_DIR, ModelConfig, SchemaConfig, Settings
from sqlchat.errors import ConfigError
from sqlchat.evaluation.runner import load_know_sql
from sqlchat.history.examples import schema_fingerprint
from sqlchat.history.retrieval import question_terms
from sqlchat.history.seeding import load_pairs_file, seed_from_file
from sqlchat.history.store import HistoryStore, open_existing_store
from sqlchat.pipeline import ask
from sqlchat.schema.reflection import reflect_schema
from sqlchat.sources.connection import connect, connect_schema_script

ROOT = Path(__file__).resolve().parents[1]
PAIRS = DEMO_DIR / "verified" / "chinook.jsonl"
SECRET_URL = "postgresql://u:pw123@h/db"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request, tmp_path):
    target = str(tmp_path / "history.sqlite") if request.param == "sqlite" else request.getfixturevalue("pg_url")
    with HistoryStore(target) as opened:
        yield opened


@pytest.fixture
def seeded(tmp_path, chinook):
    """A SQLite store holding the demo's ``seen`` pairs, and the Chinook fingerprint."""
    with HistoryStore(tmp_path / "seeded.sqlite") as opened:
        seed_from_file(opened, PAIRS, reflect_schema(chinook), chinook.display_name, SchemaConfig())
        yield opened, schema_fingerprint(reflect_schema(chinook))


# --------------------------------------------------------------------------- round trip


def test_verified_pairs_and_the_question_log_round_trip(store):
    first = store.add_verified("How many artists?", "SELECT COUNT(*) FROM Artist;", "CREATE TABLE Artist (a INTEGER)",
                               "fp1", "chinook.sqlite", "thumbs_up")
    store.add_verified("Albums per artist", "SELECT ArtistId, COUNT(*) FROM Album GROUP BY 1", "ctx", "fp1", "chinook", "edited")
    store.add_verified("Customers", "SELECT * FROM Customer", "ctx", "fp2", "other", "import")
    pairs = store.verified_for("fp1")
    assert [p.question for p in pairs] == ["Albums per artist", "How many artists?"]  # newest first
    assert pairs[1].id == first and pairs[1].sql == "SELECT COUNT(*) FROM Artist"  # trailing ';' dropped
    assert pairs[1].source == "thumbs_up" and pairs[1].database_label == "chinook.sqlite"
    assert pairs[1].created_at is not None and len(store.verified_for(None)) == 3

    store.log_question("How many artists?", "SELECT COUNT(*) FROM Artist", "ok", fingerprint="fp1")
    store.log_question("Drop it", "DROP TABLE Artist", "refused", error="Only read-only statements can run.")
    store.log_question("???", None, "error", error="The model could not write SQL.")
    recent = store.recent_questions(2)
    assert [(q.question, q.status) for q in recent] == [("???", "error"), ("Drop it", "refused")]
    assert recent[0].sql is None and recent[1].error == "Only read-only statements can run."


def test_unknown_sources_statuses_and_empty_pairs_are_refused(store):
    with pytest.raises(ConfigError, match="source"):
        store.add_verified("q", "SELECT 1", "", "fp", "db", "liked")
    with pytest.raises(ConfigError, match="status"):
        store.log_question("q", None, "maybe")
    with pytest.raises(ConfigError):
        store.add_verified("  ", "SELECT 1", "", "fp", "db")


def test_passwords_are_never_stored(tmp_path):
    path = tmp_path / "history.sqlite"
    with HistoryStore(path) as store:
        store.add_verified(f"Which rows of {SECRET_URL} are new?", f"SELECT '{SECRET_URL}' AS u",
                           f"CREATE TABLE t (u VARCHAR) -- from {SECRET_URL}", "fp", SECRET_URL, "edited")
        store.log_question(f"ask {SECRET_URL}", f"SELECT '{SECRET_URL}'", "error", error=f"could not reach {SECRET_URL}")
        stored = store.verified_for("fp")[0]
    assert stored.database_label == "postgresql://u:***@h/db"
    files = list(tmp_path.iterdir())
    assert files and all(b"pw123" not in f.read_bytes() for f in files)


def test_the_default_store_is_a_file_in_the_cache_and_the_environment_can_move_it():
    assert Settings().history_target == str(DEFAULT_HISTORY_PATH)
    assert str(DEFAULT_HISTORY_PATH).endswith(".cache/sqlchat/history.sqlite")
    settings = Settings.from_env({"SQLCHAT_HISTORY_URL": "postgresql+psycopg://app:s3cret@db/history"})
    assert settings.history_target == "postgresql+psycopg://app:s3cret@db/history"
    assert "s3cret" not in repr(settings)


def test_open_existing_store_never_creates_a_file(tmp_path):
    assert open_existing_store(tmp_path / "missing.sqlite") is None
    assert not (tmp_path / "missing.sqlite").exists()


# --------------------------------------------------------------------------- fingerprint


def test_the_fingerprint_follows_names_and_types_not_order_or_rows(chinook, chinook_path):
    with connect(chinook_path) as again:
        assert schema_fingerprint(reflect_schema(again)) == schema_fingerprint(reflect_schema(chinook))
    a = connect_schema_script("CREATE TABLE a (x INTEGER, y TEXT); CREATE TABLE b (z INTEGER);")
    b = connect_schema_script("CREATE TABLE b (z INTEGER); CREATE TABLE a (y TEXT, x INTEGER);")
    c = connect_schema_script("CREATE TABLE a (x INTEGER, y TEXT, w INTEGER); CREATE TABLE b (z INTEGER);")
    d = connect_schema_script("CREATE TABLE a (x TEXT, y TEXT); CREATE TABLE b (z INTEGER);")
    prints = [schema_fingerprint(reflect_schema(db)) for db in (a, b, c, d)]
    assert prints[0] == prints[1] and len(set(prints)) == 3
    assert schema_fingerprint(reflect_schema(chinook)) not in prints


# --------------------------------------------------------------------------- retrieval


def test_values_numbers_and_synonyms_are_folded_for_retrieval():
    assert question_terms("Show all albums by Metallica") == question_terms("List the albums by AC/DC") == ["album", "#name"]
    assert question_terms("Top 5 songs") == question_terms("the best ten tracks") == ["most", "#", "track"]
    assert question_terms("Sales in 2023") == ["sale", "#year"]


def test_retrieval_ranks_the_right_family_first(seeded):
    store, fingerprint = seeded
    examples = store.similar_examples("Count the tracks in every playlist", fingerprint, k=3)
    assert examples[0] == ("Number of songs per playlist",
                           "SELECT Playlist.Name, COUNT(*) AS track_count FROM Playlist JOIN PlaylistTrack "
                           "ON PlaylistTrack.PlaylistId = Playlist.PlaylistId GROUP BY Playlist.PlaylistId")
    assert [q for q, _ in examples][:2] == ["Number of songs per playlist", "How many tracks are in each playlist?"]
    assert store.similar_examples("Show all albums by Metallica", fingerprint, k=1)[0][0] == "List the albums by AC/DC"
    assert store.similar_examples("Count the tracks in every playlist", fingerprint, k=3) == examples  # deterministic


def test_retrieval_finds_the_family_of_most_held_out_questions(seeded):
    store, fingerprint = seeded
    family = {row["question"]: row["family"] for row in load_pairs_file(PAIRS, "seen")}
    held_out = load_pairs_file(PAIRS, "held_out")
    hits = [family[store.similar_examples(row["question"], fingerprint, k=1)[0][0]] == row["family"] for row in held_out]
    assert sum(hits) / len(hits) >= 0.8


def test_retrieval_ignores_other_schemas_and_unrelated_questions(seeded):
    store, fingerprint = seeded
    store.add_verified("Count the tracks in every playlist", "SELECT 'wrong schema'", "ctx", "other-fp", "x", "edited")
    assert all(sql != "SELECT 'wrong schema'" for _, sql in store.similar_examples("Count the tracks in every playlist", fingerprint))
    assert store.similar_examples("Count the tracks in every playlist", "other-fp", k=3) == [
        ("Count the tracks in every playlist", "SELECT 'wrong schema'")]
    assert store.similar_examples("What is the weather like?", fingerprint) == []
    assert store.similar_examples("anything", "unknown-fp") == []


def test_the_newest_answer_to_a_repeated_question_wins(store):
    store.add_verified("Total sales by country", "SELECT 1", "ctx", "fp", "db", "thumbs_up")
    store.add_verified("total  sales by country", "SELECT 2", "ctx", "fp", "db", "edited")
    assert store.similar_examples("Total sales by country", "fp", k=3) == [("total  sales by country", "SELECT 2")]


def test_seeding_is_idempotent(tmp_path, chinook):
    with HistoryStore(tmp_path / "h.sqlite") as store:
        schema = reflect_schema(chinook)
        assert seed_from_file(store, PAIRS, schema, "Chinook", SchemaConfig()) == len(load_pairs_file(PAIRS, "seen"))
        assert seed_from_file(store, PAIRS, schema, "Chinook", SchemaConfig()) == 0
        pairs = store.verified_for(schema_fingerprint(schema))
        assert all(pair.source == "import" and pair.context.startswith("CREATE TABLE ") for pair in pairs)


def test_a_seeded_pair_keeps_the_context_the_engine_sends_for_its_question(tmp_path, chinook):
    """Exported as training data, a pair must look like the prompts the engine builds (no KEY clauses)."""
    with HistoryStore(tmp_path / "h.sqlite") as store:
        schema = reflect_schema(chinook)
        seed_from_file(store, PAIRS, schema, "Chinook", SchemaConfig())
        pair = store.verified_for(schema_fingerprint(schema))[0]
    # a seeded pair has the schema's statements; the stored values a question's prompt adds are read from the data
    answer = ask(pair.question, chinook, ScriptedBackend(["SELECT 1"]), Settings(schema=SchemaConfig(samples=False)))
    assert pair.context == answer.context and "PRIMARY KEY" not in pair.context


# --------------------------------------------------------------------------- pipeline


def test_ask_shows_the_examples_to_the_model(seeded, chinook):
    store, fingerprint = seeded
    question = "Show the 3 longest tracks"
    examples = store.similar_examples(question, fingerprint, k=2)
    backend = ScriptedBackend(["SELECT Name, Milliseconds FROM Track ORDER BY Milliseconds DESC LIMIT 3"])
    answer = ask(question, chinook, backend, Settings(model=ModelConfig()), examples=examples)
    assert answer.ok and len(answer.rows) == 3
    prompt = backend.prompts[0]
    for shown_question, sql in examples:
        assert f"Q: {shown_question}\nSQL: {sql}\n" in prompt
    assert prompt.index("SQL: ") < prompt.index(question) and prompt.index(answer.context) < prompt.index("Q: ")
    ask(question, chinook, backend, Settings(model=ModelConfig()))
    assert "Q: " not in backend.prompts[1]


# --------------------------------------------------------------------------- export and CLI


def test_export_writes_know_sql_rows(store, tmp_path):
    store.add_verified("How many artists?", "SELECT COUNT(*) FROM Artist", "CREATE TABLE Artist (ArtistId INTEGER)", "fp", "db")
    store.add_verified("How many artists?", "SELECT COUNT(*) FROM Artist", "CREATE TABLE Artist (ArtistId INTEGER)", "fp", "db")
    store.add_verified("No context", "SELECT 1", "", "fp", "db")
    store.add_verified("Albums", "SELECT Title FROM Album", "CREATE TABLE Album (Title VARCHAR)", "fp2", "db", "edited")
    out = tmp_path / "feedback" / "verified.jsonl"
    assert store.export_know_sql(out) == 2
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert all(set(row) == {"question", "context", "answer"} for row in rows)
    assert [r.question for r in load_know_sql(out)] == ["How many artists?", "Albums"]  # oldest first
    assert store.export_know_sql(out, fingerprint="fp2") == 1


def test_cli_export_training(seeded, tmp_path):
    store, _ = seeded
    out = tmp_path / "verified.jsonl"
    history = str(store.engine.url.database)
    result = subprocess.run([sys.executable, "-m", "sqlchat", "export-training", "--out", str(out), "--history", history],
                            cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    rows = load_know_sql(out)
    assert len(rows) == len(load_pairs_file(PAIRS, "seen")) and "wrote" in result.stdout
    sql_of = dict((r.question, r.answer) for r in rows)
    with sqlite3.connect(DEMO_DIR / "chinook.sqlite") as conn:
        assert conn.execute(sql_of["Revenue by year"]).fetchall()

    missing = subprocess.run([sys.executable, "-m", "sqlchat", "export-training", "--out", str(out),
                              "--history", str(tmp_path / "none.sqlite")], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert missing.returncode == 2 and "no history store" in missing.stderr.lower()


def test_cli_ask_retrieves_examples_only_from_an_existing_store(seeded, chinook, tmp_path):
    store, _ = seeded
    with_store = Settings(history_url=str(store.engine.url.database))
    examples = cli._examples_for("Show the 3 longest tracks", chinook, with_store)
    assert examples and examples[0][0] == "What are the 5 longest tracks?"
    assert cli._examples_for("Show the 3 longest tracks", chinook, Settings(history_url=str(tmp_path / "no.sqlite"))) is None
    assert not (tmp_path / "no.sqlite").exists()
    args = cli.build_parser().parse_args(["ask", "--db", "x.sqlite", "q", "--no-examples", "--history", "h.sqlite"])
    assert args.no_examples and cli.settings_from_args(args).history_target == "h.sqlite"


# --------------------------------------------------------------------------- the demo's verified pairs


def test_every_demo_pair_runs_on_chinook_and_returns_rows():
    rows = load_pairs_file(PAIRS)
    assert 36 <= len(rows) <= 60
    with sqlite3.connect(f"file:{DEMO_DIR / 'chinook.sqlite'}?mode=ro", uri=True) as conn:
        for row in rows:
            assert conn.execute(row["sql"]).fetchall(), row["question"]
    families: dict[str, set[str]] = {}
    for row in rows:
        families.setdefault(row["family"], set()).add(row["split"])
    assert all(splits == {"seen", "held_out"} for splits in families.values())
