"""What a study's accuracy axis holds, and how it is written.

Most evaluators store a validation accuracy, a fraction shown in percent. The zero-cost
evaluator (``--evaluator zero-cost[:NAME|vote]``) stores a proxy's score in (0, 1) on the
same axis: it is written as "<proxy> score", as a plain number, never as a percentage.
``nas show``, ``nas studies``, the search's summary, the HTML report and the dashboard all
ask here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from nas.storage import keys


@dataclass(frozen=True)
class AccuracyAxis:
    """``name``: what the axis is ("accuracy", "synflow score"); ``percent``: shown x100."""

    name: str = "accuracy"
    percent: bool = True

    @property
    def scale(self) -> float:
        """Multiplier from the stored value to the shown one."""
        return 100.0 if self.percent else 1.0

    @property
    def title(self) -> str:
        """A plot axis's title: ``accuracy (%)`` or ``vote score``."""
        return f"{self.name} (%)" if self.percent else self.name

    @property
    def short(self) -> str:
        """A table column's heading: ``acc %`` or ``vote score``."""
        return "acc %" if self.percent else self.name

    def fmt(self, value: Any, se: Any = None) -> str:
        """The shown value: ``93.12 ± 0.41`` (percent) or ``0.7316`` (a score)."""
        if value is None:
            return "-"
        if not self.percent:
            return f"{float(value):.4f}"
        text = f"{100 * float(value):.2f}"
        return text if se is None else f"{text} ± {100 * float(se):.2f}"


ACCURACY = AccuracyAxis()


def axis_of_evaluator(evaluator: str | None) -> AccuracyAxis:
    """The axis of a study from its recorded ``evaluator`` setting."""
    kind, _, arg = (evaluator or "").partition(":")
    if kind == "zero-cost":
        return AccuracyAxis(f"{arg or 'vote'} score", percent=False)
    return ACCURACY


def axis_of_trial(user_attrs: Mapping[str, Any]) -> AccuracyAxis:
    """The axis of one trial, from what it recorded (a zero-cost trial names its proxy)."""
    proxy = user_attrs.get(keys.ZERO_COST_PROXY)
    return ACCURACY if proxy is None else AccuracyAxis(f"{proxy} score", percent=False)
