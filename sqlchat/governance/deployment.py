"""What the operator set up: named connections and policy flags, from a Streamlit-style secrets file.

In a company the people asking questions are not the people holding database
passwords. The operator writes ``.streamlit/secrets.toml`` (or the file named by
``SQLCHAT_SECRETS``, see :class:`sqlchat.config.Settings`) in Streamlit's own
convention::

    [connections.sales]
    url = "postgresql://reporter:s3cret@db.internal/sales"   # or dialect/host/port/...
    label = "Sales"
    hidden_columns = ["Customer.Email"]

    [sqlchat]
    allow_urls = false

and users pick a connection by name without ever seeing its URL. This module
only reads and checks the file; enforcing the rules is :mod:`sqlchat.governance.access`'s job.
A missing file means no named connections and the default flags. Every mistake
(bad TOML, an unknown key, a wrong type) is a :class:`ConfigError` naming it,
because a misspelt ``hidden_colums`` silently ignored would leak what it meant to hide.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from sqlalchemy.engine import URL, make_url

from sqlchat.config import Settings
from sqlchat.errors import ConfigError, register_secret

# The keys Streamlit's SQLConnection builds a URL from (besides ``url``).
_URL_PARTS = ("dialect", "driver", "host", "port", "database", "username", "password", "query")
# Keys Streamlit itself reads in a connection table; accepted and ignored.
_STREAMLIT_KEYS = ("type",)
_RULE_KEYS = ("label", "description", "hidden_tables", "hidden_columns", "visible_tables", "row_limit", "timeout")
_CONNECTION_KEYS = frozenset(("url",) + _URL_PARTS + _STREAMLIT_KEYS + _RULE_KEYS)


@dataclass(frozen=True)
class NamedConnection:
    """A database the operator named, with the rules that apply to whoever uses it.

    ``url`` holds the password, so it is left out of the repr and must never be shown.
    Table and column names are kept as written; :mod:`sqlchat.governance.access` compares them
    ignoring case (SQLite and MySQL ignore it, so hiding more is the safe side).
    """

    name: str
    url: str = field(repr=False)
    label: str = ""
    description: str = ""
    hidden_tables: tuple[str, ...] = ()
    hidden_columns: tuple[str, ...] = ()  # "Table.Column"
    visible_tables: tuple[str, ...] | None = None  # an allow-list; None: every table not hidden
    row_limit: int | None = None  # None: the settings' default
    timeout: float | None = None  # seconds; None: the settings' default

    @property
    def title(self) -> str:
        """What a user sees: the label, else the name."""
        return self.label or self.name

    @property
    def has_rules(self) -> bool:
        """Whether any table or column is withheld on this connection."""
        return bool(self.hidden_tables or self.hidden_columns or self.visible_tables is not None)


@dataclass(frozen=True)
class Deployment:
    """The operator's whole set-up: named connections and the ``[sqlchat]`` flags."""

    connections: dict[str, NamedConnection] = field(default_factory=dict)
    allow_urls: bool = True  # users may type a SQLAlchemy URL
    allow_uploads: bool = True  # users may upload SQLite / CSV / Excel / .sql files
    allow_sqlite_paths: bool = False  # users may type sqlite: URLs or paths of files on the server
    # None: the caller decides (off when the server has an API key configured).
    allow_model_settings: bool | None = None
    # Model files/folders and adapters (paths on this server) a web user may pick besides `sqlchat models`' names.
    model_paths: tuple[str, ...] = ()
    adapter_paths: tuple[str, ...] = ()
    # The file has an [auth] section: Streamlit's login is meant to guard the app (sqlchat only checks it is active).
    auth: bool = False
    source: Path | None = None  # the file read; None when there was none
    # The [sqlchat] flags the file sets itself: `sqlchat mcp` opens URLs only when allow_urls = true is written there.
    flags_given: frozenset[str] = frozenset()

    def connection(self, name: str) -> NamedConnection:
        """The named connection ``name``; a ConfigError listing the known names otherwise."""
        try:
            return self.connections[name]
        except KeyError:
            known = ", ".join(sorted(self.connections)) or "none are configured"
            raise ConfigError(f"There is no named connection called '{name}' (known: {known}).") from None


def settings_for(settings: Settings, named: NamedConnection | None) -> Settings:
    """``settings`` with a named connection's ``row_limit`` and ``timeout`` in place of the defaults."""
    if named is None:
        return settings
    execution = settings.execution
    if named.row_limit is not None:
        execution = replace(execution, row_limit=named.row_limit, max_rows=min(execution.max_rows, named.row_limit))
    if named.timeout is not None:
        execution = replace(execution, statement_timeout_s=named.timeout)
    return replace(settings, execution=execution)


_FLAGS: dict[str, Any] = {"allow_urls": True, "allow_uploads": True, "allow_sqlite_paths": False,
                          "allow_model_settings": None, "model_paths": (), "adapter_paths": ()}
_PATH_LISTS = frozenset({"model_paths", "adapter_paths"})


def load_deployment(path: str | Path) -> Deployment:
    """Read the secrets file at ``path``; a missing file gives the defaults and no connections."""
    path = Path(path).expanduser()
    if not path.is_file():
        return Deployment()
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"The secrets file {path.name} is not valid TOML: {exc}.", detail=str(path)) from None
    except OSError as exc:
        raise ConfigError(f"The secrets file {path.name} could not be read.", detail=str(exc)) from None
    return parse_deployment(data, source=path)


def parse_deployment(data: Mapping[str, Any], *, source: Path | None = None) -> Deployment:
    """Build a :class:`Deployment` from the parsed TOML; other top-level tables (``[auth]``...) are left alone."""
    flags = _parse_flags(_table(data, "sqlchat", "[sqlchat]"))
    connections = {
        name: _parse_connection(name, _table(raw, None, f"[connections.{name}]"))
        for name, raw in _table(data, "connections", "[connections]").items()
    }
    return Deployment(connections=connections, auth="auth" in data, source=source,
                      flags_given=frozenset(_table(data, "sqlchat", "[sqlchat]")), **flags)


def _table(data: Any, key: str | None, where: str) -> Mapping[str, Any]:
    value = data.get(key, {}) if key is not None else data
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where} in the secrets file must be a table.")
    return value


def _parse_flags(raw: Mapping[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(raw) - set(_FLAGS))
    if unknown:
        raise ConfigError(f"[sqlchat] in the secrets file has an unknown key '{unknown[0]}' "
                          f"(known: {', '.join(_FLAGS)}).")
    flags = dict(_FLAGS)
    for key, value in raw.items():
        if key in _PATH_LISTS:
            if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
                raise ConfigError(f"[sqlchat] {key} must be a list of paths (strings).")
            flags[key] = tuple(v.strip() for v in value)
            continue
        if not isinstance(value, bool):
            raise ConfigError(f"[sqlchat] {key} must be true or false, not {value!r}.")
        flags[key] = value
    return flags


def _parse_connection(name: str, raw: Mapping[str, Any]) -> NamedConnection:
    where = f"[connections.{name}]"
    unknown = sorted(set(raw) - _CONNECTION_KEYS)
    if unknown:
        raise ConfigError(f"{where} in the secrets file has an unknown key '{unknown[0]}'.")
    visible = raw.get("visible_tables")
    return NamedConnection(
        name=name,
        url=_connection_url(raw, where),
        label=_text(raw, "label", where),
        description=_text(raw, "description", where),
        hidden_tables=_tables(raw.get("hidden_tables", []), "hidden_tables", where),
        hidden_columns=_columns(raw.get("hidden_columns", []), where),
        visible_tables=None if visible is None else _tables(visible, "visible_tables", where),
        row_limit=_number(raw, "row_limit", where, int),
        timeout=_number(raw, "timeout", where, float),
    )


def _connection_url(raw: Mapping[str, Any], where: str) -> str:
    """``url`` as given, or built from the parts the way Streamlit's SQLConnection does."""
    if "url" in raw:
        if any(part in raw for part in _URL_PARTS):
            raise ConfigError(f"{where} gives both url and its parts (dialect, host...); give one or the other.")
        url = raw["url"]
        if not isinstance(url, str) or not url.strip():
            raise ConfigError(f"{where} url must be a non-empty string.")
        try:
            register_secret(make_url(url.strip()).password)
        except Exception:
            raise ConfigError(f"{where} url is malformed; expected something like "
                              "postgresql://user:password@host:5432/dbname.") from None  # no URL in the message
        return url.strip()
    if "dialect" not in raw:
        raise ConfigError(f"{where} needs a url, or at least a dialect (with host, database, username...).")
    parts = {key: raw.get(key) for key in _URL_PARTS}
    for key in ("dialect", "driver", "host", "database", "username", "password"):
        if parts[key] is not None and not isinstance(parts[key], str):
            raise ConfigError(f"{where} {key} must be a string.")
    if parts["port"] is not None and (not isinstance(parts["port"], int) or isinstance(parts["port"], bool)):
        raise ConfigError(f"{where} port must be a whole number.")
    query = parts["query"] or {}
    if not isinstance(query, Mapping):
        raise ConfigError(f"{where} query must be a table.")
    register_secret(parts["password"])
    drivername = f"{parts['dialect']}+{parts['driver']}" if parts["driver"] else parts["dialect"]
    url = URL.create(drivername, username=parts["username"], password=parts["password"], host=parts["host"],
                     port=parts["port"], database=parts["database"], query={k: str(v) for k, v in query.items()})
    return url.render_as_string(hide_password=False)


def _text(raw: Mapping[str, Any], key: str, where: str) -> str:
    value = raw.get(key, "")
    if not isinstance(value, str):
        raise ConfigError(f"{where} {key} must be a string.")
    return value


def _names(value: Any, key: str, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise ConfigError(f"{where} {key} must be a list of table names.")
    return tuple(v.strip() for v in value)


def _tables(value: Any, key: str, where: str) -> tuple[str, ...]:
    """Table names as the default schema holds them: a schema prefix would silently match nothing."""
    names = _names(value, key, where)
    for name in names:
        if "." in name:
            raise ConfigError(f"{where} {key} entry '{name}' must be a table name without a schema.")
    return names


def _columns(value: Any, where: str) -> tuple[str, ...]:
    names = _names(value, "hidden_columns", where)
    for name in names:
        table, _, column = name.partition(".")
        if not table.strip() or not column.strip() or "." in column:
            raise ConfigError(f"{where} hidden_columns entry '{name}' must be written Table.Column.")
    return names


def _number(raw: Mapping[str, Any], key: str, where: str, kind: type) -> Any:
    value = raw.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (kind is int and not isinstance(value, int)):
        raise ConfigError(f"{where} {key} must be a {'whole ' if kind is int else ''}number.")
    if value <= 0:
        raise ConfigError(f"{where} {key} must be greater than 0.")
    return kind(value)
