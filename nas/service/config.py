"""What ``nas serve`` was started with (:class:`ServiceConfig`), read by every part of the app."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ServiceConfig:
    """What the server was started with."""

    storage: str
    token: str | None  # None: no authentication (only allowed on 127.0.0.1)
    data_dir: Path
    max_body_bytes: int = 1 << 20  # JSON requests
    max_upload_bytes: int = 256 << 20  # uploaded .npz data sets
    targets: tuple[str, ...] = ("cpu", "onnxruntime")
    slots: int = 0  # worker processes of this server (for /healthz)
    dashboard_refresh_s: float = 5.0  # how often dashboard pages look for new trials
