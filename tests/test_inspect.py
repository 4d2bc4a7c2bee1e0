"""`ernte inspect`: summaries and DuckDB SQL over a curated directory made by real `ernte curate`
runs (subprocesses): one on WARC files written with warcio, one on a crawl directory made by a real
crawl of a local site (so the `fetches` view comes from the manifest's crawl_dir).
"""

from __future__ import annotations

import csv
import io
import json

import pytest
from crawl_sites import TDMREP_PATH, Reply, TestSite, crawl_args, fetch_rows, run_ernte
from curate_inputs import Capture, Curated, english_pages, page_html, write_warc


def ernte(*args):
    return run_ernte(*map(str, args), timeout=180)


@pytest.fixture(scope="module")
def curated_warc(tmp_path_factory):
    """Six pages on two hosts, one exact copy (dropped as a duplicate), one thin page, one page
    with opt-out headers."""
    pages = english_pages()
    root = tmp_path_factory.mktemp("inspect-warc")
    caps = []
    for i in range(4):
        url = f"https://docs.example.org/p{i}.html"
        caps.append(Capture(url, page_html(pages[i], url), date=f"2024-01-01T10:0{i}:00Z"))
    url = "https://news.example.net/reserved.html"
    caps.append(Capture(url, page_html(pages[10], url), headers=(("tdm-reservation", "1"), ("X-Robots-Tag", "noai")), date="2024-01-02T00:00:00Z"))
    caps.append(Capture("https://news.example.net/copy.html", caps[0].body, date="2024-02-01T00:00:00Z"))
    caps.append(Capture("https://news.example.net/thin.html", b"<html lang=en><body><p>Hello.</p></body></html>", date="2024-01-03T00:00:00Z"))
    warc = write_warc(root / "in.warc.gz", caps)
    out = root / "curated"
    run = ernte("curate", warc, "--out", out, "--workers", 1)
    assert run.returncode == 0, run.stderr[-3000:]
    return out, Curated.read(out)


@pytest.fixture(scope="module")
def curated_crawl(tmp_path_factory):
    """A crawl with a tdmrep.json and Content-Usage lines, curated."""
    pages = english_pages()
    root = tmp_path_factory.mktemp("inspect-crawl")
    with TestSite() as site:
        site.robots("User-agent: *\nAllow: /\nContent-Usage: /ai/ train-ai=n\n")
        site.add(TDMREP_PATH, Reply(body=b'[{"location": "/tdm/", "tdm-reservation": 1}]', content_type="application/json"))
        paths = ["/docs/a.html", "/ai/b.html", "/tdm/c.html"]
        site.page("/", *paths)
        for i, p in enumerate(paths):
            site.add(p, Reply(body=page_html(pages[30 + i], site.url(p))))
        crawl_dir = root / "crawl"
        run = run_ernte(*crawl_args(site, crawl_dir))
        assert run.returncode == 0, run.stderr[-3000:]
        base = site.base
    out = root / "curated"
    run = ernte("curate", crawl_dir, "--out", out, "--workers", 1)
    assert run.returncode == 0, run.stderr[-3000:]
    return out, crawl_dir, base


def sql(directory, query, fmt="json", *extra):
    run = ernte("inspect", directory, "--sql", query, "--format", fmt, *extra)
    assert run.returncode == 0, run.stderr[-3000:]
    return run.stdout


def test_summaries(curated_warc):
    out, c = curated_warc
    run = ernte("inspect", out)
    assert run.returncode == 0, run.stderr[-3000:]
    text = run.stdout
    kept = sum(1 for r in c.provenance if r["decision"] == "kept")
    assert f"documents: {len(c.provenance)} read, {kept} kept" in text
    for section in ("decision funnel", "documents by host", "documents by language", "documents by licence", "opt-out signals (documents)"):
        assert f"== {section}" in text, section
    assert "exact_duplicate" in text and "docs.example.org" in text and "news.example.net" in text
    assert "tdm-reservation: 1 (header)" in text and "X-Robots-Tag noai" in text


def test_sql_in_three_formats(curated_warc):
    out, c = curated_warc
    q = "SELECT host, count(*) AS n, list(url ORDER BY url) AS urls FROM provenance GROUP BY host ORDER BY host"
    expected = {}
    for r in c.provenance:
        expected.setdefault(r["host"], []).append(r["url"])
    rows = json.loads(sql(out, q, "json"))
    assert [r["host"] for r in rows] == sorted(expected)
    for r in rows:
        assert r["n"] == len(expected[r["host"]]) and r["urls"] == sorted(expected[r["host"]])
    parsed = list(csv.DictReader(io.StringIO(sql(out, q, "csv"))))
    assert [(r["host"], int(r["n"]), json.loads(r["urls"])) for r in parsed] == [(r["host"], r["n"], r["urls"]) for r in rows]
    table = sql(out, q, "table").splitlines()
    assert table[0].split() == ["host", "n", "urls"]
    assert table[-1] == f"({len(rows)} rows)"
    # shards: the kept documents of the current version, joinable with provenance
    joined = json.loads(sql(out, "SELECT count(*) AS n FROM shards s JOIN provenance p USING (doc_id) WHERE p.decision = 'kept'"))
    assert joined == [{"n": len(c.shard_rows())}]
    # no crawl directory among the inputs: an empty fetches view with the fetch-log columns
    assert json.loads(sql(out, "SELECT count(*) AS n, count(tdmrep_reservation) AS t FROM fetches")) == [{"n": 0, "t": 0}]
    assert json.loads(sql(out, "SELECT 1 AS x WHERE false")) == []


def test_fetches_view_follows_the_manifest(curated_crawl):
    out, crawl_dir, base = curated_crawl
    log = fetch_rows(crawl_dir)
    rows = json.loads(sql(out, "SELECT url, robots_content_usage, tdmrep_reservation, tdmrep_location FROM fetches ORDER BY seq"))
    assert [r["url"] for r in rows] == [r["url"] for r in log]
    by_url = {r["url"]: r for r in rows}
    assert by_url[base + "/ai/b.html"]["robots_content_usage"] == "train-ai=n"
    assert by_url[base + "/tdm/c.html"]["tdmrep_reservation"] == 1 and by_url[base + "/tdm/c.html"]["tdmrep_location"] == "/tdm/"
    assert by_url[base + "/docs/a.html"]["tdmrep_reservation"] is None
    # joined with provenance through the WARC position
    joined = json.loads(sql(out, "SELECT p.url, f.tdmrep_reservation FROM provenance p JOIN fetches f USING (warc_file, warc_offset) ORDER BY p.url"))
    assert {r["url"] for r in joined} == {base + p for p in ("/", "/docs/a.html", "/ai/b.html", "/tdm/c.html")}
    text = ernte("inspect", out).stdout
    assert "robots.txt Content-Usage train-ai=n" in text and "tdmrep.json reserves it" in text
    assert "tdmrep.json: ok 200 (1 rules)" in text
    # the crawl directory itself can be inspected, and --crawl adds one to a curated directory
    crawl_text = ernte("inspect", crawl_dir)
    assert crawl_text.returncode == 0 and "pages fetched by host" in crawl_text.stdout
    assert json.loads(sql(crawl_dir, "SELECT count(*) AS n FROM provenance")) == [{"n": 0}]
    assert json.loads(sql(out, "SELECT count(*) AS n FROM fetches", "json", "--crawl", crawl_dir)) == [{"n": len(log)}]


def test_errors_exit_2(curated_warc, tmp_path):
    out, _ = curated_warc
    missing = ernte("inspect", tmp_path / "nope")
    assert missing.returncode == 2 and "no such directory" in missing.stderr
    (tmp_path / "plain").mkdir()
    plain = ernte("inspect", tmp_path / "plain")
    assert plain.returncode == 2 and "not a curated directory" in plain.stderr
    bad = ernte("inspect", out, "--sql", "SELEC nonsense FROM provenance")
    assert bad.returncode == 2 and "SQL error" in bad.stderr and "syntax error" in bad.stderr.lower(), bad.stderr
    unknown = ernte("inspect", out, "--sql", "SELECT no_such_column FROM provenance")
    assert unknown.returncode == 2 and "no_such_column" in unknown.stderr
    not_crawl = ernte("inspect", out, "--crawl", tmp_path / "plain", "--sql", "SELECT 1")
    assert not_crawl.returncode == 2 and "not a crawl directory" in not_crawl.stderr
