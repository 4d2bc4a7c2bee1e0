"""`ernte policy apply DIR`: decide `train_eligible` again for a curated directory under a changed
policy, from the signals its provenance stores: no crawling, no extraction.

Provenance and shard files are rewritten one at a time under a temporary name and renamed; the
manifest records each application (when, the policy, the counts). When the set of train-eligible
documents changes, the application is a new dataset version: a manifest run of kind "policy" naming its
parent, with its versions/<version>.json, so flows and `ernte retrain` see that the data changed.
Applying the same policy again changes nothing, so an interrupted application is finished by running it
again.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from filters.policy import decide_eligibility, signals_from_row
from pipeline.config import PolicySettings
from pipeline.files import write_json_atomically
from pipeline.schema import PROVENANCE, SHARD
from pipeline.versions import (
    eligible_fingerprint,
    read_version,
    shard_names,
    write_version_manifest,
)

MANIFEST = "manifest.json"


def _rewrite(path: Path, rows: list[dict], schema: pa.Schema) -> None:
    tmp = path.with_name(path.name + ".tmp")
    pq.write_table(pa.Table.from_pylist([{n: r.get(n) for n in schema.names} for r in rows], schema=schema), tmp, compression="zstd")
    os.replace(tmp, path)


def apply_policy(out: Path, policy: PolicySettings) -> dict[str, int]:
    """Re-decide every document of the curated directory `out`; returns counts by reason."""
    out = Path(out)
    manifest_path = out / MANIFEST
    if not manifest_path.exists():
        raise FileNotFoundError(f"{out} is not a curated directory (no {MANIFEST})")
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    committed = {r["run_id"] for r in manifest.get("runs", [])}
    reasons: Counter[str] = Counter()
    eligible_by_doc: dict[str, bool] = {}
    changed = 0
    for path in sorted((out / "provenance").glob("*.parquet")):
        if path.stem not in committed:
            continue
        rows = pq.read_table(path).to_pylist()
        for row in rows:
            eligible, reason = decide_eligibility(signals_from_row(row), row.get("licence_spdx"), policy)
            changed += (row.get("train_eligible"), row.get("eligibility_reason")) != (eligible, reason)
            row.update(train_eligible=eligible, eligibility_reason=reason)
            eligible_by_doc[row["doc_id"]] = eligible
            if row.get("decision") == "kept":
                reasons[reason] += 1
        _rewrite(path, rows, PROVENANCE)
    for path in sorted((out / "shards").glob("*.parquet")):
        rows = pq.read_table(path).to_pylist()
        for row in rows:
            row["train_eligible"] = eligible_by_doc.get(row["doc_id"], row.get("train_eligible"))
        _rewrite(path, rows, SHARD)
    counts = {"kept_documents": sum(reasons.values()), "kept_eligible": reasons.get("eligible", 0), "decisions_changed": changed}
    counts |= {f"kept_ineligible_{k}": v for k, v in sorted(reasons.items()) if k != "eligible"}
    at = datetime.now(UTC).isoformat(timespec="seconds")
    policy_json = policy.model_dump(mode="json")
    # A changed set of train-eligible documents is a new dataset version (retraining would see other data).
    # Compared with the last version's fingerprint, not with `changed`: an application killed after its
    # files were rewritten makes the version when it is run again.
    runs = manifest.get("runs", [])
    version = None
    if runs:
        last = read_version(out, runs[-1]["run_id"]) or {}
        _, eligible, fingerprint = eligible_fingerprint(out, shard_names(manifest))
        if last.get("eligible_sha256") != fingerprint:
            version = f"run-{len(runs) + 1:04d}"
            runs.append(
                {
                    "run_id": version,
                    "kind": "policy",
                    "parent": runs[-1]["run_id"],
                    "started_at": at,
                    "finished_at": at,
                    "policy": policy_json,
                    "inputs": [],
                    "failed_inputs": [],
                    "skipped_inputs": [],
                    "funnel": {"kept_eligible": eligible},
                    "outputs": {"shards": [], "provenance": [], "rejected": []},
                }
            )
    manifest.setdefault("policy_applications", []).append({"at": at, "policy": policy_json, "counts": counts, "version": version})
    write_json_atomically(manifest_path, manifest)  # commits the version
    if version:
        write_version_manifest(out, manifest)
    return counts
