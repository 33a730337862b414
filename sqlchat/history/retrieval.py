"""Which verified questions are like a new one: TF-IDF cosine between their words.

Deterministic, no model, no new dependency. Questions of one family differ in their values ("top 5",
"in 2022", "by AC/DC"), not in their shape, so values fold to one token each and business words that
ask the same thing (revenue, sales, turnover) to one term. The store ranks its pairs with
:func:`rank_similar` (:meth:`sqlchat.history.examples.VerifiedExamples.similar_examples`); the training
data chooses its examples the same way (``train/data.py``).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from typing import Protocol, TypeVar

from sqlchat.language import stemmed_words

MIN_SIMILARITY = 0.2  # cosine below this is an unrelated question: no example beats a misleading one

# Function and filler words ("show", "list"); "top", "count", "average" carry the question's intent and stay.
_RETRIEVAL_STOPWORDS = frozenset(
    """a about after all an and any are as at based be by can could did display do doe does find for from
    get give had has have how i in is it just let live look me much my of on or our please show
    tell than that the their them there these this those to us was we were what when where which who
    whose why will with would you your list""".split()
)
# Business words that ask the same thing: one canonical term each (applied after stemming).
_SYNONYMS = {
    **dict.fromkeys("each every per".split(), "per"),
    **dict.fromkeys("many number count".split(), "count"),
    **dict.fromkeys("most top highest largest biggest best greatest".split(), "most"),
    **dict.fromkeys("least fewest lowest smallest bottom worst".split(), "least"),
    **dict.fromkeys("revenue sale sell selling sold income earning turnover".split(), "sale"),
    **dict.fromkeys("spend spent spending".split(), "spend"),
    **dict.fromkeys("song tune".split(), "track"),
    **dict.fromkeys("client buyer".split(), "customer"),
    **dict.fromkeys("rep representative agent staff".split(), "employee"),
    **dict.fromkeys("band musician".split(), "artist"),
}
_NUMBER_WORDS = frozenset(
    "one two three four five six seven eight nine ten eleven twelve fifteen twenty fifty hundred".split()
)
NUMBER_TOKEN = "#"  # "top 5" and "top ten" are the same kind of question
YEAR_TOKEN = "#year"  # "sales in 2022" and "sales in 2024" too, but not "top 5"
NAME_TOKEN = "#name"  # "albums by AC/DC" and "albums by Metallica": a value, not a kind of question
_YEAR = re.compile(r"^(19|20)\d\d$")
_RAW_TOKEN = re.compile(r"[^\W_]+")


def question_terms(question: str) -> list[str]:
    """Content words of ``question``, stemmed and canonical, with values folded to one token each.

    Numbers become ``#`` (``top 5`` ~ ``top ten``), years ``#year``, and a run of capitalised
    words after the first word (``Let There Be Rock``, ``AC/DC``) one ``#name``: questions of one
    family differ in their values, not in their shape.
    """
    terms: list[str] = []
    for position, raw in enumerate(_RAW_TOKEN.findall(question)):
        if position > 0 and raw[0].isupper() and raw != "I":
            if not terms or terms[-1] != NAME_TOKEN:
                terms.append(NAME_TOKEN)
            continue
        terms.extend(_term(word) for word in stemmed_words(raw))
    return [term for term in terms if term]


def _term(word: str) -> str:
    """One stemmed word as a retrieval term; empty for a stopword."""
    if _YEAR.match(word):
        return YEAR_TOKEN
    if word.isdigit() or word in _NUMBER_WORDS:
        return NUMBER_TOKEN
    return "" if word in _RETRIEVAL_STOPWORDS else _SYNONYMS.get(word, word)


def _tfidf(terms: list[str], idf: dict[str, float]) -> dict[str, float]:
    counts = Counter(terms)
    return {term: (1.0 + math.log(n)) * idf.get(term, 0.0) for term, n in counts.items()}


def _cosine(a: dict[str, float], b: dict[str, float]) -> float:
    dot = sum(weight * b.get(term, 0.0) for term, weight in a.items())
    norm = math.sqrt(sum(w * w for w in a.values())) * math.sqrt(sum(w * w for w in b.values()))
    return dot / norm if norm else 0.0


class _Candidate(Protocol):
    id: int
    question: str


C = TypeVar("C", bound=_Candidate)


def rank_similar(question: str, pairs: Sequence[C], k: int = 3, threshold: float = MIN_SIMILARITY) -> list[tuple[float, C]]:
    """The ``k`` pairs whose questions are most like ``question`` (TF-IDF cosine), best first.

    IDF comes from the pairs themselves plus the question (smoothed), so a word every verified
    question shares ("customers" in a customer-only database) counts little. One pair per
    distinct question, the newest; ties go to the newer pair, so the order is deterministic.
    """
    newest: dict[str, C] = {}
    for pair in sorted(pairs, key=lambda p: p.id):
        newest[" ".join(pair.question.lower().split())] = pair
    documents = [(question_terms(pair.question), pair) for pair in newest.values()]
    query = question_terms(question)
    if not query or not documents:
        return []
    total = len(documents) + 1
    frequency = Counter(term for terms, _ in documents for term in set(terms)) + Counter(set(query))
    idf = {term: math.log((1 + total) / (1 + n)) + 1.0 for term, n in frequency.items()}
    query_vector = _tfidf(query, idf)
    scored = [(_cosine(query_vector, _tfidf(terms, idf)), pair) for terms, pair in documents]
    ranked = sorted((item for item in scored if item[0] >= threshold), key=lambda item: (-item[0], -item[1].id))
    return ranked[:k]
