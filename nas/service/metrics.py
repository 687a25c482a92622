"""Prometheus metrics of ``nas serve`` (prometheus-client), in a registry of its own.

Searches per state and completed trials are read from the database when scraped (so they are
right with workers on other machines too); request counts and latencies are this process's.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily

from nas.storage.db import Store

if TYPE_CHECKING:
    from fastapi import FastAPI


class _QueueCollector:
    def __init__(self, store: Store) -> None:
        self.store = store

    def collect(self):  # type: ignore[no-untyped-def]
        from nas.service import queue as q

        g = GaugeMetricFamily("nas_searches", "searches in the queue, by state", labels=["state"])
        for state, n in q.counts(self.store).items():
            g.add_metric([state], n)
        yield g


class Metrics:
    def __init__(self, store: Store) -> None:
        self.registry = CollectorRegistry()
        self.registry.register(_QueueCollector(store))  # type: ignore[arg-type]
        self.submitted = Counter(
            "nas_searches_submitted", "searches submitted to this server", registry=self.registry
        )
        self.requests = Counter(
            "nas_http_requests",
            "HTTP requests answered",
            ["route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "nas_http_request_seconds",
            "time to answer an HTTP request (streams: until the headers)",
            ["route"],
            registry=self.registry,
        )

    def render(self) -> tuple[bytes, str]:
        return generate_latest(self.registry), CONTENT_TYPE_LATEST

    def instrument(self, app: FastAPI) -> None:
        @app.middleware("http")
        async def _timed(request, call_next):  # type: ignore[no-untyped-def]
            t0 = time.perf_counter()
            response = await call_next(request)
            route = request.scope.get("route")
            name = getattr(route, "path", "unmatched")  # the template: no ids as labels
            self.latency.labels(name).observe(time.perf_counter() - t0)
            self.requests.labels(name, str(response.status_code)).inc()
            return response
