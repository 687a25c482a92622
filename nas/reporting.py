"""What a search tells about its progress: the :class:`Reporter` protocol.

A leaf module, so that every layer (the sampler loop, the worker pool, evaluators, DARTS) can
take a reporter without importing the search that drives it. The CLI renders the hooks as
progress bars (:mod:`nas.commands.search`); :class:`SilentReporter` ignores them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from optuna.trial import FrozenTrial


class Reporter(Protocol):
    """Progress hooks of a search; every method may be a no-op."""

    def message(self, text: str) -> None: ...
    def training_step(self, step: int, total: int, loss: float) -> None: ...
    def search_started(self, study: str, done: int, budget: int) -> None: ...
    def trial_done(
        self, done: int, budget: int, trial: FrozenTrial, best: float | None, front: int
    ) -> None: ...
    def progress(self, done: int, budget: int) -> None: ...


class SilentReporter(Reporter):
    """A reporter that ignores every hook (the library's default)."""
