"""The embedded default through llama.cpp: in-process, and behind llama.cpp's own OpenAI-compatible server."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests

from sqlchat.config import Settings
from sqlchat.models.backends import LlamaCppBackend, usable_cores
from sqlchat.models.registry import DEFAULT_MODEL, MODELS
from sqlchat.models.store import model_file
from sqlchat.prompt import build_prompt, render
from sqlchat.schema.context import render_context
from sqlchat.schema.reflection import reflect_schema
from sqlchat.sources.connection import connect

ROOT = Path(__file__).resolve().parents[1]
CHINOOK = ROOT / "sqlchat" / "demo" / "chinook.sqlite"
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def chinook_context() -> str:
    db = connect(CHINOOK)
    try:
        return render_context(list(reflect_schema(db)))
    finally:
        db.close()


@pytest.fixture(scope="module")
def chinook_tables() -> dict:
    db = connect(CHINOOK)
    try:
        return {table.name: table for table in reflect_schema(db)}
    finally:
        db.close()


@contextmanager
def tokens_read(backend: LlamaCppBackend) -> Iterator[list[int]]:
    """The size of each batch llama.cpp reads while the block runs (a prompt's unread part, then each written token)."""
    evaluated: list[int] = []
    llama = backend.llama
    original = llama.eval
    llama.eval = lambda tokens: (evaluated.append(len(tokens)), original(tokens))[1]
    try:
        yield evaluated
    finally:
        llama.eval = original


def test_the_default_backend_is_llama_cpp_with_the_chat_template(local_backend):
    assert isinstance(local_backend, LlamaCppBackend)
    assert local_backend.name.startswith(DEFAULT_MODEL)
    text = local_backend.render(build_prompt("CREATE TABLE t (a INTEGER)", "Count a?"))
    assert text == render(build_prompt("CREATE TABLE t (a INTEGER)", "Count a?"), "chat")  # the model's template is ChatML
    assert text.startswith("<|im_start|>system\n") and text.endswith("<|im_start|>assistant\n```sql\n")


def test_tokens_are_written_on_every_usable_core(local_backend):
    # llama-cpp-python's own default writes on half the cores (one of two): SQLCHAT_THREADS unset means all of them
    if os.environ.get("SQLCHAT_THREADS"):
        pytest.skip("SQLCHAT_THREADS chooses the threads")
    assert local_backend.llama.n_threads == usable_cores() == len(os.sched_getaffinity(0))
    assert local_backend.llama.n_threads_batch == usable_cores()


def test_consecutive_questions_reuse_the_cached_schema_prefix(local_backend, chinook_context):
    with tokens_read(local_backend) as evaluated:
        local_backend.generate(build_prompt(chinook_context, "How many artists are there?"))
        first_prompt = evaluated[0]
        evaluated.clear()
        local_backend.generate(build_prompt(chinook_context, "How many albums are there?"))
    second_prompt = evaluated[0]
    assert first_prompt > 300  # the whole schema was read the first time...
    assert second_prompt < 30  # ...and only the new question the second time


def test_a_schema_asked_about_before_is_restored_not_read_again(local_backend, chinook_tables):
    customers = render_context([chinook_tables["Customer"], chinook_tables["Invoice"]])
    tracks = render_context([chinook_tables["Genre"], chinook_tables["Track"]])
    with tokens_read(local_backend) as evaluated:
        first = local_backend.generate(build_prompt(customers, "How many customers are in Brazil?"))[0]
        local_backend.generate(build_prompt(tracks, "How many tracks are there?"))  # other tables: another prefix
        evaluated.clear()
        restored = local_backend.prefixes.restored
        again = local_backend.generate(build_prompt(customers, "How many customers are in Brazil?"))[0]
    assert local_backend.prefixes.restored == restored + 1
    assert sum(evaluated) < 30  # the question alone was read: the customers' schema came back from its kept state
    assert again.sql == first.sql == "SELECT COUNT(*) FROM Customer WHERE Country = 'Brazil'"


def test_a_new_table_set_starts_from_the_kept_state_it_shares_a_start_with(local_backend, chinook_tables):
    tables = chinook_tables
    invoices = render_context([tables["Customer"], tables["Invoice"]])
    lines = render_context([tables["Customer"], tables["Invoice"], tables["InvoiceLine"]])  # the same start, one more
    tracks = render_context([tables["Genre"], tables["Track"]])
    whole = len(local_backend.llama.tokenize(local_backend.render(build_prompt(lines, "x")).encode(), special=True))
    with tokens_read(local_backend) as evaluated:
        local_backend.generate(build_prompt(invoices, "How many invoices are there?"))
        local_backend.generate(build_prompt(tracks, "How many tracks are there?"))  # the cache now holds other tables
        evaluated.clear()
        started_from = local_backend.prefixes.started_from
        answer = local_backend.generate(build_prompt(lines, "How many invoice lines are there?"))[0]
    assert local_backend.prefixes.started_from == started_from + 1
    assert sum(evaluated) < whole / 2  # InvoiceLine's lines and the question, not the customers' and invoices' again
    assert "InvoiceLine" in answer.sql, answer.sql


def test_a_follow_up_read_ahead_reads_only_its_own_question_and_is_answered_right(local_backend, chinook):
    from sqlchat.conversation import Conversation
    from sqlchat.pipeline import ask, follow_up_start, read_ahead

    settings = Settings.from_env({})
    conversation = Conversation()
    first = ask("How many invoices went to Germany?", chinook, local_backend, settings)
    conversation.add("How many invoices went to Germany?", first)
    assert first.rows == [[28]], first.sql
    with tokens_read(local_backend) as evaluated:
        read_ahead(local_backend, follow_up_start(chinook, settings, conversation.turns))
        ahead = sum(evaluated)
        evaluated.clear()
        second = ask("And to France?", chinook, local_backend, settings, earlier=conversation.turns)
    assert ahead > 30  # the earlier question and its SQL were read before the follow-up came...
    assert sum(evaluated) < 30  # ...so the follow-up read about its own question alone
    assert second.ok and second.rows == [[35]] and "France" in second.sql, second.sql


def test_candidates_after_the_first_are_sampled_and_carry_log_probabilities(local_backend, chinook_context):
    generations = local_backend.generate(build_prompt(chinook_context, "List the names of the 3 longest tracks."), n=3)
    assert len(generations) == 3
    assert all(g.sql.upper().startswith(("SELECT", "WITH")) for g in generations), [g.text for g in generations]
    assert all(g.logprob is not None and g.logprob <= 0 for g in generations)
    # the model's own probabilities, not the sampler's rescaled buffer (that gave about -25 per token)
    assert all(g.logprob > -3 for g in generations), [g.logprob for g in generations]
    # the least likely token is at most the mean: the doubt a single unsure choice leaves is not averaged away
    assert all(g.least_logprob is not None and g.least_logprob <= g.logprob for g in generations)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory):
    """llama.cpp's own OpenAI-compatible server on loopback, serving the embedded GGUF as `sql`."""
    gguf = model_file(MODELS[DEFAULT_MODEL], Settings.from_env({}).model.cache_dir)
    port = _free_port()
    log = tmp_path_factory.mktemp("llama-server") / "server.log"  # a file, not a pipe: its loading log would fill one
    process = subprocess.Popen(
        [sys.executable, "-m", "llama_cpp.server", "--model", str(gguf), "--model_alias", "sql", "--host", "127.0.0.1",
         "--port", str(port), "--n_ctx", "4096"],
        stdout=subprocess.DEVNULL, stderr=log.open("w"), text=True)
    base_url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            if process.poll() is not None:
                pytest.fail(f"llama.cpp's server exited: {log.read_text()[-2000:]}")
            try:
                if requests.get(f"{base_url}/models", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                time.sleep(1)
        else:
            pytest.fail(f"llama.cpp's server did not start within 300 s: {log.read_text()[-2000:]}")
        yield base_url
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.mark.parametrize("api", ["completions", "chat"])
def test_ask_through_llama_cpps_server_in_both_api_styles(llama_server, api):
    env = {**os.environ, "SQLCHAT_BACKEND": "openai", "SQLCHAT_BASE_URL": llama_server, "SQLCHAT_MODEL": "sql",
           "SQLCHAT_OPENAI_API": api}
    result = subprocess.run([sys.executable, "-m", "sqlchat", "ask", "--db", str(CHINOOK), "How many artists are there?",
                             "--json"], cwd=ROOT, capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 0, result.stderr[-2000:]
    answer = json.loads(result.stdout)
    assert answer["rows"] == [[275]], answer


def test_set_ups_engine_check_reads_a_batched_prompt_in_its_own_process():
    """The check set-up runs after installing llama.cpp (a build for other instructions dies with SIGILL on
    batched prompts, which no try/except sees): here it must pass, and name the default model's file."""
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "check_engine.py")], capture_output=True,
                            text=True, timeout=300, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-2000:]
    gguf = model_file(MODELS[DEFAULT_MODEL], Settings.from_env({}).model.cache_dir)
    assert "read a" in result.stdout and str(gguf) in result.stdout
