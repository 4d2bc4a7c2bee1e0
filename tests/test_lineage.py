"""`ernte withdraw`, `ernte trace` and `ernte retrain`, end to end through the real CLI.

A curated directory is made from WARC files of three hosts (one page of the third host is a near
copy of a page of the first), tokenized and a tiny model trained on it. Then a host is withdrawn:
the new dataset version must lack its documents in every shard, keep everything else byte for
byte the same, log the withdrawal, mark the token directory and the model that used them stale,
stand for later curate runs, and let one command train the model again on the new version.
`ernte trace` follows documents through all of it, re-reading and verifying their WARC records;
one test corrupts a record and expects trace to say so and exit 1.
"""

from __future__ import annotations

import gzip
import json
import re
import zlib
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest
from crawl_sites import Reply, TestSite, crawl_args, run_ernte
from curate_inputs import Capture, Curated, english_pages, near_copy, page_html, write_warc

HOSTS = ("a.example", "b.example")


def _captures(pages, host: str, start: int, n: int, date: str = "2024-01-01T00:00:00Z") -> list[Capture]:
    return [Capture(f"https://{host}/p{i}.html", page_html(pages[i], f"https://{host}/p{i}.html"), date=date) for i in range(start, start + n)]


def _ok(run, what: str):
    assert run.returncode == 0, f"{what} exited {run.returncode}:\n{run.stdout[-2000:]}\n{run.stderr[-3000:]}"
    return run


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """(root, curated dir, token dir, model dir): curate, tokenize and train (tiny, 4 steps)."""
    pages = english_pages()
    root = tmp_path_factory.mktemp("lineage")
    (root / "warc").mkdir()
    caps = _captures(pages, "a.example", 0, 10) + _captures(pages, "b.example", 10, 10)
    caps.append(Capture("https://c.example/copy.html", page_html(near_copy(pages[0]), "https://c.example/copy.html"), date="2024-01-02T00:00:00Z"))
    write_warc(root / "warc" / "one.warc.gz", caps)
    curated, tokens, model = root / "curated", root / "tokens" / "run-0001", root / "models" / "run-0001"
    _ok(run_ernte("curate", root / "warc", "--out", curated, "--workers", "1", "--keep-rejected"), "curate")
    _ok(run_ernte("tokenize", curated, "--out", tokens, "--vocab-size", "400", "--val-fraction", "0.2", "--workers", "1"), "tokenize")
    train = ["--preset", "tiny", "--max-steps", "4", "--batch-size", "2", "--eval-interval", "2", "--eval-batches", "1", "--checkpoint-interval", "4", "--warmup-steps", "1"]
    _ok(run_ernte("train", tokens, "--out", model, *train, timeout=300), "train")
    return root, curated, tokens, model


def _shard_docs(curated: Path) -> dict[str, dict]:
    return {row["doc_id"]: row for row in Curated.read(curated).shard_rows()}


def test_withdraw_trace_and_retrain(built):
    root, curated, tokens, model = built
    before = Curated.read(curated)
    kept_before = _shard_docs(curated)
    b_kept = {d for d, row in kept_before.items() if row["host"] == "b.example"}
    b_all = {row["doc_id"] for row in before.provenance if row["host"] == "b.example"}
    assert len(b_kept) >= 8, "the fixture should keep most b.example pages"

    # Trace before: the document is in its shard, in the token directory and used by the model.
    one = sorted(b_kept)[0]
    url = kept_before[one]["url"]
    run = _ok(run_ernte("trace", curated, url, "--format", "json"), "trace")
    [doc] = json.loads(run.stdout)
    assert doc["doc_id"] == one and doc["problems"] == []
    assert doc["warc"]["record_id_matches"] is True and doc["warc"]["digests"] == "verified"
    assert doc["shard"]["present"] is True and doc["shard"]["shard"] == kept_before[one]["run_id"] + "-00000.parquet"
    used = {u["kind"]: u for u in doc["used by"]}
    assert used["tokens"]["path"] == str(tokens.resolve()) and used["tokens"]["split"] in ("train", "val")
    assert used["model"]["path"] == str(model.resolve()) and used["model"]["stale"] is False

    # Withdraw the host.
    run = _ok(run_ernte("withdraw", curated, "--host", "B.example", "--reason", "rightsholder reserved TDM by letter, 2026-11-20"), "withdraw")
    assert "new dataset version: run-0002 (parent run-0001)" in run.stdout
    assert f"ernte retrain {model.resolve()}" in run.stdout
    after = Curated.read(curated)
    kept_after = _shard_docs(curated)
    assert set(kept_after) == set(kept_before) - b_kept
    assert all(kept_after[d] == kept_before[d] for d in kept_after), "other documents must not change"
    assert not any(b in (row["doc_id"] for row in after.rejected) for b in b_all), "withdrawn text left in rejected/"
    prov = {row["doc_id"]: row for row in after.provenance}
    assert len(prov) == len(before.provenance)
    for d in b_all:
        assert prov[d]["withdrawal_id"] == "withdrawal-0001" and prov[d]["train_eligible"] in (False, None)
    assert {prov[d]["decision"] for d in b_kept} == {"withdrawn"} and all(prov[d]["shard"] is None for d in b_kept)
    assert all(row["withdrawal_id"] is None for d, row in prov.items() if d not in b_all)

    runs = after.manifest["runs"]
    assert [r["run_id"] for r in runs] == ["run-0001", "run-0002"]
    assert (runs[1]["kind"], runs[1]["parent"], runs[1]["funnel"]["withdrawn"]) == ("withdrawal", "run-0001", len(b_kept))
    assert after.manifest["documents_kept"] == len(kept_after)
    version = json.loads((curated / "versions" / "run-0002.json").read_text())
    assert (version["parent"], version["documents"]) == ("run-0001", len(kept_after))
    assert version["eligible_sha256"] != json.loads((curated / "versions" / "run-0001.json").read_text())["eligible_sha256"]
    [audit] = [json.loads(line) for line in (curated / "withdrawals.jsonl").read_text().splitlines()]
    assert audit["selector"] == {"hosts": ["b.example"]} and audit["documents"] == len(b_kept) and audit["reason"].startswith("rightsholder")
    assert set(pq.read_table(curated / audit["records"])["doc_id"].to_pylist()) == b_all
    # What DuckDB sees as the current version.
    con = duckdb.connect()
    assert con.execute(f"SELECT count(*) FROM read_parquet('{curated}/shards/*.parquet') WHERE host = 'b.example'").fetchone() == (0,)
    # The token directory and the model that used them are stale, in their own lineage.
    for consumer in (tokens, model):
        mark = json.loads((consumer / "lineage.json").read_text())
        assert mark["stale"] is True and mark["reasons"][0]["withdrawal_id"] == "withdrawal-0001"
    assert {(c["kind"], c["path"]) for c in audit["stale"]} == {("tokens", str(tokens.resolve())), ("model", str(model.resolve()))}

    summary = _ok(run_ernte("inspect", curated), "inspect").stdout
    assert "== withdrawals ==" in summary and "withdrawal-0001" in summary and "rightsholder" in summary
    funnel = summary.split("== decision funnel ==")[1].split("==")[0]
    assert re.search(rf"^withdrawn\s+{len(b_kept)}\s", funnel, re.M), funnel
    made = summary.split("== made from this directory ==")[1]
    assert str(model.resolve()) in made and "stale" in made

    # Trace after: the withdrawal, no shard, the stale model.
    doc = json.loads(_ok(run_ernte("trace", curated, one, "--format", "json"), "trace").stdout)[0]
    assert doc["withdrawal"]["reason"].startswith("rightsholder") and doc["withdrawal"]["version"] == "run-0002"
    assert doc["filters"]["decision"] == "withdrawn" and "in no shard" in doc["shard"]["note"]
    assert {u["kind"]: u["stale"] for u in doc["used by"]} == {"tokens": True, "model": True}
    text = _ok(run_ernte("trace", curated, one), "trace").stdout
    assert "-- withdrawal --" in text and "rightsholder reserved TDM" in text

    # The same withdrawal again: nothing new, no new version.
    run = _ok(run_ernte("withdraw", curated, "--host", "b.example", "--reason", "again"), "withdraw again")
    assert "no new version" in run.stdout and f"already withdrawn earlier: {len(b_all)}" in run.stdout
    assert [r["run_id"] for r in Curated.read(curated).manifest["runs"]] == ["run-0001", "run-0002"]

    # A later crawl of the withdrawn host: the withdrawal stands.
    pages = english_pages()
    new = _captures(pages, "b.example", 30, 2, date="2024-03-01T00:00:00Z") + _captures(pages, "a.example", 32, 2, date="2024-03-01T00:00:00Z")
    write_warc(root / "warc" / "two.warc.gz", new)
    _ok(run_ernte("curate", root / "warc", "--out", curated, "--workers", "1"), "curate again")
    later = Curated.read(curated)
    run3 = [row for row in later.provenance if row["run_id"] == "run-0003"]
    assert later.manifest["runs"][-1]["parent"] == "run-0002"
    assert {(r["host"], r["decision"]) for r in run3} == {("b.example", "withdrawn"), ("a.example", "kept")}
    assert later.manifest["runs"][-1]["funnel"]["withdrawn_standing"] == 2
    assert not any(row["host"] == "b.example" for row in later.shard_rows())


def test_retrain_trains_on_the_new_version(built):
    root, curated, tokens, model = built
    if not (curated / "withdrawals.jsonl").exists():
        pytest.skip("runs after test_withdraw_trace_and_retrain")  # pragma: no cover
    run = _ok(run_ernte("retrain", model, timeout=300), "retrain")
    manifest = json.loads((curated / "manifest.json").read_text())
    current = manifest["runs"][-1]["run_id"]
    assert f"dataset version: {current}" in run.stdout
    new_tokens, new_model = root / "tokens" / current, root / "models" / current
    docs = pq.read_table(new_tokens / "documents.parquet").to_pylist()
    withdrawn = {row["doc_id"] for p in (curated / "provenance").glob("*.parquet") for row in pq.read_table(p).to_pylist() if row["withdrawal_id"]}
    assert docs and not withdrawn & {d["doc_id"] for d in docs}
    config = json.loads((new_model / "config.json").read_text())
    old = json.loads((model / "config.json").read_text())
    assert config["data"]["dataset_version"] == current and config["train"] == old["train"]
    assert not (new_model / "lineage.json").exists()
    # Sampling from the stale model says it is stale.
    run = run_ernte("sample", model, "--prompt", "The", "--max-new-tokens", "3")
    assert run.returncode == 0 and "stale" in run.stderr
    # The register knows both models.
    register = [json.loads(line) for line in (curated / "lineage.jsonl").read_text().splitlines()]
    assert {e["path"] for e in register if e["kind"] == "model"} == {str(model.resolve()), str(new_model.resolve())}


def test_withdraw_usage_errors(tmp_path, built):
    _, curated, _, _ = built
    run = run_ernte("withdraw", curated, "--reason", "x")
    assert run.returncode == 2 and "give --host, --url-prefix or --doc-id" in run.stderr
    run = run_ernte("withdraw", tmp_path, "--host", "a.example", "--reason", "x")
    assert run.returncode == 2 and "not a curated directory" in run.stderr
    run = run_ernte("withdraw", curated, "--host", "a.example")
    assert run.returncode == 2 and "--reason" in run.stderr
    run = run_ernte("trace", curated, "https://nowhere.example/")
    assert run.returncode == 1 and "no document" in run.stderr
    run = run_ernte("retrain", tmp_path)
    assert run.returncode == 2 and "not a model directory" in run.stderr


def test_dry_run_changes_nothing_and_a_killed_withdrawal_is_finished(tmp_path, monkeypatch):
    pages = english_pages()
    write_warc(tmp_path / "in.warc.gz", _captures(pages, "a.example", 40, 4) + _captures(pages, "b.example", 44, 4))
    curated = tmp_path / "curated"
    _ok(run_ernte("curate", tmp_path / "in.warc.gz", "--out", curated, "--workers", "1"), "curate")
    snapshot = {p.relative_to(curated): p.read_bytes() for p in curated.rglob("*") if p.is_file()}
    run = _ok(run_ernte("withdraw", curated, "--url-prefix", "https://b.example/p4", "--reason", "test", "--dry-run"), "dry run")
    assert "documents removed from the shards: 4" in run.stdout
    assert {p.relative_to(curated): p.read_bytes() for p in curated.rglob("*") if p.is_file()} == snapshot

    # Killed after the journal is written, before it is carried out: the old version still reads
    # as it was, and the next command on the directory finishes the withdrawal.
    from pipeline import withdraw as wd
    from pipeline.withdraw import Selector

    monkeypatch.setattr(wd, "recover_pending", lambda out: False)
    wd.withdraw(curated, Selector(url_prefixes=("https://b.example/",)), "killed")
    assert (curated / wd.JOURNAL).is_file()
    assert len(Curated.read(curated).manifest["runs"]) == 1
    assert {row["host"] for row in Curated.read(curated).shard_rows()} == {"a.example", "b.example"}
    monkeypatch.undo()
    _ok(run_ernte("curate", tmp_path / "in.warc.gz", "--out", curated, "--workers", "1"), "curate (nothing new)")
    assert not (curated / wd.JOURNAL).exists()
    c = Curated.read(curated)
    assert [r.get("kind") for r in c.manifest["runs"]] == ["curate", "withdrawal"]
    assert {row["host"] for row in c.shard_rows()} == {"a.example"}
    assert not list(curated.rglob("*.tmp"))


def test_trace_follows_a_crawled_page_and_catches_a_corrupt_record(tmp_path):
    """A real crawl (robots rule and headers in the fetch log), an uncompressed WARC, and then one
    byte of the archived page changed: the digest check must fail."""
    pages = english_pages()
    with TestSite() as site:
        site.robots("User-agent: *\nAllow: /\n\nUser-agent: GPTBot\nDisallow: /private/\n")
        site.page("/", "/private/a.html", "/b.html")
        site.add("/private/a.html", Reply(body=page_html(pages[60], site.url("/private/a.html")), headers=[("tdm-reservation", "1")]))
        site.add("/b.html", Reply(body=page_html(pages[61], site.url("/b.html"))))
        crawl = tmp_path / "crawl"
        _ok(run_ernte(*crawl_args(site, crawl, "--max-pages", "10")), "crawl")
        target = site.url("/private/a.html")
    curated = tmp_path / "curated"
    _ok(run_ernte("curate", crawl, "--out", curated, "--workers", "1"), "curate")
    doc = json.loads(_ok(run_ernte("trace", curated, target, "--format", "json"), "trace").stdout)[0]
    assert doc["fetch"]["http_status"] == 200 and doc["fetch"]["decision"] == "fetched"
    assert "GPTBot" in doc["fetch"]["ai_optout_agents"] and doc["fetch"]["robots_rule"]
    assert doc["fetch"]["header_tdm_reservation"] == "1"
    assert doc["opt-out signals"]["tdm_reservation"] == 1 and doc["opt-out signals"]["tdm_source"] == "header"
    assert doc["filters"]["train_eligible"] is False
    assert doc["warc"]["digests"] == "verified" and doc["problems"] == []

    # Change one byte of the page inside its gzip member (a valid member again: only the WARC
    # digests can tell).
    warc, offset = Path(doc["warc"]["input_file"]), doc["warc"]["warc_offset"]
    data = warc.read_bytes()
    inflate = zlib.decompressobj(wbits=31)
    record = bytearray(inflate.decompress(data[offset:]))
    end = len(data) - len(inflate.unused_data)
    at = record.index(pages[60].paragraphs[2][:40].encode())
    record[at] = ord("X") if record[at] != ord("X") else ord("Y")
    warc.write_bytes(data[:offset] + gzip.compress(bytes(record)) + data[end:])
    run = run_ernte("trace", curated, target)
    assert run.returncode == 1
    assert "MISMATCH" in run.stdout and "PROBLEM: digest check failed" in run.stdout
