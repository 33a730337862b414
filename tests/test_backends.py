"""Model backends: the real embedded model, and the OpenAI-compatible client over real HTTP."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from sqlchat.config import ModelConfig
from sqlchat.errors import ConfigError, GenerationFailed, redact
from sqlchat.models.backends import OpenAIBackend, load_backend
from sqlchat.prompt import build_prompt, render

PROMPT = build_prompt("CREATE TABLE head (age INTEGER)", "How many heads are older than 56?")


class CompletionsHandler(BaseHTTPRequestHandler):
    """A loopback server speaking the OpenAI completions API, as vLLM does."""

    requests: list[dict] = []
    status = 200
    style = "completions"  # the shape of the replies: "completions" (text) or "chat" (message)

    def do_POST(self):  # noqa: N802 - http.server's naming
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).requests.append({"path": self.path, "body": body, "auth": self.headers.get("Authorization")})
        sql = "SELECT COUNT(*) FROM head WHERE age > 56"
        if type(self).style == "chat":
            choices = [{"message": {"role": "assistant", "content": f"```sql\n{sql};\n```"}, "index": i} for i in range(body["n"])]
        else:
            choices = [{"text": f" {sql}", "index": i} for i in range(body["n"])]
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
    CompletionsHandler.style = "completions"
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), CompletionsHandler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    httpd.shutdown()


def test_openai_backend_sends_the_prompt_and_reads_candidates(server):
    backend = load_backend(ModelConfig(backend="openai", base_url=server, model="sql", api_key="sk-secret-1"))
    generations = backend.generate(PROMPT, n=2)
    assert [g.sql for g in generations] == ["SELECT COUNT(*) FROM head WHERE age > 56"] * 2
    request = CompletionsHandler.requests[0]
    assert request["path"] == "/v1/completions"
    assert request["body"]["model"] == "sql" and request["body"]["prompt"] == render(PROMPT, "chat")
    assert request["body"]["prompt"].endswith("<|im_start|>assistant\n```sql\n")
    assert request["auth"] == "Bearer sk-secret-1"
    assert "sk-secret-1" not in redact("key was sk-secret-1")


def test_openai_backend_reports_http_errors_plainly(server):
    CompletionsHandler.status = 500
    with pytest.raises(GenerationFailed, match="HTTP 500"):
        OpenAIBackend(server, "sql").generate(PROMPT)


def test_openai_backend_unreachable_is_one_clear_line():
    backend = OpenAIBackend("http://127.0.0.1:9/v1", "sql", timeout_s=2)
    with pytest.raises(GenerationFailed) as error:
        backend.generate(PROMPT)
    assert error.value.message == "The model server at 127.0.0.1:9 could not be reached."


def test_chat_api_sends_messages_and_reads_the_fenced_answer(server):
    CompletionsHandler.style = "chat"
    backend = load_backend(ModelConfig(backend="openai", base_url=server, model="qwen", openai_api="chat"))
    [generation] = backend.generate(PROMPT)
    assert generation.sql == "SELECT COUNT(*) FROM head WHERE age > 56"
    request = CompletionsHandler.requests[0]
    assert request["path"] == "/v1/chat/completions"
    assert [m["role"] for m in request["body"]["messages"]] == ["system", "user"]
    assert request["body"]["messages"][1]["content"].endswith("How many heads are older than 56?")


@pytest.mark.parametrize("asked, replies, advice", [("completions", "chat", "SQLCHAT_OPENAI_API=chat"),
                                                     ("chat", "completions", "SQLCHAT_OPENAI_API=completions")])
def test_a_server_answering_in_the_other_api_style_gets_a_clear_sentence(server, asked, replies, advice):
    CompletionsHandler.style = replies
    with pytest.raises(GenerationFailed, match=advice):
        OpenAIBackend(server, "sql", api=asked).generate(PROMPT)


def test_a_missing_endpoint_names_the_other_api_style(server):
    CompletionsHandler.status = 404
    with pytest.raises(GenerationFailed) as error:
        OpenAIBackend(server, "sql").generate(PROMPT)
    assert "HTTP 404" in error.value.message and "SQLCHAT_OPENAI_API=chat" in error.value.message


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
    assert "56" in generation.sql and ";" not in generation.sql and "`" not in generation.sql
    assert generation.tokens < 40
    assert generation.logprob is not None and generation.logprob < 0


@pytest.mark.slow
def test_several_candidates_on_request(local_backend):
    prompt = build_prompt("CREATE TABLE head (age INTEGER, name VARCHAR)", "List the names of heads.")
    candidates = local_backend.generate(prompt, n=3)
    assert len(candidates) == 3 and all(c.text for c in candidates)
