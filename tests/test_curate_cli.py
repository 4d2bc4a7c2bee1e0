"""`ernte curate` end to end, as a subprocess: WARC files (and a real crawl directory) in,
Parquet shards, provenance, rejected documents and a manifest out.

The outputs are read back as they are by DuckDB and Hugging Face `datasets`, and checked for the
relations they promise (one provenance row per input document, every shard row kept, the funnel
adding up, duplicates pointing at what they duplicate). Then: the same result whatever the
worker count or byte-range split, after `kill -9` and a rerun, and incrementally; bad and broken
inputs; an `ernte crawl` directory with its fetch log.

The input pages are real English prose (tests/curate_inputs.py); the WARC files are written with
warcio, deterministically.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import shutil
import signal
import struct
import subprocess
import sys
import time
import zlib
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest
from crawl_sites import ERNTE_CMD, ROOT, Reply, TestSite, crawl_args, ernte_env, fetch_rows, gzipped, run_ernte
from curate_inputs import Capture, Curated, english_pages, gzip_members, near_copy, page_html, write_warc
from warcio.archiveiterator import ArchiveIterator

from filters.quality import signal_names

SHARD_COLUMNS = ("doc_id", "text", "url", "host", "lang", "lang_score", "fetched_at")
PROVENANCE_COLUMNS = (
    "doc_id", "url", "host", "warc_file", "warc_offset", "warc_record_id", "payload_digest", "http_status", "content_type",
    "fetched_at", "extractor_version", "lang", "lang_score", *signal_names(), "decision", "drop_reason", "dedup_cluster",
    "dedup_cluster_size", "shard", "pii_emails_replaced", "pii_ips_replaced",
)  # fmt: skip
REJECTED_COLUMNS = ("doc_id", "url", "text", "drop_reason")
OUTPUT_DIRS = ("shards", "provenance", "rejected", "dedup")

EMAIL = "docs-team@lists.debian-example.org"
PUBLIC_IP = "151.101.2.132"
FILES = 8
PAGES_PER_FILE = 7


def curate(*args, timeout: float = 180):
    return run_ernte("curate", *map(str, args), timeout=timeout)


def _url(k: int, i: int) -> str:
    return f"https://docs.example.org/manual/part{k}/page{i}.html"


def _png() -> bytes:
    """A valid 1x1 PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)) + chunk(b"IDAT", zlib.compress(b"\x00\x00")) + chunk(b"IEND", b"")


@dataclasses.dataclass
class Corpus:
    """Eight WARC files of realistic pages, with duplicates across files planted on purpose."""

    dir: Path
    files: list[Path]
    documents: dict[str, Capture]  # doc_id -> capture, for every HTML 2xx response record
    file_documents: list[list[Capture]]  # the same, per file
    originals: dict[str, Capture]  # name -> capture of the pages the duplicates copy
    copies: dict[str, Capture]  # name -> the duplicate
    pii: Capture
    thin: Capture


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Corpus:
    pages = english_pages()
    assert len(pages) >= 65, "not enough prose in the demo site for the tests (pages 0-64 are used)"
    root = tmp_path_factory.mktemp("corpus")
    by_file: list[list[Capture]] = []
    for k in range(FILES):
        caps = []
        for i in range(PAGES_PER_FILE):
            page = pages[k * PAGES_PER_FILE + i]
            extra = ()
            if (k, i) == (1, 3):
                extra = (f"Corrections to this page are welcome at {EMAIL} or by a note to the archive host at {PUBLIC_IP} at any time.",)
            caps.append(Capture(_url(k, i), page_html(page, _url(k, i), extra), date=f"2024-01-{k + 1:02d}T10:{i:02d}:00Z"))
        by_file.append(caps)
    originals = {"p0": by_file[0][0], "p20": by_file[2][6], "p50": by_file[7][1]}
    copies = {
        # the same page on a mirror, fetched later: an exact duplicate of p0
        "p0": Capture("https://mirror.example.net/manual/part0/page0.html", originals["p0"].body, date="2024-02-01T00:00:00Z"),
        # a later edition with a few words changed: a near duplicate of p20
        "p20": Capture("https://docs.example.org/archive/page20.html", page_html(near_copy(pages[20]), "https://docs.example.org/archive/page20.html"), date="2024-03-01T00:00:00Z"),
        # an older copy of p50, in an earlier file: the earliest fetch is kept, whatever the file order
        "p50": Capture("https://old.example.com/p50.html", originals["p50"].body, date="2023-12-01T00:00:00Z"),
    }
    by_file[3].append(copies["p0"])
    by_file[1].append(copies["p20"])
    by_file[2].append(copies["p50"])
    nav = "".join(f'<li><a href="/manual/part{k}/">Part {k}</a></li>' for k in range(FILES))
    thin = Capture("https://docs.example.org/manual/index.html", f"<!DOCTYPE html><html lang=en><head><title>Manual</title></head><body><nav><ul>{nav}</ul></nav></body></html>".encode(), date="2024-01-01T09:00:00Z")
    by_file[0].insert(0, thin)
    # Not documents: no provenance row.
    by_file[0].append(Capture("https://docs.example.org/images/logo.png", _png(), content_type="image/png"))
    by_file[0].append(Capture("https://docs.example.org/missing.html", page_html(pages[60], "https://docs.example.org/missing.html"), status="404 Not Found"))
    files = [write_warc(root / f"crawl-{k:02d}.warc.gz", caps) for k, caps in enumerate(by_file)]
    file_documents = [[c for c in caps if c.content_type.startswith("text/html") and c.status.startswith("2")] for caps in by_file]
    documents = {c.doc_id: c for caps in file_documents for c in caps}
    return Corpus(root, files, documents, file_documents, originals, copies, by_file[1][3], thin)


@pytest.fixture(scope="module")
def clean_run(corpus, tmp_path_factory) -> Path:
    """The corpus curated once, uninterrupted, with two workers."""
    out = tmp_path_factory.mktemp("clean") / "curated"
    run = curate(corpus.dir, "--out", out, "--workers", 2, "--keep-rejected")
    assert run.returncode == 0, run.stderr[-3000:]
    return out


def _output_bytes(out: Path) -> dict[str, bytes]:
    return {f"{sub}/{p.name}": p.read_bytes() for sub in OUTPUT_DIRS for p in sorted((out / sub).iterdir())}


def _comparable_manifest(out: Path) -> dict:
    """The manifest without what differs between equal runs: times and the worker count."""
    manifest = json.loads((out / "manifest.json").read_text())
    for run in manifest["runs"]:
        for key in ("started_at", "finished_at", "stage_seconds", "config_sha256"):
            run.pop(key)
        run["config"].pop("workers")
    return manifest


def _assert_same_manifest(out: Path, expected: Path) -> None:
    a, b = _comparable_manifest(out), _comparable_manifest(expected)
    assert len(a["runs"]) == len(b["runs"])
    for run_a, run_b in zip(a["runs"], b["runs"]):
        assert run_a["funnel"] == run_b["funnel"]
        for input_a, input_b in zip(run_a["inputs"], run_b["inputs"]):
            assert input_a == input_b
    assert a == b


# --- reading the outputs back ---------------------------------------------------------------------


def test_duckdb_reads_outputs_and_relations_hold(clean_run, corpus):
    out = clean_run
    manifest = json.loads((out / "manifest.json").read_text())
    con = duckdb.connect()
    prov = f"read_parquet('{out}/provenance/*.parquet')"
    shards = f"read_parquet('{out}/shards/*.parquet', filename=true)"
    rejected = f"read_parquet('{out}/rejected/*.parquet')"

    def one(sql: str):
        return con.sql(sql).fetchall()[0][0]

    def columns(source: str) -> set[str]:
        return {row[0] for row in con.sql(f"DESCRIBE SELECT * FROM {source}").fetchall()}

    assert set(SHARD_COLUMNS) <= columns(shards)
    assert set(PROVENANCE_COLUMNS) <= columns(prov), set(PROVENANCE_COLUMNS) - columns(prov)
    assert set(REJECTED_COLUMNS) <= columns(rejected)

    # One provenance row per input document, no doc_id twice anywhere.
    assert one(f"SELECT count(*) FROM {prov}") == len(corpus.documents)
    assert sorted(r[0] for r in con.sql(f"SELECT doc_id FROM {prov}").fetchall()) == sorted(corpus.documents)
    for source in (prov, shards, rejected):
        assert one(f"SELECT count(*) - count(DISTINCT doc_id) FROM {source}") == 0, source
    assert one(f"SELECT count(*) FROM {prov} WHERE decision NOT IN ('kept', 'dropped') OR (decision = 'dropped') <> (drop_reason IS NOT NULL)") == 0

    # Every shard row is a kept document whose provenance names that shard, and the other way round.
    n_shard_rows = one(f"SELECT count(*) FROM {shards}")
    assert n_shard_rows == manifest["runs"][0]["funnel"]["kept"] == manifest["documents_kept"]
    assert n_shard_rows == one(f"SELECT count(*) FROM {prov} WHERE decision = 'kept'")
    mismatched = con.sql(
        f"SELECT s.doc_id, p.decision, p.shard, parse_filename(s.filename) FROM {shards} s LEFT JOIN {prov} p USING (doc_id) "
        "WHERE p.doc_id IS NULL OR p.decision <> 'kept' OR p.shard IS DISTINCT FROM parse_filename(s.filename) "
        "OR p.url IS DISTINCT FROM s.url OR p.lang IS DISTINCT FROM s.lang OR p.fetched_at IS DISTINCT FROM s.fetched_at"
    ).fetchall()
    assert mismatched == []
    assert one(f"SELECT count(*) FROM {prov} p ANTI JOIN {shards} s USING (doc_id) WHERE p.decision = 'kept'") == 0
    assert one(f"SELECT count(*) FROM {prov} WHERE decision = 'dropped' AND shard IS NOT NULL") == 0
    assert sorted(manifest["runs"][0]["outputs"]["shards"]) == sorted(p.name for p in (out / "shards").glob("*.parquet"))

    # --keep-rejected: exactly the dropped documents, with the same reason.
    assert one(f"SELECT count(*) FROM {rejected}") == one(f"SELECT count(*) FROM {prov} WHERE decision = 'dropped'") > 0
    assert one(f"SELECT count(*) FROM {rejected} r LEFT JOIN {prov} p USING (doc_id) WHERE p.decision IS DISTINCT FROM 'dropped' OR p.drop_reason IS DISTINCT FROM r.drop_reason OR p.url IS DISTINCT FROM r.url") == 0

    # The funnel in the manifest adds up to the provenance rows, reason by reason.
    funnel = manifest["runs"][0]["funnel"]
    reasons = dict(con.sql(f"SELECT drop_reason, count(*) FROM {prov} WHERE decision = 'dropped' GROUP BY 1").fetchall())
    assert {k.removeprefix("dropped_"): v for k, v in funnel.items() if k.startswith("dropped_")} == reasons
    assert funnel["kept"] + sum(reasons.values()) == len(corpus.documents)

    # What the shards hold: English text, language score, the WARC's fetch time, host from the URL.
    rows = con.sql(f"SELECT doc_id, url, host, lang, lang_score, fetched_at, length(text) FROM {shards}").fetchall()
    for doc_id, url, host, lang, score, fetched_at, chars in rows:
        cap = corpus.documents[doc_id]
        assert (url, lang) == (cap.url, "en")
        assert host == url.split("/")[2]
        assert 0.65 <= score <= 1.0
        assert fetched_at == datetime.fromisoformat(cap.date.replace("Z", "+00:00"))
        assert chars > 1000
    # Provenance keeps the WARC coordinates of every document.
    for doc_id, warc_file, offset, record_id, digest, status, ctype in con.sql(f"SELECT doc_id, warc_file, warc_offset, warc_record_id, payload_digest, http_status, content_type FROM {prov}").fetchall():
        cap = corpus.documents[doc_id]
        assert record_id == cap.record_id and status == 200 and ctype == cap.content_type
        assert digest and digest.startswith("sha1:")
        with open(corpus.dir / warc_file, "rb") as fh:
            fh.seek(offset)
            record = next(iter(ArchiveIterator(fh)))
            assert record.rec_headers.get_header("WARC-Record-ID") == record_id
    assert one(f"SELECT count(DISTINCT extractor_version) FROM {prov} WHERE extractor_version IS NOT NULL") == 1


def test_huggingface_datasets_reads_outputs(clean_run, tmp_path, monkeypatch):
    hf_home = tmp_path / "hf"
    for name, value in {"HF_HOME": hf_home, "HF_DATASETS_CACHE": hf_home / "datasets", "HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1"}.items():
        monkeypatch.setenv(name, str(value))
    import datasets

    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)  # in case datasets was imported before
    for sub, required in (("shards", SHARD_COLUMNS), ("provenance", PROVENANCE_COLUMNS), ("rejected", REJECTED_COLUMNS)):
        files = sorted(str(p) for p in (clean_run / sub).glob("*.parquet"))
        ds = datasets.load_dataset("parquet", data_files={"train": files}, split="train", cache_dir=str(hf_home / "cache"))
        assert set(required) <= set(ds.column_names), (sub, set(required) - set(ds.column_names))
        expected = [row for f in files for row in pq.read_table(f).to_pylist()]
        assert ds.num_rows == len(expected) > 0
        assert ds["doc_id"] == [r["doc_id"] for r in expected]
        if sub == "shards":
            assert ds["text"] == [r["text"] for r in expected]
            assert ds[0]["fetched_at"] == expected[0]["fetched_at"]
    assert list((hf_home / "cache").rglob("*.arrow")), "the datasets cache should be under tmp_path"


def test_duplicates_pii_and_quality_drops_are_recorded(clean_run, corpus):
    c = Curated.read(clean_run)
    docs = c.by_doc()
    orig = {name: docs[cap.doc_id] for name, cap in corpus.originals.items()}
    copy = {name: docs[cap.doc_id] for name, cap in corpus.copies.items()}

    # Exact copy fetched later, in another file: dropped, pointing at the original's cluster.
    assert (orig["p0"]["decision"], copy["p0"]["decision"], copy["p0"]["drop_reason"]) == ("kept", "dropped", "exact_duplicate")
    assert copy["p0"]["dedup_cluster"] == orig["p0"]["dedup_cluster"] == orig["p0"]["doc_id"]
    assert copy["p0"]["dedup_cluster_size"] == orig["p0"]["dedup_cluster_size"] == 2
    # Near copy: dropped as a near duplicate.
    assert (orig["p20"]["decision"], copy["p20"]["decision"], copy["p20"]["drop_reason"]) == ("kept", "dropped", "near_duplicate")
    assert copy["p20"]["dedup_cluster"] == orig["p20"]["doc_id"] and copy["p20"]["dedup_cluster_size"] == 2
    # The earliest fetch wins, whatever the file order: the older copy (file 2) is kept, the page in file 7 dropped.
    assert (copy["p50"]["decision"], orig["p50"]["decision"], orig["p50"]["drop_reason"]) == ("kept", "dropped", "exact_duplicate")
    assert orig["p50"]["dedup_cluster"] == copy["p50"]["doc_id"]
    # Unique documents are clusters of one, their own representative.
    duplicated = {r["doc_id"] for r in (*orig.values(), *copy.values())}
    for row in c.provenance:
        if row["decision"] == "kept" and row["doc_id"] not in duplicated:
            assert (row["dedup_cluster"], row["dedup_cluster_size"]) == (row["doc_id"], 1), row["url"]
    shard_rows = {r["doc_id"]: r for r in c.shard_rows()}
    assert shard_rows[orig["p0"]["doc_id"]]["dedup_cluster"] == orig["p0"]["doc_id"]

    # PII replaced in the shard text and counted in provenance.
    pii = docs[corpus.pii.doc_id]
    assert (pii["decision"], pii["pii_emails_replaced"], pii["pii_ips_replaced"]) == ("kept", 1, 1)
    text = shard_rows[pii["doc_id"]]["text"]
    assert EMAIL not in text and PUBLIC_IP not in text and "Corrections to this page are welcome at" in text
    assert all(r["pii_emails_replaced"] == 0 for r in c.provenance if r["decision"] == "kept" and r["doc_id"] != pii["doc_id"])

    # A navigation-only page: dropped with its reason, listed in rejected/.
    thin = docs[corpus.thin.doc_id]
    assert thin["decision"] == "dropped" and thin["drop_reason"] and thin["shard"] is None
    assert {r["doc_id"]: r["drop_reason"] for r in c.rejected}[thin["doc_id"]] == thin["drop_reason"]
    # Every planted duplicate and only those (and the thin page) is dropped: the prose is all kept.
    assert {r["doc_id"] for r in c.provenance if r["decision"] == "dropped"} == {copy["p0"]["doc_id"], copy["p20"]["doc_id"], orig["p50"]["doc_id"], thin["doc_id"]}

    # The manifest: every input with its sha256, the configuration and versions.
    run = c.manifest["runs"][0]
    assert sorted(i["path"] for i in run["inputs"]) == sorted(str(f.resolve()) for f in corpus.files)
    for entry in run["inputs"]:
        assert entry["sha256"] == hashlib.sha256(Path(entry["path"]).read_bytes()).hexdigest()
        assert entry["errors"] == []
    assert run["config"]["keep_rejected"] is True and run["config"]["workers"] == 2
    assert run["funnel"]["records_skipped_not_html"] == 1 and run["funnel"]["records_skipped_http_status"] == 1
    assert {"ernte", "extractor", "langid_model"} <= set(run["versions"])
    assert list((clean_run / "work").iterdir()) == []


# --- determinism ---------------------------------------------------------------------------------


def test_same_output_with_one_or_two_workers(clean_run, corpus, tmp_path):
    out = tmp_path / "curated"
    run = curate(corpus.dir, "--out", out, "--workers", 1, "--keep-rejected")
    assert run.returncode == 0, run.stderr[-3000:]
    one, two = _output_bytes(out), _output_bytes(clean_run)
    assert sorted(one) == sorted(two)
    # Row content first (a readable failure), then the bytes.
    for name in one:
        if not name.startswith("dedup/"):
            assert pq.read_table(out / name).to_pylist() == pq.read_table(clean_run / name).to_pylist(), name
    assert one == two
    _assert_same_manifest(out, clean_run)


def test_input_order_changes_no_decision(clean_run, corpus, tmp_path):
    out = tmp_path / "curated"
    run = curate(*reversed(corpus.files), "--out", out, "--workers", 2, "--keep-rejected")
    assert run.returncode == 0, run.stderr[-3000:]
    # Rows are written in input order; what each row says does not depend on it.
    for sub in ("shards", "provenance", "rejected"):
        names = sorted(p.name for p in (clean_run / sub).glob("*.parquet"))
        assert names == sorted(p.name for p in (out / sub).glob("*.parquet"))
        for name in names:
            a = sorted(pq.read_table(out / sub / name).to_pylist(), key=lambda r: r["doc_id"])
            b = sorted(pq.read_table(clean_run / sub / name).to_pylist(), key=lambda r: r["doc_id"])
            assert a == b, name
    assert _output_bytes(out)["dedup/index-run-0001.parquet"] == _output_bytes(clean_run)["dedup/index-run-0001.parquet"]


def test_byte_ranges_give_each_record_once_whatever_the_worker_count(clean_run, corpus, tmp_path):
    config = tmp_path / "ernte.yaml"
    config.write_text("curate:\n  range_bytes: 4096  # the smallest: every corpus file is split into ranges\n")
    outs = {}
    for workers in (1, 2):
        outs[workers] = tmp_path / f"curated-{workers}"
        run = curate(corpus.dir, "--out", outs[workers], "--workers", workers, "--keep-rejected", "--config", config)
        assert run.returncode == 0, run.stderr[-3000:]
    assert _output_bytes(outs[1]) == _output_bytes(outs[2])
    _assert_same_manifest(outs[1], outs[2])
    c = Curated.read(outs[2])
    assert all(entry["ranges"] >= 2 for entry in c.manifest["runs"][0]["inputs"])
    # Every record read exactly once, and decided as when each file is one task.
    assert sorted(r["doc_id"] for r in c.provenance) == sorted(corpus.documents)
    decisions = {r["doc_id"]: (r["decision"], r["drop_reason"], r["dedup_cluster"], r["dedup_cluster_size"]) for r in c.provenance}
    assert decisions == {r["doc_id"]: (r["decision"], r["drop_reason"], r["dedup_cluster"], r["dedup_cluster_size"]) for r in Curated.read(clean_run).provenance}


# --- kill -9 and rerun ----------------------------------------------------------------------------


def _start(args: list, log: Path) -> subprocess.Popen:
    with open(log, "wb") as fh:
        return subprocess.Popen([*ERNTE_CMD, *map(str, args)], cwd=ROOT, env=ernte_env(), stdout=fh, stderr=subprocess.STDOUT, start_new_session=True)


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)


def test_kill_9_mid_run_then_rerun_completes_like_a_clean_run(clean_run, corpus, tmp_path):
    out = tmp_path / "curated"
    args = ["curate", corpus.dir, "--out", out, "--workers", 1, "--keep-rejected"]
    proc = _start(args, tmp_path / "killed.log")
    try:
        deadline = time.monotonic() + 120
        while not list((out / "work").glob("*.parquet")):
            if proc.poll() is not None:
                break
            assert time.monotonic() < deadline, "no work file appeared"
            time.sleep(0.002)
        else:
            os.killpg(proc.pid, signal.SIGKILL)
    finally:
        _stop(proc)
    if (out / "manifest.json").exists():
        pytest.skip(f"the run finished (exit {proc.returncode}) before the kill landed; it cannot test a rerun")
    assert proc.returncode == -signal.SIGKILL, (tmp_path / "killed.log").read_text()[-2000:]
    finished = {p: (p.stat().st_ino, p.stat().st_mtime_ns) for p in (out / "work").glob("*.parquet")}
    assert 1 <= len(finished) < len(corpus.files), "the kill should land after the first file and before the last"
    # A kill in the later output phase leaves files of the uncommitted run, finished or not: plant
    # them (torn) too; the rerun must not take them for its own.
    for name in ("shards/run-0001-00000.parquet", "provenance/run-0001.parquet.tmp", "rejected/run-0001.parquet", "dedup/index-run-0001.parquet"):
        (out / name).write_bytes(b"PAR1 torn by kill -9")

    # The same command again, watching the finished work files: they must be read, not redone.
    proc = _start(args, tmp_path / "rerun.log")
    seen: dict[Path, set] = {p: set() for p in finished}
    try:
        deadline = time.monotonic() + 120
        while proc.poll() is None:
            assert time.monotonic() < deadline, "the rerun did not finish"
            for path in finished:
                try:
                    st = path.stat()
                except FileNotFoundError:
                    continue
                seen[path].add((st.st_ino, st.st_mtime_ns))
            time.sleep(0.002)
    finally:
        _stop(proc)
    log = (tmp_path / "rerun.log").read_text()
    assert proc.returncode == 0, log[-3000:]
    for path, states in seen.items():
        assert states == {finished[path]}, f"{path.name} was written again by the rerun"

    # The result is the clean run's: same shards, provenance, rejected, dedup index and manifest.
    c = Curated.read(out)
    for rows in (c.provenance, c.shard_rows(), c.rejected):
        assert not [d for d, n in Counter(r["doc_id"] for r in rows).items() if n > 1]
    assert len(c.provenance) == len(corpus.documents)
    assert _output_bytes(out) == _output_bytes(clean_run)
    assert list((out / "work").glob("*.parquet")) == []
    _assert_same_manifest(out, clean_run)


# --- incremental curation -------------------------------------------------------------------------


def test_incremental_run_dedups_against_earlier_runs_and_skips_curated_inputs(clean_run, corpus, tmp_path):
    out = tmp_path / "curated"
    shutil.copytree(clean_run, out)
    before = _output_bytes(out)
    pages = english_pages()
    old_exact = corpus.originals["p0"]  # kept in run 1, with its mirror copy dropped
    old_near = next(c for c in corpus.documents.values() if c.url == _url(4, 2))  # pages[30], kept in run 1
    new_caps = [
        Capture("https://copies.example.com/a.html", old_exact.body, date="2024-06-01T00:00:00Z"),
        # fetched *before* the original: the published document stays the cluster's representative
        Capture("https://copies.example.com/b.html", page_html(near_copy(pages[30]), "https://copies.example.com/b.html"), date="2023-06-01T00:00:00Z"),
        Capture("https://new.example.org/c.html", page_html(pages[62], "https://new.example.org/c.html"), date="2024-06-02T00:00:00Z"),
        Capture("https://new.example.org/d.html", page_html(pages[63], "https://new.example.org/d.html"), date="2024-06-03T00:00:00Z"),
    ]
    new_dir = tmp_path / "new"
    new_dir.mkdir()
    new_file = write_warc(new_dir / "later.warc.gz", new_caps)

    run = curate(new_file, "--out", out, "--workers", 1)
    assert run.returncode == 0, run.stderr[-3000:]
    c = Curated.read(out)
    for name, data in before.items():  # what run 1 published is untouched
        assert (out / name).read_bytes() == data, name
    docs = c.by_doc()
    assert len(c.provenance) == len(corpus.documents) + 4
    a, b, new_c, new_d = (docs[cap.doc_id] for cap in new_caps)
    assert {r["run_id"] for r in (a, b, new_c, new_d)} == {"run-0002"}
    assert (a["decision"], a["drop_reason"], a["dedup_cluster"], a["dedup_cluster_size"]) == ("dropped", "exact_duplicate", old_exact.doc_id, 3)
    assert (b["decision"], b["drop_reason"], b["dedup_cluster"], b["dedup_cluster_size"]) == ("dropped", "near_duplicate", old_near.doc_id, 2)
    assert docs[old_near.doc_id]["decision"] == "kept"
    for row in (new_c, new_d):
        assert (row["decision"], row["shard"], row["dedup_cluster"]) == ("kept", "run-0002-00000.parquet", row["doc_id"])
    assert sorted(r["doc_id"] for r in c.shards["run-0002-00000.parquet"]) == sorted([new_c["doc_id"], new_d["doc_id"]])
    assert len({r["doc_id"] for r in c.shard_rows()}) == len(c.shard_rows())
    runs = c.manifest["runs"]
    assert [r["run_id"] for r in runs] == ["run-0001", "run-0002"]
    assert [i["path"] for i in runs[1]["inputs"]] == [str(new_file.resolve())]
    assert runs[1]["funnel"]["kept"] == 2 and runs[1]["funnel"]["dropped_exact_duplicate"] == 1 and runs[1]["funnel"]["dropped_near_duplicate"] == 1
    assert c.manifest["documents_kept"] == len(c.shard_rows())

    # Everything given again: nothing new, nothing written.
    after_two = _output_bytes(out)
    manifest_two = (out / "manifest.json").read_bytes()
    run = curate(corpus.dir, new_dir, "--out", out, "--workers", 1)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "nothing new" in run.stderr
    assert _output_bytes(out) == after_two and (out / "manifest.json").read_bytes() == manifest_two

    # Curated files given with a new one: only the new one is curated, the others are listed as skipped.
    newer = write_warc(new_dir / "newer.warc.gz", [Capture("https://new.example.org/e.html", page_html(pages[64], "https://new.example.org/e.html"), date="2024-07-01T00:00:00Z")])
    run = curate(corpus.dir, new_dir, "--out", out, "--workers", 1)
    assert run.returncode == 0, run.stderr[-3000:]
    manifest = json.loads((out / "manifest.json").read_text())
    third = manifest["runs"][2]
    assert [i["path"] for i in third["inputs"]] == [str(newer.resolve())]
    assert sorted(third["skipped_inputs"]) == sorted(str(p.resolve()) for p in [*corpus.files, new_file])
    assert third["funnel"]["kept"] == 1
    assert len(Curated.read(out).provenance) == len(corpus.documents) + 5


# --- bad input ------------------------------------------------------------------------------------


def test_non_warc_input_is_a_usage_error_and_leaves_nothing_behind(corpus, tmp_path):
    out = tmp_path / "curated"
    text = tmp_path / "notes.txt"
    text.write_text("These are my notes about the crawl.\nNothing to see here.\n")
    png = tmp_path / "logo.png"
    png.write_bytes(_png())
    fake = tmp_path / "fake.warc.gz"  # the name of a WARC file, the content of a text file
    fake.write_bytes(gzipped(b"hello, this is not a WARC file at all\n"))
    for bad in (text, png, fake):
        run = curate(corpus.files[0], bad, "--out", out, "--workers", 1)
        assert run.returncode == 2, (bad.name, run.stdout, run.stderr)
        assert bad.name in run.stderr and "not a WARC" in run.stderr, run.stderr
        assert "Traceback" not in run.stderr
        assert not out.exists(), "nothing may be written for a usage error"
    # The same file inside a directory input is just as much a usage error.
    folder = tmp_path / "warcs"
    folder.mkdir()
    (folder / "fake.warc.gz").write_bytes(fake.read_bytes())
    run = curate(folder, "--out", out, "--workers", 1)
    assert run.returncode == 2 and "fake.warc.gz" in run.stderr and "not a WARC" in run.stderr, (run.stdout, run.stderr)
    assert not out.exists()
    run = curate(corpus.files[0], "--out", out, "--workers", 1)
    assert run.returncode == 0, run.stderr[-3000:]
    c = Curated.read(out)
    assert [r["run_id"] for r in c.manifest["runs"]] == ["run-0001"]
    assert sorted(r["doc_id"] for r in c.provenance) == sorted(cap.doc_id for cap in corpus.file_documents[0])


@pytest.mark.parametrize("kind", ["warcinfo_only", "non_html_only"])
def test_input_without_usable_record_exits_1_with_a_summary(tmp_path, kind):
    path = tmp_path / f"{kind}.warc.gz"
    if kind == "warcinfo_only":
        write_warc(path, [])
    else:
        write_warc(
            path,
            [
                Capture("https://docs.example.org/logo.png", _png(), content_type="image/png"),
                Capture("https://docs.example.org/site.css", b"body { margin: 0 }", content_type="text/css"),
                Capture("https://docs.example.org/data.json", b'{"a": 1}', content_type="application/json"),
                Capture("https://docs.example.org/gone.html", b"<html><body><p>Gone.</p></body></html>", status="404 Not Found"),
            ],
        )
    out = tmp_path / "curated"
    run = curate(path, "--out", out, "--workers", 1)
    assert run.returncode == 1, (run.stdout, run.stderr)
    assert "Traceback" not in run.stderr
    assert "no usable record" in run.stderr
    assert "documents: 0, kept: 0" in run.stdout
    if kind == "non_html_only":
        assert "records_skipped_not_html" in run.stdout and "records_skipped_http_status" in run.stdout, run.stdout
    else:
        assert "records_skipped_warcinfo" in run.stdout, run.stdout
    assert list((out / "shards").glob("*.parquet")) == []
    # Nothing was committed, so the same command fails the same way instead of "nothing new".
    assert not (out / "manifest.json").exists()
    again = curate(path, "--out", out, "--workers", 1)
    assert again.returncode == 1 and "no usable record" in again.stderr, (again.stdout, again.stderr)


def _damage_gzip_member(path: Path, member: int) -> range:
    """Cut the compressed record `member` (0 = warcinfo) in half, the members after it kept;
    returns the byte range the damaged member now spans."""
    data = path.read_bytes()
    starts = gzip_members(data) + [len(data)]
    start, end = starts[member], starts[member + 1]
    cut = start + (end - start) // 2
    path.write_bytes(data[:cut] + data[end:])
    return range(start, cut)


def _damage_plain_record(path: Path, url: str) -> range:
    """Overwrite the start of the record for `url` with garbage; returns its byte range, with the
    CRLF CRLF that ends the record before it (where a reader stops)."""
    data = bytearray(path.read_bytes())
    at = data.find(url.encode())
    start = data.rfind(b"WARC/1.0", 0, at)
    data[start : at + len(url)] = b"x" * (at + len(url) - start)
    path.write_bytes(bytes(data))
    return range(start - 4, data.find(b"WARC/1.0", at))


def test_damaged_and_odd_records_are_recorded_never_a_crash(tmp_path):
    pages = english_pages()
    inputs = tmp_path / "in"
    inputs.mkdir()
    # A truncated gzip member in the middle of a file.
    gz_caps = [Capture(f"https://gz.example.org/{i}.html", page_html(pages[i], f"https://gz.example.org/{i}.html")) for i in range(5)]
    gz = write_warc(inputs / "truncated.warc.gz", gz_caps)
    damaged = {gz.name: _damage_gzip_member(gz, 3)}  # the record of gz_caps[2]
    # A garbled record header in the middle of an uncompressed WARC/1.0 file.
    plain_caps = [Capture(f"https://plain.example.org/{i}.html", page_html(pages[10 + i], f"https://plain.example.org/{i}.html")) for i in range(5)]
    plain = write_warc(inputs / "garbled.warc", plain_caps, compress=False, version="WARC/1.0")
    damaged[plain.name] = _damage_plain_record(plain, plain_caps[2].url)
    # Odd records in a sound file.
    good = page_html(pages[20], "https://odd.example.org/bad-bytes.html")
    bad_bytes = good.replace(b"<p>", b"<p>\xff\xfe\xfa ", 2)  # six bytes that are not UTF-8, declared UTF-8
    garbage = b"<html><body><p>" + bytes(range(128, 256)) * 64 + b"</p></body></html>"
    line = b"<html><head><title>One line</title></head><body><p>" + b"harvest time again " * 10_000
    odd_caps = [
        Capture("https://odd.example.org/bad-bytes.html", bad_bytes),
        Capture("https://odd.example.org/garbage.html", garbage),
        Capture("https://odd.example.org/50mb.html", line * (50 * 1024 * 1024 // len(line) + 1) + b"</p></body></html>"),
        Capture("https://odd.example.org/12mb.html", line * (12 * 1024 * 1024 // len(line) + 1) + b"</p></body></html>"),
        Capture("https://odd.example.org/empty.html", b""),
        Capture("https://odd.example.org/gzipped.html", gzipped(page_html(pages[21], "https://odd.example.org/gzipped.html")), headers=(("Content-Encoding", "gzip"),)),
    ]
    write_warc(inputs / "odd.warc.gz", odd_caps)
    config = tmp_path / "ernte.yaml"
    config.write_text("curate:\n  max_body_bytes: 16777216  # 16 MiB: the 12 MB page is read, the 50 MB one is not\n")

    out = tmp_path / "curated"
    run = curate(inputs, "--out", out, "--workers", 2, "--keep-rejected", "--config", config)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "Traceback" not in run.stderr
    c = Curated.read(out)
    rows = c.by_url()
    manifest_run = c.manifest["runs"][0]
    assert manifest_run["config"]["max_body_bytes"] == 16777216
    errors = {Path(i["path"]).name: i["errors"] for i in manifest_run["inputs"]}

    # Damage: counted with its reason in the manifest, the rest of the file still curated.
    for name, caps in (("truncated.warc.gz", gz_caps), ("garbled.warc", plain_caps)):
        assert errors[name], f"{name}: the damage is not reported in manifest.json"
        for cap in (*caps[:2], *caps[3:]):
            assert rows[cap.url]["decision"] == "kept", (name, cap.url, rows[cap.url]["drop_reason"])
        assert caps[2].url not in rows  # the damaged record itself is gone: no document, no row
    assert errors["odd.warc.gz"] == []
    for name, where in damaged.items():  # each error names the file and a position in the damage
        assert [e for e in errors[name] if name in e and any(int(n) in where for n in re.findall(r"\d+", e))], (where, errors[name])
    assert manifest_run["funnel"]["records_corrupt_records"] == sum(len(e) for e in errors.values())

    # Odd records: each one a provenance row with what happened to it.
    bad = rows["https://odd.example.org/bad-bytes.html"]
    assert (bad["decision"], bad["charset"], bad["decode_errors"]) == ("kept", "utf-8", 6)
    garbage_row = rows["https://odd.example.org/garbage.html"]
    assert garbage_row["decision"] == "dropped" and garbage_row["drop_reason"], garbage_row
    assert garbage_row["decode_errors"] > 0
    assert (rows["https://odd.example.org/50mb.html"]["decision"], rows["https://odd.example.org/50mb.html"]["drop_reason"]) == ("dropped", "too_large")
    assert (rows["https://odd.example.org/12mb.html"]["decision"], rows["https://odd.example.org/12mb.html"]["drop_reason"]) == ("dropped", "input_too_large")
    assert (rows["https://odd.example.org/empty.html"]["decision"], rows["https://odd.example.org/empty.html"]["drop_reason"]) == ("dropped", "empty_body")
    assert rows["https://odd.example.org/gzipped.html"]["decision"] == "kept"
    for cap in odd_caps:
        assert rows[cap.url]["doc_id"] == cap.doc_id and rows[cap.url]["warc_file"] == "odd.warc.gz"

    # rejected/: every dropped document with its reason, and the text where one was extracted.
    rejected = {r["doc_id"]: r for r in c.rejected}
    dropped = {r["doc_id"]: r for r in c.provenance if r["decision"] == "dropped"}
    assert set(rejected) == set(dropped)
    for doc_id, row in rejected.items():
        assert (row["url"], row["drop_reason"]) == (dropped[doc_id]["url"], dropped[doc_id]["drop_reason"])
    assert rejected[garbage_row["doc_id"]]["text"]
    assert rejected[rows["https://odd.example.org/50mb.html"]["doc_id"]]["text"] is None


def test_uncompressed_warc_1_0(tmp_path):
    pages = english_pages()
    caps = [Capture(f"http://plain.example.org/{i}.html", page_html(pages[40 + i], f"http://plain.example.org/{i}.html"), date=f"2019-05-0{i + 1}T12:00:00Z") for i in range(4)]
    path = write_warc(tmp_path / "plain.warc", caps, compress=False, version="WARC/1.0")
    assert path.read_bytes().startswith(b"WARC/1.0\r\n")
    offsets = {}
    with open(path, "rb") as fh:
        it = ArchiveIterator(fh)
        for record in it:
            if record.rec_type == "response":
                offsets[record.rec_headers.get_header("WARC-Target-URI")] = it.get_record_offset()
    out = tmp_path / "curated"
    run = curate(path, "--out", out, "--workers", 1)
    assert run.returncode == 0, run.stderr[-3000:]
    c = Curated.read(out)
    rows = c.by_url()
    assert sorted(rows) == sorted(cap.url for cap in caps)
    shard_text = {r["url"]: r["text"] for r in c.shard_rows()}
    for cap, page in zip(caps, pages[40:44]):
        row = rows[cap.url]
        assert (row["doc_id"], row["warc_record_id"], row["warc_file"], row["warc_offset"]) == (cap.doc_id, cap.record_id, "plain.warc", offsets[cap.url])
        assert row["decision"] == "kept" and row["fetched_at"] == datetime.fromisoformat(cap.date.replace("Z", "+00:00"))
        assert page.paragraphs[0] in shard_text[cap.url]


@pytest.mark.parametrize("ranges", [False, True], ids=["whole_file", "byte_ranges"])
def test_revisit_records_resolved_or_recorded(tmp_path, ranges):
    pages = english_pages()
    original = Capture("https://rev.example.org/page.html", page_html(pages[45], "https://rev.example.org/page.html"), date="2024-01-01T00:00:00Z")
    # Pages between the original and its revisit: with byte ranges the revisit is in a later range.
    between = [Capture(f"https://rev.example.org/between-{i}.html", page_html(pages[48 + i], f"https://rev.example.org/between-{i}.html"), date="2024-01-02T00:00:00Z") for i in range(4)]
    same_payload = dataclasses.replace(original, url="https://rev.example.org/page.html?utm=1", date="2024-02-01T00:00:00Z", kind="revisit", refers_to=original)
    unresolved = Capture("https://rev.example.org/elsewhere.html", page_html(pages[46], "https://rev.example.org/elsewhere.html"), date="2024-02-02T00:00:00Z", kind="revisit")
    other = Capture("https://rev.example.org/other.html", page_html(pages[47], "https://rev.example.org/other.html"), date="2024-01-03T00:00:00Z")
    path = write_warc(tmp_path / "revisits.warc.gz", [original, *between, same_payload, unresolved, other])
    out = tmp_path / "curated"
    args = ["--config", tmp_path / "ernte.yaml"] if ranges else []
    if ranges:
        (tmp_path / "ernte.yaml").write_text("curate:\n  range_bytes: 4096\n")
        members = gzip_members(path.read_bytes())
        assert members[2] < 4096 <= members[6], "the original must be in the first range, its revisit in a later one"
    run = curate(path, "--out", out, "--workers", 1, *args)
    assert run.returncode == 0, run.stderr[-3000:]
    c = Curated.read(out)
    assert c.manifest["runs"][0]["inputs"][0]["ranges"] == (-(-path.stat().st_size // 4096) if ranges else 1)
    rows = c.by_url()
    assert len(rows) == 8
    rev = rows[same_payload.url]
    assert (rev["doc_id"], rev["warc_record_type"], rev["http_status"]) == (same_payload.doc_id, "revisit", 200)
    assert rev["fetched_at"] == datetime(2024, 2, 1, tzinfo=timezone.utc)
    assert rev["payload_digest"] == rows[original.url]["payload_digest"]
    # Its payload was read from the original: the same text, so an exact duplicate of it.
    assert (rev["decision"], rev["drop_reason"], rev["dedup_cluster"], rev["dedup_cluster_size"]) == ("dropped", "exact_duplicate", original.doc_id, 2)
    assert rev["text_chars"] == rows[original.url]["text_chars"] > 1000
    assert rows[original.url]["decision"] == rows[other.url]["decision"] == "kept"
    lost = rows[unresolved.url]
    assert (lost["decision"], lost["drop_reason"], lost["warc_record_type"]) == ("dropped", "revisit_unresolved", "revisit")


# --- a crawl directory as input -------------------------------------------------------------------


@pytest.fixture(scope="module")
def crawled(tmp_path_factory):
    """A small site crawled by `ernte crawl` (subprocess, 127.0.0.1): (site base URL, crawl dir)."""
    pages = english_pages()
    with TestSite() as site:
        site.robots("User-agent: *\nAllow: /\n\nUser-agent: GPTBot\nDisallow: /ai/\n")
        paths = ["/docs/a.html", "/docs/b.html", "/docs/c.html", "/copy/a.html", "/ai/d.html", "/tdm/e.html"]
        site.page("/", *paths, "/logo.png")
        bodies = {p: page_html(pages[50 + i], site.url(p)) for i, p in enumerate(paths)}
        bodies["/copy/a.html"] = bodies["/docs/a.html"]  # byte-identical: the crawler writes a revisit
        for path, body in bodies.items():
            headers = [("tdm-reservation", "1")] if path.startswith("/tdm/") else []
            site.add(path, Reply(body=body, headers=headers))
        site.add("/logo.png", Reply(body=_png(), content_type="image/png"))
        work = tmp_path_factory.mktemp("crawl")
        config = work / "ernte.yaml"
        config.write_text("crawl:\n  warc_max_bytes: 1024  # a new WARC file per capture: revisits refer to other files\n")
        out = work / "crawl"
        run = run_ernte(*crawl_args(site, out, "--max-pages", "20", "--config", str(config)))
        assert run.returncode == 0, run.stderr[-3000:]
        yield site.base, out


def test_crawl_directory_input_joins_the_fetch_log(crawled, tmp_path):
    base, crawl_dir = crawled
    out = tmp_path / "curated"
    run = curate(crawl_dir, "--out", out, "--workers", 2)
    assert run.returncode == 0, run.stderr[-3000:]
    c = Curated.read(out)
    rows = c.by_url()
    log = fetch_rows(crawl_dir)
    html_fetches = {r["url"]: r for r in log if r["decision"] == "fetched" and r["http_status"] == 200 and (r["content_type"] or "").startswith("text/html")}
    assert sorted(rows) == sorted(html_fetches)
    assert {base + p for p in ("/docs/a.html", "/copy/a.html", "/ai/d.html", "/tdm/e.html")} <= set(rows)
    for url, row in rows.items():
        fetch = html_fetches[url]
        for column in ("warc_file", "warc_offset", "warc_record_id", "payload_digest", "crawl_id", "depth", "robots_rule"):
            assert row[column] == fetch[column], (url, column, row[column], fetch[column])
        # robots.txt's AI opt-out is kept raw and counts as one of the reservations (consent issue).
        assert row["robots_ai_optout_agents"] == (fetch["ai_optout_agents"] or []), url
        assert set(fetch["ai_optout_agents"] or []) <= set(row["ai_optout_agents"]) and row["ai_optout"] >= bool(fetch["ai_optout"]), url
        assert row["warc_record_type"] == fetch["warc_record_type"]
        assert row["crawl_id"] and row["depth"] is not None
    assert rows[base + "/ai/d.html"]["ai_optout"] is True and "GPTBot" in rows[base + "/ai/d.html"]["ai_optout_agents"]
    assert rows[base + "/docs/b.html"]["ai_optout"] is False
    assert rows[base + "/tdm/e.html"]["header_tdm_reservation"] == "1"
    assert rows[base + "/docs/b.html"]["header_tdm_reservation"] is None
    tdm, ai, plain = rows[base + "/tdm/e.html"], rows[base + "/ai/d.html"], rows[base + "/docs/b.html"]
    assert (tdm["tdm_reservation"], tdm["tdm_source"], tdm["ai_optout"], tdm["train_eligible"], tdm["eligibility_reason"]) == (1, "header", True, False, "tdm_reservation")
    assert (ai["train_eligible"], ai["eligibility_reason"]) == (False, "robots_ai_optout")
    assert (plain["ai_optout"], plain["train_eligible"], plain["eligibility_reason"]) == (False, True, "eligible")
    assert rows[base + "/"]["depth"] == 0 and rows[base + "/docs/b.html"]["depth"] == 1

    # The byte-identical copy: a response and a revisit record in another WARC file; the revisit is
    # read through its original (found by the fetch log) and both end up in one cluster, the
    # earlier fetch kept.
    pair = sorted((rows[base + "/docs/a.html"], rows[base + "/copy/a.html"]), key=lambda r: (r["fetched_at"], r["warc_record_type"]))
    assert [r["warc_record_type"] for r in pair] == ["response", "revisit"]
    assert pair[0]["warc_file"] != pair[1]["warc_file"]
    assert pair[1]["text_chars"] == pair[0]["text_chars"] > 1000
    assert [r["decision"] for r in pair] == ["kept", "dropped"]
    assert (pair[1]["drop_reason"], pair[1]["dedup_cluster"], pair[1]["dedup_cluster_size"]) == ("exact_duplicate", pair[0]["doc_id"], 2)
    kept_urls = {r["url"] for r in c.shard_rows()}
    assert {base + p for p in ("/docs/b.html", "/docs/c.html", "/ai/d.html", "/tdm/e.html")} <= kept_urls
    assert c.manifest["runs"][0]["inputs"][0]["crawl_dir"] == str(crawl_dir.resolve())


def test_language_drops_skip_quality_signals_unless_asked(tmp_path):
    """Documents the language rules drop never reach the quality stage: their signals are null,
    unless signals_for_language_drops asks for them (an audit setting)."""
    pages = english_pages()
    caps = [Capture(f"http://lang.example.org/{i}.html", page_html(pages[50 + i], f"http://lang.example.org/{i}.html")) for i in range(3)]
    path = write_warc(tmp_path / "lang.warc.gz", caps)
    for audit in (False, True):
        out = tmp_path / f"curated-{audit}"
        config = tmp_path / f"c-{audit}.yaml"
        config.write_text(f"curate:\n  signals_for_language_drops: {str(audit).lower()}\n")
        run = curate(path, "--out", out, "--workers", 1, "--languages", "de", "--config", config)
        assert run.returncode == 0, run.stderr[-3000:]
        rows = Curated.read(out).by_url()
        assert {r["drop_reason"] for r in rows.values()} == {"lang_not_selected"}
        assert all(r["lang"] == "en" for r in rows.values())
        words = [r["gopher_q_word_count"] for r in rows.values()]
        assert all(w is not None and w > 100 for w in words) if audit else all(w is None for w in words), words


def test_reservations_and_licences_decide_train_eligibility(tmp_path):
    """One WARC: a page reserved by a tdm-reservation header, one by meta noai, one under CC BY-SA
    in its footer, one plain: provenance says why, shards carry licence_spdx and train_eligible."""
    pages = english_pages()[:5]
    urls = [f"https://consent.example.org/p{i}.html" for i in range(5)]
    html = [page_html(p, u).decode("utf-8") for p, u in zip(pages, urls)]
    cc_footer = '<footer><p>This work is licensed under a <a rel="license" href="https://creativecommons.org/licenses/by-sa/4.0/">Creative Commons Attribution-ShareAlike 4.0 International License</a>.</p></footer>'
    nc_footer = cc_footer.replace("by-sa/4.0", "by-nc/4.0").replace("ShareAlike", "NonCommercial")
    html[1] = html[1].replace("<head>", '<head>\n<meta name="robots" content="noai, noimageai">')
    html[2] = re.sub(r"<footer>.*</footer>", cc_footer, html[2])
    html[4] = re.sub(r"<footer>.*</footer>", nc_footer, html[4])
    captures = [
        Capture(urls[0], html[0].encode(), headers=(("tdm-reservation", "1"), ("tdm-policy", "https://consent.example.org/policy.json"))),
        Capture(urls[1], html[1].encode()),
        Capture(urls[2], html[2].encode(), headers=(("Content-Usage", "train-ai=y, search=y"),)),
        Capture(urls[3], html[3].encode()),
        Capture(urls[4], html[4].encode()),
    ]
    warc = write_warc(tmp_path / "consent.warc.gz", captures)
    config = tmp_path / "ernte.yaml"
    config.write_text("curate:\n  policy:\n    exclude_licences: ['*-NC-*']\n", encoding="utf-8")
    out = tmp_path / "curated"
    run = curate(warc, "--out", out, "--workers", 1, "--config", config)
    assert run.returncode == 0, run.stderr[-3000:]
    c = Curated.read(out)
    rows = c.by_url()
    expected = {
        urls[0]: (1, "header", False, None, False, "tdm_reservation"),
        urls[1]: (None, None, True, None, False, "noai"),
        urls[2]: (None, None, False, "CC-BY-SA-4.0", True, "eligible"),
        urls[3]: (None, None, False, None, True, "eligible"),
        urls[4]: (None, None, False, "CC-BY-NC-4.0", False, "licence_excluded"),
    }
    got = {u: (r["tdm_reservation"], r["tdm_source"], r["noai"], r["licence_spdx"], r["train_eligible"], r["eligibility_reason"]) for u, r in rows.items()}
    assert got == expected
    assert rows[urls[0]]["tdm_policy"] == "https://consent.example.org/policy.json" and rows[urls[0]]["ai_optout"] is True
    assert rows[urls[2]]["content_usage"] == "train-ai=y, search=y" and rows[urls[2]]["ai_optout"] is False
    assert (rows[urls[2]]["licence_source"], rows[urls[2]]["licence_location"], rows[urls[2]]["licence_confidence"]) == ("a_rel", "footer", "high")
    assert "creativecommons.org/licenses/by-sa/4.0/" in rows[urls[2]]["licence_evidence"]
    assert all(r["decision"] == "kept" for r in rows.values())  # eligibility is recorded, not a drop
    shard = {r["url"]: (r["licence_spdx"], r["train_eligible"]) for r in c.shard_rows()}
    assert shard == {u: (e[3], e[4]) for u, e in expected.items()}


def test_archived_tdmrep_json_in_a_foreign_warc_applies_to_its_host(tmp_path):
    """A WARC Ernte did not write, with /.well-known/tdmrep.json archived after the pages (and an
    older copy before them): its first matching rule decides where no meta or header did; meta
    still wins; another host is untouched; a second run over another WARC of the host uses it too."""
    pages = english_pages()[10:16]
    host = "https://tdmrep.example.org"
    urls = [f"{host}/reserved/a.html", f"{host}/reserved/b.html", f"{host}/open/c.html", "https://other.example.org/reserved/d.html"]
    html = [page_html(p, u).decode("utf-8") for p, u in zip(pages, urls)]
    html[1] = html[1].replace("<head>", '<head>\n<meta name="tdm-reservation" content="0">')
    rules = [
        {"location": "/reserved/*", "tdm-reservation": 1, "tdm-policy": "https://tdmrep.example.org/policy.json"},
        {"location": "/reserved/a.html", "tdm-reservation": 0},  # never reached: the first match wins
        {"location": "/", "tdm-reservation": 0},
    ]
    old = [{"location": "/", "tdm-reservation": 0}]
    json_type = "application/json"
    captures = [
        Capture(f"{host}/.well-known/tdmrep.json", json.dumps(old).encode(), date="2023-06-01T00:00:00Z", content_type=json_type),
        *[Capture(u, h.encode()) for u, h in zip(urls, html)],
        Capture(f"{host}/.well-known/tdmrep.json", json.dumps(rules).encode(), date="2024-01-02T00:00:00Z", content_type=json_type),
    ]
    out = tmp_path / "curated"
    run = curate(write_warc(tmp_path / "foreign.warc.gz", captures), "--out", out, "--workers", 1)
    assert run.returncode == 0, run.stderr[-3000:]
    rows = Curated.read(out).by_url()
    got = {u: (r["tdmrep_reservation"], r["tdm_reservation"], r["tdm_source"], r["ai_optout"], r["train_eligible"]) for u, r in rows.items()}
    assert got == {
        urls[0]: (1, 1, "tdmrep.json", True, False),
        urls[1]: (1, 0, "meta", False, True),
        urls[2]: (0, 0, "tdmrep.json", False, True),
        urls[3]: (None, None, None, False, True),
    }
    assert rows[urls[0]]["tdm_policy"] == "https://tdmrep.example.org/policy.json"
    assert Curated.read(out).manifest["runs"][0]["tdmrep_files"][host.removeprefix("https://")]["date"] == "2024-01-02T00:00:00Z"
    # A later WARC of the same host without the file: the archived one still applies.
    later = f"{host}/reserved/e.html"
    run = curate(write_warc(tmp_path / "later.warc.gz", [Capture(later, page_html(pages[5], later))]), "--out", out, "--workers", 1)
    assert run.returncode == 0, run.stderr[-3000:]
    row = Curated.read(out).by_url()[later]
    assert (row["tdm_reservation"], row["tdm_source"], row["train_eligible"]) == (1, "tdmrep.json", False)


def test_link_header_licence_and_repeated_headers(tmp_path):
    """`Link: <CC URL>; rel="license"` is a licence statement (RFC 8288, several links in one
    header, or in a second Link header); a noai in a second X-Robots-Tag header still counts."""
    pages = english_pages()[20:24]
    urls = [f"https://headers.example.org/p{i}.html" for i in range(4)]
    captures = [
        Capture(urls[0], page_html(pages[0], urls[0]), headers=(("Link", '<https://headers.example.org/style.css>; rel=preload; as=style, <https://creativecommons.org/licenses/by-sa/4.0/>; rel="license"'),)),
        Capture(urls[1], page_html(pages[1], urls[1]), headers=(("Link", "<https://headers.example.org/>; rel=canonical"), ("Link", "<http://creativecommons.org/publicdomain/zero/1.0/>; rel=\"license cc:license\""))),
        Capture(urls[2], page_html(pages[2], urls[2]), headers=(("Link", '<https://creativecommons.org/licenses/by/4.0/>; rel="alternate"'), ("X-Robots-Tag", "index"), ("X-Robots-Tag", "noai"))),
        Capture(urls[3], page_html(pages[3], urls[3])),
    ]
    out = tmp_path / "curated"
    run = curate(write_warc(tmp_path / "headers.warc.gz", captures), "--out", out, "--workers", 1)
    assert run.returncode == 0, run.stderr[-3000:]
    rows = Curated.read(out).by_url()
    got = {u: (r["licence_spdx"], r["licence_source"], r["licence_location"], r["noai"]) for u, r in rows.items()}
    assert got == {
        urls[0]: ("CC-BY-SA-4.0", "link_header", "header", False),
        urls[1]: ("CC0-1.0", "link_header", "header", False),
        urls[2]: (None, None, None, True),  # rel=alternate is no licence statement
        urls[3]: (None, None, None, False),
    }
    assert rows[urls[0]]["licence_evidence"].startswith("Link: <https://creativecommons.org/licenses/by-sa/4.0/>")
    assert rows[urls[2]]["header_x_robots_tag"] == "index, noai"


def test_policy_apply_redecides_eligibility_without_curating_again(tmp_path):
    pages = english_pages()[:2]
    urls = [f"https://policy.example.org/p{i}.html" for i in range(2)]
    footer = '<footer><p>This work is licensed under a <a rel="license" href="https://creativecommons.org/licenses/by-nc/4.0/">CC BY-NC 4.0</a>.</p></footer>'
    html = [page_html(p, u).decode("utf-8") for p, u in zip(pages, urls)]
    html[0] = re.sub(r"<footer>.*</footer>", footer, html[0])
    warc = write_warc(tmp_path / "policy.warc.gz", [Capture(u, h.encode()) for u, h in zip(urls, html)])
    out = tmp_path / "curated"
    assert curate(warc, "--out", out, "--workers", 1).returncode == 0
    assert {r["url"]: r["train_eligible"] for r in Curated.read(out).shard_rows()} == {urls[0]: True, urls[1]: True}
    config = tmp_path / "strict.yaml"
    config.write_text("curate:\n  policy:\n    exclude_licences: ['*-NC-*']\n", encoding="utf-8")
    run = run_ernte("policy", "apply", str(out), "--config", str(config))
    assert run.returncode == 0, run.stderr[-2000:]
    assert "decisions_changed" in run.stdout
    c = Curated.read(out)
    assert {r["url"]: r["train_eligible"] for r in c.shard_rows()} == {urls[0]: False, urls[1]: True}
    assert c.by_url()[urls[0]]["eligibility_reason"] == "licence_excluded"
    assert c.manifest["policy_applications"][-1]["counts"]["kept_ineligible_licence_excluded"] == 1
    # the eligible set changed: a new dataset version naming its parent, with its version file
    first, policy_run = c.manifest["runs"][0]["run_id"], c.manifest["runs"][-1]
    assert (policy_run["kind"], policy_run["parent"]) == ("policy", first)
    version = json.loads((out / "versions" / f"{policy_run['run_id']}.json").read_text())
    assert (version["parent"], version["eligible_documents"]) == (first, 1)
    assert version["eligible_sha256"] != json.loads((out / "versions" / f"{first}.json").read_text())["eligible_sha256"]
    # the same policy again changes nothing and makes no version
    again = run_ernte("policy", "apply", str(out), "--config", str(config))
    assert again.returncode == 0, again.stderr[-2000:]
    manifest = Curated.read(out).manifest
    assert len(manifest["runs"]) == 2 and manifest["policy_applications"][-1]["version"] is None


def test_curate_treats_pandas_and_fsspec_as_absent():
    """pyarrow's pandas check and warcio's fsspec import cost every curate process time for nothing."""
    code = (
        "import sys\n"
        "from pipeline.cli import _without_unused_packages\n"
        "_without_unused_packages()\n"
        "import pipeline.curate, pyarrow as pa, warcio.utils\n"
        "pa.Table.from_pylist([{'a': 1}])\n"
        "assert 'pandas' not in sys.modules and 'fsspec' not in sys.modules, sorted(sys.modules)\n"
        "assert not warcio.utils.HAS_FSSPEC\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)
