"""`ernte report DIR --out report.html`: one static, self-contained HTML page about a curated
directory: the decision funnel, languages, licences, opt-out signals by host, quality-signal
histograms, documents by host, sample kept documents, the manifest's runs and policy applications,
withdrawals and (when the fetch logs are at hand) the crawl's fetch decisions.

The data comes through `pipeline.inspection` (the same views `ernte inspect` queries). Crawled
strings (titles, URLs, hosts, licence evidence, ...) reach the page only through `_e` (HTML
escaping) and never carry markup; plots are PNG images, so labels drawn in them are pixels. The page
holds no script and its Content-Security-Policy allows none, in case an escape is ever forgotten.
"""

from __future__ import annotations

import base64
import html
import io
import json
import os
import warnings
from datetime import datetime, timezone
from pathlib import Path

from pipeline.inspection import _DOC_SIGNALS, InspectError, _columns, connect, open_target

TOP = 20  # rows of the per-host / per-language / per-licence tables and plots
SAMPLE_DOCUMENTS = 15
HISTOGRAM_BINS = 20
# Curate-time columns shown per host besides inspection's signals (content_usage holds the raw header).
_EXTRA_SIGNALS = (("Content-Usage header stated", "content_usage IS NOT NULL AND trim(content_usage) <> ''", ("content_usage",)),)


def _e(value) -> str:
    """A value as HTML text: every crawled string goes through here."""
    if value is None:
        return ""
    if isinstance(value, float):
        value = f"{value:.4g}"
    elif isinstance(value, (list, tuple, dict)):
        value = json.dumps(value, ensure_ascii=False, default=str)
    return html.escape(str(value), quote=True)


def _sql_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


# -- HTML pieces ------------------------------------------------------------------------------------


def _table(columns: list[str], rows: list[tuple], numeric: set[int] | None = None, table_id: str | None = None) -> str:
    if not rows:
        return '<p class="none">(none)</p>'
    numeric = numeric if numeric is not None else {i for i in range(len(columns)) if all(isinstance(r[i], (int, float)) and not isinstance(r[i], bool) for r in rows if r[i] is not None)}
    head = "".join(f"<th>{_e(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f'<td{" class=num" if i in numeric else ""}>{_e(v)}</td>' for i, v in enumerate(row)) + "</tr>\n" for row in rows)
    ident = f' id="{_e(table_id)}"' if table_id else ""
    return f"<table{ident}><thead><tr>{head}</tr></thead><tbody>\n{body}</tbody></table>"


def _section(anchor: str, title: str, *parts: str) -> str:
    return f'<section id="{anchor}"><h2>{_e(title)}</h2>\n' + "\n".join(p for p in parts if p) + "</section>\n"


def _note(text: str) -> str:
    return f'<p class="note">{_e(text)}</p>'


def _img(png: bytes | None, alt: str) -> str:
    if png is None:
        return ""
    return f'<img class="plot" alt="{_e(alt)}" src="data:image/png;base64,{base64.b64encode(png).decode("ascii")}">'


# -- plots (PNG: crawled labels become pixels, never markup) ---------------------------------------


def _label(text, width: int = 32) -> str:
    text = "(none)" if text is None else str(text).replace("\n", " ")
    text = text if len(text) <= width else text[: width - 1] + "…"
    return text.replace("$", r"\$")  # no mathtext from crawled strings


def _png(fig, tight: bool = True) -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # missing glyphs in crawled labels
        fig.savefig(buf, format="png", dpi=80, bbox_inches="tight" if tight else None)
    return buf.getvalue()


def _figure(width: float, height: float):
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height))


def _barh(labels: list, series: dict[str, list[float]], title: str, xlabel: str = "documents") -> bytes | None:
    """Horizontal stacked bars, first label on top."""
    if not labels:
        return None
    fig = _figure(8, 0.8 + 0.32 * len(labels))
    ax = fig.add_subplot()
    y = list(range(len(labels)))
    left = [0.0] * len(labels)
    colours = ("#2f7d32", "#b0bec5", "#c62828", "#1565c0", "#ef6c00", "#6a1b9a", "#00838f", "#9e9d24", "#5d4037", "#ad1457")
    for (name, values), colour in zip(series.items(), colours):
        ax.barh(y, values, left=left, label=_label(name, 48), color=colour)
        left = [a + b for a, b in zip(left, values)]
    ax.set_yticks(y, [_label(v) for v in labels])
    ax.invert_yaxis()
    ax.set_xlabel(xlabel)
    ax.set_title(title)
    if len(series) > 1:
        ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1))
    return _png(fig)


def _grouped_barh(labels: list, series: dict[str, list[float]], title: str) -> bytes | None:
    if not labels or not series:
        return None
    n = len(series)
    height = 0.8 / n
    fig = _figure(8, 1.2 + 0.22 * len(labels) * max(n, 2))
    ax = fig.add_subplot()
    colours = ("#c62828", "#ef6c00", "#6a1b9a", "#1565c0", "#00838f", "#9e9d24", "#5d4037", "#ad1457", "#2f7d32", "#546e7a", "#f9a825")
    for k, ((name, values), colour) in enumerate(zip(series.items(), colours)):
        ax.barh([i + k * height for i in range(len(labels))], values, height=height, label=_label(name, 60), color=colour)
    ax.set_yticks([i + 0.4 - height / 2 for i in range(len(labels))], [_label(v) for v in labels])
    ax.invert_yaxis()
    ax.set_xlabel("documents")
    ax.set_title(title)
    ax.legend(fontsize="x-small", loc="upper left", bbox_to_anchor=(1.01, 1))
    return _png(fig)


def _histograms(hists: list[tuple[str, list[float], list[int], list[int]]]) -> bytes | None:
    """Small multiples: one panel per quality signal, kept (green) in front of all (grey). Few
    ticks and one layout pass: matplotlib's time goes into per-axes text."""
    if not hists:
        return None
    from matplotlib.ticker import MaxNLocator

    ncols = 5
    nrows = -(-len(hists) // ncols)
    fig = _figure(3.0 * ncols, 1.6 * nrows)
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for ax, (name, edges, kept, dropped) in zip(axes, hists):
        ax.stairs([k + d for k, d in zip(kept, dropped)], edges, fill=True, color="#b0bec5", label="dropped")
        ax.stairs(kept, edges, fill=True, color="#2f7d32", label="kept")
        ax.set_title(name, fontsize=7)
        ax.tick_params(labelsize=6)
        ax.xaxis.set_major_locator(MaxNLocator(3))
        ax.yaxis.set_major_locator(MaxNLocator(2, integer=True))
    for ax in axes[len(hists) :]:
        ax.set_axis_off()
    axes[0].legend(fontsize=6)
    fig.subplots_adjust(left=0.03, right=0.99, top=1 - 0.25 / nrows, bottom=0.25 / nrows, hspace=0.7, wspace=0.25)
    return _png(fig, tight=False)


# -- the sections ------------------------------------------------------------------------------------


def _funnel(con, total: int, kept: int, prov: set[str]) -> str:
    from filters.quality import DROP_REASONS as QUALITY_DROP_REASONS
    from pipeline.schema import DEDUP_DROP_REASONS, EXTRACT_DROP_REASONS, LANG_DROP_REASONS, READ_DROP_REASONS

    stages = (
        ("reading", READ_DROP_REASONS),
        ("extraction", EXTRACT_DROP_REASONS),
        ("language", LANG_DROP_REASONS),
        ("quality", QUALITY_DROP_REASONS),
        ("deduplication", DEDUP_DROP_REASONS),
    )
    stage_of = {reason: stage for stage, reasons in stages for reason in reasons}
    drops = con.execute("SELECT drop_reason, count(*) FROM provenance WHERE decision <> 'kept' GROUP BY 1 ORDER BY 2 DESC, 1").fetchall()
    by_stage: dict[str, int] = {}
    for reason, n in drops:
        stage = stage_of.get(reason, "other")
        by_stage[stage] = by_stage.get(stage, 0) + n
    labels, remaining, dropped = ["read"], [total], [0]
    left = total
    for stage, _ in (*stages, ("other", ())):
        if stage == "other" and not by_stage.get("other"):
            continue
        left -= by_stage.get(stage, 0)
        labels.append(f"after {stage}")
        remaining.append(left)
        dropped.append(by_stage.get(stage, 0))
    rows = [(label, r, d) for label, r, d in zip(labels, remaining, dropped)]
    if "train_eligible" in prov:
        eligible = con.execute("SELECT count(*) FROM provenance WHERE decision = 'kept' AND train_eligible").fetchone()[0]
        labels.append("kept and train-eligible")
        remaining.append(eligible)
        dropped.append(kept - eligible)
        rows.append(("kept and train-eligible", eligible, kept - eligible))
    plot = _barh(labels, {"documents left": remaining, "dropped here": dropped}, "decision funnel")
    reason_rows = [(stage_of.get(r, "other"), r if r is not None else "(no reason recorded)", n, round(100.0 * n / total, 1) if total else 0.0) for r, n in drops]
    return _section(
        "funnel",
        "Decision funnel",
        _img(plot, "decision funnel: documents left after each stage"),
        _table(["stage", "documents left", "dropped here"], rows, table_id="funnel-table"),
        "<h3>Drop reasons</h3>",
        _table(["stage", "drop reason", "documents", "percent"], reason_rows, table_id="drop-reasons"),
    )


def _counts_section(con, anchor: str, title: str, column: str, none_label: str, what: str) -> str:
    rows = con.execute(
        f"SELECT coalesce({column}, {_sql_string(none_label)}) AS v, count(*) AS documents, count(*) FILTER (WHERE decision = 'kept') AS kept "
        f"FROM provenance GROUP BY 1 ORDER BY documents DESC, v LIMIT {TOP}"
    ).fetchall()
    plot = _barh([r[0] for r in rows], {"kept": [r[2] for r in rows], "dropped": [r[1] - r[2] for r in rows]}, title.lower())
    return _section(anchor, title, _img(plot, f"documents by {what}"), _table([what, "documents", "kept"], rows, table_id=f"{anchor}-table"))


def _optout_section(con, prov: set[str]) -> str:
    signals = [(label, cond) for label, cond, needs in (*_DOC_SIGNALS, *_EXTRA_SIGNALS) if set(needs) <= prov]
    if not signals:
        return _section("optout", "Opt-out signals by host", _note("Not recorded: these runs predate opt-out signals."))
    counts = ", ".join(f"count(*) FILTER (WHERE coalesce({cond}, false)) AS s{i}" for i, (_, cond) in enumerate(signals))
    totals = con.execute(f"SELECT {counts}, count(*) FROM provenance").fetchone()
    reasons = "eligibility_reason" in prov and "train_eligible" in prov
    reasons_sql = (
        ", (SELECT string_agg(r || ': ' || n, ', ' ORDER BY n DESC, r) FROM (SELECT coalesce(eligibility_reason, '(not decided)') AS r, count(*) AS n "
        "FROM provenance q WHERE q.host IS NOT DISTINCT FROM p.host AND q.decision = 'kept' GROUP BY 1)) AS reasons"
        if reasons
        else ""
    )
    hosts = con.execute(f"SELECT host, count(*) AS documents, {counts}{reasons_sql} FROM provenance p GROUP BY host ORDER BY documents DESC, host LIMIT {TOP}").fetchall()
    total_rows = [(label, totals[i]) for i, (label, _) in enumerate(signals)]
    shown = [i for i, (label, _) in enumerate(signals) if any(h[2 + i] for h in hosts)]
    plot = _grouped_barh([h[0] for h in hosts], {signals[i][0]: [h[2 + i] for h in hosts] for i in shown}, "opt-out signals by host") if shown else None
    parts = [
        _img(plot, "opt-out signals by host"),
        "<h3>All documents</h3>",
        _table(["signal", "documents"], total_rows, table_id="optout-totals"),
        f"<h3>By host (top {TOP})</h3>",
        _table(["host", "documents", *[label for label, _ in signals], *(["eligibility of kept documents"] if reasons else [])], hosts, table_id="optout-hosts"),
    ]
    if "eligibility_reason" in prov:
        rows = con.execute(
            "SELECT coalesce(eligibility_reason, '(not decided)') AS reason, count(*) FILTER (WHERE decision = 'kept') AS kept, count(*) AS documents "
            "FROM provenance GROUP BY 1 ORDER BY kept DESC, documents DESC, reason"
        ).fetchall()
        parts += ["<h3>Train eligibility (reason)</h3>", _table(["eligibility reason", "kept documents", "all documents"], rows, table_id="eligibility")]
    return _section("optout", "Opt-out signals by host", *parts)


def _quality_section(con, prov: set[str]) -> str:
    from filters.quality import signal_names

    names = [n for n in signal_names() if n in prov]
    if not names:
        return _section("quality", "Quality signals", _note("Not recorded: these runs predate the quality-signal columns."))
    types = dict(con.execute("SELECT column_name, column_type FROM (DESCRIBE provenance)").fetchall())
    stats = con.execute("SELECT " + ", ".join(f"min({n})::DOUBLE, max({n})::DOUBLE, count({n})" for n in names) + " FROM provenance").fetchone()
    hists, table_rows = [], []
    for k, name in enumerate(names):
        lo, hi, n = stats[3 * k : 3 * k + 3]
        if not n:
            continue
        if "INT" in types.get(name, "") and hi - lo < HISTOGRAM_BINS:
            bins, width, lo = int(hi - lo) + 1, 1.0, lo - 0.5  # one bar per value
        elif hi > lo:
            bins, width = HISTOGRAM_BINS, (hi - lo) / HISTOGRAM_BINS
        else:
            bins, width, lo = 1, 1.0, lo - 0.5  # one value
        rows = con.execute(
            f"SELECT least(floor(({name} - ?) / ?)::BIGINT, {bins - 1}) AS b, count(*) FILTER (WHERE decision = 'kept'), count(*) FILTER (WHERE decision <> 'kept') "
            f"FROM provenance WHERE {name} IS NOT NULL GROUP BY 1",
            [lo, width],
        ).fetchall()
        kept, dropped = [0] * bins, [0] * bins
        for b, k_n, d_n in rows:
            kept[int(b)], dropped[int(b)] = k_n, d_n
        hists.append((name, [lo + i * width for i in range(bins + 1)], kept, dropped))
        table_rows.append((name, n, stats[3 * k], hi))
    return _section(
        "quality",
        "Quality signals",
        _note("Documents measured per signal (documents dropped before the quality stage are not measured); kept in green over dropped in grey."),
        _img(_histograms(hists), "histograms of the quality signals"),
        _table(["signal", "documents measured", "min", "max"], table_rows, table_id="quality-table"),
    )


def _samples_section(con, prov: set[str]) -> str:
    cols = [c for c in ("title", "url", "host", "lang", "licence_spdx", "licence_evidence", "train_eligible") if c in prov]
    rows = con.execute(f"SELECT {', '.join(cols)} FROM provenance WHERE decision = 'kept' ORDER BY fetched_at, url LIMIT {SAMPLE_DOCUMENTS}").fetchall()
    if not rows:
        return _section("samples", "Sample kept documents", _note("No document kept."))
    head = "".join(f"<th>{_e(c)}</th>" for c in cols)
    body = []
    for row in rows:
        cells = []
        for c, v in zip(cols, row):
            if c == "url" and isinstance(v, str) and v.lower().startswith(("http://", "https://")):
                cells.append(f'<td class="url"><a href="{_e(v)}" rel="nofollow noopener noreferrer">{_e(v)}</a></td>')
            elif c == "licence_evidence":
                cells.append(f"<td><code>{_e(v if v is None or len(v) <= 200 else v[:199] + '…')}</code></td>")
            else:
                cells.append(f"<td>{_e(v)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return _section("samples", f"Sample kept documents (first {SAMPLE_DOCUMENTS} by fetch time)", f'<table id="samples-table"><thead><tr>{head}</tr></thead><tbody>\n' + "\n".join(body) + "</tbody></table>")


def _runs_section(manifest: dict) -> str:
    rows = []
    for run in manifest.get("runs", []):
        inputs = run.get("inputs") or []
        funnel = run.get("funnel") or {}
        paths = "; ".join(str(i.get("path", "?")) for i in inputs[:5]) + (f"; … ({len(inputs)} in all)" if len(inputs) > 5 else "")
        rows.append((run.get("run_id"), run.get("started_at"), run.get("finished_at"), len(inputs), paths, sum(i.get("documents") or 0 for i in inputs), funnel.get("kept")))
    parts = [_table(["run", "started", "finished", "inputs", "input files", "documents", "kept"], rows, numeric={3, 5, 6}, table_id="runs-table")]
    applications = manifest.get("policy_applications") or []
    parts.append("<h3>Policy applications</h3>")
    if applications:
        app_rows = [(a.get("at"), json.dumps(a.get("policy"), sort_keys=True), json.dumps(a.get("counts"), sort_keys=True)) for a in applications]
        parts.append(_table(["at", "policy", "counts"], app_rows, table_id="policy-applications"))
    else:
        parts.append(_note("None: eligibility is as curated (`ernte policy apply` records changes here)."))
    return _section("runs", "Runs (manifest.json)", *parts)


def _withdrawals_section(directory: Path) -> str:
    path = directory / "withdrawals.jsonl"
    if not path.is_file():
        return ""
    rows, bad = [], []
    for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except ValueError:
            bad.append(number)
            continue
        if not isinstance(entry, dict):
            bad.append(number)
            continue
        documents = entry.get("documents")
        if isinstance(documents, list):
            documents = f"{len(documents)}: " + ", ".join(map(str, documents[:5])) + (" …" if len(documents) > 5 else "")
        selector = entry.get("selector")
        rows.append((entry.get("at"), entry.get("version"), entry.get("reason"), selector if isinstance(selector, str) else json.dumps(selector, ensure_ascii=False, default=str), documents))
    parts = [_table(["at", "version", "reason", "selector", "documents"], rows, numeric=set(), table_id="withdrawals-table")]
    if bad:
        parts.append(_note(f"withdrawals.jsonl lines not read (not a JSON object): {', '.join(map(str, bad))}"))
    return _section("withdrawals", "Withdrawals", *parts)


def _fetch_section(con, target) -> str:
    if not target.fetch_files:
        return _section("fetches", "Crawl fetch decisions", _note("No fetch log available (WARC inputs, or the crawl directories are gone; name them with --crawl)."))
    rows = con.execute("SELECT decision, count(*) AS urls FROM fetches GROUP BY 1 ORDER BY urls DESC, decision").fetchall()
    plot = _barh([r[0] for r in rows], {"URLs": [r[1] for r in rows]}, "fetch decisions", xlabel="URLs")
    dirs = _note("Fetch logs of: " + ", ".join(map(str, target.crawl_dirs)))
    return _section("fetches", "Crawl fetch decisions", dirs, _img(plot, "fetch decisions"), _table(["decision", "URLs"], rows, table_id="fetch-decisions"))


_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:2rem auto;max-width:75rem;padding:0 1rem;color:#1b1b1b}
h1{margin-bottom:.2rem}h2{border-bottom:1px solid #ccc;padding-bottom:.2rem;margin-top:2.2rem}
table{border-collapse:collapse;margin:.6rem 0;font-size:.88rem}
th,td{border:1px solid #ddd;padding:.2rem .45rem;text-align:left;vertical-align:top;max-width:32rem;overflow-wrap:break-word}
td.url,td code{overflow-wrap:anywhere}
th{background:#f3f3f3}td.num{text-align:right;font-variant-numeric:tabular-nums}
dl.totals{display:grid;grid-template-columns:max-content auto;gap:.15rem 1rem}dl.totals dd{margin:0;font-weight:600}
img.plot{max-width:100%;display:block;margin:.6rem 0}.note,.none{color:#555}nav a{margin-right:.8rem}
code{font-size:.8rem}section{overflow-x:auto}
"""


def render(directory: Path, crawl_dirs: tuple[Path, ...] = ()) -> str:
    """The report page for a curated directory (InspectError when it is not one)."""
    target = open_target(directory, crawl_dirs)
    if target.kind != "curated":
        raise InspectError(f"{directory}: not a curated directory (no manifest.json): `ernte report` reads the output of `ernte curate`")
    con = connect(target)
    prov = _columns(con, "provenance")
    total, kept = con.execute("SELECT count(*), count(*) FILTER (WHERE decision = 'kept') FROM provenance").fetchone()
    shard_docs = con.execute("SELECT count(*) FROM shards").fetchone()[0]
    hosts = con.execute("SELECT count(DISTINCT host) FROM provenance").fetchone()[0]
    runs = target.manifest["runs"]
    generated = datetime.now(timezone.utc).isoformat(timespec="seconds")

    sections: list[str] = []
    if not runs or total == 0:
        sections.append(_section("empty", "Nothing curated yet", _note("The manifest records no document yet: run `ernte curate INPUT... --out DIR` first.")))
    else:
        sections.append(_funnel(con, total, kept, prov))
        sections.append(_counts_section(con, "languages", "Languages", "lang", "(none)", "language"))
        if "licence_spdx" in prov:
            sections.append(_counts_section(con, "licences", "Licences (licence_spdx)", "licence_spdx", "(none detected)", "licence"))
        else:
            sections.append(_section("licences", "Licences (licence_spdx)", _note("Not recorded: these runs predate licence detection.")))
        sections.append(_optout_section(con, prov))
        sections.append(_quality_section(con, prov))
        host_rows = con.execute(
            "SELECT host, count(*) AS documents, count(*) FILTER (WHERE decision = 'kept') AS kept"
            + (", count(*) FILTER (WHERE decision = 'kept' AND train_eligible) AS kept_eligible" if "train_eligible" in prov else "")
            + f" FROM provenance GROUP BY host ORDER BY documents DESC, host LIMIT {TOP}"
        ).fetchall()
        host_cols = ["host", "documents", "kept"] + (["kept and train-eligible"] if "train_eligible" in prov else [])
        shown = _note(f"The {TOP} hosts with most documents, of {hosts}.") if hosts > TOP else ""
        sections.append(_section("hosts", "Documents by host", shown, _table(host_cols, host_rows, table_id="hosts-table")))
        sections.append(_samples_section(con, prov))
    sections.append(_runs_section(target.manifest))
    sections.append(_withdrawals_section(target.path))
    if runs:
        sections.append(_fetch_section(con, target))
    con.close()

    totals = [
        ("runs", len(runs), "total-runs"),
        ("documents read", total, "total-documents"),
        ("documents kept", kept, "total-kept"),
        ("documents in shards", shard_docs, "total-shard-documents"),
        ("hosts", hosts, "total-hosts"),
    ]
    summary = '<dl class="totals">' + "".join(f'<dt>{_e(label)}</dt><dd id="{ident}">{_e(v)}</dd>' for label, v, ident in totals) + "</dl>"
    warnings_html = "".join(f'<p class="note warning">{_e(w)}</p>' for w in target.warnings)
    nav = "<nav>" + "".join(f'<a href="#{a}">{t}</a>' for a, t in (("funnel", "funnel"), ("languages", "languages"), ("licences", "licences"), ("optout", "opt-out"), ("quality", "quality"), ("hosts", "hosts"), ("samples", "samples"), ("runs", "runs"), ("withdrawals", "withdrawals"), ("fetches", "fetches"))) + "</nav>"
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; img-src data:; style-src 'unsafe-inline'\">\n"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
        f"<title>Ernte report: {_e(target.path.name or str(target.path))}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
        f"<h1>Ernte report</h1>\n<p class=\"note\">Curated directory <code>{_e(target.path)}</code>, generated {_e(generated)}.</p>\n"
        f"{nav}\n{summary}\n{warnings_html}\n" + "".join(sections) + "</body>\n</html>\n"
    )


def write_report(directory: Path, out: Path, crawl_dirs: tuple[Path, ...] = ()) -> Path:
    """Render the report for `directory` and write it to `out` atomically; returns `out`."""
    page = render(Path(directory), tuple(crawl_dirs))
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(page, encoding="utf-8")
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return out
