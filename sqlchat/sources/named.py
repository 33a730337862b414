"""Open a named connection of the operator's secrets file, carrying its access rules.

The app's connection picker and the CLI's ``--db NAME`` both come here; a named connection is
shown by its title, never by its URL, and its rules (:mod:`sqlchat.governance.access`) are on
the Database before anything is reflected.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlchat.governance.rules import AccessRules
from sqlchat.governance.deployment import load_deployment, settings_for
from sqlchat.sources.connection import connect

if TYPE_CHECKING:
    from sqlchat.config import Settings
    from sqlchat.governance.deployment import NamedConnection
    from sqlchat.sources.connection import Database


def open_named(named: "NamedConnection", timeout_s: float = 10.0) -> "Database":
    """Open a named connection read-only, carrying its rules; shown by its title, never by its URL."""
    db = connect(named.url, timeout_s=named.timeout or timeout_s)
    db.display_name, db.connection_name, db.rules = named.title, named.name, AccessRules.of(named)
    db.cache.clear()  # nothing was reflected before the rules were known
    return db


def open_target(target: str, settings: "Settings") -> tuple["Database", "Settings"]:
    """``--db``: a named connection of the operator's secrets file, else a URL or a file path.

    Returns the database and the settings to use with it (a named connection's own row limit and timeout).
    """
    deployment = load_deployment(settings.secrets_path)
    named = deployment.connections.get(target)
    if named is None:
        return connect(target, timeout_s=settings.execution.statement_timeout_s), settings
    settings = settings_for(settings, named)
    return open_named(named, settings.execution.statement_timeout_s), settings
