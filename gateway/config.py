"""The gateway's settings: YAML with `${ENV}` secrets, validated once at start into typed models.

A bad config is refused as a whole with every problem as `path.of.key: why`, never a traceback.
Vendor-specific settings models are handed in (see `gateway.backends.registry`), so this module
knows YAML and validation and nothing of vendors or HTTP.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import httpx
import platformdirs
import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator

from gateway.config_index import APP_NAME, IndexSettings, describe_index, index_switch, index_url
from gateway.config_problems import dotted, explain

_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_BACKEND_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,62}$")


class ConfigError(Exception):
    """The config cannot be used; `problems` holds one `path: reason` line per problem."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CorsSettings(_Strict):
    allow_origins: list[str] = Field(default_factory=list)
    allow_methods: list[str] = Field(default_factory=lambda: ["GET", "POST"])
    allow_headers: list[str] = Field(
        default_factory=lambda: ["authorization", "content-type", "accept", "x-request-id", "if-none-match"]
    )
    allow_credentials: bool = False
    max_age: int = Field(default=600, ge=0)

    @model_validator(mode="after")
    def _no_wildcard_with_credentials(self) -> CorsSettings:
        if self.allow_credentials and "*" in self.allow_origins:
            raise ValueError(
                "allow_origins '*' with allow_credentials: true would let any web site read answers"
                " with its visitors' credentials; list the origins instead"
            )
        return self


class ServerSettings(_Strict):
    graphiql: bool = True
    introspection: bool = True
    max_depth: int = Field(default=12, ge=1, le=100)
    max_aliases: int = Field(default=30, ge=1)
    max_page_size: int = Field(default=500, ge=1, le=10_000)
    max_query_bytes: int = Field(default=100_000, ge=100)
    # Documents are refused past this many tokens, before validation (whose cost grows with the
    # square of repeated fields): the GraphiQL introspection query has about 180.
    max_tokens: int = Field(default=1000, ge=100, le=100_000)
    max_batch_size: int = Field(default=10, ge=1)
    deadline_s: float = Field(default=20.0, gt=0)
    # Worker processes sharing the port (`serve --workers` sets it too); more than one needs Redis.
    workers: int = Field(default=1, ge=1, le=256)
    merge_hop_limit: int = Field(default=10, ge=1, le=100)
    default_region: str = Field(default="US", pattern=r"^[A-Z]{2}$")
    cors: CorsSettings = Field(default_factory=CorsSettings)
    # Signs paging cursors so clients cannot forge positions; the same on every worker and
    # replica. Unset: a key derived from the backends' credentials (then cursors stop working
    # when credentials rotate).
    cursor_secret: SecretStr | None = None
    # When set, /metrics and /readyz answer only `Authorization: Bearer <this>` (they name the
    # backends and their errors).
    metrics_api_key: SecretStr | None = None

    @field_validator("cursor_secret", "metrics_api_key")
    @classmethod
    def _long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 16:
            raise ValueError("needs at least 16 characters")
        return value

    # Where the gateway keeps its files (the default SQLite index); default: the platform's
    # user data directory (e.g. ~/.local/share/contact-gateway).
    data_dir: str | None = None

    def data_path(self) -> Path:
        return Path(self.data_dir).expanduser() if self.data_dir else Path(platformdirs.user_data_dir(APP_NAME))


class ApiKeySettings(_Strict):
    name: str = Field(min_length=1)
    key: SecretStr
    backends: list[str] | None = None

    @field_validator("key")
    @classmethod
    def _key_long_enough(cls, value: SecretStr) -> SecretStr:
        if len(value.get_secret_value()) < 8:
            raise ValueError("an API key needs at least 8 characters")
        return value


class AuthSettings(_Strict):
    api_keys: list[ApiKeySettings] = Field(default_factory=list)


class CacheSettings(_Strict):
    url: str = "memory://"
    ttl_s: float = Field(default=60.0, ge=0)
    stale_s: float = Field(default=300.0, ge=0)
    # Whole responses of read-only queries, for at most the shortest backend TTL (see
    # gateway/response_cache.py); false keeps only the per-call vendor cache.
    responses: bool = True
    # Redis connections per process: requests beyond it wait their turn for a connection.
    max_connections: int = Field(default=16, ge=2, le=10_000)

    @field_validator("url")
    @classmethod
    def _known_scheme(cls, value: str) -> str:
        if not (value.startswith("memory://") or value.startswith("redis://")):
            scheme = value.partition("://")[0] if "://" in value else value
            raise ValueError(f"the scheme must be memory:// or redis://, not {scheme!r}")
        return value


def check_url(value: str) -> str:
    """Accept only absolute http(s) URLs; the message is what users see in `path: not a URL`."""
    try:
        url = httpx.URL(value)
    except Exception as exc:  # httpx raises several types for malformed input
        raise ValueError("not a URL") from exc
    if url.scheme and url.scheme not in ("http", "https"):
        raise ValueError(f"the scheme must be http or https, not {url.scheme!r}")
    if not url.scheme or not url.host:
        raise ValueError("not a URL")
    return value.rstrip("/")


class RateLimitSettings(_Strict):
    """At most `calls` vendor calls per `per_s` seconds (e.g. Comm100: 300 per 300)."""

    calls: int = Field(ge=1)
    per_s: float = Field(gt=0)


class BackendSettings(_Strict):
    """What every backend takes; each vendor module subclasses it with its own credentials."""

    vendor: str
    url: str
    timeout_s: float = Field(default=10.0, gt=0, le=300)
    ttl_s: float | None = Field(default=None, ge=0)
    stale_s: float | None = Field(default=None, ge=0)
    headers: dict[str, str] = Field(default_factory=dict)
    page_size: int = Field(default=50, ge=1, le=1000)
    retries: int = Field(default=2, ge=0, le=10)
    retry_backoff_s: float = Field(default=0.1, ge=0, le=30)
    breaker_failures: int = Field(default=5, ge=1)
    breaker_cooldown_s: float = Field(default=30.0, gt=0)
    rate_limit: RateLimitSettings | None = None
    # Vendor calls per minute a sync pass of the index may make (vendor modules set their own,
    # conservative defaults); live queries are not counted against it.
    index_calls_per_minute: int = Field(default=30, ge=1, le=1_000_000)
    # The largest answer the gateway reads from this vendor; a larger one is cut off and reported
    # (BACKEND_BAD_RESPONSE) instead of filling the gateway's memory. A sync pass streams a vendor's
    # whole list instead, bounded per record: at most this many bytes and `timeout_s` seconds may go
    # by without a record completing (a list that keeps delivering records is never cut by time).
    max_response_bytes: int = Field(default=16 * 1024 * 1024, ge=1024)
    # The most records a sync pass takes from a vendor that answers its whole list at once; a list
    # longer than that (or one that never ends) fails the pass (BACKEND_BAD_RESPONSE).
    index_max_records: int = Field(default=5_000_000, ge=1)
    # What carries the calls under httpx (gateway/transport.py): aiohttp by measurement; httpcore
    # is httpx's own, and the one that honours HTTP(S)_PROXY.
    transport: Literal["aiohttp", "httpcore"] = "aiohttp"
    # The most pages one list walk reads from a paging vendor; a list longer than that (or a
    # vendor whose pages never end) is reported (BACKEND_BAD_RESPONSE) instead of read forever.
    max_pages: int = Field(default=1000, ge=1, le=1_000_000)

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        return check_url(value)

    def credential_fingerprint(self) -> str:
        """A hash naming whose data this is (URL, tenant, credentials), never the secret itself."""
        parts: list[str] = []
        for name in sorted(type(self).model_fields):
            if name in _OPERATIONAL:
                continue
            value = getattr(self, name)
            if isinstance(value, SecretStr):
                value = value.get_secret_value()
            parts.append(f"{name}={value!r}")
        return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:16]

    def secrets(self) -> list[str]:
        """Every secret value in this backend's settings (for redaction checks)."""
        found = [
            v.get_secret_value()
            for v in (getattr(self, n) for n in type(self).model_fields)
            if isinstance(v, SecretStr)
        ]
        found += [v for k, v in self.headers.items() if k.lower() in _SECRET_HEADERS]
        return [s for s in found if s]


_SECRET_HEADERS = {"authorization", "x-api-key", "proxy-authorization", "cookie"}
# Settings that change how the gateway calls a backend, not whose data it gets.
_OPERATIONAL = {
    "timeout_s", "ttl_s", "stale_s", "page_size", "retries", "retry_backoff_s",
    "breaker_failures", "breaker_cooldown_s", "rate_limit", "max_response_bytes", "transport", "max_pages",
    "index_calls_per_minute", "index_max_records",
}  # fmt: skip


class GatewaySettings(_Strict):
    server: ServerSettings = Field(default_factory=ServerSettings)
    auth: AuthSettings = Field(default_factory=AuthSettings)
    cache: CacheSettings = Field(default_factory=CacheSettings)
    index: IndexSettings = Field(default_factory=IndexSettings)
    backends: dict[str, BackendSettings] = Field(default_factory=dict)

    @field_validator("index", mode="before")
    @classmethod
    def _index_switch(cls, value: Any) -> Any:
        return index_switch(value)

    def index_url(self) -> str | None:
        """The index database's URL, or None when the index is off."""
        return index_url(self.index, self.server.data_path())

    def index_description(self) -> str:
        """Where the index is, for people (never with a password)."""
        return describe_index(self.index_url())

    def ttl_for(self, backend: str) -> float:
        own = self.backends[backend].ttl_s
        return self.cache.ttl_s if own is None else own

    def response_ttl(self) -> float:
        """How long a whole response may be reused: the shortest backend TTL (0: never)."""
        if not self.cache.responses or not self.backends:
            return 0.0
        return min(self.ttl_for(name) for name in self.backends)

    def stale_for(self, backend: str) -> float:
        own = self.backends[backend].stale_s
        return self.cache.stale_s if own is None else own

    def secrets(self) -> list[str]:
        found = [k.key.get_secret_value() for k in self.auth.api_keys]
        found += [s.get_secret_value() for s in (self.server.cursor_secret, self.server.metrics_api_key) if s]
        for backend in self.backends.values():
            found += backend.secrets()
        index_password = self.index.password()
        if index_password:
            found.append(index_password)
        return found


# --------------------------------------------------------------------------- loading


def load_config(
    path: str | Path,
    vendors: Mapping[str, type[BackendSettings]],
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
) -> GatewaySettings:
    """A config file's settings, ready to serve: besides `parse_config`'s checks, the file must
    configure at least one backend. `overrides` (section -> keys) win over the file's values."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([f"{path}: cannot read the file ({exc.strerror or exc})"]) from None
    settings = parse_config(text, vendors, env, source=str(path), overrides=overrides)
    if not settings.backends:
        raise ConfigError(
            [
                f"backends: none configured in {path}; the gateway needs at least one backend to answer"
                " (see the README's Configuration section; `contact-gateway demo` runs without one)"
            ]
        )
    return settings


def parse_config(
    text: str,
    vendors: Mapping[str, type[BackendSettings]],
    env: Mapping[str, str] | None = None,
    *,
    source: str = "<file>",
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
) -> GatewaySettings:
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        at = f" (line {where.line + 1}, column {where.column + 1})" if where else ""
        raise ConfigError([f"{source}: not valid YAML{at}"]) from None
    if document is None:
        document = {}
    if not isinstance(document, dict):
        raise ConfigError([f"{source}: the top level must be a mapping of sections"])
    for section, values in (overrides or {}).items():
        found = document.get(section)
        document[section] = {**(found if isinstance(found, dict) else {}), **values}
    problems: list[str] = []
    document = _substitute_env(document, os.environ if env is None else env, (), problems)
    unset_count = len(problems)
    unset = {line.partition(": ")[0] for line in problems}
    settings = _validate(document, vendors, problems)
    # A variable that is not set is the one problem at its key: what its empty value then fails
    # (`not a URL`) would only repeat it.
    problems = [p for i, p in enumerate(problems) if i < unset_count or p.partition(": ")[0] not in unset]
    if problems or settings is None:
        raise ConfigError(problems or [f"{source}: invalid"])
    return settings


def _substitute_env(node: Any, env: Mapping[str, str], path: tuple[str, ...], problems: list[str]) -> Any:
    if isinstance(node, dict):
        return {k: _substitute_env(v, env, (*path, str(k)), problems) for k, v in node.items()}
    if isinstance(node, list):
        return [_substitute_env(v, env, (*path, str(i)), problems) for i, v in enumerate(node)]
    if not isinstance(node, str) or "${" not in node:
        return node

    def replace(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        if name in env:
            return env[name]
        if default is not None:
            return default
        problems.append(f"{dotted(path)}: environment variable {name} is not set")
        return ""

    return _ENV_REF.sub(replace, node)


def _validate(
    document: dict[str, Any], vendors: Mapping[str, type[BackendSettings]], problems: list[str]
) -> GatewaySettings | None:
    raw_backends = document.get("backends") or {}
    backends: dict[str, BackendSettings] = {}
    if not isinstance(raw_backends, dict):
        problems.append("backends: must be a mapping of backend name to settings")
        raw_backends = {}
    for name, raw in raw_backends.items():
        checked = _validate_backend(str(name), raw, vendors, problems)
        if checked is not None:
            backends[str(name)] = checked
    rest = {k: v for k, v in document.items() if k != "backends"}
    try:
        settings = GatewaySettings.model_validate(rest)
    except ValidationError as exc:
        problems.extend(explain(exc, (), GatewaySettings))
        return None
    if settings.server.workers > 1 and not settings.cache.url.startswith("redis://"):
        problems.append(
            f"cache.url: server.workers is {settings.server.workers}, which needs a shared cache (redis://...):"
            " with memory:// each worker keeps its own, and a write through one would not refresh the others"
        )
    index_url = settings.index_url()
    if settings.server.workers > 1 and index_url is not None and index_url.startswith("sqlite"):
        problems.append(
            f"index.url: server.workers is {settings.server.workers}, which needs PostgreSQL"
            " (postgresql+asyncpg://...): SQLite is one process's database (or set index: false)"
        )
    for i, api_key in enumerate(settings.auth.api_keys):
        for scoped in api_key.backends or []:
            if scoped not in raw_backends:
                problems.append(
                    f"auth.api_keys.{i}.backends: unknown backend '{scoped}'"
                    f" (configured: {', '.join(raw_backends) or 'none'})"
                )
    keys = [k.key.get_secret_value() for k in settings.auth.api_keys]
    if len(set(keys)) != len(keys):
        problems.append("auth.api_keys: two entries share the same key")
    return settings.model_copy(update={"backends": backends})


def _validate_backend(
    name: str, raw: Any, vendors: Mapping[str, type[BackendSettings]], problems: list[str]
) -> BackendSettings | None:
    where = f"backends.{name}"
    if not _BACKEND_NAME.match(name):
        problems.append(f"{where}: a backend name is letters, digits, '-' or '_', starting with a letter")
        return None
    if not isinstance(raw, dict):
        problems.append(f"{where}: must be a mapping of settings")
        return None
    vendor = raw.get("vendor")
    known = ", ".join(sorted(vendors))
    if vendor is None:
        problems.append(f"{where}.vendor: required (known: {known})")
        return None
    model = vendors.get(str(vendor))
    if model is None:
        problems.append(f"{where}.vendor: unknown vendor '{vendor}' (known: {known})")
        return None
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        problems.extend(explain(exc, ("backends", name), model))
        return None
