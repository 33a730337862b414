"""Schema: what the database holds, as the model and the checks see it.

``model`` (tables, columns, keys; quoting names), ``reflection`` (:func:`reflect_schema`, filtered
by access rules), ``context`` (``CREATE TABLE`` context and the tables a question needs),
``names`` (names as the database spells them, applied by the safety check).
Nothing is re-exported here: import from the module.
"""
