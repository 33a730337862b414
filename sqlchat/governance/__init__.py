"""Governance: the operator's say over who sees and does what.

``deployment`` (the secrets file: named connections, limits, policy flags), ``rules`` (what a named
connection hides, as plain data), ``access`` (enforcing them: the visible schema and the parse-tree
check), ``policy`` (a database's policy
and the few-shot examples it allows), ``audit`` (who asked what, what ran).
Nothing is re-exported here: import from the module.
"""
