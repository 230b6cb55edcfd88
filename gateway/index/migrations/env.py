"""Alembic's entry point for the index: always run by `gateway.index.store` on a connection it
already holds (and has locked), never from a command line with its own engine."""

from __future__ import annotations

from alembic import context

from gateway.index.tables import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata, transaction_per_migration=False)
with context.begin_transaction():
    context.run_migrations()
