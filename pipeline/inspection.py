"""`ernte inspect DIR`: what a curated directory (or a crawl directory) holds, as summaries or as
DuckDB SQL over three views.

- `fetches`: the fetch logs of the crawl directories the curated runs read (manifest inputs'
  `crawl_dir`), plus any given with --crawl; for a crawl directory, its own fetch log.
- `provenance`: one row per document of every committed run (DIR/manifest.json lists the files).
- `shards`: the kept documents of the current dataset version (every committed run's shards).

Files written by older versions may lack newer columns: views read them by name
(`union_by_name`), so absent values are NULL, and summaries skip what no file records.
Nothing here writes to DIR.
"""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

FORMATS = ("table", "csv", "json")


class InspectError(Exception):
    """A DIR that cannot be inspected or SQL that DuckDB rejects (exit code 2)."""


@dataclass
class InspectTarget:
    path: Path
    kind: str  # curated | crawl
    manifest: dict = field(default_factory=dict)
    crawl_dirs: list[Path] = field(default_factory=list)
    provenance_files: list[Path] = field(default_factory=list)
    shard_files: list[Path] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def fetch_files(self) -> list[Path]:
        return [p for d in self.crawl_dirs for p in sorted((d / "fetches").glob("part-*.parquet"))]


def _is_crawl_dir(path: Path) -> bool:
    return (path / "fetches").is_dir() and (path / "warc").is_dir()


def open_target(path: Path, extra_crawl_dirs: tuple[Path, ...] = ()) -> InspectTarget:
    """Resolve what DIR is and which files each view reads."""
    path = Path(path)
    if not path.is_dir():
        raise InspectError(f"{path}: no such directory")
    manifest_path = path / "manifest.json"
    if manifest_path.is_file():
        try:
            manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        except ValueError as exc:
            raise InspectError(f"{manifest_path}: not valid JSON ({exc})") from None
        if not isinstance(manifest, dict) or not isinstance(manifest.get("runs"), list):
            raise InspectError(f"{path}: manifest.json is not an `ernte curate` manifest (no runs)")
        target = InspectTarget(path, "curated", manifest)
        for run in manifest["runs"]:
            outputs = run.get("outputs") or {}
            target.provenance_files += [path / "provenance" / name for name in outputs.get("provenance", [])]
            target.shard_files += [path / "shards" / name for name in outputs.get("shards", [])]
            for entry in run.get("inputs", []):
                crawl_dir = entry.get("crawl_dir")
                if crawl_dir and Path(crawl_dir) not in target.crawl_dirs:
                    target.crawl_dirs.append(Path(crawl_dir))
        for f in target.provenance_files + target.shard_files:
            if not f.is_file():
                raise InspectError(f"{f}: listed in manifest.json but missing")
    elif _is_crawl_dir(path):
        target = InspectTarget(path, "crawl", crawl_dirs=[path])
    else:
        raise InspectError(f"{path}: not a curated directory (no manifest.json) nor a crawl directory (fetches/ and warc/)")
    for extra in extra_crawl_dirs:
        extra = Path(extra)
        if not _is_crawl_dir(extra):
            raise InspectError(f"--crawl {extra}: not a crawl directory (fetches/ and warc/)")
        if extra not in target.crawl_dirs:
            target.crawl_dirs.append(extra)
    present = []
    for d in target.crawl_dirs:
        if (d / "fetches").is_dir():
            present.append(d)
        else:
            target.warnings.append(f"crawl directory {d} (named in manifest.json) is gone: its fetches are not in the `fetches` view")
    target.crawl_dirs = present
    return target


def connect(target: InspectTarget):
    """An in-memory DuckDB connection with the views fetches, provenance and shards."""
    import duckdb

    from pipeline import schema

    con = duckdb.connect(":memory:")
    for view, files, empty_schema in (
        ("fetches", target.fetch_files, schema.FETCH_LOG),
        ("provenance", target.provenance_files, schema.PROVENANCE),
        ("shards", target.shard_files, schema.SHARD),
    ):
        if files:
            listing = ", ".join("'" + str(f).replace("'", "''") + "'" for f in files)
            con.execute(f"CREATE VIEW {view} AS SELECT * FROM read_parquet([{listing}], union_by_name = true)")
        else:
            con.register(f"_{view}_empty", empty_schema.empty_table())
            con.execute(f"CREATE VIEW {view} AS SELECT * FROM _{view}_empty")
    return con


def query(con, sql: str) -> tuple[list[str], list[tuple]]:
    import duckdb

    try:
        cursor = con.execute(sql)
        if cursor.description is None:
            return [], []
        columns = [d[0] for d in cursor.description]
        return columns, cursor.fetchall()
    except duckdb.Error as exc:
        raise InspectError(f"SQL error: {exc}") from None


# -- output formats -------------------------------------------------------------------------------


def _plain(value):
    """A value as JSON can carry it."""
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).hex()
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, (list, tuple, dict)):
        return json.dumps(_plain(value), ensure_ascii=False)
    return str(_plain(value))


def format_rows(columns: list[str], rows: list[tuple], fmt: str) -> str:
    if fmt == "json":
        return json.dumps([{c: _plain(v) for c, v in zip(columns, row)} for row in rows], ensure_ascii=False, indent=1)
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows([[_cell(v) for v in row] for row in rows])
        return buf.getvalue().rstrip("\n")
    if fmt != "table":
        raise InspectError(f"unknown format {fmt!r} (one of {', '.join(FORMATS)})")
    return _table(columns, rows)


def _table(columns: list[str], rows: list[tuple], max_width: int = 60) -> str:
    def clip(text: str) -> str:
        text = text.replace("\n", " ")
        return text if len(text) <= max_width else text[: max_width - 1] + "…"

    cells = [[clip(_cell(v)) for v in row] for row in rows]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]
    numeric = [all(isinstance(row[i], (int, float)) and not isinstance(row[i], bool) for row in rows if row[i] is not None) and rows for i in range(len(columns))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths)).rstrip(), "  ".join("-" * w for w in widths)]
    for r in cells:
        lines.append("  ".join((v.rjust(w) if numeric[i] else v.ljust(w)) for i, (v, w) in enumerate(zip(r, widths))).rstrip())
    lines.append(f"({len(rows)} row{'s' if len(rows) != 1 else ''})")
    return "\n".join(lines)


# -- summaries --------------------------------------------------------------------------------------


def _columns(con, view: str) -> set[str]:
    return {row[0] for row in con.execute(f"DESCRIBE {view}").fetchall()}


def _section(con, title: str, sql: str, out: list[str]) -> None:
    columns, rows = query(con, sql)
    out.append(f"\n== {title} ==")
    out.append(_table(columns, rows) if rows else "(none)")


# Opt-out signals: (label, SQL condition, columns it needs). Raw header values are matched loosely
# here; the curate-time columns (when present) hold the interpreted values.
_DOC_SIGNALS = (
    ("robots.txt disallows an AI-training agent", "len(robots_ai_optout_agents) > 0", ("robots_ai_optout_agents",)),
    ("robots.txt Content-Usage train-ai=n", "regexp_matches(lower(robots_content_usage), 'train-ai\\s*=\\s*n')", ("robots_content_usage",)),
    ("ai_optout (any AI reservation; robots.txt only in older runs)", "ai_optout", ("ai_optout",)),
    ("tdm-reservation: 1 (header)", "trim(header_tdm_reservation) = '1'", ("header_tdm_reservation",)),
    ("X-Robots-Tag noai", "lower(header_x_robots_tag) LIKE '%noai%'", ("header_x_robots_tag",)),
    ("Content-Usage train-ai=n (header)", "regexp_matches(lower(header_content_usage), 'train-ai\\s*=\\s*n')", ("header_content_usage",)),
    ("TDM reservation (interpreted)", "tdm_reservation = 1", ("tdm_reservation",)),
    ("noai (interpreted)", "noai", ("noai",)),
    ("not train-eligible", "NOT train_eligible", ("train_eligible",)),
)
_FETCH_SIGNALS = (
    ("robots.txt disallows an AI-training agent", "ai_optout", ("ai_optout",)),
    ("robots.txt Content-Usage train-ai=n", "regexp_matches(lower(robots_content_usage), 'train-ai\\s*=\\s*n')", ("robots_content_usage",)),
    ("tdmrep.json reserves it", "tdmrep_reservation = 1", ("tdmrep_reservation",)),
    ("tdm-reservation: 1 (header)", "trim(header_tdm_reservation) = '1'", ("header_tdm_reservation",)),
    ("X-Robots-Tag noai", "lower(header_x_robots_tag) LIKE '%noai%'", ("header_x_robots_tag",)),
    ("Content-Usage train-ai=n (header)", "regexp_matches(lower(header_content_usage), 'train-ai\\s*=\\s*n')", ("header_content_usage",)),
)
# Fetch-log rows that are pages (not robots.txt / tdmrep.json fetched for the crawler itself).
_PAGE_ROWS = "decision = 'fetched' AND coalesce(split_part(reason, ':', 1), '') NOT IN ('robots.txt', 'tdmrep.json')"


def _signal_union(signals, available: set[str], view: str, where: str, kept: bool) -> str | None:
    parts = []
    for label, condition, needs in signals:
        if not set(needs) <= available:
            continue
        quoted = label.replace("'", "''")
        kept_sql = ", count(*) FILTER (WHERE decision = 'kept') AS kept" if kept else ""
        parts.append(f"SELECT '{quoted}' AS signal, count(*) AS documents{kept_sql} FROM {view} WHERE {where} AND coalesce({condition}, false)")
    return " UNION ALL ".join(parts) if parts else None


def _lineage_sections(target: InspectTarget, out: list[str]) -> None:
    """Withdrawals (audit log) and what was made from the directory (lineage register)."""
    from pipeline.lineage import consumers
    from pipeline.withdraw import audit_log

    entries = audit_log(target.path)
    if entries:
        rows = [(e.get("withdrawal_id"), e.get("at"), json.dumps(e.get("selector")), e.get("documents"), e.get("version"), e.get("reason")) for e in entries]
        out.append("\n== withdrawals ==")
        out.append(_table(["withdrawal", "at", "selector", "documents", "version", "reason"], rows))
    made = consumers(target.path)
    if made:
        rows = [(c["kind"], c["path"], c.get("dataset_version"), "stale" if c["stale"] else ("gone" if not c["exists"] else "current")) for c in made]
        out.append("\n== made from this directory ==")
        out.append(_table(["kind", "path", "dataset_version", "state"], rows))


def summaries(con, target: InspectTarget, top: int = 20) -> str:
    out: list[str] = [f"{target.kind} directory: {target.path}"]
    if target.kind == "curated":
        runs = target.manifest["runs"]
        out.append(f"runs: {len(runs)} ({', '.join(r.get('run_id', '?') for r in runs) or 'none'})")
        out.append(f"crawl directories: {', '.join(map(str, target.crawl_dirs)) or 'none (WARC inputs)'}")
        prov = _columns(con, "provenance")
        total, kept = con.execute("SELECT count(*), count(*) FILTER (WHERE decision = 'kept') FROM provenance").fetchone()
        shard_docs = con.execute("SELECT count(*) FROM shards").fetchone()[0]
        out.append(f"documents: {total} read, {kept} kept ({shard_docs} in {len(target.shard_files)} shard files)")
        _section(
            con,
            "decision funnel",
            "SELECT coalesce(drop_reason, decision) AS outcome, count(*) AS documents, round(100.0 * count(*) / sum(count(*)) OVER (), 1) AS percent "
            "FROM provenance GROUP BY 1 ORDER BY (outcome = 'kept') DESC, documents DESC, outcome",
            out,
        )
        _section(con, f"documents by host (top {top})", f"SELECT host, count(*) AS documents, count(*) FILTER (WHERE decision = 'kept') AS kept FROM provenance GROUP BY 1 ORDER BY documents DESC, host LIMIT {top}", out)
        _section(con, "documents by language", f"SELECT coalesce(lang, '(none)') AS lang, count(*) AS documents, count(*) FILTER (WHERE decision = 'kept') AS kept FROM provenance GROUP BY 1 ORDER BY documents DESC, lang LIMIT {top}", out)
        if "licence_spdx" in prov:
            _section(con, "documents by licence", f"SELECT coalesce(licence_spdx, '(none detected)') AS licence, count(*) AS documents, count(*) FILTER (WHERE decision = 'kept') AS kept FROM provenance GROUP BY 1 ORDER BY documents DESC, licence LIMIT {top}", out)
        else:
            out.append("\n== documents by licence ==\n(not recorded: these runs predate licence detection)")
        sql = _signal_union(_DOC_SIGNALS, prov, "provenance", "true", kept=True)
        if sql:
            _section(con, "opt-out signals (documents)", sql, out)
        _lineage_sections(target, out)
    fetch_cols = _columns(con, "fetches")
    if target.fetch_files:
        _section(con, "fetch decisions", "SELECT decision, count(*) AS urls FROM fetches GROUP BY 1 ORDER BY urls DESC, decision", out)
        if target.kind == "crawl":
            _section(con, f"pages fetched by host (top {top})", f"SELECT host, count(*) AS pages FROM fetches WHERE {_PAGE_ROWS} GROUP BY 1 ORDER BY pages DESC, host LIMIT {top}", out)
        sql = _signal_union(_FETCH_SIGNALS, fetch_cols, "fetches", _PAGE_ROWS, kept=False)
        if sql:
            _section(con, "opt-out signals (fetched pages)", sql.replace("AS documents", "AS pages"), out)
        if "reason" in fetch_cols:
            _section(con, "tdmrep.json per host", "SELECT host, http_status, reason FROM fetches WHERE starts_with(reason, 'tdmrep.json') ORDER BY host, seq", out)
    return "\n".join(out)
