"""``tibber-tui tokens|migrate|status`` as subprocesses, including every error a user can cause."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tibber_tui.db.connection import database_name, dsn_with_database

TOKEN = "5K4MVS-OjfWhK_4yrjOlFe1F6kJXPVf7eQYggo8ebAE"


def cli(*args: str, database_url: str | None = None, **env: str) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "TEST_DATABASE_URL")}
    full_env["TIBBER_TUI_CONFIG"] = "/nonexistent/config.toml"  # never read the developer's own config
    if database_url is not None:
        full_env["DATABASE_URL"] = database_url
    full_env.update(env)
    return subprocess.run(
        [sys.executable, "-m", "tibber_tui.cli", *args], env=full_env, capture_output=True, text=True, timeout=60
    )


def test_tokens_lifecycle(database_url: str) -> None:
    added = cli("tokens", "add", TOKEN, "--label", "cabin", database_url=database_url)
    assert added.returncode == 0, added.stderr
    assert added.stdout.strip() == f"added token 1 …{TOKEN[-4:]} (cabin), active"

    again = cli("tokens", "add", TOKEN, database_url=database_url)
    assert again.returncode == 1
    assert again.stderr.strip() == f"tibber-tui: token …{TOKEN[-4:]} is already present as id 1"

    second = cli("tokens", "add", "second-token-abcdefgh", "--inactive", database_url=database_url)
    second_id = second.stdout.split()[2]  # "added token <id> ..."; the refused insert used up a sequence value
    listing = cli("tokens", "list", database_url=database_url)
    assert listing.returncode == 0
    lines = listing.stdout.splitlines()
    assert lines[0].split() == ["ID", "TOKEN", "LABEL", "ACTIVE", "STATE", "ADDED"]
    assert lines[1].split()[:4] == ["1", "…" + TOKEN[-4:], "cabin", "yes"]
    assert lines[2].split()[:3] == [second_id, "…efgh", "no"]

    assert cli("tokens", "deactivate", "1", database_url=database_url).stdout.strip().endswith("inactive now")
    assert cli("tokens", "activate", second_id, database_url=database_url).stdout.strip().endswith("active now")
    removed = cli("tokens", "remove", "1", database_url=database_url)
    assert removed.returncode == 0 and removed.stdout.strip() == f"removed token 1 …{TOKEN[-4:]}"

    for action in ("activate", "deactivate", "remove"):
        missing = cli("tokens", action, "1", database_url=database_url)
        assert missing.returncode == 1
        assert missing.stderr.strip() == "tibber-tui: no token with id 1 (see `tibber-tui tokens list`)"

    everything = "".join(
        p.stdout + p.stderr
        for p in (
            listing,
            added,
            again,
            cli("status", database_url=database_url),
            cli("status", "--json", database_url=database_url),
        )
    )
    assert TOKEN not in everything and TOKEN[:-4] not in everything


def test_status_json_shape(database_url: str) -> None:
    cli("tokens", "add", TOKEN, "--label", "cabin", database_url=database_url)
    result = cli("status", "--json", database_url=database_url)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert set(data) == {"generated_at", "schema_version", "tokens", "homes", "loaders", "instances"}
    assert data["tokens"][0]["token"] == "…" + TOKEN[-4:]
    assert set(data["tokens"][0]) == {
        "id",
        "token",
        "label",
        "active",
        "state",
        "reason",
        "lease",
        "home_ids",
        "created_at",
        "updated_at",
    }
    human = cli("status", database_url=database_url)
    assert "tokens (1):" in human.stdout and "cabin" in human.stdout


def test_migrate_and_create_database(database_url: str) -> None:
    assert "up to date (schema version 1)" in cli("migrate", database_url=database_url).stdout
    new_name = database_name(database_url) + "_new"
    new_db = dsn_with_database(database_url, new_name)
    missing = cli("tokens", "list", database_url=new_db)
    assert missing.returncode == 1
    assert missing.stderr.count("\n") == 1
    assert "does not exist" in missing.stderr and "tibber-tui migrate --create-database" in missing.stderr
    created = cli("migrate", "--create-database", database_url=new_db)
    try:
        assert created.returncode == 0, created.stderr
        assert created.stdout.splitlines() == [
            "created the database",
            "applied 1 migration(s): 0001_schema; schema version 1",
        ]
        assert cli("tokens", "list", database_url=new_db).returncode == 0
    finally:
        subprocess.run(
            [
                sys.executable,
                "-c",
                f"import asyncio, asyncpg\nasync def m():\n c = await asyncpg.connect({database_url!r})\n"
                f" await c.execute('DROP DATABASE IF EXISTS \"{new_name}\" WITH (FORCE)')\n"
                " await c.close()\nasyncio.run(m())",
            ],
            check=True,
        )


def test_unreachable_server() -> None:
    result = cli("tokens", "list", database_url="postgresql://postgres:s3cret@127.0.0.1:1/tibber")
    assert result.returncode == 1
    assert result.stderr.startswith("tibber-tui: cannot reach the database server at 127.0.0.1:1")
    assert result.stderr.count("\n") == 1 and "s3cret" not in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("before_command", [True, False], ids=["flag-first", "flag-last"])
def test_database_url_flag_wins_wherever_it_stands(database_url: str, before_command: bool) -> None:
    flag = ["--database-url", "postgresql://postgres:s3cret@127.0.0.1:1/tibber"]
    args = [*flag, "tokens", "list"] if before_command else ["tokens", "list", *flag]
    result = cli(*args, database_url=database_url)  # the environment names a working database: the flag wins
    assert result.returncode == 1
    assert result.stderr.startswith("tibber-tui: cannot reach the database server at 127.0.0.1:1")


def test_bad_credentials(database_url: str) -> None:
    bad = database_url.replace("postgresql://postgres", "postgresql://no_such_user:hunter22", 1)
    if "@" not in bad:
        bad = bad.replace("postgresql://", "postgresql://no_such_user:hunter22@", 1)
    result = cli("status", database_url=bad)
    assert result.returncode == 1
    assert "rejected the credentials" in result.stderr and "no_such_user" in result.stderr
    assert "hunter22" not in result.stderr and result.stderr.count("\n") == 1


def test_bad_config_value_is_one_line_exit_2(tmp_path: Path) -> None:
    result = cli("status", TIBBER_TUI_LEASE_TTL="abc")
    assert result.returncode == 2
    assert (
        result.stderr
        == "tibber-tui: environment TIBBER_TUI_LEASE_TTL: lease_ttl = 'abc' is not valid; expected a number > 0\n"
    )


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("   ", "paste a token"),
        ("abc", "too short"),
        ("5K4MVS-OjfWhK_4yrjOlFe1F6kJXPVf7eQYggo8ebAE and more", "no spaces"),
    ],
)
def test_add_rejects_malformed_tokens(database_url: str, value: str, reason: str) -> None:
    result = cli("tokens", "add", value, database_url=database_url)
    assert result.returncode == 1
    assert result.stderr.startswith("tibber-tui: not a Tibber token: ") and reason in result.stderr
    assert "OjfWhK" not in result.stderr  # not even a rejected token is echoed
    assert cli("tokens", "list", database_url=database_url).stdout.count("token ") == 0


@pytest.mark.parametrize("action", ["activate", "deactivate", "remove"])
def test_a_token_pasted_for_an_id_is_never_echoed(database_url: str, action: str) -> None:
    result = cli("tokens", action, TOKEN, database_url=database_url)
    assert result.returncode == 2
    assert "expected the token's id" in result.stderr and "…" + TOKEN[-4:] in result.stderr
    assert TOKEN not in result.stderr and TOKEN[:12] not in result.stderr
