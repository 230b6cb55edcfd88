"""The index's config contract: `index:` (url, refresh_s, off with `false`), `server.data_dir`,
per-backend `index_calls_per_minute`, and SQLite refused for several workers."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from gateway.backends.registry import settings_models
from gateway.config import ConfigError, parse_config

BACKENDS = """
backends:
  support: {vendor: comm100, url: "https://api15.comm100.io/v4", token: t}
  voice: {vendor: agentvoice, url: "https://api.agentvoice.com/api", api_key: k, organization_id: o,
          index_calls_per_minute: 5}
"""


def test_the_default_index_is_sqlite_under_the_data_dir(tmp_path: Path) -> None:
    settings = parse_config(f"server: {{data_dir: '{tmp_path}'}}\n" + BACKENDS, settings_models(), env={})
    assert settings.index_url() == f"sqlite+aiosqlite:///{tmp_path}/index.db"
    assert settings.index.refresh_s == 900
    # Each vendor module brings its own conservative pace; the config may set another.
    assert settings.backends["support"].index_calls_per_minute == 20
    assert settings.backends["voice"].index_calls_per_minute == 5


def test_index_false_turns_it_off_and_a_bad_url_is_refused_with_its_path() -> None:
    off = parse_config("index: false\n" + BACKENDS, settings_models(), env={})
    assert off.index_url() is None
    with pytest.raises(ConfigError) as caught:
        parse_config("index: {url: 'mysql://x/y', refresh_s: 0}\n" + BACKENDS, settings_models(), env={})
    assert sorted(caught.value.problems) == [
        "index.refresh_s: Input should be greater than or equal to 1",
        "index.url: must start with sqlite+aiosqlite:// or postgresql+asyncpg://",
    ]


def test_the_index_password_is_a_secret() -> None:
    text = "index: {url: 'postgresql+asyncpg://gw:s3cret-pw@db.internal/contacts'}\n" + BACKENDS
    settings = parse_config(text, settings_models(), env={})
    assert "s3cret-pw" not in repr(settings)
    assert "s3cret-pw" in settings.secrets()  # so logs and errors are redacted of it
    assert "s3cret-pw" not in settings.index_description()


def test_several_workers_with_sqlite_are_refused_with_the_key_path(tmp_path: Path) -> None:
    config = tmp_path / "gateway.yaml"
    config.write_text("cache: {url: 'redis://127.0.0.1:9/0'}\n" + BACKENDS)
    result = subprocess.run(
        [sys.executable, "-m", "gateway.cli", "serve", "--config", str(config), "--workers", "2"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert "index.url: server.workers is 2, which needs PostgreSQL" in result.stderr
    assert "cache.url" not in result.stderr and "Traceback" not in result.stderr


def test_rows_expire_after_a_week_unless_told_otherwise_and_never_before_three_refreshes() -> None:
    settings = parse_config(BACKENDS, settings_models(), env={})
    assert settings.index.expire_s == 7 * 24 * 3600
    never = parse_config("index: {expire_s: 0}\n" + BACKENDS, settings_models(), env={})
    assert never.index.expire_s == 0
    with pytest.raises(ConfigError) as caught:
        parse_config("index: {refresh_s: 3600, expire_s: 7200}\n" + BACKENDS, settings_models(), env={})
    assert caught.value.problems == [
        "index.expire_s: must be 0 (never) or at least 3 x refresh_s (10800 s): another gateway sharing the"
        " database would lose rows it still syncs"
    ]


def test_check_config_says_how_often_the_index_syncs_and_when_unused_rows_expire(tmp_path: Path) -> None:
    config = tmp_path / "gateway.yaml"
    for section, said in (
        ("", "a pass every 15 minutes; rows no gateway has synced for 7 days expire"),
        ("index: {refresh_s: 3600, expire_s: 0}\n", "a pass every 1 hour; unused rows never expire"),
    ):
        config.write_text(f"server: {{data_dir: '{tmp_path}'}}\n" + section + BACKENDS)
        result = subprocess.run(
            [sys.executable, "-m", "gateway.cli", "check-config", str(config)],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert result.returncode == 0 and said in result.stdout, result.stdout + result.stderr
