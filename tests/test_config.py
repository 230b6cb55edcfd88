"""The config contract: YAML with ${ENV} secrets, validated at start, refused with path and reason."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from gateway.backends.registry import settings_models
from gateway.config import ConfigError, parse_config

GOOD = """
server:
  max_page_size: 200
auth:
  api_keys:
    - name: web-app
      key: ${WEB_APP_KEY}
      backends: [support]
cache:
  url: memory://
  ttl_s: 60
backends:
  support: {vendor: comm100, url: "https://api15.comm100.io/v4", token: "${COMM100_TOKEN}", site_id: 10000, ttl_s: 30}
"""
ENV = {"WEB_APP_KEY": "web-app-key-123", "COMM100_TOKEN": "c100-secret"}


def problems(text: str, env: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(text, settings_models(), env=ENV if env is None else env)
    return caught.value.problems


def test_good_config_is_typed_and_secrets_substituted() -> None:
    settings = parse_config(GOOD, settings_models(), env=ENV)
    support = settings.backends["support"]
    assert support.vendor == "comm100"
    assert support.url == "https://api15.comm100.io/v4"
    assert support.token.get_secret_value() == "c100-secret"  # type: ignore[attr-defined]
    assert settings.ttl_for("support") == 30
    assert settings.server.max_page_size == 200
    assert settings.server.deadline_s == 20
    assert support.timeout_s == 10
    assert settings.auth.api_keys[0].backends == ["support"]


def test_secret_never_appears_in_the_settings_repr() -> None:
    settings = parse_config(GOOD, settings_models(), env=ENV)
    assert "c100-secret" not in repr(settings)
    assert "web-app-key-123" not in repr(settings)


def test_bad_url_is_refused_with_its_path() -> None:
    text = 'backends:\n  support: {vendor: comm100, url: "not a url", token: x}\n'
    assert problems(text) == ["backends.support.url: not a URL"]


def test_unknown_vendor_names_the_known_ones() -> None:
    found = problems('backends:\n  x: {vendor: foo, url: "http://a.example"}\n')
    assert found == ["backends.x.vendor: unknown vendor 'foo' (known: " + ", ".join(sorted(settings_models())) + ")"]


def test_missing_env_var_is_named() -> None:
    found = problems(GOOD, env={"WEB_APP_KEY": "web-app-key-123"})
    assert found == ["backends.support.token: environment variable COMM100_TOKEN is not set"]


def test_env_default_is_used_when_the_variable_is_unset() -> None:
    text = 'backends:\n  s: {vendor: comm100, url: "https://x.example/v4", token: "${T:-fallback}"}\n'
    settings = parse_config(text, settings_models(), env={})
    assert settings.backends["s"].token.get_secret_value() == "fallback"  # type: ignore[attr-defined]


def test_every_problem_is_reported_at_once() -> None:
    text = """
server: {max_page_size: 0, colour: blue}
backends:
  a: {vendor: comm100, url: "https://x.example", token: t, timeout_s: -1}
  b: {vendor: comm100, url: "https://x.example"}
"""
    found = problems(text)
    assert "backends.a.timeout_s: Input should be greater than 0" in found
    assert "backends.b: needs either token, or email and api_key" in found
    assert "server.max_page_size: Input should be greater than or equal to 1" in found
    assert "server.colour: unknown key" in found


def test_api_key_scope_must_name_configured_backends() -> None:
    text = GOOD.replace("backends: [support]", "backends: [support, nowhere]")
    assert problems(text) == ["auth.api_keys.0.backends: unknown backend 'nowhere' (configured: support)"]


def test_not_yaml_and_not_a_mapping_are_refused() -> None:
    assert problems("backends: [unclosed")[0].startswith("<file>: not valid YAML (line")
    assert problems("- a\n- b\n") == ["<file>: the top level must be a mapping of sections"]


def test_backend_name_cannot_hold_the_id_separator() -> None:
    found = problems('backends:\n  "a:b": {vendor: comm100, url: "https://x.example", token: t}\n')
    assert found == ["backends.a:b: a backend name is letters, digits, '-' or '_', starting with a letter"]


def test_credential_fingerprint_differs_per_token_and_hides_it() -> None:
    one = parse_config(GOOD, settings_models(), env=ENV).backends["support"]
    two = parse_config(GOOD, settings_models(), env={**ENV, "COMM100_TOKEN": "other"}).backends["support"]
    assert one.credential_fingerprint() != two.credential_fingerprint()
    assert "c100-secret" not in one.credential_fingerprint()


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gateway.cli", *args], capture_output=True, text=True, timeout=60, env=env
    )


def test_check_config_prints_ok_for_a_good_file(tmp_path: Path) -> None:
    path = tmp_path / "gateway.yaml"
    path.write_text(GOOD)
    done = run_cli("check-config", str(path), env={**ENV, "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0
    assert done.stdout.startswith(f"OK: {path}: backends support (comm100)")


def test_check_config_refuses_with_exit_2_and_no_traceback(tmp_path: Path) -> None:
    path = tmp_path / "gateway.yaml"
    path.write_text('backends:\n  voice: {vendor: comm100, url: "nope", token: t}\n')
    done = run_cli("check-config", str(path))
    assert done.returncode == 2
    assert "backends.voice.url: not a URL" in done.stderr
    assert "Traceback" not in done.stderr + done.stdout


def test_missing_config_file_is_a_clear_error(tmp_path: Path) -> None:
    done = run_cli("check-config", str(tmp_path / "absent.yaml"))
    assert done.returncode == 2
    assert "cannot read the file" in done.stderr
    assert "Traceback" not in done.stderr


def test_an_unknown_key_suggests_the_nearest_known_one() -> None:
    text = """
grpahiql: true
server: {graphql: false, cors: {allow_origin: ["https://a.example"]}, colour: blue}
auth: {api_keys: [{name: web, key: web-key-12345, bakends: [s]}]}
backends:
  s: {vendor: comm100, url: "https://x.example/v4", tokn: t}
"""
    found = problems(text)
    assert "grpahiql: unknown key" in found  # nothing close at the top level: no guess
    assert "server.graphql: unknown key; did you mean 'graphiql'?" in found
    assert "server.cors.allow_origin: unknown key; did you mean 'allow_origins'?" in found
    assert "server.colour: unknown key" in found
    assert "auth.api_keys.0.bakends: unknown key; did you mean 'backends'?" in found
    assert "backends.s.tokn: unknown key; did you mean 'token'?" in found


def test_a_missing_variable_is_one_line_even_where_its_value_is_checked() -> None:
    text = 'backends:\n  s: {vendor: comm100, url: "${COMM100_URL}", token: t}\n'
    assert problems(text, env={}) == ["backends.s.url: environment variable COMM100_URL is not set"]


def test_invalid_yaml_names_the_file(tmp_path: Path) -> None:
    from gateway.config import load_config

    path = tmp_path / "gateway.yaml"
    path.write_text("backends:\n  s: {vendor: comm100\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path, settings_models(), env={})
    assert len(caught.value.problems) == 1
    assert caught.value.problems[0].startswith(f"{path}: not valid YAML (line ")


def test_a_url_with_another_scheme_says_which_are_allowed() -> None:
    found = problems('backends:\n  s: {vendor: comm100, url: "ftp://x", token: t}\n')
    assert found == ["backends.s.url: the scheme must be http or https, not 'ftp'"]
    assert problems("cache: {url: 'ftp://x'}\nbackends: {}\n") == [
        "cache.url: the scheme must be memory:// or redis://, not 'ftp'"
    ]


def test_several_workers_need_redis_named_at_the_cache_url() -> None:
    text = (
        'server: {workers: 2}\nbackends:\n  s: {vendor: comm100, url: "https://x.example/v4", token: t}\n'
        "index: false\n"  # (the default SQLite index is refused for several workers too: test_index_config)
    )
    [problem] = problems(text)
    assert problem.startswith("cache.url: server.workers is 2, which needs a shared cache (redis://")
    assert parse_config(text + "cache: {url: 'redis://127.0.0.1:6379/0'}\n", settings_models(), env={})


def test_an_empty_config_is_refused_by_check_config_and_serve(tmp_path: Path) -> None:
    path = tmp_path / "gateway.yaml"
    path.write_text("# nothing yet\n")
    for command in (["check-config", str(path)], ["serve", "--config", str(path), "--port", "0"]):
        done = run_cli(*command)
        assert done.returncode == 2, command
        assert "backends: none configured" in done.stderr
        assert "Traceback" not in done.stderr


async def test_probe_calls_each_backend_once_and_says_which_failed(tmp_path: Path) -> None:
    import asyncio

    import orjson

    from gateway.simulators.registry import DEMO_BACKENDS
    from tests.services import serving

    demo = DEMO_BACKENDS[0]
    simulator = demo.make()
    async with serving(simulator.app) as root:
        good = demo.settings(root)
        config = {
            "backends": {
                "good": good,
                "badauth": {**good, "token": "not-the-token"},
                "down": {**demo.settings("http://127.0.0.1:9"), "timeout_s": 2},
            }
        }
        path = tmp_path / "gateway.yaml"
        path.write_text(orjson.dumps(config).decode())
        probed = await asyncio.to_thread(run_cli, "check-config", str(path), "--probe")
        plain = await asyncio.to_thread(run_cli, "check-config", str(path))
    assert plain.returncode == 0 and "result" not in plain.stdout  # no calls without --probe
    assert probed.returncode == 3 and "probe failed for: badauth, down" in probed.stderr
    rows = {line.split()[0]: line for line in probed.stdout.splitlines()[3:]}
    assert set(rows) == {"good", "badauth", "down"}
    assert " ok " in rows["good"] + " "
    assert "credentials refused" in rows["badauth"] and "Authorization has been denied" in rows["badauth"]
    assert "unreachable" in rows["down"]
    assert "not-the-token" not in probed.stdout + probed.stderr
    assert len(simulator.state.calls) == 2  # good and badauth, once each: no retry, no cache
