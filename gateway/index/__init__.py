"""The contact index: every backend's contacts in a relational database, for `people`, exact
counts and filters a vendor cannot apply. `store` owns the database; `sync` fills it."""

from gateway.index.store import ContactIndex, Deployment, IndexState, IndexStatus

__all__ = ["ContactIndex", "Deployment", "IndexState", "IndexStatus"]
