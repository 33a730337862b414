"""Errors a user can read, and the redaction that keeps secrets out of them.

Every failure the engine reports is a :class:`SqlchatError` whose ``message`` is
one plain sentence. ``detail`` may carry technical text for an expander; both
are passed through :func:`redact` so a password in a URL never leaks.
"""

from __future__ import annotations

import re

_URL_PASSWORD = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.\-]*://)(?P<user>[^:/@\s]*):(?P<password>[^@/\s]*)@")
_registered_secrets: set[str] = set()


def register_secret(secret: str | None) -> None:
    """Remember a secret (a password, an API key) so :func:`redact` always masks it."""
    if secret and len(secret) >= 3:
        _registered_secrets.add(secret)


def redact(text: str) -> str:
    """Mask passwords in URLs and every registered secret in ``text``."""
    text = _URL_PASSWORD.sub(lambda m: f"{m['scheme']}{m['user']}:***@", str(text))
    for secret in sorted(_registered_secrets, key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


class SqlchatError(Exception):
    """A failure with a one-line message fit for a business user."""

    def __init__(self, message: str, detail: str | None = None):
        self.message = redact(message)
        self.detail = redact(detail) if detail else None
        super().__init__(self.message)


class ConfigError(SqlchatError):
    """A setting, flag or config file is wrong."""


class ConnectionFailed(SqlchatError):
    """The database could not be opened or reached."""


class UnsafeSQL(SqlchatError):
    """The SQL was refused by the safety check and never sent to the database."""


class ExecutionFailed(SqlchatError):
    """The database rejected or aborted the statement."""


class GenerationFailed(SqlchatError):
    """The model backend could not produce SQL."""


class InvalidSQL(UnsafeSQL):
    """The SQL could not be parsed at all: a model mistake rather than an attack.

    A subclass of :class:`UnsafeSQL` (it is refused and never sent), so callers
    that only catch ``UnsafeSQL`` still refuse it; the pipeline can tell the
    two apart with ``isinstance(err, InvalidSQL)``.
    """
