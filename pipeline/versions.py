"""Dataset versions of a curated directory: DIR/versions/<version>.json, one per committed run.

Every committed run (a curate run that added documents, or a withdrawal) makes a new version of
the dataset: the shards of every run so far, as they are after it. Shards are rewritten in place
by withdrawals (the withdrawn text must go), so a version's file records what its shards held then:
each shard's sha256 and document counts, the version's parent, and a fingerprint of the set of
train-eligible documents (sha256 over their sorted doc ids), which says whether retraining on it
would see different data than on another version.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.parquet as pq

from pipeline.files import file_sha256, write_json_atomically

VERSIONS_DIR = "versions"


def version_path(out: Path, version: str) -> Path:
    return Path(out) / VERSIONS_DIR / f"{version}.json"


def read_version(out: Path, version: str) -> dict | None:
    path = version_path(out, version)
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except ValueError:
        return None


def shard_names(manifest: dict) -> list[str]:
    return [name for run in manifest.get("runs", []) for name in (run.get("outputs") or {}).get("shards", [])]


def eligible_fingerprint(out: Path, names: list[str]) -> tuple[int, int, str]:
    """(documents, train-eligible documents, sha256 of the sorted eligible doc ids)."""
    eligible_ids: list[str] = []
    documents = 0
    for name in names:
        path = Path(out) / "shards" / name
        columns = ["doc_id", "train_eligible"] if "train_eligible" in pq.read_schema(path).names else ["doc_id"]
        table = pq.read_table(path, columns=columns)
        documents += table.num_rows
        if "train_eligible" in columns:
            table = table.filter(pc.fill_null(table["train_eligible"], False))
        eligible_ids += table["doc_id"].to_pylist()
    digest = hashlib.sha256("\n".join(sorted(eligible_ids)).encode("utf-8")).hexdigest()
    return documents, len(eligible_ids), digest


def write_version_manifest(out: Path, manifest: dict) -> Path:
    """Describe the version the manifest's last run made (idempotent: rewritten from the files)."""
    out = Path(out)
    runs = manifest["runs"]
    run = runs[-1]
    parent = read_version(out, runs[-2]["run_id"]) if len(runs) > 1 else None
    known = {s["name"]: s for s in (parent or {}).get("shards", [])}
    shards = []
    for name in shard_names(manifest):
        path = out / "shards" / name
        stat = path.stat()
        entry = known.get(name)
        if not (entry and entry.get("bytes") == stat.st_size and entry.get("mtime_ns") == stat.st_mtime_ns):
            entry = {"name": name, "sha256": file_sha256(path), "bytes": stat.st_size, "mtime_ns": stat.st_mtime_ns, "documents": pq.read_metadata(path).num_rows}
        shards.append(entry)
    documents, eligible, fingerprint = eligible_fingerprint(out, [s["name"] for s in shards])
    data = {
        "version": run["run_id"],
        "parent": runs[-2]["run_id"] if len(runs) > 1 else None,
        "kind": run.get("kind", "curate"),
        "created_at": run.get("finished_at") or datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "withdrawal_id": run.get("withdrawal_id"),
        "documents": documents,
        "eligible_documents": eligible,
        "eligible_sha256": fingerprint,
        "shards": shards,
    }
    path = version_path(out, run["run_id"])
    path.parent.mkdir(exist_ok=True)
    write_json_atomically(path, data)
    return path
