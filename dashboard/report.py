"""``nas report``: the dashboard's charts of one study in a single self-contained HTML file.

plotly.js is inlined once (no CDN, no server), so the file can be mailed or attached to a
ticket and opens offline.
"""

from __future__ import annotations

import html
from datetime import UTC, datetime
from pathlib import Path

from dashboard import arch as arch_mod
from dashboard import info
from dashboard.data import Reader, StudyData
from nas.analysis.next_steps import export_refusal
from nas.storage import keys


def _table(rows: list[list[str]], head: list[str]) -> str:
    th = "".join(f"<th>{html.escape(h)}</th>" for h in head)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in rows
    )
    return f"<table><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"


def _fit_html(luts: list[info.LutInfo], key: str) -> str:
    """The fits of lookup table ``key`` (``lut0``...) with their held-out validation."""
    k = int(key.removeprefix("lut"))
    if k >= len(luts):  # the "no table stored" chart
        return ""
    rows = info.fit_rows(luts[k])
    if not rows:
        return "<p class=meta>no predictor fit stored for this table</p>"
    return "<h3>Latency predictor fits and their validation on held-out networks</h3>" + _table(
        rows, list(info.FIT_HEAD)
    )


def _front_rows(d: StudyData, p: info.ParetoInfo) -> list[list[str]]:
    rows = []
    for n in p.front:
        pt = p.by_number(n)
        assert pt is not None
        rows.append(
            [
                str(n)
                + (" (knee)" if n == p.knee else "")
                + (f" ({pt.anchor} anchor)" if pt.anchor else ""),
                p.axis.fmt(pt.accuracy, pt.accuracy_se),
                f"{pt.latency_ms:.3f}" + ("~" if pt.noisy else ""),
                "-" if pt.p90_ms is None else f"{pt.p90_ms:.3f}",
                "-" if pt.params_m is None else f"{pt.params_m:.3f}",
                "-" if pt.flops_m is None else f"{pt.flops_m:.1f}",
                pt.arch_str,
            ]
        )
    return rows


def render_report(reader: Reader, name: str) -> str:
    """The report of study ``name`` as one HTML document.

    Raises:
        StorageError: no such study.
    """
    import plotly.io as pio

    d = reader.study(name)
    p = info.pareto_info(d)
    figs, knee_html = _figures(reader, name, d, p)
    luts = info.lut_infos(reader.lookup_tables(), d)  # their fits go under their charts
    divs = {
        key: pio.to_html(
            fig,  # type: ignore[arg-type]
            full_html=False,
            include_plotlyjs=False,
            div_id=f"fig-{key}",
            config={"displaylogo": False},
        )
        for key, fig in figs
    }
    body = "\n".join(
        [
            f"<h1>{html.escape(d.name)}</h1>",
            f"<p class=meta>{html.escape(reader.shown)} · written "
            f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC by nas report</p>",
            _table(_settings_rows(d), ["setting", "value"]),
            divs["pareto"],
            f"<h2>Pareto front ({len(p.front)} trials)</h2>",
            _front_table(d, p),
            divs["anytime"],
            divs["latency"],
            divs.get("arch", ""),
            knee_html,
            divs["importance"],
            divs["predicted"],
            divs["cache"],
            *(v + _fit_html(luts, k) for k, v in divs.items() if k.startswith("lut")),
        ]
    )
    return _document(f"nas report: {html.escape(d.name)}", body)


def _figures(
    reader: Reader, name: str, d: StudyData, p: info.ParetoInfo
) -> tuple[list[tuple[str, object]], str]:
    """The report's figures by key, in page order; and the HTML under the knee's network."""
    from dashboard import figures as fg

    figs: list[tuple[str, object]] = [
        ("pareto", fg.plot_pareto(p, selected=p.knee, label="knee: trial", title="Pareto front")),
        ("anytime", fg.plot_anytime(info.anytime_info(d))),
        ("latency", fg.plot_latency(info.latency_info(d))),
    ]
    knee_html = "<p>no completed trial yet</p>"
    if p.knee is not None:
        t = d.trial(p.knee)
        assert t is not None
        a = t.user_attrs.get(keys.ARCH)
        figs.append(
            (
                "arch",
                fg.plot_arch(
                    arch_mod.arch_info(a if isinstance(a, dict) else t.params),
                    f"Network of trial {p.knee} (knee of the front)",
                    arch_mod.study_layer_options(d.settings),
                ),
            )
        )
        why = export_refusal(d.name, d.settings)
        knee_html = (
            f"<p>Nothing to export: {html.escape(why)}</p>"
            if why
            else f"<p>Export it with:</p><pre>"
            f"{html.escape(arch_mod.export_command(d.name, p.knee, reader.shown))}</pre>"
        )
    figs.append(
        ("importance", fg.plot_importance(info.importance_info(d, reader.importance_study(name))))
    )
    hw = info.hardware_info(d, reader.latency_rows())
    figs += [("predicted", fg.plot_predicted(hw)), ("cache", fg.plot_latency_cache(hw))]
    luts = info.lut_infos(reader.lookup_tables(), d)
    space = d.settings.space if d.settings is not None else "mobile"
    figs += [(f"lut{k}", fg.plot_lut(i)) for k, i in enumerate(luts)] or [
        ("lut0", fg.plot_no_lut(fg.profile_command(space, reader.shown)))
    ]
    return figs, knee_html


def _settings_rows(d: StudyData) -> list[list[str]]:
    from nas.analysis import evidence

    s = d.settings
    # the study's own fidelity is said below with the reference set's, never as an empty row
    said = ("options", "fidelity")
    rows = [[k, str(v)] for k, v in (vars(s).items() if s else []) if k not in said]
    if s is not None:
        # first: what the accuracy is and how far to trust it ("fidelity: ..." as a row
        # "fidelity"), and the shapes (a proxy marked as such)
        said_first = [evidence.accuracy_note(s), *evidence.fidelity_lines(s)]
        first = [line.split(": ", 1) for line in said_first if line]
        if s.input_line():
            first.insert(0, ["inputs", s.input_line()])
        rows = first + rows
    rows.append(["budget", str(d.budget)])
    rows.append(["completed trials", str(len(d.complete))])
    return rows


def _front_table(d: StudyData, p: info.ParetoInfo) -> str:
    front = _table(
        _front_rows(d, p),
        [
            "trial",
            f"{p.axis.name} % ± se" if p.axis.percent else p.axis.name,
            "latency ms",
            "p90 ms",
            "params M",
            "MFLOPs",
            "architecture",
        ],
    )
    if any((pt := p.by_number(n)) is not None and pt.noisy for n in p.front):
        front += (
            "<p class=meta>~ noisy: the p10-p90 spread is over 25 % of the median or the "
            "timer never settled; re-measure on a quiet machine</p>"
        )
    if any((pt := p.by_number(n)) is not None and pt.anchor for n in p.front):
        from nas.analysis.evidence import anchor_note

        front += f"<p class=meta>{html.escape(anchor_note(d.settings))}</p>"
    return front


def _document(title: str, body: str) -> str:
    """One self-contained HTML page: the styles, plotly.js inlined, ``body``."""
    from dashboard.plotlyjs import plotlyjs_source

    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'>"
        f"<title>{title}</title>"
        "<style>body{font-family:sans-serif;max-width:1100px;margin:auto;padding:12px}"
        "table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ddd;padding:3px 8px;"
        "font-size:13px;text-align:left}pre{background:#f4f4f4;padding:6px}.meta{color:#666}"
        "</style></head>"
        # plotly.js goes first in <body>: the partial bundle touches document.body as it
        # loads (a <script> in <head> runs before <body> exists), and every figure's own
        # script below it needs Plotly defined.
        f"<body><script type='text/javascript'>{plotlyjs_source()}</script>\n{body}</body></html>"
    )


def write_report(url: str, name: str, out: Path) -> int:
    """Write the report of study ``name`` to ``out``; returns its size in bytes.

    Raises:
        StorageError: the storage cannot be opened or has no such study (nothing is written).
    """
    text = render_report(Reader(url), name)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(out)
    return out.stat().st_size
