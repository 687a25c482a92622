"""The commands a person can run next on a study, only those that work for it.

``nas search`` ends with them, ``nas show`` too, and the dashboard and ``nas report`` offer the
export command only where :func:`export_refusal` is empty: ``nas export`` rebuilds a network
from a supernet checkpoint (supernet and DARTS studies) or from the seeded initialisation a
zero-cost proxy scored (exported untrained); a table or synthetic study holds no network.
"""

from __future__ import annotations

import shlex

from nas.analysis.evidence import kind_of
from nas.limits import printable
from nas.storage.studies import StudySettings

EXPORTABLE = ("supernet", "darts", "zero-cost")  # the study kinds nas export can rebuild


def export_refusal(name: str, settings: StudySettings | None) -> str:
    """'' where ``nas export`` can rebuild the study's networks, else one line saying why not."""
    kind = kind_of(settings)
    if kind in EXPORTABLE:
        return ""
    if settings is None:
        return f"study {name!r} was not made by nas: there is no network to export"
    if kind == "table":
        return (
            f"study {name!r} looked its accuracies up in a table ({settings.data}): it holds "
            "no network weights to export; train the chosen architecture from its arch_str"
        )
    return (
        f"study {name!r} used evaluator {settings.evaluator!r}, which trains no network: "
        "nothing to export (nas export needs a supernet, DARTS or zero-cost study)"
    )


def _q(text: str) -> str:
    """A study name or storage URL as one shell word, printable."""
    return shlex.quote(printable(text))


def export_command(name: str, storage: str, settings: StudySettings | None, which: str) -> str:
    """``nas export`` of ``which`` (``--pick knee``, ``--trial 7``), or '' where it cannot
    work; a zero-cost study's says, as a shell comment, that its weights come untrained."""
    if export_refusal(name, settings):
        return ""
    cmd = f"nas export {_q(name)} {which} --out export/ --storage {_q(storage)}"
    if kind_of(settings) == "zero-cost":
        cmd += "  # untrained weights: add --finetune-epochs N to train them"
    return cmd


def next_commands(
    name: str, storage: str, settings: StudySettings | None, *, after: str
) -> list[str]:
    """The next commands for the study, after ``nas search`` (show it, open it in
    optuna-dashboard) or after ``nas show`` (``nas dashboard``, ``nas report``); then the
    export of its knee, where that works."""
    n, url = _q(name), _q(storage)
    if after == "search":
        cmds = [f"nas show {n} --storage {url}", f"optuna-dashboard {url}"]
    else:
        cmds = [f"nas dashboard --storage {url}", f"nas report {n} -o report.html --storage {url}"]
    export = export_command(name, storage, settings, "--pick knee")
    return cmds + ([export] if export else [])
