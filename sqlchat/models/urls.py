"""Checks on the URL of a model server, which a web user may type (when the operator allows it).

The backend appends ``/completions`` (or ``/chat/completions``) to the base URL; a query or
fragment would swallow that path (``http://host/x?y=`` sends the prompt to ``/x``), and a
scheme other than http(s) is never a model server. So a base URL is ``http(s)://host[:port][/path]``
and nothing else.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from sqlchat.errors import ConfigError

EXAMPLE = "http://gpu-box:8000/v1"


def checked_base_url(url: str) -> str:
    """``url`` without a trailing slash, or a ConfigError saying what is wrong with it."""
    text = (url or "").strip()
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        raise ConfigError(f"The model server URL is malformed; expected something like {EXAMPLE}.") from None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"The model server URL must start with http:// or https:// and name a host, like {EXAMPLE}.")
    if parts.query or parts.fragment or "?" in text or "#" in text:
        raise ConfigError(f"The model server URL may not have a query (?...) or a fragment (#...); "
                          f"give only the base, like {EXAMPLE}.")
    if any(ord(c) < 33 for c in text):
        raise ConfigError("The model server URL may not contain spaces or control characters.")
    return text.rstrip("/")


def same_server(a: str | None, b: str | None) -> bool:
    """Whether two base URLs name the same endpoint (scheme, host, port and path, ignoring a final slash)."""
    if not a or not b:
        return False
    x, y = urlsplit(a.strip().rstrip("/")), urlsplit(b.strip().rstrip("/"))
    return (x.scheme.lower(), x.hostname, x.port, x.path) == (y.scheme.lower(), y.hostname, y.port, y.path)
