"""Corrections: the model's SQL, mended against the schema and the data without changing what it asks.

``registry`` (every correction as a named rule, in the one order they are tried), ``joins`` (join keys onto
declared foreign keys; a missing table joined in), ``repair`` (invented names mapped to real ones), ``dialects``
(another dialect's functions in the connection's), ``values`` (a string the column does not hold linked to the
stored one, or moved to the column that holds it), ``readable`` (name and measure columns added); ``unused``
reads a query as its question means it (a join nothing reads dropped).
Nothing is re-exported here: import from the module.
"""
