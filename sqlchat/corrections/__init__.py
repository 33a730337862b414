"""Corrections: the model's SQL, mended against the schema and the data without changing what it asks.

``joins`` (join keys onto declared foreign keys; a missing table joined in), ``repair`` (invented
names mapped to real ones; the order every correction is tried in), ``values`` (a string the
column does not hold linked to the stored one, or moved to the column that holds it), ``readable`` (name and
measure columns added); ``unused``, ``subject`` and ``carryover`` read a query as its question means it (a
join nothing reads dropped, names read from the asked-about table, a follow-up's dropped conditions carried).
Nothing is re-exported here: import from the module.
"""
