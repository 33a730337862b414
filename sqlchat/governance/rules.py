"""What a named connection withholds, as plain data: the tables and columns the operator hid.

A :class:`~sqlchat.sources.connection.Database` carries these rules from the moment it is opened,
before anything is read from it; :mod:`sqlchat.governance.access` enforces them on the schema and on
every query. The rules sit apart from the enforcement so the connection can hold them without
knowing how they are enforced, and the enforcement can read the connection.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlchat.governance.deployment import NamedConnection


@dataclass(frozen=True)
class AccessRules:
    """Which tables and columns are withheld; all names lower-cased."""

    hidden_tables: frozenset[str] = frozenset()
    hidden_columns: frozenset[tuple[str, str]] = frozenset()  # (table, column)
    visible_tables: frozenset[str] | None = None  # an allow-list; None: every table not hidden
    spelled_columns: tuple[tuple[str, str], ...] = ()  # (table, column) as the operator wrote them: their words

    @classmethod
    def of(cls, named: "NamedConnection") -> "AccessRules | None":
        """The rules of a named connection; None when it withholds nothing."""
        if not named.has_rules:
            return None
        columns = frozenset((table.strip().lower(), column.strip().lower())
                            for table, _, column in (name.partition(".") for name in named.hidden_columns))
        visible = None if named.visible_tables is None else frozenset(n.lower() for n in named.visible_tables)
        spelled = tuple((table.strip(), column.strip())
                        for table, _, column in (name.partition(".") for name in named.hidden_columns))
        return cls(frozenset(n.lower() for n in named.hidden_tables), columns, visible, spelled)

    def hides_table(self, name: str) -> bool:
        lowered = name.lower()
        return lowered in self.hidden_tables or (self.visible_tables is not None and lowered not in self.visible_tables)

    def hidden_columns_of(self, table: str) -> frozenset[str]:
        lowered = table.lower()
        return frozenset(column for owner, column in self.hidden_columns if owner == lowered)
