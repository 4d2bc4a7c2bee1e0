"""Limits end to end: Retry-After, spider traps and budgets, gzip bombs, size limits, content
types. Real crawls in subprocesses against real HTTP servers on 127.0.0.1."""

from __future__ import annotations

import itertools
import random
import re

import pytest
from crawl_sites import (
    Reply,
    TestSite,
    all_records,
    children_maxrss_kib,
    crawl_args,
    fetch_rows,
    gzip_bomb,
    gzipped,
    html,
    one_row,
    page_rows,
    rows_for,
    run_ernte,
    run_ernte_measured,
    sha1_b32,
)

MAX_RSS_KIB = 600 * 1024


# --- 503 + Retry-After --------------------------------------------------------------------------


BUSY = b"busy, come back later"


@pytest.fixture(scope="module")
def retry_crawl(tmp_path_factory):
    def flaky(req):
        if req.nth == 0:
            return Reply(status=503, body=BUSY, content_type="text/plain", headers=[("Retry-After", "1")])
        return Reply(body=html(title="flaky, now fine"))

    with TestSite() as site:
        site.page("/", "/flaky", "/gone")
        site.add("/flaky", flaky)
        site.add("/gone", Reply(status=404, body=b'{"error": "no such page"}', content_type="application/json"))
        out = tmp_path_factory.mktemp("retry") / "crawl"
        run = run_ernte(*crawl_args(site, out))
        yield site, out, run, fetch_rows(out), all_records(out)


def test_503_retry_after_is_honoured_and_both_captures_archived(retry_crawl):
    site, out, run, rows, records = retry_crawl
    assert run.returncode == 0, run.stderr[-3000:]

    flaky_hits = [h for h in site.hits if h.path == "/flaky"]
    assert len(flaky_hits) == 2, site.paths()
    assert flaky_hits[1].time - flaky_hits[0].time >= 0.95, flaky_hits[1].time - flaky_hits[0].time

    row = one_row(rows, site.url("/flaky"))
    assert row["decision"] == "fetched" and row["http_status"] == 200, row

    captures = [r for r in records if r.type in ("response", "revisit") and r.headers["WARC-Target-URI"] == site.url("/flaky")]
    assert sorted(r.http_status.split()[0] for r in captures) == ["200", "503"]
    assert all(r.type == "response" for r in captures)
    final = next(r for r in captures if r.http_status.startswith("200"))
    assert row["warc_record_id"] == final.headers["WARC-Record-ID"]
    busy = next(r for r in captures if r.http_status.startswith("503"))
    assert ("Retry-After", "1") in busy.http_headers


def test_error_answers_of_other_types_are_archived_honestly(retry_crawl):
    """A non-2xx answer is archived even when its type is not wanted; if the body was cut off
    it must say so (WARC-Truncated) and must not be taken for another capture's payload."""
    site, out, run, rows, records = retry_crawl
    gone = one_row(rows, site.url("/gone"))
    assert gone["decision"] == "fetched" and gone["http_status"] == 404
    for path, body in (("/flaky", BUSY), ("/gone", b'{"error": "no such page"}')):
        recs = [r for r in records if r.type in ("response", "revisit") and r.headers["WARC-Target-URI"] == site.url(path) and not r.http_status.startswith("200")]
        assert len(recs) == 1, path
        (rec,) = recs
        assert rec.type == "response", f"{path}: archived as {rec.type} of {rec.headers.get('WARC-Refers-To-Target-URI')}"
        assert rec.payload_raw == body or "WARC-Truncated" in rec.headers, (path, rec.payload_raw, rec.headers)


# --- spider traps ---------------------------------------------------------------------------------


def _trap_site(site: TestSite) -> None:
    """/trap/N links to /trap/N+1, two query variants and a never-seen-before variant, forever.
    A URL's crawl depth from the seed /trap/0 is the N in its path."""
    counter = itertools.count()

    def trap(req):
        n = int(re.match(r"/trap/(\d+)", req.path).group(1))
        nxt = f"/trap/{n + 1}"
        return Reply(body=html(nxt, nxt + "?x=1", nxt + "?x=2", f"{nxt}?session={next(counter)}", title=f"trap {n}"))

    site.robots("User-agent: *\nDisallow:\n")
    site.add_prefix("/trap/", trap)


def _depth_of(path: str) -> int:
    return int(re.match(r"/trap/(\d+)", path).group(1))


def test_spider_trap_stops_at_max_pages(site, tmp_path):
    _trap_site(site)
    out = tmp_path / "crawl"
    rc, stdout, stderr = run_ernte(*crawl_args(site, out, "--max-pages", "15", seed="/trap/0"))
    assert rc == 0, stderr[-3000:]
    pages = site.page_hits()
    assert 10 <= len(pages) <= 15, len(pages)
    rows = fetch_rows(out)
    fetched = [r for r in page_rows(rows) if r["decision"] == "fetched"]
    assert len(fetched) == len(pages)
    budget = [r for r in rows if r["decision"] == "budget_exhausted"]
    assert budget, "no budget_exhausted rows"
    assert all("max_pages 15" in r["reason"] for r in budget), {r["reason"] for r in budget}
    assert "pages fetched: 15" in stdout or f"pages fetched: {len(pages)}" in stdout


def test_spider_trap_stops_at_max_depth(site, tmp_path):
    _trap_site(site)
    out = tmp_path / "crawl"
    rc, stdout, stderr = run_ernte(*crawl_args(site, out, "--max-depth", "3", seed="/trap/0"))
    assert rc == 0, stderr[-3000:]
    depths = [_depth_of(h.path) for h in site.page_hits()]
    assert max(depths) == 3, sorted(depths)
    rows = fetch_rows(out)
    for r in page_rows(rows):
        assert r["depth"] == _depth_of(r["url"].split(str(site.port), 1)[1]), r
    fetched = [r for r in page_rows(rows) if r["decision"] == "fetched"]
    assert fetched and max(r["depth"] for r in fetched) == 3
    too_deep = [r for r in rows if r["decision"] == "budget_exhausted"]
    assert too_deep and {r["depth"] for r in too_deep} == {4}
    assert all("max_depth 3" in r["reason"] for r in too_deep)


# --- gzip bomb, content types, garbage: one crawl ---------------------------------------------------


@pytest.fixture(scope="module")
def bomb():
    return gzip_bomb(2 << 30)


PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 200
PDF = b"%PDF-1.4\n" + b"1 0 obj << /Type /Catalog >> endobj\n" * 2000 + b"%%EOF\n"
GARBAGE = random.Random(1234).randbytes(40_000) + b'\x00\xff<a href="/after2">x</a>\xfe\x00' + random.Random(5).randbytes(5_000)


@pytest.fixture(scope="module")
def mixed_crawl(bomb, tmp_path_factory):
    with TestSite() as site:
        site.robots("User-agent: *\nAllow: /\n")
        site.page("/", "/bomb.html", "/after1", "/img.png", "/doc.pdf", "/garbage.html", "/after2")
        site.add("/bomb.html", Reply(body=bomb, headers=[("Content-Encoding", "gzip")], content_type="text/html"))
        site.add("/img.png", Reply(body=PNG, content_type="image/png"))
        site.add("/doc.pdf", Reply(body=PDF, content_type="application/pdf"))
        site.add("/garbage.html", Reply(body=GARBAGE, content_type="text/html"))
        site.page("/after1")
        site.page("/after2")
        out = tmp_path_factory.mktemp("mixed") / "crawl"
        before = children_maxrss_kib()
        run, tree_rss = run_ernte_measured(*crawl_args(site, out))
        after = children_maxrss_kib()
        yield site, out, run, fetch_rows(out), all_records(out), (before, after, tree_rss)


def test_gzip_bomb_is_too_large_and_memory_stays_bounded(mixed_crawl, bomb):
    site, out, run, rows, records, (before, after, tree_rss) = mixed_crawl
    assert len(bomb) < 3 << 20  # ~2 MB on the wire, 2 GiB inflated
    assert run.returncode == 0, run.stderr[-3000:]
    assert site.count("/bomb.html") == 1
    row = one_row(rows, site.url("/bomb.html"))
    assert row["decision"] == "too_large", row
    assert "decompressed" in row["reason"], row["reason"]
    assert not [r for r in records if r.headers.get("WARC-Target-URI") == site.url("/bomb.html")]
    # The crawl went on after the bomb.
    bomb_at = next(h.time for h in site.hits if h.path == "/bomb.html")
    assert [h for h in site.hits if h.path == "/after1" and h.time > bomb_at]
    for path in ("/after1", "/after2"):
        assert one_row(rows, site.url(path))["decision"] == "fetched"
    # Peak memory of the crawl's process tree (ru_maxrss is KiB on Linux).
    assert 0 < tree_rss < MAX_RSS_KIB, f"crawl process tree peaked at {tree_rss / 1024:.0f} MiB"
    # RUSAGE_CHILDREN's peak also counts the pages a child inherits when forked from this process,
    # so it says something about the crawl only while pytest itself is smaller than the limit (it is
    # not after the Prefect flow tests); the polled tree peak above is checked either way.
    if before < MAX_RSS_KIB:
        assert after < MAX_RSS_KIB, f"children max RSS {before} -> {after} KiB"


def test_non_html_is_skipped_by_content_type(mixed_crawl):
    site, out, run, rows, records, _ = mixed_crawl
    for path, ctype in (("/img.png", "image/png"), ("/doc.pdf", "application/pdf")):
        row = one_row(rows, site.url(path))
        assert row["decision"] == "skipped_content_type", row
        assert row["content_type"] == ctype
        assert ctype in row["reason"]
        assert row["warc_record_id"] is None
        assert not [r for r in records if r.headers.get("WARC-Target-URI") == site.url(path)], path


def test_binary_garbage_as_html_is_fetched_without_crash(mixed_crawl):
    site, out, run, rows, records, _ = mixed_crawl
    assert "Traceback" not in run.stderr, run.stderr[-3000:]
    row = one_row(rows, site.url("/garbage.html"))
    assert row["decision"] == "fetched" and row["http_status"] == 200
    assert row["bytes"] == len(GARBAGE)
    assert row["payload_digest"] == sha1_b32(GARBAGE)
    (rec,) = [r for r in records if r.type == "response" and r.headers["WARC-Target-URI"] == site.url("/garbage.html")]
    assert rec.payload_raw == GARBAGE
    assert rec.headers["WARC-Payload-Digest"] == sha1_b32(GARBAGE)


# --- size limit from a config file ----------------------------------------------------------------


def test_max_response_bytes_from_config(site, tmp_path):
    big = b"<html><body>" + b"x" * 20_000 + b"</body></html>"
    site.robots("User-agent: *\nDisallow:\n")
    site.page("/", "/big", "/big-unannounced", "/zipped", "/small")
    site.add("/big", Reply(body=big))  # Content-Length announces it
    site.add("/big-unannounced", Reply(body=big, no_length=True))  # only the bytes tell
    site.add("/zipped", Reply(body=gzipped(big), headers=[("Content-Encoding", "gzip")]))  # small on the wire
    site.page("/small")
    cfg = tmp_path / "ernte.yaml"
    cfg.write_text("crawl:\n  max_response_bytes: 4096\n")
    out = tmp_path / "crawl"
    rc, stdout, stderr = run_ernte(*crawl_args(site, out, "--config", str(cfg)))
    assert rc == 0, stderr[-3000:]
    assert len(gzipped(big)) < 4096
    rows = fetch_rows(out)
    for path in ("/big", "/big-unannounced", "/zipped"):
        row = one_row(rows, site.url(path))
        assert row["decision"] == "too_large", row
        assert row["warc_record_id"] is None
    assert one_row(rows, site.url("/small"))["decision"] == "fetched"
    records = all_records(out)
    assert not [r for r in records if r.headers.get("WARC-Target-URI", "").endswith(("/big", "/big-unannounced", "/zipped"))]
    assert len(rows_for(rows, site.url("/big"))) == 1
