"""Latency measurements cached across studies by (arch hash, target fingerprint, input shape)."""

from __future__ import annotations

import json
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from nas.storage.db import Store
from nas.storage.tables import LatencyRecord


def shape_key(shape: Sequence[int]) -> str:
    """The one spelling of an input shape in cache keys: ``1x3x224x224`` (batch first)."""
    return "x".join(str(int(d)) for d in shape)


class LatencyCache:
    """Read-through cache of latency statistics in ``nas_latency``."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def get(self, arch_hash: str, fingerprint_id: str, shape: Sequence[int]) -> dict | None:
        with self.store.session() as s:
            row = s.scalars(
                select(LatencyRecord).where(
                    LatencyRecord.arch_hash == arch_hash,
                    LatencyRecord.fingerprint_id == fingerprint_id,
                    LatencyRecord.input_shape == shape_key(shape),
                )
            ).first()
            return json.loads(row.stats_json) if row else None

    def put(
        self,
        arch_hash: str,
        fingerprint_id: str,
        shape: Sequence[int],
        stats: dict,
        fingerprint: dict,
    ) -> None:
        """Store a measurement; a concurrent writer's row for the same key wins silently."""
        try:
            with self.store.session() as s:
                s.add(
                    LatencyRecord(
                        arch_hash=arch_hash,
                        fingerprint_id=fingerprint_id,
                        input_shape=shape_key(shape),
                        median_ms=float(stats["median_ms"]),
                        stats_json=json.dumps(stats, sort_keys=True),
                        fingerprint_json=json.dumps(fingerprint, sort_keys=True),
                    )
                )
        except IntegrityError:
            pass

    def count(self) -> int:
        from sqlalchemy import func

        with self.store.session() as s:
            return int(s.scalar(select(func.count()).select_from(LatencyRecord)) or 0)
