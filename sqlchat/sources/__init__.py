"""Sources: open a database read-only from a URL, a file, uploads (SQLite, CSV, Excel) or a ``CREATE TABLE`` script.

``connection`` (the :class:`~sqlchat.sources.connection.Database` and ``connect*``), ``tabular``
(CSV / Excel into SQLite), ``ddl_script`` (a DDL script into a schema-only database), ``named``
(a named connection of the operator's secrets file, with its access rules).
Nothing is re-exported here: import from the module, so importing one never loads the others.
"""
