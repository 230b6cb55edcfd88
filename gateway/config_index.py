"""The contact index's settings (`index:` in the config): which database, how often a pass runs,
when rows no gateway syncs any more expire, and where the default SQLite file lives. Validated
with the rest of the config (gateway.config)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationInfo, field_validator

APP_NAME = "contact-gateway"
INDEX_FILE = "index.db"
INDEX_SCHEMES = ("sqlite+aiosqlite://", "postgresql+asyncpg://")
WEEK_S = 7 * 24 * 3600.0
# Rows expire no sooner than this many refreshes after the last round that touched them.
EXPIRE_REFRESHES = 3


class IndexSettings(BaseModel):
    """The contact index (gateway/index/). `index: false` in the config turns it off."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    # Default: sqlite+aiosqlite:/// + index.db under server.data_dir. Secret: it may hold a password.
    url: SecretStr | None = None
    # PostgreSQL only: the schema its tables live in (default: the connection's search_path).
    schema_name: str | None = Field(default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
    refresh_s: float = Field(default=900.0, ge=1.0)
    # The rows of a backend namespace (a removed backend, or credentials changed) and the people of
    # a deployment (a changed backend list) that no gateway has run a sync round for this long
    # leave the database (gateway/index/expiry.py); 0: never.
    expire_s: float = Field(default=WEEK_S, ge=0.0)

    @field_validator("url")
    @classmethod
    def _known_database(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().startswith(INDEX_SCHEMES):
            raise ValueError("must start with sqlite+aiosqlite:// or postgresql+asyncpg://")
        return value

    @field_validator("expire_s")
    @classmethod
    def _expire_after_refreshes(cls, value: float, info: ValidationInfo) -> float:
        least = EXPIRE_REFRESHES * info.data.get("refresh_s", 0.0)
        if 0 < value < least:
            raise ValueError(
                f"must be 0 (never) or at least {EXPIRE_REFRESHES} x refresh_s ({least:g} s): another gateway"
                " sharing the database would lose rows it still syncs"
            )
        return value

    def describe_schedule(self) -> str:
        """How often a pass runs and when unused rows expire, for people."""
        expiry = (
            f"rows no gateway has synced for {describe_duration(self.expire_s)} expire"
            if self.expire_s
            else "unused rows never expire"
        )
        return f"a pass every {describe_duration(self.refresh_s)}; {expiry}"

    def password(self) -> str | None:
        if self.url is None:
            return None
        try:
            return sqlalchemy.engine.make_url(self.url.get_secret_value()).password
        except sqlalchemy.exc.ArgumentError:
            return None


def index_switch(value: Any) -> Any:
    """`index: false` turns the index off; `index: true` or an empty `index:` keeps the defaults."""
    if value is False:
        return {"enabled": False}
    if value is True or value is None:
        return {}
    return value


def index_url(index: IndexSettings, data_dir: Path) -> str | None:
    """The index database's URL (default: a SQLite file in `data_dir`), or None when it is off."""
    if not index.enabled:
        return None
    if index.url is not None:
        return index.url.get_secret_value()
    return f"sqlite+aiosqlite:///{data_dir / INDEX_FILE}"


def describe_index(url: str | None) -> str:
    """Where the index is, for people (never with a password)."""
    if url is None:
        return "off (index: false): every query is answered live"
    return sqlalchemy.engine.make_url(url).render_as_string(hide_password=True)


def counted(number: int, noun: str) -> str:
    """`1 day`, `2 days`."""
    return f"{number} {noun}{'' if number == 1 else 's'}"


def describe_duration(seconds: float) -> str:
    """Whole days, hours or minutes when it is one, else seconds."""
    for unit, size in (("day", 86_400), ("hour", 3_600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            return counted(int(seconds // size), unit)
    return f"{seconds:g} s"
