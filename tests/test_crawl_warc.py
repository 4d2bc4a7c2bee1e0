"""WARC output and the fetch log of one small real crawl, checked record by record.

One crawl (module fixture) of a site with robots.txt, a gzip-encoded page, two URLs with the same
body (revisit), two query orders of one URL (duplicate_url) and an off-site link (out_of_scope).
Files rotate at a small size, so the checks run over several WARC files.
"""

from __future__ import annotations

import io
import re
import subprocess
import sys
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from crawl_sites import Reply, TestSite, all_records, crawl_args, fetch_rows, gzipped, html, one_row, read_records, run_ernte, sha1_b32, warc_files
from warcio.archiveiterator import ArchiveIterator

from pipeline.schema import FETCH_LOG

WARCIO = str(Path(sys.executable).parent / "warcio")
OPERATOR = "Ernte test suite <crawler-test@example.org>"
UA = "ErnteWarcTest/0.9 (+mailto:crawler-test@example.org)"
ROBOTS = b"User-agent: *\nDisallow: /nope\n"
ZIPPED_HTML = html("/a", "/", title="compressed page", text="this page travels gzip-compressed " * 20)
ZIPPED = gzipped(ZIPPED_HTML)
DUP_BODY = html(title="same body twice", text="identical payload")


@pytest.fixture(scope="module")
def crawl(tmp_path_factory):
    with TestSite() as site:
        site.add("/robots.txt", Reply(body=ROBOTS, content_type="text/plain"))
        site.page("/", "/a", "/zipped", "/dup1", "/dup2", "/p?b=2&a=1", "/p?a=1&b=2", "http://example.invalid/off", "/nope")
        site.page("/a", "/", "/zipped")
        site.add("/zipped", Reply(body=ZIPPED, headers=[("Content-Encoding", "gzip"), ("Vary", "Accept-Encoding")]))
        site.add("/dup1", Reply(body=DUP_BODY))
        site.add("/dup2", Reply(body=DUP_BODY))
        site.page("/p?b=2&a=1", text="query page")
        site.page("/p?a=1&b=2", text="query page")
        tmp = tmp_path_factory.mktemp("warc")
        cfg = tmp / "ernte.yaml"
        cfg.write_text(f"crawl:\n  operator: '{OPERATOR}'\n  warc_max_bytes: 2048\n  warc_prefix: testcrawl\n")
        out = tmp / "crawl"
        run = run_ernte(*crawl_args(site, out, "--config", str(cfg), "--user-agent", UA))
        assert run.returncode == 0, run.stderr[-3000:]
        yield site, out, fetch_rows(out), all_records(out)


def _fields(block: bytes) -> dict[str, str]:
    out = {}
    for line in block.decode("utf-8").split("\r\n"):
        if line:
            k, _, v = line.partition(":")
            out[k.strip()] = v.strip()
    return out


def test_warcio_check_passes(crawl):
    site, out, rows, records = crawl
    files = warc_files(out)
    assert len(files) >= 3, "the small warc_max_bytes should have rotated files"
    assert all(re.fullmatch(r"testcrawl-\d{17}-\d{5}\.warc\.gz", f.name) for f in files), [f.name for f in files]
    for f in files:
        proc = subprocess.run([WARCIO, "check", "-v", str(f)], capture_output=True, text=True)
        assert proc.returncode == 0, f"{f.name}: {proc.stdout}\n{proc.stderr}"


def test_every_record_has_the_mandatory_fields(crawl):
    site, out, rows, records = crawl
    assert records
    ids = [r.headers["WARC-Record-ID"] for r in records]
    assert len(set(ids)) == len(ids), "record ids must be unique"
    for r in records:
        where = f"{r.file}@{r.offset} {r.type}"
        assert r.protocol == "WARC/1.1", where
        for name in ("WARC-Record-ID", "Content-Length", "WARC-Date", "WARC-Type"):
            assert name in r.headers, f"{where}: no {name}"
        assert re.fullmatch(r"<urn:uuid:[0-9a-f-]{36}>", r.headers["WARC-Record-ID"]), where
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z", r.headers["WARC-Date"]), where
        assert int(r.headers["Content-Length"]) == len(r.raw_block), where
        if r.type in ("response", "request", "revisit", "metadata"):
            assert r.headers.get("WARC-Target-URI", "").startswith("http"), where
        if r.raw_block:
            assert r.headers.get("Content-Type"), f"{where}: non-empty block without Content-Type"
        if r.type == "revisit":
            for name in ("WARC-Profile", "WARC-Refers-To-Target-URI", "WARC-Refers-To-Date"):
                assert name in r.headers, f"{where}: no {name}"
            assert r.headers["WARC-Profile"] == "http://netpreserve.org/warc/1.1/revisit/identical-payload-digest"
        if r.type in ("response", "revisit", "request"):
            assert r.headers["Content-Type"].startswith("application/http"), where
        if r.type in ("warcinfo", "metadata"):
            assert r.headers["Content-Type"] == "application/warc-fields", where


def test_each_file_starts_with_warcinfo(crawl):
    site, out, rows, records = crawl
    for f in warc_files(out):
        recs = read_records(f)
        assert recs[0].type == "warcinfo", f.name
        assert [r.type for r in recs].count("warcinfo") == 1, f.name
        assert recs[0].offset == 0
        assert recs[0].headers.get("WARC-Filename") == f.name
        info = _fields(recs[0].raw_block)
        assert info["software"].startswith("Ernte/"), info
        assert info["operator"] == OPERATOR
        assert info["http-header-user-agent"] == UA
        assert info["robots"].startswith("obey"), info
        assert len(recs) > 1, f"{f.name} holds nothing but warcinfo"


def test_block_and_payload_digests_recomputed(crawl):
    site, out, rows, records = crawl
    checked_payloads = 0
    for r in records:
        where = f"{r.file}@{r.offset} {r.type} {r.headers.get('WARC-Target-URI')}"
        if "WARC-Block-Digest" in r.headers or r.type in ("response", "request", "revisit", "metadata"):
            assert r.headers.get("WARC-Block-Digest") == sha1_b32(r.raw_block), where
        if r.type == "response":
            assert r.payload_raw is not None, where
            assert r.headers["WARC-Payload-Digest"] == sha1_b32(r.payload_raw), where
            checked_payloads += 1
        elif r.type == "request" and "WARC-Payload-Digest" in r.headers:
            assert r.headers["WARC-Payload-Digest"] == sha1_b32(r.payload_raw or b""), where
    assert checked_payloads >= 6


def test_request_and_metadata_records_are_concurrent_to_a_capture(crawl):
    site, out, rows, records = crawl
    captures = {r.headers["WARC-Record-ID"]: r for r in records if r.type in ("response", "revisit")}
    linked = {"request": 0, "metadata": 0}
    for r in records:
        if r.type in linked:
            target = r.headers.get("WARC-Concurrent-To")
            assert target in captures, f"{r.type} for {r.headers['WARC-Target-URI']} points at {target}"
            assert captures[target].headers["WARC-Target-URI"] == r.headers["WARC-Target-URI"]
            linked[r.type] += 1
    assert linked["request"] == len(captures) == linked["metadata"]
    request = next(r for r in records if r.type == "request" and r.headers["WARC-Target-URI"] == site.url("/a"))
    assert request.http_status == "GET /a HTTP/1.1", "the request line needs method, target and HTTP version"
    assert ("User-Agent", UA) in request.http_headers
    meta = next(r for r in records if r.type == "metadata" and r.headers["WARC-Target-URI"] == site.url("/a"))
    fields = _fields(meta.raw_block)
    assert fields["depth"] == "1" and fields["via"] == site.url("/")


def test_fetch_log_offsets_point_at_the_capture(crawl):
    site, out, rows, records = crawl
    fetched = [r for r in rows if r["decision"] == "fetched"]
    assert len(fetched) >= 7
    for row in fetched:
        path = out / "warc" / row["warc_file"]
        with open(path, "rb") as fh:
            fh.seek(row["warc_offset"])
            it = ArchiveIterator(fh)
            rec = next(iter(it))
            assert rec.rec_headers.get_header("WARC-Record-ID") == row["warc_record_id"], row["url"]
            assert rec.rec_headers.get_header("WARC-Target-URI") == row["url"]
            assert rec.rec_type == row["warc_record_type"]
            assert rec.rec_headers.get_header("WARC-Payload-Digest") == row["payload_digest"]
            rec.content_stream().read()
            it.read_to_end(rec)
            assert it.get_record_length() == row["warc_length"], row["url"]


def test_gzip_page_is_archived_compressed(crawl):
    site, out, rows, records = crawl
    (rec,) = [r for r in records if r.type == "response" and r.headers["WARC-Target-URI"] == site.url("/zipped")]
    assert ("Content-Encoding", "gzip") in rec.http_headers
    assert rec.payload_raw == ZIPPED
    assert rec.headers["WARC-Payload-Digest"] == sha1_b32(ZIPPED) != sha1_b32(ZIPPED_HTML)
    row = one_row(rows, site.url("/zipped"))
    assert row["payload_digest"] == sha1_b32(ZIPPED)
    assert row["bytes"] == len(ZIPPED)
    # warcio can still decode it for readers.
    with open(out / "warc" / row["warc_file"], "rb") as fh:
        fh.seek(row["warc_offset"])
        assert next(iter(ArchiveIterator(fh))).content_stream().read() == ZIPPED_HTML
    # Links inside the compressed page were followed (it linked back to /a: no new request).
    assert site.count("/a") == 1


def test_robots_txt_is_archived(crawl):
    site, out, rows, records = crawl
    (rec,) = [r for r in records if r.type == "response" and r.headers["WARC-Target-URI"] == site.url("/robots.txt")]
    assert rec.http_status.startswith("200")
    assert rec.payload_raw == ROBOTS
    row = one_row(rows, site.url("/robots.txt"))
    assert row["decision"] == "fetched" and row["reason"] == "robots.txt"
    assert row["warc_record_id"] == rec.headers["WARC-Record-ID"]


def test_identical_body_becomes_a_revisit(crawl):
    site, out, rows, records = crawl
    caps = [r for r in records if r.type in ("response", "revisit") and r.headers["WARC-Target-URI"] in (site.url("/dup1"), site.url("/dup2"))]
    assert sorted(r.type for r in caps) == ["response", "revisit"]
    (first,) = [r for r in caps if r.type == "response"]
    (second,) = [r for r in caps if r.type == "revisit"]
    assert first.headers["WARC-Payload-Digest"] == sha1_b32(DUP_BODY)
    assert second.headers["WARC-Payload-Digest"] == first.headers["WARC-Payload-Digest"]
    assert second.headers["WARC-Refers-To"] == first.headers["WARC-Record-ID"]
    assert second.headers["WARC-Refers-To-Target-URI"] == first.headers["WARC-Target-URI"]
    assert second.headers["WARC-Refers-To-Date"] == first.headers["WARC-Date"]
    assert second.payload_raw in (b"", None), "a revisit carries the HTTP headers only"
    assert second.http_status.startswith("200")
    row = one_row(rows, second.headers["WARC-Target-URI"])
    assert row["warc_record_type"] == "revisit"
    assert row["warc_record_id"] == second.headers["WARC-Record-ID"]
    assert one_row(rows, first.headers["WARC-Target-URI"])["warc_record_type"] == "response"


# --- the fetch log as a dataset -------------------------------------------------------------------

DUCKDB_TYPES = {
    pa.int64(): "BIGINT",
    pa.int32(): "INTEGER",
    pa.int16(): "SMALLINT",
    pa.int8(): "TINYINT",
    pa.string(): "VARCHAR",
    pa.float64(): "DOUBLE",
    pa.bool_(): "BOOLEAN",
    pa.timestamp("ms", tz="UTC"): "TIMESTAMP WITH TIME ZONE",
    pa.list_(pa.string()): "VARCHAR[]",
}


def test_fetch_log_schema_and_duckdb(crawl):
    site, out, rows, records = crawl
    parts = sorted((out / "fetches").glob("part-*.parquet"))
    assert parts
    for p in parts:
        schema = pq.read_schema(p).remove_metadata()
        assert schema.names == FETCH_LOG.names
        assert schema.equals(FETCH_LOG), f"{p.name}:\n{schema}\n!=\n{FETCH_LOG}"
    con = duckdb.connect()
    pattern = str(out / "fetches" / "*.parquet")
    rel = con.sql(f"SELECT * FROM read_parquet('{pattern}') ORDER BY seq")
    assert rel.columns == FETCH_LOG.names
    assert [str(t) for t in rel.types] == [DUCKDB_TYPES[f.type] for f in FETCH_LOG]
    table = rel.arrow()
    table = table.read_all() if hasattr(table, "read_all") else table
    assert table.num_rows == len(rows)
    # DuckDB's Arrow export, up to its own conventions (microsecond timestamps, tz name, list child name).
    assert table.schema.names == FETCH_LOG.names
    for got, want in zip(table.schema, FETCH_LOG):
        if pa.types.is_timestamp(want.type):
            assert pa.types.is_timestamp(got.type) and got.type.tz in ("UTC", "Etc/UTC"), got
        elif pa.types.is_list(want.type):
            assert pa.types.is_list(got.type) and got.type.value_type == want.type.value_type, got
        else:
            assert got.type == want.type, (got, want)
    assert table.column("url").to_pylist() == [r["url"] for r in rows]
    counts = dict(con.sql(f"SELECT decision, count(*) FROM read_parquet('{pattern}') GROUP BY 1").fetchall())
    assert counts["fetched"] >= 7 and counts["out_of_scope"] == 1 and counts["duplicate_url"] == 1
    assert counts["robots_disallowed"] == 1
    seqs = [r[0] for r in con.sql(f"SELECT seq FROM read_parquet('{pattern}') ORDER BY seq").fetchall()]
    assert seqs == list(range(len(seqs))), "seq numbers are dense and unique"


def test_out_of_scope_and_duplicate_rows(crawl):
    site, out, rows, records = crawl
    off = one_row(rows, "http://example.invalid/off")
    assert off["decision"] == "out_of_scope" and "example.invalid" in off["reason"]
    assert off["referrer"] == site.url("/")
    first = one_row(rows, site.url("/p?b=2&a=1"))
    dup = one_row(rows, site.url("/p?a=1&b=2"))
    assert first["decision"] == "fetched"
    assert dup["decision"] == "duplicate_url", dup
    assert site.count("/p?b=2&a=1") == 1 and site.count("/p?a=1&b=2") == 0
    assert not [h for h in site.hits if "example.invalid" in h.path]
    assert one_row(rows, site.url("/nope"))["decision"] == "robots_disallowed"
    assert "/nope" not in site.paths()
    # Every URL the crawler decided about has exactly one row (retries and links seen twice do not add rows).
    urls = [r["url"] for r in rows]
    assert len(urls) == len(set(urls)), sorted(urls)
