"""The operator's secrets file: named connections and the [sqlchat] policy flags."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from sqlchat.config import DEFAULT_SECRETS_PATH, Settings
from sqlchat.errors import ConfigError, redact
from sqlchat.governance.deployment import Deployment, load_deployment, parse_deployment


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "secrets.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_missing_file_means_no_connections_and_the_default_flags(tmp_path):
    deployment = load_deployment(tmp_path / "nope.toml")
    assert deployment == Deployment()
    assert deployment.connections == {}
    assert (deployment.allow_urls, deployment.allow_uploads, deployment.allow_sqlite_paths) == (True, True, False)
    assert deployment.allow_model_settings is None


def test_the_secrets_path_comes_from_settings():
    assert Settings().secrets_path == DEFAULT_SECRETS_PATH == Path(".streamlit/secrets.toml")
    assert Settings.from_env({"SQLCHAT_SECRETS": "/etc/sqlchat/secrets.toml"}).secrets_path == Path(
        "/etc/sqlchat/secrets.toml")
    assert Settings.from_env({}).secrets_path == DEFAULT_SECRETS_PATH


def test_named_connections_flags_and_rules_are_read(tmp_path):
    path = _write(tmp_path, """
[connections.chinook]
url = "sqlite:///sqlchat/demo/chinook.sqlite"
label = "Chinook (music store)"
description = "Sales of a record shop"
hidden_tables = ["Employee"]
hidden_columns = ["Customer.Email", "Customer.Phone"]
row_limit = 200
timeout = 5

[connections.sales]
url = "postgresql://reporter:pw@db.internal/sales"
visible_tables = ["orders", "products"]
type = "sql"

[auth]
redirect_uri = "http://localhost:8501/oauth2callback"

[sqlchat]
allow_urls = false
allow_uploads = false
allow_sqlite_paths = true
allow_model_settings = false
""")
    deployment = load_deployment(path)
    assert (deployment.allow_urls, deployment.allow_uploads, deployment.allow_sqlite_paths,
            deployment.allow_model_settings) == (False, False, True, False)
    assert deployment.source == path and deployment.auth
    chinook = deployment.connection("chinook")
    assert chinook.title == "Chinook (music store)" and chinook.description == "Sales of a record shop"
    assert chinook.hidden_tables == ("Employee",)
    assert chinook.hidden_columns == ("Customer.Email", "Customer.Phone")
    assert chinook.visible_tables is None and chinook.has_rules
    assert chinook.row_limit == 200 and chinook.timeout == 5.0 and isinstance(chinook.timeout, float)
    sales = deployment.connection("sales")
    assert sales.title == "sales" and sales.visible_tables == ("orders", "products") and sales.has_rules
    assert sales.row_limit is None and sales.timeout is None


def test_the_url_and_its_password_never_appear_in_a_repr(tmp_path):
    deployment = load_deployment(_write(tmp_path, """
[connections.sales]
url = "postgresql://reporter:Zq9-unique-pw@db.internal/sales"
"""))
    assert deployment.connection("sales").url == "postgresql://reporter:Zq9-unique-pw@db.internal/sales"
    assert "Zq9-unique-pw" not in repr(deployment)
    assert "db.internal" not in repr(deployment.connection("sales"))
    assert "Zq9-unique-pw" not in redact("failed: Zq9-unique-pw")  # registered as a secret


def test_a_url_is_built_from_parts_with_special_characters_escaped():
    deployment = parse_deployment({"connections": {"wh": {
        "dialect": "postgresql", "driver": "psycopg", "host": "db.internal", "port": 5433,
        "database": "ware house", "username": "rep", "password": "p@ss:w/rd#1%", "query": {"sslmode": "require"},
    }}})
    url = make_url(deployment.connection("wh").url)
    assert url.drivername == "postgresql+psycopg"
    assert (url.host, url.port, url.database, url.username) == ("db.internal", 5433, "ware house", "rep")
    assert url.password == "p@ss:w/rd#1%"
    assert url.query == {"sslmode": "require"}
    assert "p@ss:w/rd#1%" not in redact("boom p@ss:w/rd#1% boom")


def test_a_sqlite_url_from_parts_has_no_host():
    deployment = parse_deployment({"connections": {"local": {"dialect": "sqlite", "database": "/tmp/x.sqlite"}}})
    assert deployment.connection("local").url == "sqlite:////tmp/x.sqlite"


@pytest.mark.parametrize(("text", "needle"), [
    ("[sqlchat]\nallow_url = false\n", "allow_url"),
    ("[sqlchat]\nallow_urls = 'no'\n", "allow_urls"),
    ("[connections.a]\nurl = 'sqlite:///x.db'\nhidden_colums = ['T.c']\n", "hidden_colums"),
    ("[connections.a]\nurl = 'sqlite:///x.db'\nhidden_columns = ['Email']\n", "Table.Column"),
    ("[connections.a]\nurl = 'sqlite:///x.db'\nhidden_tables = 'Employee'\n", "hidden_tables"),
    ("[connections.a]\nurl = 'sqlite:///x.db'\nhidden_tables = ['public.salaries']\n", "without a schema"),
    ("[connections.a]\nurl = 'sqlite:///x.db'\nhidden_columns = ['public.customers.email']\n", "Table.Column"),
    ("[connections.a]\nurl = 'sqlite:///x.db'\nvisible_tables = ['s.t']\n", "visible_tables"),
    ("[connections.a]\nurl = 'sqlite:///x.db'\nrow_limit = 0\n", "row_limit"),
    ("[connections.a]\nurl = 'sqlite:///x.db'\ntimeout = 'soon'\n", "timeout"),
    ("[connections.a]\nlabel = 'A'\n", "needs a url"),
    ("[connections.a]\nurl = 'sqlite:///x.db'\nhost = 'h'\n", "both url"),
    ("[connections.a]\ndialect = 'postgresql'\nport = '5432'\n", "port"),
    ("[connections]\na = 1\n", "[connections.a]"),
    ("[sqlchat\nallow_urls = false\n", "not valid TOML"),
])
def test_mistakes_are_one_sentence_naming_the_key(tmp_path, text, needle):
    with pytest.raises(ConfigError) as info:
        load_deployment(_write(tmp_path, text))
    assert needle in info.value.message


def test_a_malformed_url_is_refused_without_echoing_it(tmp_path):
    with pytest.raises(ConfigError) as info:
        load_deployment(_write(tmp_path, "[connections.a]\nurl = 'postgresql://u:Secr3tpw@h:notaport/db'\n"))
    assert "malformed" in info.value.message and "Secr3tpw" not in info.value.message


def test_an_unknown_name_lists_the_known_ones():
    deployment = parse_deployment({"connections": {"b": {"url": "sqlite:///b.db"}, "a": {"url": "sqlite:///a.db"}}})
    with pytest.raises(ConfigError, match="'zz' .*known: a, b"):
        deployment.connection("zz")


ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / ".streamlit" / "secrets.example.toml"


def test_the_shipped_example_names_the_demos_and_hides_customer_email(monkeypatch):
    from sqlchat.schema.reflection import reflect_schema
    from sqlchat.sources.named import open_named

    monkeypatch.chdir(ROOT)  # its sqlite: paths are relative to where the app starts
    deployment = load_deployment(EXAMPLE)
    assert list(deployment.connections) == ["chinook", "northwind"] and not deployment.auth
    assert deployment.connection("chinook").hidden_columns == ("Customer.Email",)
    for named in deployment.connections.values():
        db = open_named(named)
        try:
            schema = reflect_schema(db)
            assert len(schema) > 5 and db.display_name == named.title
            if named.name == "chinook":
                assert schema["Customer"].column("Email") is None and schema["Customer"].column("Phone") is not None
        finally:
            db.close()


def test_the_cli_lists_the_examples_connection_by_name(tmp_path):
    import os
    import subprocess
    import sys

    env = {**os.environ, "SQLCHAT_SECRETS": str(EXAMPLE), "SQLCHAT_HISTORY_URL": str(tmp_path / "h.sqlite")}
    result = subprocess.run([sys.executable, "-m", "sqlchat", "schema", "--db", "chinook"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "CREATE TABLE Customer (" in result.stdout and "Email" not in result.stdout.split("CREATE TABLE Customer")[1].split(";")[0]


def test_a_connections_row_limit_and_timeout_replace_the_defaults():
    from sqlchat.governance.deployment import settings_for

    deployment = parse_deployment({"connections": {"a": {"url": "sqlite:///a.db", "row_limit": 50, "timeout": 2.5},
                                                   "b": {"url": "sqlite:///b.db"}}})
    base = Settings()
    limited = settings_for(base, deployment.connection("a")).execution
    assert (limited.row_limit, limited.max_rows, limited.statement_timeout_s) == (50, 50, 2.5)
    assert settings_for(base, deployment.connection("b")) == base and settings_for(base, None) == base
