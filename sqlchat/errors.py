"""Errors a user can read, and the redaction that keeps secrets out of them.

Every failure the engine reports is a :class:`SqlchatError` whose ``message`` is
one plain sentence. ``detail`` may carry technical text for an expander; both
are passed through :func:`redact` so a password in a URL never leaks.

Secrets come in two scopes. The operator's own (the server's API key, the history
store's password) are masked everywhere (:func:`register_secret`). A web user's
(the password in the URL they typed) are masked only inside that user's work
(:func:`secret_scope`): a process-wide list would let one user's password mask
another user's text, which tells the other user what the password is.

Masking must not answer guesses either: ``SELECT guess_S3cr3t_x FROM t`` echoed as ``no such column:
guess_***_x`` would confirm a password. A secret that occurs in what the user typed (the SQL being run, the
question: :func:`user_text`) is therefore never masked in messages made while that text is handled: the user
sees back exactly what they typed, whether the guess is right or wrong, and a secret from anywhere else in
the message stays masked.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

# The password runs to the *last* "@" before the host (as SQLAlchemy parses it), so "pw@x@host" is masked whole.
_URL_PASSWORD = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.\-]*://)(?P<user>[^:/@\s]*):(?P<password>[^/\s]*)@")
_process_secrets: set[str] = set()
_scoped_secrets: ContextVar[frozenset[str]] = ContextVar("sqlchat_scoped_secrets", default=frozenset())
_user_texts: ContextVar[tuple[str, ...]] = ContextVar("sqlchat_user_texts", default=())


def usable_secret(secret: str | None) -> bool:
    """Whether ``secret`` is worth masking: two-letter text would mangle every message."""
    return bool(secret) and len(secret) >= 3


def register_secret(secret: str | None) -> None:
    """Remember an operator's secret (the server's API key, a store's password): masked in every message."""
    if usable_secret(secret):
        _process_secrets.add(secret)


@contextmanager
def secret_scope(secrets: Iterable[str]) -> Iterator[None]:
    """Mask ``secrets`` (one user's, one connection's) in messages made inside this block only."""
    added = frozenset(s for s in secrets if usable_secret(s))
    token = _scoped_secrets.set(_scoped_secrets.get() | added)
    try:
        yield
    finally:
        _scoped_secrets.reset(token)


@contextmanager
def user_text(*texts: str | None) -> Iterator[None]:
    """Messages made inside this block echo what the user typed (``texts``) unmasked: masking a secret found
    in it would tell the user that their guess is someone's password."""
    token = _user_texts.set(_user_texts.get() + tuple(t for t in texts if t))
    try:
        yield
    finally:
        _user_texts.reset(token)


def redact(text: str) -> str:
    """Mask passwords in URLs, the operator's secrets and those of the current :func:`secret_scope`, except
    a secret that the user's own text (:func:`user_text`) holds: echoing it back reveals nothing."""
    text = _URL_PASSWORD.sub(lambda m: f"{m['scheme']}{m['user']}:***@", str(text))
    typed = _user_texts.get()
    for secret in sorted(_process_secrets | _scoped_secrets.get(), key=len, reverse=True):
        if any(secret in t for t in typed):
            continue
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
