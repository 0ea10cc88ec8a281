"""Results storage: SQLite (or any SQLAlchemy URL) behind one class; migrations by name."""

from rigbench.store.db import Store, now_iso, open_store

__all__ = ["Store", "now_iso", "open_store"]
