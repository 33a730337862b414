"""The columns that name a table's rows for a person: ``Name``, ``Title``, a first and a last name.

Schema knowledge that later stages read in their own way: readable answers
(:mod:`sqlchat.corrections.readable`) show the label beside a bare id, the explanation
(:mod:`sqlchat.answers.explain`) says "for each artist" when a query groups by one.
"""

from __future__ import annotations

from sqlchat.schema.model import Table

_LABEL_NAMES = ("name", "{table}name", "{table}_name", "fullname", "full_name")
_FALLBACK_LABELS = ("title", "description")  # after people's names: an employee's Title is a job title
_PERSON_NAMES = (("firstname", "lastname"), ("first_name", "last_name"))


def label_columns(table: Table) -> list[str]:
    """The column(s) that name a row of ``table`` for a person: ``Name``, ``Title``, first + last name..."""
    lowered = {column.name.lower(): column.name for column in table.columns}
    singular = table.name.lower().rstrip("s")
    for pattern in _LABEL_NAMES:
        for table_name in {table.name.lower(), singular}:
            found = lowered.get(pattern.format(table=table_name))
            if found is not None:
                return [found]
    for first, last in _PERSON_NAMES:
        if first in lowered and last in lowered:
            return [lowered[first], lowered[last]]
    return [lowered[name] for name in _FALLBACK_LABELS if name in lowered][:1]
