"""All of sqlchat's settings, in one typed place.

Flags, environment variables and the app's sidebar all end up in a
:class:`Settings`; nothing else in the package reads ``os.environ``.

Environment variables (all optional):

``SQLCHAT_BACKEND``      ``local`` (default) or ``openai``
``SQLCHAT_MODEL``        an embedded model's short name (``qwen2.5-coder-1.5b``, ``qwen2.5-coder-0.5b``,
                         ``smollm2-135m``), a ``.gguf`` file, an HF folder or id; default: see ``sqlchat models``
``SQLCHAT_ADAPTER``      adapter (PEFT folder, or GGUF LoRA for llama.cpp), ``none`` for the bare model;
                         default: the project's published adapter for the model, if there is one
``SQLCHAT_BASE_URL``     OpenAI-compatible endpoint, e.g. ``http://gpu-box:8000/v1``
``SQLCHAT_API_KEY``      API key for that endpoint (``OPENAI_API_KEY`` is read too)
``SQLCHAT_OPENAI_API``   ``completions`` (default: the prompt rendered here) or ``chat`` (``/chat/completions``)
``SQLCHAT_PROMPT_STYLE`` ``chat`` (default: the model's chat template) or ``seed`` (plain SYSTEM/USER/ASSISTANT
                         text), for models the engine cannot ask (a server, a folder)
``SQLCHAT_THREADS``      llama.cpp threads (default: all cores)
``SQLCHAT_PREFIX_STATES`` llama.cpp cache states kept of the last schema prefixes, so a question on tables asked
                         about before skips reading them (default 8; 0: only the last prompt's cache)
``SQLCHAT_CANDIDATES``   how many SQL candidates to generate (execution-guided choice)
``SQLCHAT_RETRY_CANDIDATES`` when none of them gives an informative answer, how many to ask for once more (0: never)
``SQLCHAT_CACHE_DIR``    where the converted embedded model is cached (default ``~/.cache/sqlchat``)
``SQLCHAT_ROW_LIMIT``    LIMIT added to queries that have none
``SQLCHAT_TIMEOUT``      statement timeout in seconds
``SQLCHAT_SCHEMA_TOKENS`` how many tokens of CREATE TABLE context the model gets at most
``SQLCHAT_SCHEMA_FOCUS`` ``1``: only the tables the question mentions (and those joining them); ``0``: all that fit
``SQLCHAT_MENTIONS``     ``1``: find where the question's names are stored and tell the model (``Employee.FirstName =
                         'Jane'``); ``0``: the schema alone
``SQLCHAT_SAMPLES``      ``1``: show the model a few stored values of the prompt's text and date columns (the data's
                         spellings and dates); ``0``: names and types only (no stored value reaches the model server)
``SQLCHAT_READABLE_RESULTS`` ``1``: add name and measure columns to answers; ``0``: the model's columns only
``SQLCHAT_PREFER_INFORMATIVE`` ``1``: among candidates that run, take the first whose result is not empty/all 0 or NULL; ``0``: the first that runs
``SQLCHAT_LINK_VALUES``  ``1``: compare with the stored spelling of a value (``'rock'`` -> ``'Rock'``); ``0``: as written
``SQLCHAT_SECRETS``     the operator's secrets file (named connections, ``[sqlchat]`` policy flags, ``[auth]``);
                         default ``./.streamlit/secrets.toml`` (see :mod:`sqlchat.governance.deployment`)
``SQLCHAT_COMPARE_CANDIDATES`` most candidates run to compare results (confidence, "Did you mean")
``SQLCHAT_DECLINE``      ``1``: decline questions the schema cannot answer; ``0``: always answer
``SQLCHAT_DOUBT_CANDIDATES`` sampled candidates compared with an answer the model was unsure of (0: never)
``SQLCHAT_CONVERSATION_TURNS`` how many earlier turns of a conversation a follow-up shows the model (0: every
                         question stands alone)
``SQLCHAT_READ_AHEAD``   ``1``: after each answer, the model reads the start a follow-up's prompt would have (the
                         schema, the conversation so far) while the user reads the answer; ``0``: not
``SQLCHAT_HISTORY_URL``  verified answers and question log: a SQLAlchemy URL (PostgreSQL, shared by
                         several app instances) or a file; default ``~/.cache/sqlchat/history.sqlite``
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from sqlchat.errors import ConfigError

PACKAGE_DIR = Path(__file__).resolve().parent
DEMO_DIR = PACKAGE_DIR / "demo"
DEMO_DATABASES: dict[str, Path] = {
    "Chinook (music store)": DEMO_DIR / "chinook.sqlite",
    "Northwind (food trading)": DEMO_DIR / "northwind.sqlite",
}
DEFAULT_HISTORY_PATH = Path("~/.cache/sqlchat/history.sqlite").expanduser()
DEFAULT_SECRETS_PATH = Path(".streamlit/secrets.toml")  # Streamlit's own place, relative to where it runs
NO_ADAPTER = "none"
ADAPTER_FILES = ("adapter_config.json", "adapter.gguf")  # a PEFT adapter, or a GGUF LoRA for llama.cpp


@dataclass(frozen=True)
class ModelConfig:
    """Which model writes the SQL, and how."""

    backend: str = "local"  # "local" (llama.cpp or transformers, in-process) or "openai" (OpenAI-compatible HTTP)
    model: str | None = None  # None: the default embedded model (sqlchat.models.registry.DEFAULT_MODEL)
    adapter: str | None = None  # None: the project's published adapter for the model, if any; "none": the bare model
    base_url: str | None = None
    api_key: str | None = field(default=None, repr=False)
    openai_api: str = "completions"  # or "chat": /chat/completions with messages (Ollama, hosted services)
    prompt_style: str = "chat"  # for models the engine cannot ask: "chat" (ChatML) or "seed" (plain text)
    threads: int | None = None  # llama.cpp threads for reading and writing; None: every usable core
    context_tokens: int = 4096  # llama.cpp context window
    # llama.cpp: cache states kept of the last schema prefixes (about 11 MB for 400 tokens of the 1.5B; 0: none). 16, not
    # 8: the held-out suite reads 39 % fewer prompt tokens with 16 and partial starts (docs/benchmarks.md, "Speed").
    prefix_states: int = 16
    num_candidates: int = 1
    # When no candidate gives an informative answer (all fail, or come back empty / 0 / NULL), ask once
    # more for this many by beam search; the extra latency is paid only by such questions. 0: never.
    retry_candidates: int = 3
    max_new_tokens: int = 160
    request_timeout_s: float = 60.0
    cache_dir: Path = Path("~/.cache/sqlchat").expanduser()

    def adapter_path(self, spec=None) -> str | None:
        """The adapter to load: ``none`` is none; unset is ``spec``'s published adapter when it has one.

        ``spec`` is the embedded model's :class:`~sqlchat.models.registry.ModelSpec` (None for a file or
        folder of the user's, which has no default adapter).
        """
        if self.adapter is None:
            folder = getattr(spec, "adapter_dir", None)
            return str(folder) if folder is not None and any((folder / f).exists() for f in ADAPTER_FILES) else None
        if self.adapter.lower() == NO_ADAPTER:
            return None
        return self.adapter


@dataclass(frozen=True)
class ExecutionConfig:
    """How generated SQL is run."""

    row_limit: int = 1000  # added as LIMIT when a query has none
    max_rows: int = 10_000  # hard cap on rows fetched, whatever the query says
    # Caps on what a result may hold in memory: its total size, and one value (cut beyond, with a note).
    max_result_bytes: int = 32_000_000
    max_cell_bytes: int = 1_000_000
    statement_timeout_s: float = 10.0
    # Show the name beside an id shown alone, and the measure a ranking is ordered by (sqlchat.corrections.readable).
    readable_results: bool = True
    # Execution-guided choice takes the first candidate whose result is informative (some value not NULL,
    # 0 or ''); an empty result or a count of 0 only when no candidate does better, since it is also
    # what a wrong filter returns.
    prefer_informative: bool = True
    # A string its column lacks is replaced by the one stored value equal to it ignoring case
    # (sqlchat.corrections.values).
    link_values: bool = True


@dataclass(frozen=True)
class SchemaConfig:
    """How much schema goes into the prompt."""

    token_budget: int = 1200  # approximate tokens of CREATE TABLE context
    include_keys: bool = False  # PRIMARY/FOREIGN KEY clauses; the training contexts have none
    focus: bool = True  # send only the tables the question mentions, and those joining them (Spider dev: 23 % -> 29 % EX)
    mentions: bool = True  # find where the question's names are stored, show it and send those tables (sqlchat.schema.mentions)
    mentions_budget_s: float = 1.0  # seconds all of one question's value look-ups may take
    # Show a few stored values of the prompt's text and date columns (sqlchat.schema.samples): the data's spellings
    # and dates. Read once per connection and column, within ``samples_budget_s`` per question.
    samples: bool = True
    samples_budget_s: float = 2.0


@dataclass(frozen=True)
class TrustConfig:
    """How sure an answer is, which other answers are offered, and when a question is declined.

    The confidence rule (``sqlchat.answers.trust.decide``) reads only these numbers and signals stored with
    each answer, so a stored run (``benchmarks/bench_trust.py --json``) can be re-scored under other
    thresholds without the model.
    """

    compare_candidates: int = 4  # most candidates run to compare their results (agreement, alternatives)
    preview_rows: int = 5  # rows kept of each alternative answer
    max_alternatives: int = 3  # distinct other answers offered when unsure
    high_agreement: float = 0.6  # share of compared candidates with the chosen result needed for "high"
    low_agreement: float = 0.5  # at or below this share (2+ compared) the answer is "low": half the candidates disagree
    high_logprob: float = -0.15  # mean log-probability per token at or above which the model is sure
    low_logprob: float = -0.6  # below this the answer is "low"
    retry_is_low: bool = True  # the first candidates found nothing informative: "low"
    # "high" needs evidence (2+ candidates agreeing, or a known log-probability); else "medium" at best.
    high_needs_evidence: bool = True
    decline: bool = True  # decline questions the data cannot answer (``sqlchat eval --engine-only`` turns this off)
    model_decline_share: float = 0.5  # decline when at least this share of the model's first answers say it cannot
    # The model's first answer read a table or column no table has, in every form the repairs make of it
    # (``Employee.Salary``; a column another table has is a join it left out, not missing data): "first" declines at
    # once (no retry), "failed" only when no candidate ran either, "never" does not decline on it. Chosen on the
    # held-out suite and checked on Spider and the business set (docs/benchmarks.md, "Declining").
    decline_invented: str = "first"
    # The doubt check: when the one answer's least likely token is below ``doubt_logprob`` (an unsure choice of a
    # column, a table, a join), ``doubt_candidates`` sampled candidates are run beside it and their results compared.
    # The answer stays the same; only its confidence and the alternatives offered can change. 0: never.
    doubt_candidates: int = 2
    doubt_logprob: float = -1.1  # business set, Qwen2.5-Coder-1.5B: 15 of 79 answers checked (docs/benchmarks.md)


@dataclass(frozen=True)
class ConversationConfig:
    """How a follow-up question builds on the conversation before it (``sqlchat.conversation``)."""

    # The most recent earlier turns (question and SQL) the prompt shows; 0: each question stands alone
    # (the baseline the conversation benchmark compares with).
    turns: int = 3
    # After an answer, read the start of the next follow-up's prompt (its schema and earlier turns) into the model's
    # cache while the user reads the answer, so a follow-up reads only its own question (``pipeline.read_ahead``).
    read_ahead: bool = True


@dataclass(frozen=True)
class Settings:
    model: ModelConfig = ModelConfig()
    execution: ExecutionConfig = ExecutionConfig()
    schema: SchemaConfig = SchemaConfig()
    trust: TrustConfig = TrustConfig()
    conversation: ConversationConfig = ConversationConfig()
    history_url: str | None = field(default=None, repr=False)  # None: DEFAULT_HISTORY_PATH; may hold a password
    secrets_path: Path = DEFAULT_SECRETS_PATH  # named connections and policy flags (sqlchat.governance.deployment)
    mcp_token: str | None = field(default=None, repr=False)  # `sqlchat mcp --http`: the bearer token clients must send

    @property
    def history_target(self) -> str:
        """Where the history store lives: ``history_url``, else the default SQLite file."""
        return self.history_url or str(DEFAULT_HISTORY_PATH)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "Settings":
        """Build settings from ``SQLCHAT_*`` environment variables over the defaults."""
        env = os.environ if env is None else env
        model = ModelConfig(
            backend=env.get("SQLCHAT_BACKEND", "local"),
            model=env.get("SQLCHAT_MODEL") or None,
            adapter=env.get("SQLCHAT_ADAPTER") or None,
            base_url=env.get("SQLCHAT_BASE_URL") or None,
            api_key=env.get("SQLCHAT_API_KEY") or env.get("OPENAI_API_KEY") or None,
            openai_api=env.get("SQLCHAT_OPENAI_API") or ModelConfig.openai_api,
            prompt_style=env.get("SQLCHAT_PROMPT_STYLE") or ModelConfig.prompt_style,
            threads=_number(env, "SQLCHAT_THREADS", None),
            prefix_states=_number(env, "SQLCHAT_PREFIX_STATES", ModelConfig.prefix_states),
            num_candidates=_number(env, "SQLCHAT_CANDIDATES", 1),
            retry_candidates=_number(env, "SQLCHAT_RETRY_CANDIDATES", ModelConfig.retry_candidates),
            cache_dir=Path(env.get("SQLCHAT_CACHE_DIR", "~/.cache/sqlchat")).expanduser(),
        )
        execution = ExecutionConfig(
            row_limit=_number(env, "SQLCHAT_ROW_LIMIT", ExecutionConfig.row_limit),
            statement_timeout_s=_number(env, "SQLCHAT_TIMEOUT", ExecutionConfig.statement_timeout_s, float),
            readable_results=_flag(env, "SQLCHAT_READABLE_RESULTS", ExecutionConfig.readable_results),
            prefer_informative=_flag(env, "SQLCHAT_PREFER_INFORMATIVE", ExecutionConfig.prefer_informative),
            link_values=_flag(env, "SQLCHAT_LINK_VALUES", ExecutionConfig.link_values),
        )
        schema = SchemaConfig(
            token_budget=_number(env, "SQLCHAT_SCHEMA_TOKENS", SchemaConfig.token_budget),
            focus=_flag(env, "SQLCHAT_SCHEMA_FOCUS", SchemaConfig.focus),
            mentions=_flag(env, "SQLCHAT_MENTIONS", SchemaConfig.mentions),
            samples=_flag(env, "SQLCHAT_SAMPLES", SchemaConfig.samples),
        )
        trust = TrustConfig(
            compare_candidates=_number(env, "SQLCHAT_COMPARE_CANDIDATES", TrustConfig.compare_candidates),
            decline=_flag(env, "SQLCHAT_DECLINE", TrustConfig.decline),
            doubt_candidates=_number(env, "SQLCHAT_DOUBT_CANDIDATES", TrustConfig.doubt_candidates),
        )
        conversation = ConversationConfig(
            turns=_number(env, "SQLCHAT_CONVERSATION_TURNS", ConversationConfig.turns),
            read_ahead=_flag(env, "SQLCHAT_READ_AHEAD", ConversationConfig.read_ahead),
        )
        return cls(model=model, execution=execution, schema=schema, trust=trust, conversation=conversation,
                   history_url=env.get("SQLCHAT_HISTORY_URL") or None,
                   secrets_path=Path(env.get("SQLCHAT_SECRETS") or DEFAULT_SECRETS_PATH).expanduser(),
                   mcp_token=(env.get("SQLCHAT_MCP_TOKEN") or "").strip() or None)

    def with_model(self, **changes) -> "Settings":
        """A copy with some model settings changed (flags over environment)."""
        changes = {k: v for k, v in changes.items() if v is not None}
        return replace(self, model=replace(self.model, **changes))


def _number(env: Mapping[str, str], name: str, default: Any, kind: type = int) -> Any:
    """A whole number (or, with ``kind=float``, any number); unset or empty keeps ``default``."""
    value = env.get(name)
    if value is None or not value.strip():
        return default
    try:
        return kind(value.strip())
    except ValueError:
        what = "a whole number" if kind is int else "a number"
        raise ConfigError(f"{name} must be {what}, not {value!r}.") from None


def _flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    """``1/true/yes/on`` or ``0/false/no/off`` (any case); unset or empty keeps ``default``."""
    value = env.get(name)
    if not value:
        return default
    lowered = value.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ConfigError(f"{name} must be 1 or 0, not {value!r}.")
