"""`ernte curate`: WARC files in; Parquet shards, a provenance row per document and a manifest out.

1. Inputs are resolved (files, directories, Ernte crawl directories with their fetch log) and
   hashed; files already curated into this directory are skipped.
2. Each new file, or each byte range of a large record-gzipped WARC (`range_bytes`), is one task
   (`pipeline.curate_worker.curate_file`) on a process pool; its per-document results land in
   DIR/work/<key>.parquet, so a killed run redoes only unfinished files and ranges.
3. Deduplication runs once over all kept documents, against the persistent index (DIR/dedup/).
4. Shards, provenance and rejected documents are streamed out file by file in input order, written
   under temporary names and renamed; the manifest is written last and is what commits a run.
   Files of a run the manifest does not name are leftovers of a killed run and are removed.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import platform
import re
import sys
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterable

import pyarrow as pa
import pyarrow.parquet as pq

from pipeline import __version__
from pipeline.config import CurateConfig, config_hash
from pipeline.curate_worker import FetchInfo, FileResult, FileTask, curate_file, read_work_result
from pipeline.files import file_sha256, write_json_atomically
from pipeline.dedup_index import DedupCandidate, assign_clusters, index_rows, load_index
from crawlers.tdmrep import TdmRep as ParsedTdmRep
from filters.optout import TdmRep, tdmrep_fallback
from filters.policy import decide_eligibility, signals_from_row
from pipeline.schema import PROVENANCE, REJECTED, SHARD
from pipeline.versions import write_version_manifest
from pipeline.withdraw import Selector, audit_log, documents_kept, recover_pending
from pipeline.warc_input import NotAnArchiveError, byte_ranges, sniff_archive, splittable

logger = logging.getLogger(__name__)

MANIFEST = "manifest.json"
ARCHIVE_SUFFIXES = (".warc", ".warc.gz", ".arc", ".arc.gz")
OUTPUT_DIRS = ("shards", "provenance", "rejected", "dedup")
_RUN_IN_NAME = re.compile(r"run-\d{4,}")


class CurateInputError(Exception):
    """An input that is not WARC/ARC, or no input at all (exit code 2)."""


@dataclass
class InputFile:
    path: Path
    sha256: str
    size: int
    crawl_dir: Path | None = None


@dataclass
class CurateSummary:
    out_dir: Path
    run_id: str | None
    funnel: dict[str, int]
    kept: int
    documents: int
    failed_inputs: list[str] = field(default_factory=list)
    skipped_inputs: list[str] = field(default_factory=list)
    no_usable_record: bool = False  # new inputs, but not one HTML record in them: nothing committed

    def lines(self) -> list[str]:
        status = "(nothing committed: no usable record)" if self.no_usable_record else "(nothing new)"
        out = [f"curated directory: {self.out_dir}", f"run: {self.run_id or status}"]
        out.append(f"documents: {self.documents}, kept: {self.kept}")
        for key, value in sorted(self.funnel.items()):
            out.append(f"  {key:40s} {value}")
        if self.skipped_inputs:
            out.append(f"already curated, skipped: {len(self.skipped_inputs)} file(s)")
        for failed in self.failed_inputs:
            out.append(f"FAILED: {failed}")
        return out


# -- inputs ------------------------------------------------------------------------------------


def _is_archive_name(path: Path) -> bool:
    return path.name.endswith(ARCHIVE_SUFFIXES)


def resolve_inputs(inputs: list[Path]) -> list[InputFile]:
    files: list[tuple[Path, Path | None]] = []
    for raw in inputs:
        path = Path(raw)
        if path.is_dir():
            if (path / "warc").is_dir() and (path / "fetches").is_dir():
                files += [(p, path) for p in sorted((path / "warc").iterdir()) if _is_archive_name(p)]
            else:
                files += [(p, None) for p in sorted(path.rglob("*")) if p.is_file() and _is_archive_name(p)]
        elif path.is_file():
            files.append((path, None))
        else:
            raise CurateInputError(f"{path}: no such file or directory")
    if not files:
        raise CurateInputError("no WARC or ARC files found in the inputs")
    seen: set[Path] = set()
    resolved = []
    for path, crawl_dir in files:
        real = path.resolve()
        if real in seen:
            continue
        seen.add(real)
        try:
            sniff_archive(real)  # a file named like a WARC inside a directory may be anything
        except NotAnArchiveError as exc:
            raise CurateInputError(str(exc)) from None
        resolved.append(InputFile(real, file_sha256(real), real.stat().st_size, crawl_dir.resolve() if crawl_dir else None))
    return resolved


def _fetch_log_join(crawl_dir: Path) -> tuple[dict[str, dict[int, FetchInfo]], dict[str, tuple[str, int]]]:
    """Fetch-log facts by (WARC file name, offset), and payload digest -> original record."""
    parts = sorted((crawl_dir / "fetches").glob("part-*.parquet"))
    by_file: dict[str, dict[int, FetchInfo]] = {}
    originals: dict[str, tuple[str, int]] = {}
    if not parts:
        return by_file, originals
    columns = ["warc_file", "warc_offset", "warc_record_type", "payload_digest", "crawl_id", "depth", "robots_rule", "ai_optout", "ai_optout_agents"]
    signal_columns = ["robots_content_usage", "tdmrep_reservation", "tdmrep_policy"]  # absent from older fetch logs
    tables = []
    for p in parts:
        names = set(pq.read_schema(p).names)
        tables.append(pq.read_table(p, columns=columns + [c for c in signal_columns if c in names]))
    table = pa.concat_tables(tables, promote_options="default")
    for row in table.to_pylist():
        if row["warc_file"] is None or row["warc_offset"] is None:
            continue
        by_file.setdefault(row["warc_file"], {})[row["warc_offset"]] = FetchInfo(
            row["crawl_id"], row["depth"], row["robots_rule"], row["ai_optout"], row["ai_optout_agents"], *(row.get(c) for c in signal_columns)
        )
        if row["warc_record_type"] == "response" and row["payload_digest"]:
            originals.setdefault(row["payload_digest"], (str(crawl_dir / "warc" / row["warc_file"]), row["warc_offset"]))
    return by_file, originals


# -- manifest ----------------------------------------------------------------------------------


def read_manifest(out: Path) -> dict:
    path = out / MANIFEST
    if not path.exists():
        return {"ernte_version": __version__, "runs": []}
    return json.loads(path.read_text(encoding="utf-8"))


def _remove_leftovers(out: Path, committed_runs: set[str]) -> None:
    """Outputs of a run the manifest does not name were left by a killed run: remove them."""
    for sub in OUTPUT_DIRS:
        for path in (out / sub).glob("*"):
            match = _RUN_IN_NAME.search(path.name)
            if path.name.endswith(".tmp") or match is None or match.group(0) not in committed_runs:
                path.unlink()


def work_config(config: CurateConfig) -> dict:
    """The settings that change per-document results (not worker count or what is kept on the side)."""
    return config.model_dump(mode="json", exclude={"workers", "keep_rejected", "shard_target_bytes", "policy"})  # policy: applied at output


# -- the run -----------------------------------------------------------------------------------


# Runs the given curation tasks somewhere else (Prefect tasks on Dask, say), yielding each task
# with its FileResult, or with the exception it failed with, as they finish.
TaskMapper = Callable[[list[FileTask]], Iterable[tuple[FileTask, "FileResult | BaseException"]]]


def run_curate(inputs: list[Path], out: Path, config: CurateConfig, progress: bool = True, map_tasks: TaskMapper | None = None) -> CurateSummary:
    """Curate `inputs` into `out`. The per-file tasks run on a process pool of `config.workers`,
    or through `map_tasks` when given (the Prefect flow passes one that submits Prefect tasks)."""
    started = datetime.now(timezone.utc)
    out = Path(out)
    files = resolve_inputs(inputs)  # bad input stops the run before anything is written
    out.mkdir(parents=True, exist_ok=True)
    for sub in (*OUTPUT_DIRS, "work"):
        (out / sub).mkdir(exist_ok=True)
    recover_pending(out)  # a killed `ernte withdraw` is finished before anything else
    manifest = read_manifest(out)
    committed = {r["run_id"] for r in manifest["runs"]}
    _remove_leftovers(out, committed)
    curated_before = {i["sha256"] for r in manifest["runs"] for i in r["inputs"]}

    new_files = [f for f in files if f.sha256 not in curated_before]
    skipped = [str(f.path) for f in files if f.sha256 in curated_before]
    if not new_files:
        return CurateSummary(out, None, {}, 0, 0, skipped_inputs=skipped)
    run_id = f"run-{len(manifest['runs']) + 1:04d}"

    wconfig = work_config(config)
    wconfig_hash = config_hash(CurateConfig.model_validate(wconfig))
    joins: dict[Path, tuple] = {}
    tasks: list[FileTask] = []
    for f in new_files:
        if f.crawl_dir is not None and f.crawl_dir not in joins:
            joins[f.crawl_dir] = _fetch_log_join(f.crawl_dir)
        by_file, originals = joins.get(f.crawl_dir, ({}, {}))
        ranges = byte_ranges(f.size, config.range_bytes) if f.size > config.range_bytes and splittable(f.path) else [(0, None)]
        for start, end in ranges:
            key = hashlib.sha256(f"{f.sha256}:{wconfig_hash}:{start}:{end}".encode()).hexdigest()[:24]
            tasks.append(FileTask(str(f.path), str(out / "work" / f"{key}.parquet"), wconfig, by_file.get(f.path.name, {}), originals, start, end))

    results, failed = _run_tasks(tasks, config.workers, progress, map_tasks)
    # A file counts as curated only when all its ranges are; the finished ones wait in work/.
    failed_files = {t.input_path for t in tasks if t.work_path not in results}
    ok_tasks = [t for t in tasks if t.input_path not in failed_files]
    if not ok_tasks:
        raise CurateFailed("every input failed:\n  " + "\n  ".join(failed), failed)
    if not failed and sum(results[t.work_path].documents for t in ok_tasks) == 0:
        # Nothing to publish: no run is recorded, so the same inputs are not "already curated".
        funnel = {}
        for task in ok_tasks:
            for k, v in results[task.work_path].counts.items():
                funnel[k] = funnel.get(k, 0) + v
        return CurateSummary(out, None, funnel, 0, 0, skipped_inputs=skipped, no_usable_record=True)

    # Deduplication over every document kept so far, against the persistent index. Documents an
    # earlier `ernte withdraw` covers take no part: a copy on another host may still be kept.
    withdrawals = standing_withdrawals(out)
    candidates = []
    for task in ok_tasks:
        table = pq.read_table(task.work_path, columns=["doc_id", "url", "host", "fetched_at", "exact_hash", "band_keys", "pre_dedup_decision"])
        for row in table.to_pylist():
            if row["pre_dedup_decision"] == "kept" and _withdrawn_by(withdrawals, row) is None:
                candidates.append(DedupCandidate(row["doc_id"], row["fetched_at"], row["exact_hash"] or row["doc_id"], tuple(row["band_keys"] or ())))
    candidates = _unique_by_doc_id(candidates)
    assignments = assign_clusters(candidates, load_index(out / "dedup"))

    funnel: dict[str, int] = {}
    stage_seconds: dict[str, float] = {}
    for task in ok_tasks:
        for k, v in results[task.work_path].counts.items():
            funnel[k] = funnel.get(k, 0) + v
        for k, v in results[task.work_path].stage_seconds.items():
            stage_seconds[k] = round(stage_seconds.get(k, 0.0) + v, 3)

    # Archived /.well-known/tdmrep.json files (WARCs Ernte did not write): the newest per host,
    # from this run's inputs and earlier runs', for documents without a crawl-time tdmrep decision.
    tdmrep_files: dict[str, dict] = {}
    for source in [r.get("tdmrep_files", {}) for r in manifest["runs"]] + [results[t.work_path].tdmrep_files for t in ok_tasks]:
        for host, entry in source.items():
            if entry.get("date", "") >= tdmrep_files.get(host, {}).get("date", ""):
                tdmrep_files[host] = entry
    writer = _OutputWriter(out, run_id, config, withdrawals, tdmrep_files)
    seen_docs: set[str] = set()
    for task in ok_tasks:
        for batch in pq.ParquetFile(task.work_path).iter_batches(batch_size=512):
            writer.add(batch.to_pylist(), assignments, seen_docs)
    outputs = writer.close()
    pq.write_table(index_rows(candidates, assignments, run_id), out / "dedup" / f"index-{run_id}.parquet.tmp")
    os.replace(out / "dedup" / f"index-{run_id}.parquet.tmp", out / "dedup" / f"index-{run_id}.parquet")
    funnel.update({f"dropped_{k}": v for k, v in writer.dedup_drops.items()})
    if writer.withdrawn:
        funnel["withdrawn_standing"] = writer.withdrawn
    funnel["kept"] = writer.kept
    funnel.pop("kept_before_dedup", None)

    from filters.extract import extractor_version
    from filters.langid import model_version

    run = {
        "run_id": run_id,
        "kind": "curate",
        "parent": manifest["runs"][-1]["run_id"] if manifest["runs"] else None,
        "started_at": started.isoformat(),
        "finished_at": datetime.now(timezone.utc).isoformat(),
        "inputs": [_input_entry(f, [results[t.work_path] for t in ok_tasks if t.input_path == str(f.path)]) for f in new_files if str(f.path) not in failed_files],
        "failed_inputs": failed,
        "skipped_inputs": skipped,
        "config": config.model_dump(mode="json"),
        "config_sha256": config_hash(config),
        "work_config_sha256": wconfig_hash,
        "versions": {
            "ernte": __version__,
            "extractor": extractor_version(),
            "langid_model": model_version(),
            "python": platform.python_version(),
            "pyarrow": pa.__version__,
        },
        "funnel": funnel,
        "stage_seconds": stage_seconds,
        "tdmrep_files": {h: e for h, e in tdmrep_files.items() if any(h in results[t.work_path].tdmrep_files for t in ok_tasks)},
        "outputs": outputs,
    }
    manifest["runs"].append(run)
    manifest["ernte_version"] = __version__
    manifest["documents_kept"] = documents_kept(manifest)
    write_json_atomically(out / MANIFEST, manifest)  # commits the run
    write_version_manifest(out, manifest)
    for task in ok_tasks:
        Path(task.work_path).unlink(missing_ok=True)  # its results are in the committed outputs now
    documents = sum(results[t.work_path].documents for t in ok_tasks)
    return CurateSummary(out, run_id, funnel, writer.kept, documents, failed_inputs=failed, skipped_inputs=skipped)


def _input_entry(f: InputFile, parts: list[FileResult]) -> dict:
    return {
        "path": str(f.path),
        "sha256": f.sha256,
        "bytes": f.size,
        "crawl_dir": str(f.crawl_dir) if f.crawl_dir else None,
        "ranges": len(parts),
        "documents": sum(p.documents for p in parts),
        "errors": [e for p in parts for e in p.errors],
    }


class CurateFailed(Exception):
    def __init__(self, message: str, failed: list[str]):
        super().__init__(message)
        self.failed = failed


def _unique_by_doc_id(candidates: list[DedupCandidate]) -> list[DedupCandidate]:
    unique: dict[str, DedupCandidate] = {}
    for c in candidates:
        unique.setdefault(c.doc_id, c)
    return list(unique.values())


def _run_tasks(tasks: list[FileTask], workers: int, progress: bool, map_tasks: TaskMapper | None = None) -> tuple[dict[str, FileResult], list[str]]:
    from tqdm import tqdm

    results: dict[str, FileResult] = {}
    failed: list[str] = []
    todo = []
    queued: set[str] = set()
    for task in tasks:
        stored = read_work_result(task.work_path) if Path(task.work_path).exists() else None
        if stored is not None:  # finished by an earlier, interrupted run
            results[task.work_path] = stored
        elif task.work_path not in queued:
            # Two inputs with the same bytes (a file and its copy) are one task: same work file.
            queued.add(task.work_path)
            todo.append(task)
    bar = tqdm(total=len(todo) + len(results), initial=len(results), unit="task", desc="curate", file=sys.stderr, disable=None if progress else True)
    if map_tasks is not None and todo:
        for task, outcome in map_tasks(todo):
            _collect(task, lambda o=outcome: _result_or_raise(o), results, failed)
            bar.update(1)
    elif workers <= 1 or len(todo) <= 1:
        for task in todo:
            _collect(task, lambda t=task: curate_file(t), results, failed)
            bar.update(1)
    else:
        # Largest first (by bytes to read), so a big file does not start last and run alone.
        longest_first = sorted(todo, key=lambda t: -((t.end or Path(t.input_path).stat().st_size) - t.start))
        with ProcessPoolExecutor(max_workers=min(workers, len(todo))) as pool:
            futures = {pool.submit(curate_file, task): task for task in longest_first}
            for future in as_completed(futures):
                _collect(futures[future], future.result, results, failed)
                bar.update(1)
    bar.close()
    return results, failed


def _result_or_raise(outcome):
    if isinstance(outcome, BaseException):
        raise outcome
    return outcome


def _collect(task: FileTask, get, results, failed) -> None:
    try:
        results[task.work_path] = get()
    except Exception as exc:  # one failing file does not lose the others
        where = task.input_path if task.start == 0 and task.end is None else f"{task.input_path} [bytes {task.start}-{task.end or 'end'}]"
        logger.error("curating %s failed: %s: %s", where, type(exc).__name__, exc)
        failed.append(f"{where}: {type(exc).__name__}: {exc}")


def standing_withdrawals(out: Path) -> list[tuple[str, Selector]]:
    return [(e["withdrawal_id"], Selector.from_dict(e.get("selector", {}))) for e in audit_log(out)]


def _withdrawn_by(withdrawals: list[tuple[str, Selector]], row: dict) -> str | None:
    """The first earlier withdrawal that covers this document, if any."""
    for withdrawal_id, selector in withdrawals:
        if selector.matches(row["doc_id"], row.get("url"), row.get("host")):
            return withdrawal_id
    return None


def _apply_archived_tdmrep(row: dict, tdmrep: ParsedTdmRep) -> None:
    rule = tdmrep.match(row["url"] or "")
    if rule is None or rule.reservation not in (0, 1):
        return
    row.update(tdmrep_reservation=rule.reservation, tdmrep_policy=rule.policy)
    current = TdmRep(row.get("tdm_reservation"), row.get("tdm_policy"))
    decided, source = tdmrep_fallback(current, row.get("tdm_source"), TdmRep(rule.reservation, rule.policy))
    row.update(tdm_reservation=decided.reservation, tdm_policy=decided.policy, tdm_source=source)
    if decided.reservation == 1:
        row["ai_optout"] = True


class _OutputWriter:
    """Streams final rows into shards, provenance and rejected files (temporary names until close)."""

    def __init__(self, out: Path, run_id: str, config: CurateConfig, withdrawals: list[tuple[str, Selector]] = (), tdmrep_files: dict[str, dict] | None = None):
        self.out, self.run_id, self.config, self.withdrawals = out, run_id, config, withdrawals
        self.tdmrep = {host: ParsedTdmRep.parse(e["body"].encode("utf-8"), e.get("status") or 0) for host, e in (tdmrep_files or {}).items()}
        self.kept = 0
        self.withdrawn = 0
        self.dedup_drops: dict[str, int] = {}
        self._shard_writer: pq.ParquetWriter | None = None
        self._shard_bytes = 0
        self._shard_index = 0
        self._shard_name = ""
        self._shard_rows: list[dict] = []
        self._written: list[Path] = []
        self._prov = pq.ParquetWriter(self._tmp("provenance", f"{run_id}.parquet"), PROVENANCE, compression="zstd")
        self._rejected = pq.ParquetWriter(self._tmp("rejected", f"{run_id}.parquet"), REJECTED, compression="zstd") if config.keep_rejected else None

    def _tmp(self, sub: str, name: str) -> Path:
        path = self.out / sub / (name + ".tmp")
        self._written.append(path)
        return path

    def _next_shard(self) -> None:
        self._close_shard()
        self._shard_name = f"{self.run_id}-{self._shard_index:05d}.parquet"
        self._shard_index += 1
        self._shard_writer = pq.ParquetWriter(self._tmp("shards", self._shard_name), SHARD, compression="zstd")
        self._shard_bytes = 0

    def _close_shard(self) -> None:
        if self._shard_writer is not None:
            self._flush_shard_rows()
            self._shard_writer.close()
            self._shard_writer = None

    def _flush_shard_rows(self) -> None:
        if self._shard_rows:
            self._shard_writer.write_table(pa.Table.from_pylist(self._shard_rows, schema=SHARD))
            self._shard_rows = []

    def add(self, rows: list[dict], assignments, seen_docs: set[str]) -> None:
        prov_rows, rejected_rows = [], []
        for row in rows:
            if row["doc_id"] in seen_docs:
                continue  # the same record given twice (e.g. a file and its copy)
            seen_docs.add(row["doc_id"])
            decision, reason = row["pre_dedup_decision"], row["pre_dedup_drop_reason"]
            assignment = assignments.get(row["doc_id"])
            if row.get("crawl_id") is None and row.get("tdmrep_reservation") is None and row.get("host") in self.tdmrep:
                _apply_archived_tdmrep(row, self.tdmrep[row["host"]])
            eligible, eligibility_reason = decide_eligibility(signals_from_row(row), row.get("licence_spdx"), self.config.policy)
            shard = None
            withdrawal_id = _withdrawn_by(self.withdrawals, row) if decision == "kept" else None
            if withdrawal_id is not None:
                decision, reason, eligible, eligibility_reason = "withdrawn", None, False, "withdrawn"
                self.withdrawn += 1
            if decision == "kept" and assignment is not None and assignment.duplicate:
                decision, reason = "dropped", f"{assignment.kind}_duplicate"
                self.dedup_drops[reason] = self.dedup_drops.get(reason, 0) + 1
            if decision == "kept":
                if self._shard_writer is None or self._shard_bytes >= self.config.shard_target_bytes:
                    self._next_shard()
                shard = self._shard_name
                self._shard_rows.append(
                    {name: row.get(name) for name in SHARD.names}
                    | {"dedup_cluster": assignment.cluster_id if assignment else row["doc_id"], "run_id": self.run_id, "train_eligible": eligible}
                )
                self._shard_bytes += len(row["text"].encode("utf-8"))
                if len(self._shard_rows) >= 256:
                    self._flush_shard_rows()
                self.kept += 1
            elif self._rejected is not None:
                rejected_rows.append({"doc_id": row["doc_id"], "url": row["url"], "text": row["text"], "drop_reason": reason, "run_id": self.run_id})
            prov = {name: row.get(name) for name in PROVENANCE.names}
            prov.update(
                decision=decision,
                drop_reason=reason,
                dedup_cluster=assignment.cluster_id if assignment else None,
                dedup_cluster_size=assignment.cluster_size if assignment else None,
                shard=shard,
                run_id=self.run_id,
                train_eligible=eligible,
                eligibility_reason=eligibility_reason,
                withdrawal_id=withdrawal_id,
            )
            prov_rows.append(prov)
        if prov_rows:
            self._prov.write_table(pa.Table.from_pylist(prov_rows, schema=PROVENANCE))
        if rejected_rows:
            self._rejected.write_table(pa.Table.from_pylist(rejected_rows, schema=REJECTED))

    def close(self) -> dict:
        self._close_shard()
        self._prov.close()
        if self._rejected is not None:
            self._rejected.close()
        outputs: dict[str, list[str]] = {"shards": [], "provenance": [], "rejected": []}
        for tmp in self._written:
            final = tmp.with_name(tmp.name[: -len(".tmp")])
            os.replace(tmp, final)
            outputs[tmp.parent.name].append(final.name)
        return outputs
