"""`ernte trace DIR URL_OR_DOC_ID`: one document's whole lineage, from the fetch to the models.

The sections, each read from where Ernte recorded it:
- fetch: the crawl's fetch log (time, status, robots rule, crawl delay, opt-out signals, headers);
- warc: the record re-read from the WARC file at the recorded offset, its record id compared with
  the provenance row and its digests verified (warcio's digest checker);
- extraction, signals, licence, filters: the provenance row;
- dedup: the cluster, its representative and other members;
- shard: the shard file re-read to show the document is there (or, once withdrawn, that it is not);
- withdrawal: the audit-log entry that took it out, if any;
- used by: token directories (split, token shard and offset) and models made from this curated
  directory (DIR/lineage.jsonl), with their stale marks.
Nothing here writes to DIR.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow.parquet as pq

from pipeline import lineage
from pipeline.inspection import InspectError, _plain, connect, open_target
from pipeline.withdraw import audit_log

IDENTITY = ("doc_id", "url", "host", "title", "canonical_url", "run_id")
WARC_COLUMNS = ("input_file", "warc_file", "warc_offset", "warc_record_id", "warc_record_type", "payload_digest")
FETCH_COLUMNS = ("crawl_id", "fetched_at", "decision", "reason", "http_status", "content_type", "bytes", "fetch_ms", "depth", "referrer", "ip_address", "robots_rule", "crawl_delay", "ai_optout", "ai_optout_agents", "robots_content_usage", "tdmrep_reservation", "tdmrep_policy", "tdmrep_location")
EXTRACTION = ("charset", "decode_errors", "body_bytes", "extractor_version", "text_chars", "html_lang", "lang", "lang_score", "pub_date", "pii_emails_replaced", "pii_ips_replaced")
SIGNALS = ("robots_rule", "robots_ai_optout_agents", "robots_content_usage", "tdmrep_reservation", "tdmrep_policy", "tdm_reservation", "tdm_policy", "tdm_source", "noai", "content_usage", "ai_optout", "ai_optout_agents")
LICENCE = ("licence_spdx", "licence_source", "licence_location", "licence_confidence", "licence_evidence")
DECISION = ("decision", "drop_reason", "train_eligible", "eligibility_reason", "withdrawal_id")
DEDUP = ("dedup_cluster", "dedup_cluster_size")
_SHOWN = set(IDENTITY + WARC_COLUMNS + EXTRACTION + SIGNALS + LICENCE + DECISION + DEDUP + ("shard", "fetched_at", "http_status", "content_type", "crawl_id", "depth"))


class TraceNotFound(Exception):
    """No document with that URL or doc id (exit code 1)."""


@dataclass
class Trace:
    doc_id: str
    sections: dict[str, dict] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)  # a digest that does not verify, a missing file

    def as_dict(self) -> dict:
        return {"doc_id": self.doc_id, **self.sections, "problems": self.problems}

    def lines(self) -> list[str]:
        out = [f"== document {self.doc_id} =="]
        for name, section in self.sections.items():
            out.append(f"-- {name} --")
            if isinstance(section, list):
                out += [f"  {json.dumps(_plain(item), ensure_ascii=False)}" for item in section] or ["  (none)"]
                continue
            for key, value in section.items():
                if isinstance(value, list) and value and isinstance(value[0], dict):
                    out.append(f"  {key}:")
                    out += [f"    {json.dumps(_plain(item), ensure_ascii=False)}" for item in value]
                else:
                    out.append(f"  {key:26s} {_show(value)}")
        for problem in self.problems:
            out.append(f"PROBLEM: {problem}")
        return out


def _show(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, (list, tuple, dict)):
        return json.dumps(_plain(value), ensure_ascii=False)
    text = str(_plain(value))
    return text if len(text) <= 200 else text[:199] + "…"


def _pick(row: dict, names) -> dict:
    return {n: row[n] for n in names if n in row}


def _rows(con, sql: str, params: list) -> list[dict]:
    cursor = con.execute(sql, params)
    columns = [d[0] for d in cursor.description]
    return [dict(zip(columns, r)) for r in cursor.fetchall()]


def trace(directory: Path, key: str, crawl_dirs: tuple[Path, ...] = ()) -> list[Trace]:
    """The lineage of every document whose doc id, URL or canonical URL is KEY (a URL crawled
    several times has one document per capture)."""
    target = open_target(Path(directory), crawl_dirs)
    if target.kind != "curated":
        raise InspectError(f"{directory}: not a curated directory (trace follows documents through curation)")
    con = connect(target)
    rows = _rows(con, "SELECT * FROM provenance WHERE doc_id = ? OR url = ? OR canonical_url = ? ORDER BY fetched_at, doc_id", [key, key, key])
    if not rows:
        raise TraceNotFound(f"no document with doc id or URL {key!r} in {directory}")
    consumers = lineage.consumers(Path(directory))
    withdrawals = {e.get("withdrawal_id"): e for e in audit_log(Path(directory))}
    return [_trace_one(con, target, row, consumers, withdrawals) for row in rows]


def _trace_one(con, target, row: dict, consumers: list[dict], withdrawals: dict) -> Trace:
    result = Trace(row["doc_id"])
    result.sections["document"] = _pick(row, IDENTITY)
    result.sections["fetch"] = _fetch(con, row)
    result.sections["warc"] = _warc(row, result.problems)
    result.sections["extraction"] = _pick(row, EXTRACTION)
    result.sections["opt-out signals"] = _pick(row, SIGNALS) | {h: v for h, v in row.items() if h.startswith("header_") and v is not None}
    result.sections["licence"] = _pick(row, LICENCE)
    quality = {k: v for k, v in row.items() if k not in _SHOWN and not k.startswith("header_") and v is not None}
    result.sections["filters"] = quality | _pick(row, DECISION)
    result.sections["dedup"] = _dedup(con, row)
    result.sections["shard"] = _shard(target.path, row, result.problems)
    if row.get("withdrawal_id"):
        entry = withdrawals.get(row["withdrawal_id"], {})
        result.sections["withdrawal"] = {k: entry.get(k) for k in ("withdrawal_id", "at", "reason", "selector", "version", "parent")} | {"withdrawal_id": row["withdrawal_id"]}
    result.sections["used by"] = _used_by(row["doc_id"], consumers)
    return result


def _fetch(con, row: dict) -> dict:
    """The fetch-log row of this capture (same WARC file and offset), or a note why there is none."""
    if row.get("warc_file") is None:
        return {"note": "no fetch log: the WARC file was not written by an Ernte crawl"}
    found = _rows(con, "SELECT * FROM fetches WHERE warc_file = ? AND warc_offset = ? LIMIT 1", [row["warc_file"], row.get("warc_offset")])
    if not found:
        found = _rows(con, "SELECT * FROM fetches WHERE url = ? AND decision = 'fetched' ORDER BY fetched_at DESC LIMIT 1", [row.get("url")])
    if not found:
        return {"note": "not in any fetch log this directory knows (curated from a WARC file alone, or the crawl directory is gone)"}
    fetch = found[0]
    headers = {k: v for k, v in fetch.items() if k.startswith("header_") and v is not None}
    return _pick(fetch, FETCH_COLUMNS) | headers


def _warc(row: dict, problems: list[str]) -> dict:
    """Re-read the record at the recorded offset and check it is the one provenance names."""
    from warcio.archiveiterator import ArchiveIterator

    info = _pick(row, WARC_COLUMNS)
    path = Path(row.get("input_file") or "")
    if not row.get("input_file") or not path.is_file():
        problems.append(f"WARC file {row.get('input_file')} is gone: the record cannot be re-read")
        return info | {"verified": False}
    with open(path, "rb") as fh:
        fh.seek(row["warc_offset"] or 0)
        iterator = ArchiveIterator(fh, check_digests=True)
        record = next(iter(iterator), None)
        if record is None:
            problems.append(f"no WARC record at offset {row['warc_offset']} of {path}")
            return info | {"verified": False}
        record_id = record.rec_headers.get_header("WARC-Record-ID")
        payload = record.content_stream().read()
        checker = record.digest_checker
    verified = {
        "record_id_matches": record_id == row.get("warc_record_id"),
        "record_type": record.rec_type,
        "target_uri": record.rec_headers.get_header("WARC-Target-URI"),
        "warc_date": record.rec_headers.get_header("WARC-Date"),
        "payload_bytes": len(payload),
        "digests": {True: "verified", False: "MISMATCH", None: "not checked (none recorded, or a revisit)"}[checker.passed],
    }
    if record_id != row.get("warc_record_id"):
        problems.append(f"the record at offset {row['warc_offset']} of {path} is {record_id}, provenance says {row.get('warc_record_id')}")
    if checker.passed is False:
        problems.append(f"digest check failed for {record_id} in {path}: {'; '.join(checker.problems)}")
    return info | verified


def _dedup(con, row: dict) -> dict:
    cluster = row.get("dedup_cluster")
    if not cluster:
        return {"note": "not deduplicated (dropped before deduplication, or withdrawn first)"}
    members = _rows(con, "SELECT doc_id, url, decision, drop_reason FROM provenance WHERE dedup_cluster = ? AND doc_id <> ? ORDER BY doc_id LIMIT 10", [cluster, row["doc_id"]])
    return {"cluster": cluster, "cluster_size": row.get("dedup_cluster_size"), "representative": cluster == row["doc_id"], "other members (up to 10)": members}


def _shard(directory: Path, row: dict, problems: list[str]) -> dict:
    name = row.get("shard")
    if not name:
        return {"note": f"in no shard ({row.get('decision')})"}
    path = directory / "shards" / name
    if not path.is_file():
        problems.append(f"shard {path} is missing")
        return {"shard": name, "present": False}
    table = pq.read_table(path, filters=[("doc_id", "=", row["doc_id"])])
    if table.num_rows == 0:
        problems.append(f"{row['doc_id']} is not in {path}, though provenance says it is")
        return {"shard": name, "present": False}
    found = table.to_pylist()[0]
    text = found.get("text") or ""
    return {"shard": name, "present": True, "text_chars": len(text), "text_start": text[:160], "train_eligible": found.get("train_eligible"), "licence_spdx": found.get("licence_spdx")}


def _used_by(doc_id: str, consumers: list[dict]) -> list[dict]:
    """Token directories that hold the document (split, token shard, offset) and the models
    trained on them."""
    used: list[dict] = []
    holding: set[str] = set()
    for entry in consumers:
        if entry["kind"] != "tokens":
            continue
        item = {"kind": "tokens", "path": entry["path"], "dataset_version": entry.get("dataset_version"), "stale": entry["stale"]}
        docs = Path(entry["path"]) / "documents.parquet"
        if not entry["exists"] or not docs.is_file():
            used.append(item | {"note": "directory gone"})
            continue
        table = pq.read_table(docs, filters=[("doc_id", "=", doc_id)])
        if table.num_rows == 0:
            continue  # tokenized from a version without it
        found = table.to_pylist()[0]
        used.append(item | {k: found.get(k) for k in ("split", "drop_reason", "shard", "offset", "tokens")})
        if found.get("split") in ("train", "val"):
            holding.add(entry["path"])
    for entry in consumers:
        if entry["kind"] == "model" and entry.get("tokens") in holding:
            used.append({"kind": "model", "path": entry["path"], "dataset_version": entry.get("dataset_version"), "tokens": entry.get("tokens"), "stale": entry["stale"], "exists": entry["exists"]})
    return used
