"""Answers: the answer and how it is chosen, and what the user is told besides the rows.

``result`` (the frozen :class:`~sqlchat.answers.result.Answer`), ``trace`` (the steps a question went through),
``choice`` (the one candidate-selection loop), ``explain`` (the chosen SQL in plain words), ``declining``
(questions the data cannot answer), ``trust`` (confidence, the decline decision and the alternatives).
Nothing is re-exported here: import from the module.
"""
