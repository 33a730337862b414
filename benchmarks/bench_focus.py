"""How often schema focus shows the model every table the gold query needs, without a model (seconds).

The tables are chosen as the engine chooses them (``sqlchat.pipeline.prompt_for``: the question's words, the
earlier turns, and the tables that store a value the question mentions: ``SQLCHAT_MENTIONS=0`` turns that off).

A table the focus leaves out cannot be in the answer: the model invents a join key or answers from the
wrong table. For each question of a file (the business set, a conversations file turn by turn after the
gold earlier turns, Spider dev) this prints how many questions got all of their gold query's tables and
how many tables were sent on average; ``--misses`` lists the questions that did not get them.

    .venv/bin/python benchmarks/bench_focus.py --business tests/data/business/questions.jsonl
    .venv/bin/python benchmarks/bench_focus.py --business tests/data/business/conversations.jsonl --misses
    .venv/bin/python benchmarks/bench_focus.py --spider ../shared/benchmarks/spider-dev
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from pathlib import Path

import sqlglot
from sqlglot import exp

from sqlchat.config import DEMO_DIR, Settings
from sqlchat.conversation import recent
from sqlchat.evaluation.runner import is_conversation_file, load_business, load_conversations, load_spider
from sqlchat.pipeline import Draft, prompt_for
from sqlchat.prompt import Turn
from sqlchat.sources.connection import Database, connect


def gold_tables(sql: str) -> set[str] | None:
    """The tables a gold query reads (lower case), or None when sqlglot cannot parse it."""
    try:
        tree = sqlglot.parse_one(sql, read="sqlite")
    except sqlglot.errors.ParseError:
        return None
    ctes = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
    return {t.name.lower() for t in tree.find_all(exp.Table)} - ctes


def cases(args: argparse.Namespace) -> Iterator[tuple[str, tuple[Turn, ...], str, str]]:
    """(database path, the earlier turns, question, gold SQL) for every question of the file."""
    if args.spider is not None:
        for row in load_spider(args.spider):
            yield str(args.spider / "database" / row.db_id / f"{row.db_id}.sqlite"), (), row.question, row.query
    elif is_conversation_file(args.business):
        for conversation in load_conversations(args.business):
            earlier: list[Turn] = []
            for question, gold in conversation.turns:
                yield str(DEMO_DIR / f"{conversation.db}.sqlite"), tuple(earlier), question, gold
                earlier.append(Turn(question, gold))
    else:
        for row in load_business(args.business):
            yield str(DEMO_DIR / f"{row.db}.sqlite"), (), row.question, row.query


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--business", type=Path, help="a business questions or conversations file")
    source.add_argument("--spider", type=Path, help="the Spider dev folder")
    parser.add_argument("--misses", action="store_true", help="list the questions whose gold tables were not all sent")
    args = parser.parse_args()
    settings = Settings.from_env()
    databases: dict[str, Database] = {}
    covered = scored = sent = mentioned = 0
    try:
        for path, earlier, question, gold in cases(args):
            if path not in databases:
                databases[path] = connect(path)
            needed = gold_tables(gold)
            if needed is None:
                continue
            answer = Draft(question=question)
            prompt_for(question, databases[path], settings, answer, earlier=recent(earlier, settings.conversation.turns))
            names = {name.lower() for name in answer.tables}
            scored, sent, mentioned = scored + 1, sent + len(names), mentioned + bool(answer.mentions)
            if needed <= names:
                covered += 1
            elif args.misses:
                print(f"- {question}\n    missing: {', '.join(sorted(needed - names))}; sent: {', '.join(answer.tables)}")
    finally:
        for db in databases.values():
            db.close()
    print(f"{covered} of {scored} questions got every gold table ({100 * covered / max(scored, 1):.1f} %); "
          f"{sent / max(scored, 1):.2f} tables sent on average; {mentioned} prompts say where a value is stored")


if __name__ == "__main__":
    main()
