"""Crawl-time reservation signals end to end: real crawls (subprocess) against real HTTP servers on
127.0.0.1. robots.txt Content-Usage lines, the raw opt-out response headers and the host's
/.well-known/tdmrep.json land in the fetch log per URL; tdmrep.json is fetched once, before the
first page, and archived in the WARC.
"""

from __future__ import annotations

import json

import pytest
from crawl_sites import (
    TDMREP_PATH,
    Reply,
    all_records,
    crawl_args,
    fetch_rows,
    one_row,
    page_rows,
    run_ernte,
)

from crawlers.robots_policy import RobotsTxt
from crawlers.tdmrep import TdmRep

UA = "ErnteTestBot/1.0 (+mailto:crawler-test@example.org)"

ROBOTS = """Content-Usage: train-ai=y

User-agent: *
Allow: /
Content-Usage: /docs/ train-ai=n
Content-Usage: /docs/public/ train-ai=y, search=y

User-agent: GPTBot
Disallow: /
Content-Usage: train-ai=n
"""

# First match in file order wins: /news/archive/ is shadowed by the broader /news/ rule before it.
TDMREP = [
    {"location": "/news/*", "tdm-reservation": 1, "tdm-policy": "https://example.org/policy.json"},
    {"location": "/news/archive/", "tdm-reservation": 0},
    {"location": "/open/", "tdm-reservation": 0},
    {"location": "*.pdf$", "tdm-reservation": 1},
]


@pytest.fixture(scope="module")
def signals_crawl(tmp_path_factory):
    from crawl_sites import TestSite

    with TestSite() as site:
        site.robots(ROBOTS)
        site.add(TDMREP_PATH, Reply(body=json.dumps(TDMREP).encode(), content_type="application/json"))
        links = ["/docs/a", "/docs/public/b", "/news/today", "/news/archive/old", "/open/x", "/hdr"]
        site.page("/", *links)
        for path in links[:-1]:
            site.page(path)
        site.add(
            "/hdr",
            Reply(
                body=b"<html><body>headers</body></html>",
                headers=[("tdm-reservation", "1"), ("tdm-policy", "https://example.org/p"), ("X-Robots-Tag", "noai, noimageai"), ("X-Robots-Tag", "GPTBot: noindex"), ("Content-Usage", "train-ai=n")],
            ),
        )
        out = tmp_path_factory.mktemp("signals") / "crawl"
        run = run_ernte(*crawl_args(site, out, "--user-agent", UA))
        yield site, out, run, fetch_rows(out)


def test_tdmrep_is_fetched_once_before_the_first_page(signals_crawl):
    site, out, run, rows = signals_crawl
    assert run.returncode == 0, run.stderr[-3000:]
    paths = site.paths(tdmrep=True)
    assert paths[:3] == ["/robots.txt", TDMREP_PATH, "/"], paths
    assert paths.count(TDMREP_PATH) == 1
    row = one_row(rows, site.url(TDMREP_PATH))
    assert row["decision"] == "fetched" and row["http_status"] == 200
    assert row["reason"] == "tdmrep.json: ok 200 (4 rules)", row["reason"]
    # Archived as a response record, where the fetch log says.
    rec = next(r for r in all_records(out) if r.type == "response" and r.headers["WARC-Target-URI"] == site.url(TDMREP_PATH))
    assert (rec.file, rec.offset) == (row["warc_file"], row["warc_offset"])
    assert json.loads(rec.payload_raw) == TDMREP
    assert len([r for r in page_rows(rows) if r["decision"] == "fetched"]) == 7


def test_tdmrep_rule_per_url_first_match_wins(signals_crawl):
    site, out, run, rows = signals_crawl
    expect = {
        "/news/today": (1, "https://example.org/policy.json", "/news/*"),
        "/news/archive/old": (1, "https://example.org/policy.json", "/news/*"),  # not the later, longer rule
        "/open/x": (0, None, "/open/"),
        "/docs/a": (None, None, None),
        "/": (None, None, None),
    }
    for path, (reservation, policy, location) in expect.items():
        row = one_row(rows, site.url(path))
        assert (row["tdmrep_reservation"], row["tdmrep_policy"], row["tdmrep_location"]) == (reservation, policy, location), path


def test_robots_content_usage_per_url(signals_crawl):
    site, out, run, rows = signals_crawl
    # Our agent's group is '*': its longest matching Content-Usage path wins; elsewhere the
    # site-wide line before the groups applies. GPTBot's own line is not ours.
    expect = {"/docs/a": "train-ai=n", "/docs/public/b": "train-ai=y, search=y", "/": "train-ai=y", "/open/x": "train-ai=y"}
    for path, value in expect.items():
        assert one_row(rows, site.url(path))["robots_content_usage"] == value, path


def test_optout_headers_are_stored_raw(signals_crawl):
    site, out, run, rows = signals_crawl
    row = one_row(rows, site.url("/hdr"))
    assert row["header_tdm_reservation"] == "1"
    assert row["header_tdm_policy"] == "https://example.org/p"
    assert row["header_x_robots_tag"] == "noai, noimageai, GPTBot: noindex"
    assert row["header_content_usage"] == "train-ai=n"
    plain = one_row(rows, site.url("/open/x"))
    assert plain["header_tdm_reservation"] is None and plain["header_x_robots_tag"] is None


@pytest.mark.parametrize(
    "reply, status",
    [
        (None, "tdmrep.json: absent 404"),
        (Reply(body=b"{not json", content_type="application/json"), "tdmrep.json: invalid JSON"),
        (Reply(body=b'"a string"', content_type="application/json"), "tdmrep.json: invalid: top level is str"),
    ],
    ids=["404", "invalid-json", "not-an-array"],
)
def test_missing_or_invalid_tdmrep_means_no_reservation(site, tmp_path, reply, status):
    site.robots("User-agent: *\nAllow: /\n")
    if reply is not None:
        site.add(TDMREP_PATH, reply)
    site.page("/", "/a")
    site.page("/a")
    out = tmp_path / "crawl"
    rc, stdout, stderr = run_ernte(*crawl_args(site, out))
    assert rc == 0, stderr[-3000:]
    rows = fetch_rows(out)
    assert one_row(rows, site.url(TDMREP_PATH))["reason"].startswith(status)
    for path in ("/", "/a"):
        row = one_row(rows, site.url(path))
        assert row["decision"] == "fetched"
        assert row["tdmrep_reservation"] is None and row["tdmrep_location"] is None
    assert site.paths(tdmrep=True).count(TDMREP_PATH) == 1


def test_tdmrep_disallowed_by_robots_is_not_fetched(site, tmp_path):
    site.robots("User-agent: *\nDisallow: /.well-known/\n")
    site.add(TDMREP_PATH, Reply(body=b'[{"location": "/", "tdm-reservation": 1}]', content_type="application/json"))
    site.page("/")
    out = tmp_path / "crawl"
    rc, stdout, stderr = run_ernte(*crawl_args(site, out))
    assert rc == 0, stderr[-3000:]
    assert TDMREP_PATH not in site.paths(tdmrep=True)
    rows = fetch_rows(out)
    assert one_row(rows, site.url("/"))["tdmrep_reservation"] is None
    row = one_row(rows, site.url(TDMREP_PATH))
    assert row["decision"] == "robots_disallowed" and row["reason"] == "tdmrep.json: not fetched: robots.txt disallows it"
    assert "disallow: /.well-known/" in row["robots_rule"]


# --- the parsers, on the specs' examples ----------------------------------------------------------


def test_tdmrep_spec_example_and_matching():
    # The TDMRep report's example file: a site-wide reservation with a policy, an exception first.
    body = json.dumps(
        [
            {"location": "/images/*", "tdm-reservation": 1, "tdm-policy": "https://provider.com/policies/policy.json"},
            {"location": "/", "tdm-reservation": 0},
        ]
    ).encode()
    tdm = TdmRep.parse(body)
    assert tdm.status == "ok 200 (2 rules)"
    assert tdm.fields("https://x.org/images/a.png") == {"tdmrep_reservation": 1, "tdmrep_policy": "https://provider.com/policies/policy.json", "tdmrep_location": "/images/*"}
    assert tdm.fields("https://x.org/text/a.html")["tdmrep_reservation"] == 0
    assert TdmRep.parse(b'[{"location": "*.pdf$", "tdm-reservation": "1"}]').match("https://x/a/b.pdf").reservation == 1
    assert TdmRep.parse(b'[{"location": "*.pdf$", "tdm-reservation": 1}]').match("https://x/a/b.pdf?x=1") is None
    assert TdmRep.parse(b'[{"tdm-reservation": 1}, {"location": "/", "tdm-reservation": 7}]').rules[0].reservation is None
    assert TdmRep.parse(b"[]", 404).status == "absent 404"
    assert TdmRep.parse(b"\xff\xfe").status.startswith("invalid JSON")


def test_content_usage_for_follows_groups_and_longest_match():
    robots = RobotsTxt.parse(ROBOTS)
    assert robots.content_usage_for("http://x/docs/public/p", "ErnteBot").value == "train-ai=y, search=y"
    assert robots.content_usage_for("http://x/docs/p", "ErnteBot").line == 5
    assert robots.content_usage_for("http://x/", "GPTBot").value == "train-ai=n"  # its own line beats the site-wide one
    assert RobotsTxt.parse("User-agent: *\nDisallow: /x\n").content_usage_for("http://x/", "ErnteBot") is None
    # Content-Usage never changes allow/disallow.
    assert RobotsTxt.parse("User-agent: *\nContent-Usage: train-ai=n\nDisallow: /x\n").is_allowed("http://x/y", "ErnteBot")


def test_demo_site_tdmrep_reaches_the_fetch_log(tmp_path):
    """The demo server's generated tdmrep.json, crawled for real: its rules land on the URLs."""
    from pipeline.demo_server import DemoServer

    with DemoServer() as server:
        seed = server.base_url + "/faq/de/basic-defs.de.html"
        out = tmp_path / "crawl"
        run = run_ernte("crawl", seed, "--out", str(out), "--allow-private", "--delay", "0", "--max-pages", "3", "--max-depth", "1")
        assert run.returncode == 0, run.stderr[-3000:]
    rows = fetch_rows(out)
    tdm = one_row(rows, server.base_url + TDMREP_PATH)
    assert tdm["http_status"] == 200 and tdm["reason"].startswith("tdmrep.json: ok 200"), tdm["reason"]
    page = one_row(rows, seed)
    assert page["decision"] == "fetched"
    assert (page["tdmrep_reservation"], page["tdmrep_location"]) == (1, "/faq/de/*")
    assert page["tdmrep_policy"].endswith("/tdm/policy.json")
    assert page["header_tdm_reservation"] == "1"
