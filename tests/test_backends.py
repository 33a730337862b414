"""Model backends: the real embedded model, and the OpenAI-compatible client over real HTTP."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from sqlchat.backends import OpenAIBackend, load_backend
from sqlchat.config import ModelConfig
from sqlchat.errors import ConfigError, GenerationFailed, redact
from sqlchat.prompt import build_prompt


class CompletionsHandler(BaseHTTPRequestHandler):
    """A loopback server speaking the OpenAI completions API, as vLLM does."""

    requests: list[dict] = []
    status = 200

    def do_POST(self):  # noqa: N802 - http.server's naming
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).requests.append({"path": self.path, "body": body, "auth": self.headers.get("Authorization")})
        choices = [{"text": f" SELECT COUNT(*) FROM head WHERE age > 56", "index": i} for i in range(body["n"])]
        payload = json.dumps({"choices": choices, "usage": {"completion_tokens": 9 * body["n"]}}).encode()
        self.send_response(type(self).status)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


@pytest.fixture()
def server():
    CompletionsHandler.requests = []
    CompletionsHandler.status = 200
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), CompletionsHandler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    httpd.shutdown()


def test_openai_backend_sends_the_prompt_and_reads_candidates(server):
    backend = load_backend(ModelConfig(backend="openai", base_url=server, model="sql", api_key="sk-secret-1"))
    generations = backend.generate("PROMPT", n=2)
    assert [g.sql for g in generations] == ["SELECT COUNT(*) FROM head WHERE age > 56"] * 2
    request = CompletionsHandler.requests[0]
    assert request["path"] == "/v1/completions"
    assert request["body"]["model"] == "sql" and request["body"]["prompt"] == "PROMPT"
    assert request["auth"] == "Bearer sk-secret-1"
    assert "sk-secret-1" not in redact("key was sk-secret-1")


def test_openai_backend_reports_http_errors_plainly(server):
    CompletionsHandler.status = 500
    with pytest.raises(GenerationFailed, match="HTTP 500"):
        OpenAIBackend(server, "sql").generate("PROMPT")


def test_openai_backend_unreachable_is_one_clear_line():
    backend = OpenAIBackend("http://127.0.0.1:9/v1", "sql", timeout_s=2)
    with pytest.raises(GenerationFailed) as error:
        backend.generate("PROMPT")
    assert error.value.message == "The model server at 127.0.0.1:9 could not be reached."


def test_unknown_backend_and_missing_url_are_config_errors():
    with pytest.raises(ConfigError, match="Unknown backend"):
        load_backend(ModelConfig(backend="magic"))
    with pytest.raises(ConfigError, match="base URL"):
        load_backend(ModelConfig(backend="openai"))


def test_a_missing_adapter_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="adapter"):
        load_backend(ModelConfig(adapter=str(tmp_path / "nothing-here")))


@pytest.mark.slow
def test_the_embedded_model_writes_sql_that_stops_at_the_statement_end(local_backend):
    prompt = build_prompt("CREATE TABLE head (age INTEGER, name VARCHAR)", "How many heads are older than 56?")
    [generation] = local_backend.generate(prompt)
    assert generation.sql.upper().startswith("SELECT"), generation.text
    assert ";" not in generation.sql and generation.tokens < 60


@pytest.mark.slow
def test_several_candidates_on_request(local_backend):
    prompt = build_prompt("CREATE TABLE head (age INTEGER, name VARCHAR)", "List the names of heads.")
    candidates = local_backend.generate(prompt, n=3)
    assert len(candidates) == 3 and all(c.text for c in candidates)
