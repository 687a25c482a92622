"""nas's own tables, in the same database as Optuna's (prefixed ``nas_``)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import DateTime, Float, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


def _now() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    pass


class LatencyRecord(Base):
    """One latency measurement of one architecture on one target at one input shape."""

    __tablename__ = "nas_latency"
    __table_args__ = (UniqueConstraint("arch_hash", "fingerprint_id", "input_shape"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    arch_hash: Mapped[str] = mapped_column(String(32), index=True)
    fingerprint_id: Mapped[str] = mapped_column(String(32))
    input_shape: Mapped[str] = mapped_column(String(64))  # "1x3x224x224" (batch first)
    median_ms: Mapped[float] = mapped_column(Float)
    stats_json: Mapped[str] = mapped_column(Text)
    fingerprint_json: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


class CheckpointRecord(Base):
    """A trained supernet checkpoint file and the checksum it must still have."""

    __tablename__ = "nas_checkpoints"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    path: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int] = mapped_column(Integer)
    meta_json: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


# ---- coordination of several workers on one study (see nas/storage/coordination.py) ---------


class BudgetSlot(Base):
    """One of a study's ``budget`` places for a completed trial, held by one trial at a time.

    A trial evaluates only while it holds a slot; the slot stays with it when it completes and
    is free again when it fails, so several workers never complete more than the budget.
    """

    __tablename__ = "nas_budget_slots"

    study_name: Mapped[str] = mapped_column(String(512), primary_key=True)
    slot: Mapped[int] = mapped_column(Integer, primary_key=True)
    trial_id: Mapped[int] = mapped_column(Integer)


class ArchClaim(Base):
    """The trial that evaluates (or evaluated) an architecture in a study.

    The primary key makes the claim atomic: of two workers proposing the same architecture at
    the same moment exactly one INSERT succeeds; the other waits for, then reuses, its result.
    """

    __tablename__ = "nas_arch_claims"

    study_name: Mapped[str] = mapped_column(String(512), primary_key=True)
    arch_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    trial_id: Mapped[int] = mapped_column(Integer)


class WorkLock(Base):
    """A named lock held by one worker (e.g. "train supernet KEY"), kept alive by heartbeats."""

    __tablename__ = "nas_locks"

    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    owner: Mapped[str] = mapped_column(String(256))
    heartbeat: Mapped[float] = mapped_column(Float)  # time.time() of the owner's last sign


class LatencyTableRecord(Base):
    """One lookup-table entry: a layer's latency on one target (see nas.hardware.lut)."""

    __tablename__ = "nas_latency_lut"
    __table_args__ = (UniqueConstraint("space_digest", "fingerprint_id", "key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    space_digest: Mapped[str] = mapped_column(String(32), index=True)
    fingerprint_id: Mapped[str] = mapped_column(String(32))
    key: Mapped[str] = mapped_column(String(200))  # nas.hardware.lut.lut_key
    median_ms: Mapped[float] = mapped_column(Float)
    stats_json: Mapped[str] = mapped_column(Text)
    fingerprint_json: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


class LatencyFitRecord(Base):
    """The predictor's correction ``a * table_sum + b`` for one space, target and class count."""

    __tablename__ = "nas_latency_fit"
    __table_args__ = (UniqueConstraint("space_digest", "fingerprint_id", "num_classes"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    space_digest: Mapped[str] = mapped_column(String(32), index=True)
    fingerprint_id: Mapped[str] = mapped_column(String(32))
    num_classes: Mapped[int] = mapped_column(Integer)
    a: Mapped[float] = mapped_column(Float)
    b: Mapped[float] = mapped_column(Float)
    n: Mapped[int] = mapped_column(Integer)
    meta_json: Mapped[str] = mapped_column(Text)  # the arch hashes and sums it was fitted on
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


# ---- the service's queue of searches (see nas/service/queue.py) -----------------------------


class SearchRecord(Base):
    """One search submitted to ``nas serve``: its options, its state and who runs it.

    The queue lives in the database so that it survives a restart of the server and so that
    ``nas worker --queue`` on other machines can take searches from it; a row is claimed with
    an ``UPDATE ... WHERE state = 'queued'`` that only one worker can win.
    """

    __tablename__ = "nas_searches"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_name: Mapped[str] = mapped_column(String(512), index=True)
    options_json: Mapped[str] = mapped_column(Text)  # SearchOptions as JSON (storage excluded)
    budget: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(16), index=True)  # nas.service.queue.State
    cancel_requested: Mapped[int] = mapped_column(Integer, default=0)
    owner: Mapped[str] = mapped_column(String(256), default="")  # "host:pid" of the worker
    heartbeat: Mapped[float] = mapped_column(Float, default=0.0)  # time.time() of its last sign
    attempts: Mapped[int] = mapped_column(Integer, default=0)  # how often a worker took it
    error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[float] = mapped_column(Float)  # time.time()
    started_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    finished_at: Mapped[float | None] = mapped_column(Float, nullable=True)
