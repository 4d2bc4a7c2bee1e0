"""`ernte withdraw DIR --host H | --url-prefix P | --doc-id D --reason TEXT`: a new dataset
version without those documents (UrhG §44b(2): copies are deleted when no longer needed, or when a
rightsholder reserves their rights after the crawl).

1. Every provenance row that matches the selector is found; kept documents among them are the ones
   to remove from the shards, dropped ones may still hold text in DIR/rejected/.
2. The affected shard, provenance and rejected files are written under temporary names, with the
   list of what they replace in a journal (DIR/withdraw.pending.json).
3. The journal is then carried out: the files are renamed into place, the manifest gains a run of
   kind "withdrawal" naming its parent (the new dataset version), the audit log DIR/withdrawals.jsonl
   gains a line, and token directories and models made from data holding those documents are
   marked stale (pipeline.lineage). A killed withdrawal is finished by the next `ernte withdraw` or
   `ernte curate` on DIR: carrying out the journal twice changes nothing.

Withdrawals stand: later curate runs drop documents that match any withdrawal's selector (decision
"withdrawn"), so a recrawl does not bring them back. Provenance rows stay, with their
`withdrawal_id`: they are the evidence that the withdrawal was honoured; they hold no text.
The WARC files are not rewritten: they are the crawl's archive, outside the dataset versions.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from pipeline import lineage
from pipeline.files import write_json_atomically
from pipeline.schema import PROVENANCE, REJECTED, SHARD, WITHDRAWN_DOCS

MANIFEST = "manifest.json"
AUDIT_LOG = "withdrawals.jsonl"
JOURNAL = "withdraw.pending.json"
RECORDS_DIR = "withdrawals"


class WithdrawError(Exception):
    """A DIR that is not a curated directory, or an empty selector (exit code 2)."""


@dataclass(frozen=True)
class Selector:
    """Documents to withdraw: any that matches one of the hosts, URL prefixes or doc ids."""

    hosts: tuple[str, ...] = ()
    url_prefixes: tuple[str, ...] = ()
    doc_ids: tuple[str, ...] = ()

    def __post_init__(self):
        object.__setattr__(self, "hosts", tuple(sorted({h.strip().lower().rstrip(".") for h in self.hosts if h.strip()})))
        object.__setattr__(self, "url_prefixes", tuple(sorted({p for p in self.url_prefixes if p})))
        object.__setattr__(self, "doc_ids", tuple(sorted({d.strip() for d in self.doc_ids if d.strip()})))

    def __bool__(self) -> bool:
        return bool(self.hosts or self.url_prefixes or self.doc_ids)

    def union(self, other: "Selector") -> "Selector":
        return Selector(self.hosts + other.hosts, self.url_prefixes + other.url_prefixes, self.doc_ids + other.doc_ids)

    def as_dict(self) -> dict:
        return {k: list(v) for k, v in asdict(self).items() if v}

    @classmethod
    def from_dict(cls, data: dict) -> "Selector":
        return cls(tuple(data.get("hosts", ())), tuple(data.get("url_prefixes", ())), tuple(data.get("doc_ids", ())))

    def matches(self, doc_id: str | None, url: str | None, host: str | None) -> bool:
        """One document (the pure per-document rule; `mask` is the same over a table)."""
        if doc_id in self.doc_ids:
            return True
        if host and host.lower().rstrip(".") in self.hosts:
            return True
        return bool(url) and any(url.startswith(p) for p in self.url_prefixes)

    def mask(self, table: pa.Table) -> pa.ChunkedArray:
        result = pc.is_in(table["doc_id"], value_set=pa.array(self.doc_ids, pa.string()))
        if self.hosts and "host" in table.column_names:
            result = pc.or_(result, pc.is_in(pc.utf8_lower(table["host"]), value_set=pa.array(self.hosts, pa.string())))
        for prefix in self.url_prefixes:
            if "url" in table.column_names:
                result = pc.or_(result, pc.starts_with(table["url"], prefix))
        return pc.fill_null(result, False)


def audit_log(out: Path) -> list[dict]:
    path = Path(out) / AUDIT_LOG
    if not path.is_file():
        return []
    entries = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            entries.append(json.loads(line))
        except ValueError:
            continue
    return entries


@dataclass
class WithdrawalResult:
    withdrawal_id: str
    version: str | None  # the new dataset version; None when no document of the dataset matched
    parent: str | None
    documents_removed: int  # kept documents taken out of the shards
    rows_matched: int  # provenance rows that match (kept or not), not counting earlier withdrawals
    already_withdrawn: int
    shards_rewritten: list[str] = field(default_factory=list)
    stale: list[dict] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = [f"withdrawal: {self.withdrawal_id}"]
        if self.version:
            out.append(f"new dataset version: {self.version} (parent {self.parent})")
        else:
            out.append("no document of the dataset matches: no new version; the withdrawal stands for later runs")
        out.append(f"documents removed from the shards: {self.documents_removed}")
        out.append(f"provenance rows marked: {self.rows_matched}")
        if self.already_withdrawn:
            out.append(f"already withdrawn earlier: {self.already_withdrawn}")
        out.append(f"shards rewritten: {len(self.shards_rewritten)}")
        for consumer in self.stale:
            out.append(f"now stale ({consumer['kind']}): {consumer['path']}")
        return out


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _read_manifest(out: Path) -> dict:
    path = out / MANIFEST
    if not path.is_file():
        raise WithdrawError(f"{out} is not a curated directory (no {MANIFEST}; make one with `ernte curate`)")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise WithdrawError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("runs"), list):
        raise WithdrawError(f"{path}: not an `ernte curate` manifest (no runs)")
    return manifest


def _run_files(out: Path, run: dict, kind: str) -> list[Path]:
    names = (run.get("outputs") or {}).get(kind)
    if names is None:  # manifests older than `outputs`
        names = [p.name for p in sorted((out / kind).glob(f"{run['run_id']}*.parquet"))]
    return [out / kind / name for name in names]


def _next_withdrawal_id(out: Path) -> str:
    return f"withdrawal-{len(audit_log(out)) + 1:04d}"


def withdraw(out: Path, selector: Selector, reason: str, dry_run: bool = False) -> WithdrawalResult:
    """Withdraw the documents SELECTOR matches from the curated directory OUT."""
    out = Path(out)
    if not selector:
        raise WithdrawError("nothing to withdraw: give --host, --url-prefix or --doc-id")
    if not reason or not reason.strip():
        raise WithdrawError("--reason is required: the audit log records why")
    manifest = _read_manifest(out)
    recover_pending(out)
    manifest = _read_manifest(out)
    withdrawal_id = _next_withdrawal_id(out)
    runs = manifest["runs"]
    parent = runs[-1]["run_id"] if runs else None
    version = f"run-{len(runs) + 1:04d}"

    renames: list[tuple[str, str]] = []
    removed_rows: list[dict] = []
    matched = already = 0
    shards_to_filter: dict[str, set[str]] = {}
    rejected_to_filter: dict[str, set[str]] = {}
    suffix = f".{withdrawal_id}.tmp"
    for run in runs:
        for prov_path in _run_files(out, run, "provenance"):
            if not prov_path.is_file():
                continue
            table = pq.read_table(prov_path)
            hit = selector.mask(table)
            if not pc.any(hit).as_py():
                continue
            earlier = table["withdrawal_id"] if "withdrawal_id" in table.column_names else pa.nulls(table.num_rows, pa.string())
            new_hit = pc.and_(hit, pc.is_null(earlier))
            already += pc.sum(pc.and_(hit, pc.is_valid(earlier))).as_py() or 0
            if not pc.any(new_hit).as_py():
                continue
            rows = table.to_pylist()
            flags = new_hit.to_pylist()
            for row, flag in zip(rows, flags):
                if not flag:
                    continue
                matched += 1
                removed_rows.append(
                    {"doc_id": row["doc_id"], "url": row.get("url"), "host": row.get("host"), "run_id": row.get("run_id"), "decision_before": row.get("decision"), "shard": row.get("shard")}
                )
                if row.get("decision") == "kept" and row.get("shard"):
                    shards_to_filter.setdefault(row["shard"], set()).add(row["doc_id"])
                else:
                    rejected_to_filter.setdefault(row.get("run_id") or run["run_id"], set()).add(row["doc_id"])
                if row.get("decision") == "kept":
                    row.update(decision="withdrawn", shard=None, train_eligible=False, eligibility_reason="withdrawn")
                row["withdrawal_id"] = withdrawal_id
            if not dry_run:
                tmp = prov_path.with_name(prov_path.name + suffix)
                pq.write_table(pa.Table.from_pylist([{n: r.get(n) for n in PROVENANCE.names} for r in rows], schema=PROVENANCE), tmp, compression="zstd")
                renames.append((str(tmp), str(prov_path)))

    removed_doc_ids = {r["doc_id"] for r in removed_rows}
    shards_rewritten = sorted(shards_to_filter)
    if not dry_run:
        for name in shards_rewritten:
            renames += _filtered_copy(out / "shards" / name, removed_doc_ids, suffix, SHARD)
        for run in runs:
            for rej_path in _run_files(out, run, "rejected"):
                if rej_path.is_file():
                    renames += _filtered_copy(rej_path, removed_doc_ids, suffix, REJECTED)

    documents_removed = sum(len(ids) for ids in shards_to_filter.values())
    has_new_version = matched > 0
    stale = _stale_consumers(out, removed_doc_ids) if has_new_version else []
    result = WithdrawalResult(withdrawal_id, version if has_new_version else None, parent if has_new_version else None, documents_removed, matched, already, shards_rewritten, stale)
    if dry_run:
        return result

    (out / RECORDS_DIR).mkdir(exist_ok=True)
    records = out / RECORDS_DIR / f"{withdrawal_id}.parquet"
    pq.write_table(pa.Table.from_pylist(removed_rows, schema=WITHDRAWN_DOCS), records.with_name(records.name + ".tmp"), compression="zstd")
    os.replace(records.with_name(records.name + ".tmp"), records)

    at = _now()
    audit = {
        "withdrawal_id": withdrawal_id,
        "at": at,
        "reason": reason.strip(),
        "selector": selector.as_dict(),
        "version": result.version,
        "parent": result.parent,
        "documents": documents_removed,
        "rows_matched": matched,
        "already_withdrawn": already,
        "shards_rewritten": shards_rewritten,
        "records": f"{RECORDS_DIR}/{records.name}",
        "stale": stale,
    }
    run_entry = None
    if has_new_version:
        run_entry = {
            "run_id": version,
            "kind": "withdrawal",
            "parent": parent,
            "started_at": at,
            "finished_at": at,
            "withdrawal_id": withdrawal_id,
            "reason": reason.strip(),
            "selector": selector.as_dict(),
            "inputs": [],
            "failed_inputs": [],
            "skipped_inputs": [],
            "funnel": {"withdrawn": documents_removed},
            "outputs": {"shards": [], "provenance": [], "rejected": []},
            "rewritten": sorted({Path(final).name for _, final in renames}),
        }
    write_json_atomically(out / JOURNAL, {"withdrawal_id": withdrawal_id, "renames": renames, "manifest_run": run_entry, "audit": audit})
    recover_pending(out)
    return result


def _filtered_copy(path: Path, doc_ids: set[str], suffix: str, schema: pa.Schema) -> list[tuple[str, str]]:
    """PATH without the rows of DOC_IDS, written beside it; [] when it holds none of them."""
    table = pq.read_table(path)
    drop = pc.is_in(table["doc_id"], value_set=pa.array(sorted(doc_ids), pa.string()))
    if not pc.any(drop).as_py():
        return []
    kept = table.filter(pc.invert(drop))
    tmp = path.with_name(path.name + suffix)
    pq.write_table(kept.cast(schema) if kept.schema != schema else kept, tmp, compression="zstd")
    return [(str(tmp), str(path))]


def _stale_consumers(out: Path, doc_ids: set[str]) -> list[dict]:
    """Token directories whose train or val split holds one of DOC_IDS, and the models trained on
    them (or, where a token directory is gone, models of a dataset version that held them)."""
    if not doc_ids:
        return []
    entries = lineage.consumers(out)
    value_set = pa.array(sorted(doc_ids), pa.string())
    stale_tokens: set[str] = set()
    stale: list[dict] = []
    for entry in entries:
        if entry["kind"] != "tokens" or not entry["exists"]:
            continue
        docs = Path(entry["path"]) / "documents.parquet"
        if not docs.is_file():
            continue
        table = pq.read_table(docs, columns=["doc_id", "split"])
        used = pc.and_(pc.is_in(table["doc_id"], value_set=value_set), pc.is_in(table["split"], value_set=pa.array(["train", "val"])))
        n = pc.sum(used).as_py() or 0
        if n:
            stale_tokens.add(entry["path"])
            stale.append({"kind": "tokens", "path": entry["path"], "dataset_version": entry.get("dataset_version"), "documents": n})
    for entry in entries:
        if entry["kind"] != "model":
            continue
        if entry.get("tokens") in stale_tokens:
            stale.append({"kind": "model", "path": entry["path"], "dataset_version": entry.get("dataset_version"), "tokens": entry.get("tokens")})
    return stale


def recover_pending(out: Path) -> bool:
    """Carry out a withdrawal journal left in OUT, if any (idempotent). True when there was one."""
    out = Path(out)
    journal_path = out / JOURNAL
    if not journal_path.is_file():
        return False
    journal = json.loads(journal_path.read_text(encoding="utf-8"))
    for tmp, final in journal["renames"]:
        if Path(tmp).exists():
            os.replace(tmp, final)
    manifest = _read_manifest(out)
    run_entry = journal.get("manifest_run")
    if run_entry and not any(r.get("withdrawal_id") == journal["withdrawal_id"] for r in manifest["runs"]):
        manifest["runs"].append(run_entry)
        manifest["documents_kept"] = documents_kept(manifest)
        write_json_atomically(out / MANIFEST, manifest)
        from pipeline.versions import write_version_manifest

        write_version_manifest(out, manifest)
    audit = journal["audit"]
    if not any(e.get("withdrawal_id") == audit["withdrawal_id"] for e in audit_log(out)):
        with open(out / AUDIT_LOG, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(audit, default=str) + "\n")
    for consumer in audit.get("stale", []):
        lineage.mark_stale(Path(consumer["path"]), {"withdrawal_id": audit["withdrawal_id"], "at": audit["at"], "reason": audit["reason"], "curated_dir": str(out.resolve()), "new_version": audit["version"]})
    journal_path.unlink()
    return True


def documents_kept(manifest: dict) -> int:
    """Kept documents in the current version: kept by curate runs, less those withdrawn since."""
    runs = manifest.get("runs", [])
    return sum(r.get("funnel", {}).get("kept", 0) for r in runs) - sum(r.get("funnel", {}).get("withdrawn", 0) for r in runs)
