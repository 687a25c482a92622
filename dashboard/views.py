"""Server-side state of the dashboard: each study's page parts built once per signature and
shared by every open page, the background warm-up read, and parameter importance in a worker
process.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from typing import Any

from dash import dcc, html

from dashboard import figures as fg
from dashboard import info
from dashboard.data import Reader, StudyData
from dashboard.layout import FIRST_PAINT, arch_panel, lut_graphs, study_header

log = logging.getLogger(__name__)


class StudyView:
    """What the study page draws for one signature of the study: each part built on first use,
    then shared by every open page (so the first layout waits only for the Pareto figure)."""

    def __init__(self, reader: Reader, name: str, sig: str) -> None:
        self.reader, self.name, self.sig = reader, name, sig
        self.data = reader.study(name)
        self._lock = threading.RLock()  # a part may build on another (the figure on its data)
        self._parts: dict[str, Any] = {}

    def _part(self, key: str, build: Callable[[], Any]) -> Any:
        with self._lock:
            if key not in self._parts:
                self._parts[key] = build()
            return self._parts[key]

    @property
    def pareto(self) -> info.ParetoInfo:
        return self._part("pareto", lambda: info.pareto_info(self.data))  # type: ignore[no-any-return]

    def header(self) -> html.Div:
        return self._part("header", lambda: study_header(self.data))  # type: ignore[no-any-return]

    def arch(self) -> html.Div:
        """The knee's panel (what the page shows before any click)."""
        knee = self.pareto.knee
        return self._part(  # type: ignore[no-any-return]
            "arch", lambda: arch_panel(self.data, knee, self.reader.shown, "knee of the front")
        )

    def figure(self, gid: str) -> Any:
        return self._part(gid, lambda: self._build(gid))

    def lookup_tables(self) -> list[dcc.Graph]:
        """One heatmap per lookup table of the study's space and target (else every table)."""
        return self._part("lut", lambda: lut_graphs(self.reader, self.data))  # type: ignore[no-any-return]

    def _build(self, gid: str) -> Any:
        d = self.data
        if gid == "pareto-graph":
            return fg.plot_pareto(self.pareto, selected=self.pareto.knee, label="knee: trial")
        if gid == "anytime-graph":
            return fg.plot_anytime(info.anytime_info(d))
        if gid == "latency-graph":
            return fg.plot_latency(info.latency_info(d))
        hw = info.hardware_info(d, self.reader.latency_rows())
        return fg.plot_predicted(hw) if gid == "predicted-graph" else fg.plot_latency_cache(hw)


def _importance_job(url: str, name: str) -> info.ImportanceInfo:
    """Run in a worker process (see :class:`Importance`)."""
    reader = Reader(url)
    return info.importance_info(reader.study(name), reader.importance_study(name))


class Importance:
    """Importance is the slowest chart (seconds of CPU for big studies).

    It runs in one worker process, so it does not hold the server's GIL while other pages are
    drawn, and is recomputed only after the study grew by 10 %.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self._lock = threading.Lock()
        self._done: dict[str, tuple[int, info.ImportanceInfo]] = {}
        self._pool: Any = None

    def _executor(self) -> Any:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        with self._lock:
            if self._pool is None:
                # spawn: forking a threaded web server is unsafe
                ctx = multiprocessing.get_context("spawn")
                self._pool = ProcessPoolExecutor(
                    max_workers=1,
                    mp_context=ctx,
                    initializer=_exit_with_parent,
                    initargs=(os.getpid(),),
                )
            return self._pool

    def get(self, d: StudyData) -> info.ImportanceInfo:
        n = len(d.complete)
        with self._lock:
            hit = self._done.get(d.name)
        if hit is not None and (n == hit[0] or n < hit[0] * 1.1):
            return hit[1]
        res: info.ImportanceInfo = (
            self._executor().submit(_importance_job, self.url, d.name).result()
        )
        with self._lock:
            self._done[d.name] = (n, res)
        return res


def _exit_with_parent(parent: int) -> None:
    """In the importance worker: end when the dashboard process is gone (even after SIGKILL,
    which leaves no chance to shut the pool down)."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(0)

    threading.Thread(target=watch, daemon=True).start()


class Views:
    """The newest :class:`StudyView` of each study, built once per signature.

    :meth:`prefetch` starts building it when the browser asks for a study's page, so the
    server reads the study while the browser is still loading its scripts.
    """

    def __init__(self, reader: Reader) -> None:
        self.reader = reader
        self._lock = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}
        self._done: dict[str, StudyView] = {}

    def get(self, name: str) -> StudyView:
        with self._lock:
            lock = self._locks.setdefault(name, threading.Lock())
        with lock:  # one build per study at a time; the others wait and share it
            # the signature before the read: a trial added meanwhile means one more redraw
            sig = self.reader.signature(name)
            hit = self._done.get(name)
            if hit is None or hit.sig != sig:
                hit = self._done[name] = StudyView(self.reader, name, sig)
            return hit

    def prefetch(self, name: str) -> None:
        def build() -> None:
            try:
                self.get(name).figure(FIRST_PAINT[0])
            except Exception:  # the page's own request reports it
                log.debug("prefetching study %s failed", name, exc_info=True)

        threading.Thread(target=build, name=f"prefetch-{name}", daemon=True).start()


WARM_STUDIES = 3


def warm(reader: Reader) -> None:
    """Read the newest few studies before any page asks for them. Only a few: the reader loads
    one study at a time, so warming a large database would delay the page a user opens."""
    try:
        for name in reader.names()[::-1][:WARM_STUDIES]:  # names come in creation order
            reader.study(name)
    except Exception:  # a page that needs the study reports the problem
        log.debug("warming the study cache failed", exc_info=True)
