"""Configuration layering: flags > environment > TOML file > defaults; bad values are one clear error."""

from __future__ import annotations

from pathlib import Path

import pytest

from tibber_tui.config import Config, ConfigError, load_config


def test_defaults_without_file_or_env(tmp_path: Path) -> None:
    config = load_config(env={}, config_file=tmp_path / "missing.toml")
    assert config == Config(data_dir=config.data_dir)
    assert config.database_url is None and config.lease_ttl == 15.0


def test_flags_over_env_over_file(tmp_path: Path) -> None:
    file = tmp_path / "config.toml"
    file.write_text('lease_ttl = 20.0\nreconcile_interval = 30\ndatabase_url = "postgresql://file/db"\n')
    env = {"TIBBER_TUI_LEASE_TTL": "19", "DATABASE_URL": "postgresql://env/db", "TIBBER_TUI_DEBUG": "yes"}
    config = load_config({"database_url": "postgresql://flag/db", "debug": None}, env=env, config_file=file)
    assert config.database_url == "postgresql://flag/db"
    assert config.lease_ttl == 19.0
    assert config.reconcile_interval == 30.0
    assert config.debug is True


def test_empty_database_url_means_embedded(tmp_path: Path) -> None:
    assert load_config(env={"DATABASE_URL": ""}, config_file=tmp_path / "x.toml").database_url is None


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"TIBBER_TUI_LEASE_TTL": "abc"}, "environment TIBBER_TUI_LEASE_TTL: lease_ttl = 'abc' is not valid"),
        ({"TIBBER_TUI_FLUSH_ROWS": "-1"}, "flush_rows = '-1' is not valid; expected a whole number >= 0"),
        ({"TIBBER_TUI_DEBUG": "maybe"}, "expected true or false"),
        ({"TIBBER_TUI_LOG_FORMAT": "xml"}, "expected 'human' or 'json'"),
    ],
)
def test_bad_values_name_the_setting(tmp_path: Path, env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as error:
        load_config(env=env, config_file=tmp_path / "missing.toml")
    assert message in str(error.value) and "\n" not in str(error.value)


def test_bad_file(tmp_path: Path) -> None:
    file = tmp_path / "config.toml"
    file.write_text("nonsense = 1\n")
    with pytest.raises(ConfigError, match="unknown setting 'nonsense'"):
        load_config(env={}, config_file=file)
    file.write_text("lease_ttl = [\n")
    with pytest.raises(ConfigError, match="config file"):
        load_config(env={}, config_file=file)


def test_lease_renewal_must_fit_the_lease_time(tmp_path: Path) -> None:
    env = {"TIBBER_TUI_LEASE_TTL": "8", "TIBBER_TUI_LEASE_RENEW": "5"}
    with pytest.raises(ConfigError, match=r"lease_renew = 5 s must be at most a third of lease_ttl = 8 s"):
        load_config(env=env, config_file=tmp_path / "none.toml")
    ok = load_config(env={"TIBBER_TUI_LEASE_TTL": "15", "TIBBER_TUI_LEASE_RENEW": "5"}, config_file=tmp_path / "n.toml")
    assert (ok.lease_ttl, ok.lease_renew) == (15.0, 5.0)
