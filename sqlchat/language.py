"""The words of a question: splitting, stemming, and the English words that ask rather than name.

Everything that compares a question's words with a schema's names or stored values (table choice, stored-value
mentions, the hidden-column check, the corrections that read the question) splits and stems them here, so a
question, a table name and a stored value become the same words wherever they meet. This module knows English,
not any database: no word here is a table, column or value of some schema.
"""

from __future__ import annotations

import re

# Function words and the words of asking for a result; they never name a table or column.
STOPWORDS = frozenset(
    """a an and are as at be by can do does for from give has have how i in is it list many me much my
    of on or per show tell than that the their there these this those to was were what when where which
    who whose why with all each every number total count find get average avg sum most least top""".split()
)


def stem(word: str) -> str:
    """Just enough stemming to match plural question words with singular names."""
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 4 and word.endswith(("sses", "uses", "xes", "ches", "shes")):
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def split_words(text: str) -> list[str]:
    """Lower-cased words, not stemmed; snake_case and CamelCase are split (``InvoiceLine`` -> invoice, line)."""
    text = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", text)
    text = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1 \2", text)
    return re.findall(r"[^\W_]+", text.lower())


def stemmed_words(text: str) -> list[str]:
    """Lower-cased, stemmed words; snake_case and CamelCase are split (``InvoiceLine`` -> invoice, line)."""
    return [stem(w) for w in split_words(text)]


# Words of a key column's name that name nothing a question asks for (``CustomerId``: only "customer" names it).
KEY_NAME_WORDS = frozenset({"id", "code", "key", "no", "num"})


# English words that ask for something rather than name stored data: quantities, comparisons, order, time,
# numbers, pronouns, auxiliaries and the verbs of asking. Generic English only: a word a schema might use as a
# name (sale, price, ship...) does not belong here.
QUESTION_WORDS = frozenset(stem(w) for w in """
    about above across after again against ago all also among amount any appear are around ascending be been
    before being below best between both bottom but can could current currently daily date dates day days
    decreasing descending did different distinct do does doing done during each earliest either else ever
    every exactly except excluding fewer fewest first following for from further give given go going greater
    greatest had has have having he her here hers high higher highest him his how however i if in include
    included including increasing into is it its just last latest least less like list long longer longest low
    lower lowest many max maximum may me mean median might min minimum month monthly months more most much
    must my never new newest next no none nor not now number numbers of off often old older oldest on once
    one only or order ordered other others our out over overall own past per percent percentage please
    quarter quarterly rank ranked ranking rate ratio recent recently same second several shall she should show
    shown since so some sort sorted still such sum than that the their them then there these they third this
    those through time times to together too top total totals twice under unique until up us versus very via
    want was we week weekly weeks were what when where whether which while who whom whose why will with within
    without would year yearly years yet you your
    zero two three four five six seven eight nine ten eleven twelve hundred thousand million billion
    january february march april june july august september october november december
    monday tuesday wednesday thursday friday saturday sunday today yesterday tomorrow
    see know tell need find display look check compare break split vary varies
""".split())


def content_words(text: str) -> list[str]:
    """A text's stemmed words that could name data: no stop word, question word, number or word under 3 letters."""
    found: list[str] = []
    for raw in re.findall(r"[^\W_]+", text.lower()):
        word = stem(raw)
        if len(word) < 3 or word.isdigit() or {raw, word} & (STOPWORDS | QUESTION_WORDS):
            continue
        if word not in found:
            found.append(word)
    return found


def same_word(word: str, other: str) -> bool:
    """Whether two stemmed words are one word in two forms: equal, or sharing their first five letters when both
    have five or more ("invoiced" and "invoice", "shipped" and "shipping")."""
    return word == other or (len(word) >= 5 and len(other) >= 5 and word[:5] == other[:5])
