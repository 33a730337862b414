"""How the schema's tables link: each single-column foreign key as a :class:`Link`.

Schema knowledge that later stages read in their own way: the join corrections
(:mod:`sqlchat.corrections.joins`) rewrite a join onto the declared link, the explanation
(:mod:`sqlchat.answers.explain`) says which link a join follows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlchat.schema.model import Table


@dataclass(frozen=True)
class Link:
    """One single-column foreign key: ``table.column`` references ``ref_table.ref_column``."""

    table: str
    column: str
    ref_table: str
    ref_column: str

    def between(self, one: str, other: str) -> bool:
        return {self.table.lower(), self.ref_table.lower()} == {one.lower(), other.lower()}

    def column_of(self, table: str) -> str:
        """The column this link uses on ``table`` (one of its two ends)."""
        return self.column if self.table.lower() == table.lower() else self.ref_column


def schema_links(tables: Sequence[Table]) -> list[Link]:
    """Every single-column foreign key among ``tables`` whose target table is among them too."""
    names = {table.name.lower() for table in tables}
    return [
        Link(table.name, fk.columns[0], fk.ref_table, fk.ref_columns[0])
        for table in tables
        for fk in table.foreign_keys
        if len(fk.columns) == 1 and len(fk.ref_columns) == 1 and fk.ref_table.lower() in names
    ]
