"""Answers: what the user is told besides the rows.

``explain`` (the chosen SQL in plain words), ``declining`` (questions the data cannot answer),
``trust`` (confidence, the decline decision and the alternatives).
Nothing is re-exported here: import from the module.
"""
