"""The training recipe for the default Qwen2.5-Coder-1.5B (issue 30, item 1).

The engine patches four failure classes of the zero-shot model with rules: joins nothing reads, the
asked table's name column, dialect date functions and invented columns. This package writes know_sql
rows (``{"question", "context", "answer", "dialect"}``) that teach those instead, from training-side
data only (``sql-create-context/train.jsonl`` and ``train-spider-extra.jsonl``; never ``dev.jsonl``,
Spider dev, the business or held-out question sets):

- :mod:`.rows`: loading, leak filtering, and one-table rows kept in proportion;
- :mod:`.distractors`: contexts widened with 5-15 tables from the same source database;
- :mod:`.dialects` and :mod:`.execute`: date and string functions per dialect, from templates over
  schemas written here, each row executed on SQLite, PostgreSQL and MariaDB;
- :mod:`.build`: the recipe put together, deterministic for a seed.

``train/data.py`` renders every row with the engine's own prompt code when training, so the recipe
writes rows only. Run: ``python -m train.recipe --out data/recipe-1.5b.jsonl``.
"""
