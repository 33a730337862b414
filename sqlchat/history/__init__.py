"""What users asked, and the answers they verified: few-shot examples now, training data later.

One store, :class:`~sqlchat.history.store.HistoryStore`, in a SQLite file (``Settings.history_target``) or
any SQLAlchemy URL (PostgreSQL lets several app instances share it), made of one module per job:
``examples`` (verified question/SQL pairs, the few-shot examples and training rows), ``retrieval`` (which
pairs are like a question: TF-IDF), ``seeding`` (pairs from a file), ``question_log`` (every question, for
the app's history page), ``audit_log`` (who asked what on which connection), ``database`` (the store's
engine, tables and the privacy of its file). Nothing is re-exported here: import from the module.
"""
