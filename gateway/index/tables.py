"""The contact index's tables (SQLAlchemy Core). Every row is keyed by the credential namespace
(`<backend>:<hash of URL, tenant, credentials>`, as the cache keys are), never by a secret, so two
deployments sharing one database never see each other's rows.

The schema itself is created and changed only by the Alembic migrations beside this module.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData()

# One row per indexed backend namespace: how far its sync is.
backends = Table(
    "index_backends",
    metadata,
    Column("namespace", String(200), primary_key=True),
    Column("backend", String(64), nullable=False),
    # The pass being written (rows of this backend seen in it carry this number).
    Column("pass_number", Integer, nullable=False, default=0),
    # Where an interrupted pass resumes (the vendor's page position); null: from the start.
    Column("resume_from", String(200), nullable=True),
    Column("resume_position", BigInteger, nullable=False, default=0),
    Column("synced_at", DateTime(timezone=True), nullable=True),
    Column("records", Integer, nullable=False, default=0),
    Column("last_error", Text, nullable=True),
    Column("failed_at", DateTime(timezone=True), nullable=True),
    # When a gateway configured with this namespace last ran a sync round: rows no gateway has
    # run for `index.expire_s` expire (gateway/index/expiry.py).
    Column("seen_at", DateTime(timezone=True), nullable=True),
)

# One row per deployment (one gateway config's ordered namespaces) that keeps people here: when a
# gateway of it last ran a sync round. Its people expire as a namespace's rows do.
deployments = Table(
    "index_deployments",
    metadata,
    Column("name", String(32), primary_key=True),
    Column("seen_at", DateTime(timezone=True), nullable=False),
)

# One row per vendor record: what filtering, counting and identity need, and the mapped record.
contacts = Table(
    "index_contacts",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("namespace", String(200), nullable=False),
    Column("native_id", String(200), nullable=False),
    # The vendor's own order (position in its full list), for paging in that order.
    Column("position", BigInteger, nullable=False),
    Column("pass_number", Integer, nullable=False),
    Column("kind", String(16), nullable=False),
    Column("disabled", Boolean, nullable=True),
    Column("merged_into", String(200), nullable=True),
    # Trimmed and case-folded, compared for equality the way the gateway's own filter does.
    Column("first_name_key", String(300), nullable=True),
    Column("last_name_key", String(300), nullable=True),
    Column("company_key", String(300), nullable=True),
    # Case-folded names, company, alias and emails, for `search` (a substring).
    Column("search_text", Text, nullable=False),
    Column("record", JSON, nullable=False),
    Index("ix_index_contacts_record", "namespace", "native_id", unique=True),
    Index("ix_index_contacts_order", "namespace", "position"),
    Index("ix_index_contacts_company", "namespace", "company_key"),
    Index("ix_index_contacts_live", "namespace", "merged_into"),
)

# What may join a contact to others, and what email / phone / external id filters look up.
# Keys and people name their contact's row without a foreign key: the index's own writes delete
# them with it (gateway/index/upsert.py, ContactIndex.finish_pass), and a foreign key's check of
# every inserted row doubled the cost of a bulk load on PostgreSQL.
keys = Table(
    "index_keys",
    metadata,
    Column("contact_id", BigInteger, primary_key=True),
    Column("key", String(400), primary_key=True),
    Column("namespace", String(200), nullable=False),
    Index("ix_index_keys_key", "key", "namespace"),
)

# Identity groups (people) of one deployment: the ordered namespaces of one gateway's config.
# `ordinal` orders contacts (configured backend order, then the vendor's); a group is named by
# the smallest ordinal of its members.
people = Table(
    "index_people",
    metadata,
    Column("deployment", String(32), primary_key=True),
    Column("contact_id", BigInteger, primary_key=True),
    Column("namespace", String(200), nullable=False),
    Column("ordinal", BigInteger, nullable=False),
    Column("group_ordinal", BigInteger, nullable=False),
    # Ordinal and namespace too: a scoped key's people are found in the index alone.
    Index("ix_index_people_group", "deployment", "group_ordinal", "ordinal", "namespace"),
    Index("ix_index_people_ordinal", "deployment", "ordinal"),
)

__all__ = ["backends", "contacts", "deployments", "keys", "metadata", "people"]
