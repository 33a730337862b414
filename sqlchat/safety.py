"""The first lock: only one read-only query, judged on its parse tree, ever leaves here.

:func:`check_sql` parses the model's SQL with sqlglot, refuses anything that is not a
single read-only query (by node type and by function name, never by keywords in the raw
text), turns SQLite-style ``"double quoted"`` strings into real string literals,
transpiles to the target dialect, adds a ``LIMIT`` and then re-parses and re-checks
the text it will actually send. The database session is read-only as well
(:mod:`sqlchat.execution`); this check is what keeps bad SQL from reaching it at all.

Refusals raise :class:`~sqlchat.errors.UnsafeSQL`. SQL that cannot be parsed raises its
subclass :class:`~sqlchat.errors.InvalidSQL`, so a caller can tell "the model wrote
nonsense" (retry, show a parse error) from "the model wrote something dangerous".
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import sqlglot
from sqlglot import exp
from sqlglot.dialects.mysql import MySQL
from sqlglot.errors import SqlglotError

from sqlchat.corrections.quoted_strings import quoted_words_to_strings
from sqlchat.errors import InvalidSQL, UnsafeSQL, user_text
from sqlchat.governance.access import AccessPolicy, enforce

if TYPE_CHECKING:
    from sqlchat.schema.names import Spelling

__all__ = ["CheckedSQL", "InvalidSQL", "UnsafeSQL", "check_sql", "find_unsafe"]

READ_ONLY_PREFIX = "Only read-only SELECT queries can run: "
MAX_SIZE_ARGUMENT = 1_000_000  # bytes/characters a blob or padding function may build
# Longer text is refused before parsing: a 6.9 MB statement spent 36 s and 2.2 GB in the parser.
MAX_SQL_CHARS = 50_000

# Node types that change data, schema, files, settings or locks, with the words a user reads.
_WRITE_NODES: dict[str, str] = {
    "Insert": "this statement would INSERT rows",
    "Update": "this statement would UPDATE rows",
    "Delete": "this statement would DELETE rows",
    "Merge": "this statement would MERGE rows into a table",
    "Create": "this statement would CREATE a database object",
    "Drop": "this statement would DROP a database object",
    "Alter": "this statement would ALTER a database object",
    "AlterColumn": "this statement would ALTER a table",
    "RenameTable": "this statement would RENAME a table",
    "TruncateTable": "this statement would empty a table (TRUNCATE)",
    "Into": "SELECT ... INTO would write its result into a table, file or variable",
    "Lock": "SELECT ... FOR UPDATE/SHARE would lock rows",
    "Copy": "COPY would read or write files on the server",
    "LoadData": "LOAD DATA would read a file into a table",
    "Pragma": "PRAGMA would read or change database settings",
    "Attach": "ATTACH would open another database file",
    "Detach": "DETACH would close a database",
    "Set": "SET would change a session setting",
    "SetItem": "SET would change a session setting",
    "Transaction": "it would control the transaction",
    "Commit": "it would COMMIT the transaction",
    "Rollback": "it would ROLLBACK the transaction",
    "Grant": "GRANT would change permissions",
    "Revoke": "REVOKE would change permissions",
    "Use": "USE would switch the database",
    "Kill": "KILL would stop other sessions",
    "Analyze": "ANALYZE would update statistics",
    "Describe": "DESCRIBE is not a query",
    "Show": "SHOW is not a query",
    "Cache": "CACHE would change the database",
    "Uncache": "UNCACHE would change the database",
    "Refresh": "REFRESH would change the database",
    "Returning": "RETURNING belongs to a statement that changes data",
    "Hint": "optimizer hints could override the statement timeout",
    "Placeholder": "it contains a parameter placeholder, which cannot be filled in here",
    "Parameter": "it reads or sets session variables",
    "SessionParameter": "it reads server variables",
    "PropertyEQ": "it assigns a session variable (:=)",
    "Export": "EXPORT would write files",
    "Install": "INSTALL would load code into the database",
    "Declare": "DECLARE is not a query",
}
_WRITE_CLASSES: tuple[type[exp.Expression], ...] = tuple(
    cls for name in _WRITE_NODES if isinstance(cls := getattr(exp, name, None), type)
)
_QUERY_ROOTS = (exp.Select, exp.Union, exp.Intersect, exp.Except)

# Functions refused wherever they appear, in any dialect: sleeping, locking, files,
# other servers, sequences, settings, dynamic SQL, admin actions.
_DENIED_FUNCTIONS = frozenset({
    "sleep", "benchmark", "load_extension", "set_config", "current_setting", "nextval", "setval",
    "currval", "lastval", "next_value_for", "load_file", "sys_exec", "sys_eval", "query_to_xml",
    "query_to_xmlschema", "query_to_xml_and_xmlschema", "cursor_to_xml", "cursor_to_xmlschema",
    "table_to_xml", "table_to_xmlschema", "table_to_xml_and_xmlschema", "schema_to_xml",
    "database_to_xml", "pg_stat_file", "writefile", "readfile", "edit", "fts3_tokenizer",
    "get_lock", "release_lock", "release_all_locks", "is_free_lock", "is_used_lock",
    "master_pos_wait", "source_pos_wait", "master_gtid_wait", "to_file", "pg_notify",
    "xp_cmdshell", "shell", "system", "exec", "execute", "eval", "setseed",
})
_DENIED_PREFIXES = (
    "pg_sleep", "pg_advisory", "pg_try_advisory", "dblink", "lo_", "txid_", "pg_read", "pg_ls_",
    "pg_file", "pg_terminate", "pg_cancel", "pg_reload", "pg_rotate", "pg_promote", "pg_switch",
    "pg_create", "pg_drop", "pg_replication", "pg_logical", "pg_start", "pg_stop", "pg_backup",
    "pg_export", "pg_import", "pg_wal", "pg_xlog", "pg_log", "pg_stat_reset", "pg_current_xact",
    "pg_xact", "pg_snapshot", "pg_visible", "copy_", "read_", "write_", "load_", "sys_", "xp_",
    "pragma_", "sqlite_db", "sqlite_compile", "fts3", "fts4", "fts5", "postgres_fdw",
)
# sqlglot knows several hundred functions as typed nodes (SUM, ROUND, DATE_TRUNC, ...); the
# others come out as ``exp.Anonymous`` and must be on this list of ordinary analytics
# functions. Unknown names (user-defined functions, extensions, look-alike unicode) are refused.
_ALLOWED_ANONYMOUS = frozenset({
    "julianday", "strftime", "date", "time", "datetime", "unixepoch", "printf", "format", "total",
    "quote", "typeof", "hex", "unhex", "unicode", "char", "instr", "glob", "likely", "unlikely",
    "likelihood", "iif", "ifnull", "nullif", "coalesce", "sqlite_version", "octet_length",
    "char_length", "character_length", "bit_length", "now", "age", "date_part", "to_date",
    "to_timestamp", "to_char", "to_number", "make_date", "make_time", "make_timestamp",
    "make_interval", "date_bin", "justify_days", "justify_hours", "justify_interval", "isfinite",
    "timezone", "json_agg", "jsonb_agg", "json_object_agg", "jsonb_object_agg", "json_build_object",
    "jsonb_build_object", "json_build_array", "jsonb_build_array", "to_json", "to_jsonb",
    "row_to_json", "array_to_json", "json_each", "json_tree", "jsonb_each", "json_each_text",
    "jsonb_each_text", "json_array_length", "jsonb_array_length", "json_array_elements",
    "jsonb_array_elements", "json_array_elements_text", "jsonb_array_elements_text",
    "json_object_keys", "jsonb_object_keys", "json_extract_path", "json_extract_path_text",
    "jsonb_extract_path", "jsonb_extract_path_text", "jsonb_typeof", "json_typeof",
    "json_group_array", "json_group_object", "json_quote", "json_valid", "json_type", "json_value",
    "json_query", "json_unquote", "json_contains", "json_keys", "json_length", "json_object",
    "json_array", "json_extract", "json_patch", "json_remove", "json_insert", "json_replace",
    "regexp_matches", "regexp_match", "regexp_split_to_array", "regexp_split_to_table",
    "regexp_instr", "regexp_substr", "regexp_count", "regexp_replace", "regexp_like",
    "weekday", "dayname", "monthname", "dayofweek", "dayofmonth", "dayofyear", "week",
    "weekofyear", "yearweek", "quarter", "last_day", "str_to_date", "date_format", "time_format",
    "timestampdiff", "timestampadd", "datediff", "date_add", "date_sub", "adddate", "subdate",
    "addtime", "subtime", "period_add", "period_diff", "to_days", "from_days", "to_seconds",
    "sec_to_time", "time_to_sec", "unix_timestamp", "from_unixtime", "curdate", "curtime",
    "utc_date", "utc_time", "utc_timestamp", "localtime", "localtimestamp", "sysdate",
    "convert_tz", "makedate", "maketime", "microsecond", "every", "bool_and", "bool_or",
    "cardinality", "array_length", "array_position", "array_positions", "array_remove",
    "array_replace", "array_cat", "array_append", "array_prepend", "array_dims", "array_upper",
    "array_lower", "array_ndims", "array_to_string", "string_to_array", "string_to_table",
    "field", "find_in_set", "elt", "locate", "position", "strpos", "mid", "lcase", "ucase",
    "insert", "space", "soundex", "difference", "similarity", "levenshtein", "initcap", "btrim",
    "split_part", "chr", "ascii", "ord", "bin", "oct", "conv", "crc32", "md5", "sha", "sha1",
    "sha2", "to_hex", "encode", "decode", "translate", "concat_ws", "lpad", "rpad", "repeat",
    "reverse", "left", "right", "width_bucket", "log2", "cot", "trunc", "truncate", "div",
    "random", "rand", "uuid", "gen_random_uuid", "percentile_cont", "percentile_disc", "mode",
    "median", "stddev", "variance", "var_pop", "var_samp", "stddev_pop", "stddev_samp", "std",
    "regr_slope", "regr_intercept", "regr_r2", "regr_count", "covar_pop", "covar_samp", "corr",
    "bit_count", "bit_and", "bit_or", "bit_xor", "group_concat", "string_agg", "array_agg",
    "listagg", "any_value", "first", "last", "pi", "degrees", "radians", "sign", "atan2", "atn2",
    "num_nonnulls", "num_nulls", "greatest", "least", "version", "current_database",
    "current_schema", "database", "schema", "generate_series", "unnest", "date_trunc", "extract",
    "substring_index", "strftime_utc", "epoch", "ceiling", "power", "pow", "exp", "ln", "log",
    "log10", "sqrt", "cbrt", "factorial", "gcd", "lcm", "mod", "round", "floor", "ceil", "abs",
    "zeroblob", "randomblob", "format_number", "to_base64", "from_base64", "inet_aton",
    "inet_ntoa", "age_in_days", "isnull", "isodow", "isoyear", "dow", "doy",
})
_SIZE_FUNCTIONS = frozenset({"randomblob", "zeroblob", "repeat", "lpad", "rpad", "space", "replicate", "pad"})
# Relations holding credentials or other sessions' SQL text.
_DENIED_RELATIONS = frozenset({
    "pg_authid", "pg_shadow", "pg_user_mapping", "pg_user_mappings", "pg_hba_file_rules",
    "pg_file_settings", "pg_largeobject", "pg_largeobject_metadata", "pg_stat_activity",
    "pg_ident_file_mappings",
})
# System catalogues: foreign-server passwords (information_schema.user_mapping_options), other sessions'
# SQL (information_schema.INNODB_TRX), users. A question about the business never needs them.
_DENIED_SCHEMAS = frozenset({"mysql", "performance_schema", "sys", "information_schema", "pg_catalog", "pg_toast"})
_SYSTEM_PREFIXES = ("sqlite_",)  # SQLite's own tables (sqlite_master, sqlite_stat1, ...) in every dialect
_POSTGRES_SYSTEM_PREFIXES = ("pg_",)  # pg_catalog is on PostgreSQL's search path: pg_user_mappings unqualified
_PARAMETER_SIGILS = frozenset("$:@?")


@dataclass(frozen=True)
class CheckedSQL:
    """SQL that passed the check: transpiled to ``dialect``, LIMIT added if it had none."""

    sql: str
    dialect: str
    limit_added: bool


def check_sql(sql: str, dialect: str, **options: Any) -> CheckedSQL:
    """Return ``sql`` as one safe, read-only statement in ``dialect``, or raise UnsafeSQL (:func:`_check_sql`
    says how). Messages echo the user's SQL unmasked (:func:`sqlchat.errors.user_text`)."""
    with user_text(sql if isinstance(sql, str) else None):
        return _check_sql(sql, dialect, **options)


def _check_sql(
    sql: str,
    dialect: str,
    *,
    row_limit: int | None = 1000,
    source_dialect: str = "sqlite",
    known_columns: Iterable[str] | None = None,
    names: Spelling | None = None,
    access: AccessPolicy | None = None,
) -> CheckedSQL:
    """Return ``sql`` as one safe, read-only statement in ``dialect``, or raise UnsafeSQL.

    ``known_columns`` (optional) names the schema's columns, so a SQLite-style
    ``"double quoted"`` word that is really a column is not turned into a string.
    ``names`` (optional, :func:`sqlchat.schema.names.database_spelling`) writes every table and
    column reference as the database spells it, quoted where ``dialect`` needs it.
    ``access`` (a named connection's rules, :mod:`sqlchat.governance.access`) refuses a query reading
    a hidden table or column and narrows its stars to the visible columns.
    Raises :class:`InvalidSQL` (a subclass of UnsafeSQL) when the text cannot be parsed.
    """
    if isinstance(sql, str) and len(sql) > MAX_SQL_CHARS:
        raise UnsafeSQL(f"The SQL is too long to check ({len(sql):,} characters; at most {MAX_SQL_CHARS:,}), "
                        "so it was not run.")
    tree, read = _parse_one(sql, dialect, source_dialect)
    _refuse_unsafe(tree, dialect)
    if read == "sqlite":
        quoted_words_to_strings(tree, known_columns or ())
    if names is not None:
        names.respell(tree)
    tree = _values_to_select(_unwrap(tree))
    if access is not None:
        enforce(tree, access, dialect=dialect)
    tree, limit_added = _with_limit(tree, row_limit)
    text = _render(tree, dialect)
    _recheck(text, dialect, access)
    return CheckedSQL(sql=text, dialect=dialect, limit_added=limit_added)


def find_unsafe(tree: exp.Expression, dialect: str | None = None) -> str | None:
    """The reason ``tree`` is not a safe read-only query, or None when it is."""
    root = _unwrap(tree)
    if not _is_query_root(root):
        return _root_reason(root)
    for node in root.walk():
        reason = _node_reason(node, dialect)
        if reason:
            return reason
    return None


# -- parsing -------------------------------------------------------------------------


def _parse_one(sql: str, dialect: str, source_dialect: str) -> tuple[exp.Expression, str]:
    """Parse with the training dialect first, then the target; exactly one statement allowed."""
    if not isinstance(sql, str) or not sql.strip():
        raise InvalidSQL("There is no SQL to run.")
    if "\x00" in sql:
        raise InvalidSQL("The SQL could not be understood: it contains a NUL character.")
    errors: list[str] = []
    for read in dict.fromkeys([source_dialect, dialect]):
        try:
            statements = [s for s in _quiet_parse(sql, read) if s is not None]
        except (SqlglotError, ValueError, RecursionError, TypeError, KeyError, AttributeError) as exc:
            errors.append(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
            continue
        return _single(statements), read
    raise InvalidSQL("The SQL could not be understood, so it was not run.", detail="; ".join(errors))


def _quiet_parse(sql: str, read: str) -> list[exp.Expression | None]:
    """sqlglot logs a warning for every statement it only half understands; we judge those ourselves."""
    logger = logging.getLogger("sqlglot")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        return sqlglot.parse(sql, read=read)
    finally:
        logger.setLevel(level)


def _single(statements: list[exp.Expression]) -> exp.Expression:
    if not statements:
        raise InvalidSQL("There is no SQL to run.")
    if len(statements) > 1:
        raise UnsafeSQL(
            f"Only one statement can run at a time: this text contains {len(statements)} statements."
        )
    return statements[0]


# -- the judgement -------------------------------------------------------------------


def _refuse_unsafe(tree: exp.Expression, dialect: str | None) -> None:
    reason = find_unsafe(tree, dialect)
    if reason:
        raise UnsafeSQL(READ_ONLY_PREFIX + reason + ".")


def _unwrap(tree: exp.Expression) -> exp.Expression:
    """``((SELECT 1))`` is the query ``SELECT 1``: peel off bare parentheses."""
    while isinstance(tree, (exp.Subquery, exp.Paren)) and not tree.alias and not _has_limit(tree):
        inner = tree.this
        if not isinstance(inner, exp.Expression):
            break
        tree = inner
    return tree


def _is_query_root(root: exp.Expression) -> bool:
    if isinstance(root, _QUERY_ROOTS):
        return True
    if isinstance(root, exp.Subquery):
        return _is_query_root(_unwrap(root.this))
    return isinstance(root, exp.Values) and _is_trivial_values(root)


def _is_trivial_values(values: exp.Values) -> bool:
    """A bare VALUES list is allowed only when it holds nothing but constants."""
    allowed = (exp.Values, exp.Tuple, exp.Literal, exp.Null, exp.Boolean, exp.Neg, exp.Paren)
    return all(isinstance(node, allowed) for node in values.walk())


def _root_reason(root: exp.Expression) -> str:
    """Why a statement that is not a query is refused, in the user's words."""
    for node in root.walk():
        reason = _WRITE_NODES.get(type(node).__name__)
        if reason:
            return reason
    if isinstance(root, exp.Command):
        keyword = str(root.this or "").strip().split(" ")[0].upper() or "this"
        return f"this is a {keyword} command, not a query"
    if isinstance(root, exp.Values):
        return "a bare VALUES list may only contain constants"
    keyword = type(root).__name__.upper()
    return f"this is a {keyword} statement, not a query"


def _node_reason(node: exp.Expression, dialect: str | None) -> str | None:
    """Why one node of an otherwise query-shaped tree is refused, or None."""
    if any(str(c).lstrip().startswith(("!", "+")) for c in node.comments or ()):
        return "it contains an executable comment or optimizer hint (/*! */, /*+ */)"
    if isinstance(node, exp.Identifier) and not node.quoted and str(node.this)[:1] in _PARAMETER_SIGILS:
        return "it contains a parameter placeholder, which cannot be filled in here"
    if isinstance(node, _WRITE_CLASSES):
        return _WRITE_NODES[type(node).__name__]
    if isinstance(node, exp.Command):
        keyword = str(node.this or "").strip().split(" ")[0].upper()
        return f"it contains a {keyword} command"
    if isinstance(node, exp.Func):
        return _function_reason(node)
    if isinstance(node, exp.Table):
        return _table_reason(node, dialect)
    return None


def _function_name(func: exp.Func) -> str:
    """The name a database would call: the written name for unknown functions."""
    if isinstance(func, exp.Anonymous):
        return str(func.name or "").lower()
    return func.sql_name().lower()


def _is_denied(name: str) -> bool:
    bare = name.rsplit(".", 1)[-1]
    return bare in _DENIED_FUNCTIONS or bare.startswith(_DENIED_PREFIXES)


def _function_reason(func: exp.Func) -> str | None:
    name = _function_name(func)
    if _is_denied(name):
        return f"it calls {name.upper()}(), which is not allowed"
    if isinstance(func, (exp.Anonymous, exp.AnonymousAggFunc)) and name not in _ALLOWED_ANONYMOUS:
        return f"the function {name.upper()}() is not on the list of allowed functions"
    if name in _SIZE_FUNCTIONS and _has_huge_argument(func):
        return f"{name.upper()}() with a size above {MAX_SIZE_ARGUMENT:,} would exhaust memory"
    return None


def _has_huge_argument(func: exp.Func) -> bool:
    for arg in func.iter_expressions():
        if isinstance(arg, exp.Literal) and not arg.is_string:
            try:
                if abs(float(arg.this)) > MAX_SIZE_ARGUMENT:
                    return True
            except ValueError:
                return True
    return False


def _table_reason(table: exp.Table, dialect: str | None) -> str | None:
    name, schema = table.name.lower(), table.db.lower()
    if schema in _DENIED_SCHEMAS or name in _DENIED_RELATIONS or _is_system_relation(name, dialect):
        return (f"it reads {'.'.join(filter(None, [schema, name]))}, a system catalogue, which can hold "
                "credentials or other sessions' data")
    if dialect == "duckdb" and ("/" in name or "\\" in name or "." in name):
        return "it reads a file directly"
    return None


def _is_system_relation(name: str, dialect: str | None) -> bool:
    """SQLite's internal tables anywhere; on PostgreSQL (or any dialect, when unknown) pg_* relations."""
    prefixes = _SYSTEM_PREFIXES + (_POSTGRES_SYSTEM_PREFIXES if dialect in (None, "postgres") else ())
    return name.startswith(prefixes)


# -- rewriting -----------------------------------------------------------------------


def _values_to_select(tree: exp.Expression) -> exp.Expression:
    """Rewrite a constant ``VALUES`` list as ``SELECT ... UNION ALL SELECT ...``.

    Not every dialect reads a bare VALUES (MySQL wants ``VALUES ROW(...)``); the UNION
    form runs everywhere, with the ``column1, column2`` names SQLite and PostgreSQL give.
    """
    if not isinstance(tree, exp.Values):
        return tree
    selects = [
        exp.select(*(exp.alias_(value.copy(), f"column{i + 1}") for i, value in enumerate(_row_values(row))))
        for row in tree.expressions
    ]
    query = selects[0]
    for select in selects[1:]:
        query = exp.union(query, select, distinct=False)
    return query


def _row_values(row: exp.Expression) -> list[exp.Expression]:
    return list(row.expressions) if isinstance(row, exp.Tuple) else [row]


def _has_limit(node: exp.Expression) -> bool:
    return bool(node.args.get("limit") or node.args.get("fetch"))


def _with_limit(tree: exp.Expression, row_limit: int | None) -> tuple[exp.Expression, bool]:
    """Add ``LIMIT row_limit`` to the outermost query when it has none."""
    if row_limit is None or _has_limit(tree) or not isinstance(tree, _QUERY_ROOTS):
        return tree, False
    if int(row_limit) < 0:
        raise ValueError("row_limit must be zero or more")
    return tree.limit(int(row_limit), copy=False), True


class _MariaDBSafe(MySQL):
    """MySQL output that MariaDB runs too: ``x REGEXP y`` (MariaDB has no ``REGEXP_LIKE``)."""

    class Generator(MySQL.Generator):
        TRANSFORMS = {
            **MySQL.Generator.TRANSFORMS,
            exp.RegexpLike: lambda self, e: (self.binary(e, "REGEXP") if not e.args.get("flag")
                                             else self.function_fallback_sql(e)),
        }


def _column_aliases_into_selects(tree: exp.Expression) -> exp.Expression:
    """``(SELECT 1, 2) AS a(x, y)`` as ``(SELECT 1 AS x, 2 AS y) AS a``: sqlglot drops the list for SQLite."""
    for alias in list(tree.find_all(exp.TableAlias)):
        columns = alias.args.get("columns")
        if columns and isinstance(alias.parent, exp.Values):
            _values_as_aliased_selects(alias.parent, [c.name for c in columns])
            continue
        inner = alias.parent.this if isinstance(alias.parent, exp.Subquery) else None
        if not columns or not isinstance(inner, exp.Select) or len(inner.expressions) != len(columns):
            continue
        if any(isinstance(e, exp.Star) or isinstance(getattr(e, "this", None), exp.Star) for e in inner.expressions):
            continue
        inner.set("expressions", [exp.alias_(e.unalias(), c.name) for e, c in zip(inner.expressions, columns)])
        alias.set("columns", None)
    return tree


def _values_as_aliased_selects(values: exp.Values, names: list[str]) -> None:
    """``(VALUES (1, 2)) AS a(x, y)`` as ``(SELECT 1 AS x, 2 AS y UNION ALL ...) AS a``."""
    rows = [_row_values(row) for row in values.expressions]
    if not rows or any(len(row) != len(names) for row in rows):
        return
    selects = [exp.select(*[exp.alias_(v.copy(), n) for v, n in zip(row, names)]) for row in rows]
    union = selects[0]
    for select in selects[1:]:
        union = exp.union(union, select, distinct=False)
    values.replace(exp.Subquery(this=union, alias=exp.TableAlias(this=values.args["alias"].this.copy())))


def _render(tree: exp.Expression, dialect: str) -> str:
    """Generate the target dialect's text, without comments (MySQL runs ``/*! ... */``)."""
    try:
        if dialect in ("sqlite", "mysql"):  # neither takes a derived table's column list (MariaDB 10)
            tree = _column_aliases_into_selects(tree)
        return tree.sql(dialect=_MariaDBSafe() if dialect == "mysql" else dialect, comments=False)
    except (SqlglotError, ValueError, KeyError, TypeError) as exc:
        raise InvalidSQL(
            f"The SQL could not be translated for this {dialect} database.", detail=str(exc)
        ) from exc


def _recheck(text: str, dialect: str, access: AccessPolicy | None = None) -> None:
    """Judge the text that will be sent, as the target dialect reads it (access rules included)."""
    try:
        statements = [s for s in _quiet_parse(text, dialect) if s is not None]
    except (SqlglotError, ValueError, RecursionError, TypeError, KeyError, AttributeError) as exc:
        raise InvalidSQL(
            f"The SQL could not be translated for this {dialect} database.", detail=str(exc)
        ) from exc
    tree = _single(statements)
    _refuse_unsafe(tree, dialect)
    if access is not None:
        enforce(tree, access, rewrite_stars=False, dialect=dialect)
