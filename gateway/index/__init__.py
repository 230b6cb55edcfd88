"""The contact index: every backend's contacts in a relational database, for `people`, exact
counts and filters a vendor cannot apply. `store` owns the database; `sync` fills it."""

from gateway.index.store import (
    INDEX_UNAVAILABLE,
    ContactIndex,
    Deployment,
    IndexState,
    IndexStatus,
    describe_failure,
)

__all__ = ["INDEX_UNAVAILABLE", "ContactIndex", "Deployment", "IndexState", "IndexStatus", "describe_failure"]
