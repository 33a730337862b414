"""Checks on the URL of a model server, which a web user may type (when the operator allows it).

The backend appends ``/completions`` (or ``/chat/completions``) to the base URL; a query or
fragment would swallow that path (``http://host/x?y=`` sends the prompt to ``/x``), and a
scheme other than http(s) is never a model server. So a base URL is ``http(s)://host[:port][/path]``
and nothing else.

The server's API key is sent only to the server's own URL (:func:`same_server`), so the URL must
mean the same host to this check as to the HTTP client (``requests``, which parses with urllib3).
Parsers disagree on user info and backslashes: ``http://a:8702\\@b:8701/v1`` is host ``b`` to
``urllib.parse`` but host ``a`` to urllib3. A base URL may therefore hold no ``@`` (no user info),
no backslash, only printable ASCII, and both parsers must read the same scheme, host and port.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from sqlchat.errors import ConfigError

EXAMPLE = "http://gpu-box:8000/v1"
_DEFAULT_PORTS = {"http": 80, "https": 443}
# What a base URL may be made of: printable ASCII without '@', backslash, quotes, spaces or brackets other
# than an IPv6 literal's (checked by the parsers' agreement below).
_ALLOWED = re.compile(r"[A-Za-z0-9._~:/%\-\[\]!$&'()*+,;=]*")


def checked_base_url(url: str) -> str:
    """``url`` without a trailing slash, or a ConfigError saying what is wrong with it."""
    text = (url or "").strip()
    if any(ord(c) < 33 or ord(c) == 127 for c in text):
        raise ConfigError("The model server URL may not contain spaces or control characters.")
    if "@" in text or "\\" in text:
        raise ConfigError(f"The model server URL may not hold a user name, an '@' or a backslash; "
                          f"give only the server, like {EXAMPLE}.")
    if "?" in text or "#" in text:
        raise ConfigError(f"The model server URL may not have a query (?...) or a fragment (#...); "
                          f"give only the base, like {EXAMPLE}.")
    if not _ALLOWED.fullmatch(text):
        raise ConfigError(f"The model server URL may hold only plain ASCII letters, digits and URL punctuation, "
                          f"like {EXAMPLE}.")
    endpoint = _endpoint(text)
    if endpoint is None:
        raise ConfigError(f"The model server URL is malformed; expected something like {EXAMPLE}.")
    if endpoint[0] not in ("http", "https") or not endpoint[1]:
        raise ConfigError(f"The model server URL must start with http:// or https:// and name a host, like {EXAMPLE}.")
    return text.rstrip("/")


def _endpoint(text: str) -> tuple[str, str, int, str] | None:
    """(scheme, host, port, path) as ``urllib.parse`` reads ``text``, or None when that is not what the HTTP
    client (urllib3, under ``requests``) would read, or either parser fails."""
    try:
        parts = urlsplit(text)
        port = parts.port  # raises ValueError for a port that is not a number
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower().rstrip(".")
    port = port if port is not None else _DEFAULT_PORTS.get(scheme, 0)
    if parts.username is not None or parts.password is not None or parts.query or parts.fragment:
        return None
    try:
        from urllib3.util import parse_url
    except ImportError:  # pragma: no cover - requests always brings urllib3
        return None
    try:
        other = parse_url(text)
    except Exception:  # noqa: BLE001 - urllib3's LocationParseError and friends: the client could not use it
        return None
    other_scheme = (other.scheme or "").lower()
    other_host = (other.host or "").lower().strip("[]").rstrip(".")
    other_port = other.port if other.port is not None else _DEFAULT_PORTS.get(other_scheme, 0)
    if other.auth or (other_scheme, other_host, other_port) != (scheme, host.strip("[]"), port):
        return None
    return scheme, host, port, parts.path.rstrip("/")


def same_server(a: str | None, b: str | None) -> bool:
    """Whether two base URLs name the same endpoint: scheme, host, port (a default port written or not) and
    path, ignoring a final slash. A URL this module refuses is never the same server as anything."""
    if not a or not b:
        return False
    try:
        x, y = _endpoint(checked_base_url(a)), _endpoint(checked_base_url(b))
    except ConfigError:
        return False
    return x is not None and x == y
