"""Alembic environment of nas's own tables; run by :func:`nas.storage.migrate.upgrade`.

The connection comes from the caller (``config.attributes["connection"]``); the version is
kept in ``nas_alembic_version`` because Optuna keeps its own in ``alembic_version``.
"""

from __future__ import annotations

from alembic import context

from nas.storage.migrate import VERSION_TABLE
from nas.storage.tables import Base

connection = context.config.attributes["connection"]
context.configure(
    connection=connection, target_metadata=Base.metadata, version_table=VERSION_TABLE
)
with context.begin_transaction():
    context.run_migrations()
