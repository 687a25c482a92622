"""The study's trials as one worker last read them: one read per trial, shared by every reader.

A worker's trial loop needs the study's trials five times a trial: the budget count, the
stale-trial check, the budget slot reservation, the no-repeat sampler's set of taken
architectures and the progress report. Optuna's cached storage makes each read incremental,
but each still costs a transaction of about eight statements, because the worker's own
unfinished trial is read again every time. So the loop reads once, right after each tell (and
again after it waited or a trial was dropped), and the others use that snapshot.

A snapshot is never what makes several workers correct, only what spares work: the budget slot
and the architecture claim are decided by the database (:mod:`nas.storage.coordination`), and
a snapshot older than the truth can only make a worker skip a slot that was freed meanwhile or
draw again, never take a slot or architecture that another trial holds (FAIL and PRUNED are
final states; a trial the snapshot does not know yet is taken as held).
"""

from __future__ import annotations

import optuna
from optuna.trial import FrozenTrial, TrialState


class TrialSnapshot:
    """``study.get_trials(deepcopy=False)`` as of the last :meth:`refresh`."""

    def __init__(self, study: optuna.Study) -> None:
        self.study = study
        self.trials: list[FrozenTrial] | None = None  # None: never read
        self.fresh = False  # refreshed since the loop last used it to decide

    def refresh(self) -> list[FrozenTrial]:
        """Read the study's trials now (incrementally, through Optuna's cache)."""
        self.trials = self.study.get_trials(deepcopy=False)
        self.fresh = True
        return self.trials

    def take_fresh(self) -> list[FrozenTrial]:
        """The trials, read now unless they were read since this was last called."""
        trials = self.trials if self.fresh and self.trials is not None else self.refresh()
        self.fresh = False
        return trials

    def with_states(self, *states: TrialState) -> list[FrozenTrial]:
        """The trials of the last read in ``states`` (read now if never read)."""
        trials = self.trials if self.trials is not None else self.refresh()
        return [t for t in trials if t.state in states]
