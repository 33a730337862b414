"""The evaluator: exact match, execution and answer accuracy (synthesized databases, Spider, business set), latency.

Only calls the engine (pipeline, safety, prompt, backends); the engine never imports this.
Submodules: ``metrics`` (scoring), ``synthesize`` (databases for know_sql rows),
``runner`` (the runs and their report), ``cli`` (``sqlchat eval``).
"""

from sqlchat.evaluation.metrics import answer_match, exact_match, normalize_sql, results_match
from sqlchat.evaluation.runner import EvalReport, QuestionRecord, evaluate_business, evaluate_know_sql, evaluate_spider

__all__ = [
    "EvalReport",
    "QuestionRecord",
    "answer_match",
    "evaluate_business",
    "evaluate_know_sql",
    "evaluate_spider",
    "exact_match",
    "normalize_sql",
    "results_match",
]
