"""What a study's accuracy axis is, and the evidence behind it, in words for people.

A supernet study's accuracy is the supernet's *inherited* accuracy: each architecture scored
with weights shared by every other one, not trained alone. It is a ranking score, worth what
its fidelity says: how well it ranks a reference set of architectures trained from scratch
(:mod:`nas.storage.fidelity`). A table study's accuracy is the table's own; a synthetic study's
is a stand-in. ``nas show``, the dashboard and ``nas report`` all ask here, so the three say
the same thing.

The anchors (the space's largest and smallest architectures that a new chain-space search
scores first, :func:`nas.storage.studies.anchors_of`) are named here too: the largest is also
the supernet's distillation teacher, so its inherited score is the one most likely flattered.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from optuna.trial import FrozenTrial

from nas.analysis.axis import AccuracyAxis, axis_of_evaluator
from nas.storage import keys
from nas.storage.fidelity import FidelityRecordError, lookup, read_records
from nas.storage.studies import StudySettings

INHERITED = "inherited acc"  # the axis of a supernet (or DARTS) study
ACCURACY = "accuracy"  # a table's accuracy, a stand-in's, or a study of unknown settings


def kind_of(settings: StudySettings | None) -> str:
    """``supernet`` | ``darts`` | ``table`` | ``synthetic`` | ``zero-cost`` | another
    evaluator's name | ``unknown`` (a study not made by nas)."""
    if settings is None:
        return "unknown"
    return kind_of_run(settings.evaluator, settings.strategy)


def kind_of_run(evaluator: str, strategy: str) -> str:
    """:func:`kind_of` from a study's ``evaluator`` and ``strategy`` settings alone."""
    if strategy == "darts":
        return "darts"
    return evaluator.partition(":")[0] or "supernet"


def axis_of_run(evaluator: str | None, strategy: str = "") -> AccuracyAxis:
    """The accuracy axis of a study run with ``evaluator`` and ``strategy``: a zero-cost
    proxy's score, the supernet's ``inherited acc`` (in percent), or ``accuracy``."""
    axis = axis_of_evaluator(evaluator)
    if axis.percent and evaluator is not None and kind_of_run(evaluator, strategy) in INHERITS:
        return AccuracyAxis(INHERITED)
    return axis


def axis_of(settings: StudySettings | None) -> AccuracyAxis:
    """The study's accuracy axis (see :func:`axis_of_run`); ``accuracy`` without settings."""
    if settings is None:
        return AccuracyAxis()
    return axis_of_run(settings.evaluator, settings.strategy)


INHERITS = ("supernet", "darts")  # the kinds whose accuracy comes from shared weights


def is_inherited(settings: StudySettings | None) -> bool:
    """Whether the study's accuracy comes from shared (supernet) weights."""
    return kind_of(settings) in INHERITS


def accuracy_name(settings: StudySettings | None) -> str:
    """The axis's name: ``inherited acc`` for a supernet study, else ``accuracy``."""
    return INHERITED if is_inherited(settings) else ACCURACY


def accuracy_title(settings: StudySettings | None) -> str:
    """A chart axis's title: ``inherited acc (%)`` or ``accuracy (%)``."""
    return f"{accuracy_name(settings)} (%)"


def latency_title(settings: StudySettings | None) -> str:
    """A chart axis's title naming where the latency comes from: ``latency on onnxruntime (ms,
    median)``, or the table's column for a table study that reads it (target ``table:COLUMN``)."""
    if settings is None:
        return "latency (ms, median)"
    kind, _, column = settings.target.partition(":")
    if kind == "table" and column:
        return f"latency: the table's {column} (ms)"
    return f"latency on {settings.target} (ms, median)"


def accuracy_note(settings: StudySettings | None) -> str:
    """One line on what the accuracy is ('' for a study not made by nas)."""
    kind = kind_of(settings)
    if kind in ("supernet", "darts"):
        what = "the supernet's" if kind == "supernet" else "the DARTS supernet's"
        return (
            f"inherited acc: scored with {what} shared weights, not trained alone: a ranking "
            "score (see fidelity), not the accuracy of a trained network"
        )
    if kind == "table":
        assert settings is not None
        return f"accuracy: the table's own ({settings.data}), as its authors trained each network"
    if kind == "synthetic":
        return "accuracy: a synthetic stand-in (--evaluator synthetic), not a measurement"
    if kind == "zero-cost":
        return (
            f"{axis_of(settings).name}: a zero-cost proxy of each untrained network in (0, 1): "
            "a ranking score (see fidelity), not an accuracy"
        )
    return ""


def fidelity_lines(settings: StudySettings | None, records: str | None = None) -> list[str]:
    """The study's fidelity lines: the reference set's measurement for its space, data and
    scorer, or that none was measured; and the study's own ``settings.fidelity`` (written by
    ``benchmarks/bench_proxy.py --study``) where there is one. None for a table or synthetic
    study (their accuracy is not a proxy of training) or a study not made by nas.

    ``records`` is the records file (default: the one shipped with the package); a bad file
    is said in the line, so a screen that shows a front never fails on it.
    """
    kind = kind_of(settings)
    if settings is None or kind in ("table", "synthetic"):
        return []
    scorer = "darts" if kind == "darts" else settings.evaluator
    try:
        rec = lookup(settings.space, settings.space_digest, settings.data, scorer, path=records)
        if rec is not None:
            line = f"fidelity: {rec.line()}"
        else:
            sets = sorted({r.describe() for r in read_records(records)})
            known = f"reference sets: {', '.join(sets)}" if sets else "no reference set yet"
            line = f"fidelity: not measured for this space and data ({known})"
    except FidelityRecordError as e:
        line = f"fidelity: unknown, the reference records are unreadable ({e})"
    lines = [line]
    if settings.fidelity:
        lines.append(f"fidelity of this study (bench_proxy): {settings.fidelity}")
    return lines


# ---- anchors -------------------------------------------------------------------------------
ANCHOR_NOTE_PLAIN = "largest, smallest: the space's anchors, scored first by every new search"
ANCHOR_NOTE = (
    f"{ANCHOR_NOTE_PLAIN}; the largest, the supernet's teacher, is the likeliest flattered"
)


def anchor_note(settings: StudySettings | None) -> str:
    """What an anchor mark means, for a caption or a legend."""
    return ANCHOR_NOTE if kind_of(settings) == "supernet" else ANCHOR_NOTE_PLAIN


def anchor_roles(anchors: Mapping[str, str], trials: Iterable[FrozenTrial]) -> dict[int, str]:
    """Trial number -> ``largest`` | ``smallest`` for the trials that scored an anchor.

    ``anchors`` maps an architecture hash to its role (:func:`nas.storage.studies.anchors_of`).
    """
    if not anchors:
        return {}
    return {
        t.number: anchors[h]
        for t in trials
        if isinstance(h := t.user_attrs.get(keys.ARCH_HASH), str) and h in anchors
    }


# ---- held-out test accuracy ----------------------------------------------------------------
def test_column(settings: StudySettings | None) -> str | None:
    """The held-out column beside a table study's searched one (``cifar10_valid`` ->
    ``cifar10_test``), or None: a table stores every column of its row (``table_row``), and
    NAS-Bench-style tables name their test column after the validation one."""
    if kind_of(settings) != "table":
        return None
    assert settings is not None
    searched = settings.evaluator.rpartition(" accuracy=")[2].partition(" latency=")[0]
    for val in ("valid", "val"):
        if val in searched:
            return searched.replace(val, "test", 1)
    return None


def test_accuracies(
    settings: StudySettings | None, trials: Iterable[FrozenTrial]
) -> dict[int, float]:
    """Trial number -> held-out test accuracy (a fraction) where the study has one: a table
    study's test column (:func:`test_column`, percent in the file)."""
    column = test_column(settings)
    if column is None:
        return {}
    out = {}
    for t in trials:
        row = t.user_attrs.get(keys.TABLE_ROW)
        value = row.get(column) if isinstance(row, dict) else None
        if isinstance(value, int | float) and not isinstance(value, bool):
            out[t.number] = float(value) / 100
    return out
