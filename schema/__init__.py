"""The GraphQL schema: root types over `schema.types`; `build_schema()` is what the app serves."""

from __future__ import annotations

from pathlib import Path

from schema.root import Query, build_schema

SDL_PATH = Path(__file__).with_name("schema.graphql")

__all__ = ["SDL_PATH", "Query", "build_schema"]
