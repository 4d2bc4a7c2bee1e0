"""robots.txt end to end: real crawls (subprocess) against real HTTP servers on 127.0.0.1.

The server's request log is the evidence of what the crawler requested; the fetch log is the
evidence of what it recorded.
"""

from __future__ import annotations

import pytest
from crawl_sites import Reply, crawl_args, fetch_rows, one_row, page_rows, run_ernte

from crawlers.robots_policy import AI_TRAINING_AGENTS

UA = "ErnteTestBot/1.0 (+mailto:crawler-test@example.org)"

ROBOTS_MAIN = """User-agent: *
Disallow: /private/
Disallow: /not-for-others/

User-agent: ErnteTestBot
Disallow: /private/
Allow: /private/open

User-agent: GPTBot
Disallow: /
"""


@pytest.fixture(scope="module")
def robots_crawl(tmp_path_factory):
    from crawl_sites import TestSite

    with TestSite() as site:
        site.robots(ROBOTS_MAIN)
        site.page("/", "/a", "/private/secret", "/private/open", "/not-for-others/x", "/moved")
        site.add("/moved", Reply(status=301, body=b"", headers=[("Location", "/private/moved-here")]))
        site.page("/private/moved-here")
        site.page("/a", "/private/deeper/page", "/")
        site.page("/private/secret", "/private/leak")
        site.page("/private/deeper/page")
        site.page("/private/open")
        site.page("/not-for-others/x")
        out = tmp_path_factory.mktemp("robots") / "crawl"
        run = run_ernte(*crawl_args(site, out, "--user-agent", UA))
        yield site, out, run, fetch_rows(out)


def test_disallowed_paths_are_never_requested(robots_crawl):
    site, out, run, rows = robots_crawl
    assert run.returncode == 0, run.stderr[-3000:]
    paths = site.paths()
    assert paths[0] == "/robots.txt", "robots.txt must be fetched before any page"
    assert paths.count("/robots.txt") == 1
    assert "/private/secret" not in paths
    assert "/private/deeper/page" not in paths
    assert "/private/moved-here" not in paths, "a redirect must not lead around robots.txt"
    assert not [p for p in paths if p.startswith("/private/") and p != "/private/open"]
    # The agent's own group (not '*') applies: these are allowed for ErnteTestBot only.
    assert {"/", "/a", "/private/open", "/not-for-others/x", "/moved"} <= set(paths)
    assert all(h.user_agent == UA for h in site.hits)


def test_disallowed_rows_name_the_deciding_rule(robots_crawl):
    site, out, run, rows = robots_crawl
    for path in ("/private/secret", "/private/deeper/page"):
        row = one_row(rows, site.url(path))
        assert row["decision"] == "robots_disallowed"
        assert row["http_status"] is None
        assert row["warc_record_id"] is None
        rule = row["robots_rule"]
        assert rule.startswith("disallowed"), rule
        assert "disallow: /private/" in rule and "line 6" in rule and "ErnteTestBot" in rule, rule
    opened = one_row(rows, site.url("/private/open"))
    assert opened["decision"] == "fetched"
    assert "allow: /private/open" in opened["robots_rule"] and "line 7" in opened["robots_rule"], opened["robots_rule"]
    moved = one_row(rows, site.url("/moved"))
    assert moved["decision"] == "fetched" and moved["http_status"] == 301 and moved["redirect_to"] == "/private/moved-here"
    target = one_row(rows, site.url("/private/moved-here"))
    assert target["decision"] == "robots_disallowed" and "line 6" in target["robots_rule"], target
    # Links of a page never fetched are never discovered.
    assert not [r for r in rows if r["url"].endswith("/private/leak")]


def test_ai_optout_is_recorded_on_fetched_rows(robots_crawl):
    site, out, run, rows = robots_crawl
    fetched = [r for r in page_rows(rows) if r["decision"] == "fetched"]
    assert len(fetched) == 5, [(r["url"], r["decision"]) for r in rows]
    for row in fetched:
        assert row["ai_optout"] is True, row["url"]
        assert "GPTBot" in row["ai_optout_agents"], row
    # GPTBot has its own group (Disallow: /); the other AI agents fall back to '*'.
    assert one_row(rows, site.url("/"))["ai_optout_agents"] == ["GPTBot"]
    assert one_row(rows, site.url("/not-for-others/x"))["ai_optout_agents"] == list(AI_TRAINING_AGENTS)
    assert one_row(rows, site.url("/robots.txt"))["reason"] == "robots.txt"


ROBOTS_AI = """User-agent: *
Allow: /

User-agent: GPTBot
Disallow: /ai/
"""


@pytest.mark.parametrize("how", ["flag", "config"])
def test_skip_ai_optout_does_not_request_reserved_urls(site, tmp_path, how):
    site.robots(ROBOTS_AI)
    site.page("/", "/ai/one", "/ai/two", "/normal")
    site.page("/ai/one", "/ai/three")
    site.page("/ai/two")
    site.page("/normal", "/ai/three")
    site.page("/ai/three")
    out = tmp_path / "crawl"
    if how == "flag":
        extra = ["--skip-ai-optout"]
    else:
        cfg = tmp_path / "ernte.yaml"
        cfg.write_text("crawl:\n  skip_ai_optout: true\n")
        extra = ["--config", str(cfg)]
    rc, stdout, stderr = run_ernte(*crawl_args(site, out, *extra))
    assert rc == 0, stderr[-3000:]
    assert sorted(site.paths()) == sorted(["/robots.txt", "/", "/normal"])
    rows = fetch_rows(out)
    for path in ("/ai/one", "/ai/two", "/ai/three"):
        row = one_row(rows, site.url(path))
        assert row["decision"] == "ai_optout", row
        assert row["ai_optout"] is True
        assert row["ai_optout_agents"] == ["GPTBot"]
        assert row["warc_record_id"] is None
    normal = one_row(rows, site.url("/normal"))
    assert normal["decision"] == "fetched"
    assert normal["ai_optout"] is False and normal["ai_optout_agents"] == []


def test_robots_500_keeps_the_whole_host_off_limits(site, tmp_path):
    site.add("/robots.txt", Reply(status=500, body=b"oops", content_type="text/plain"))
    site.page("/", "/a")
    site.page("/a")
    out = tmp_path / "crawl"
    rc, stdout, stderr = run_ernte(*crawl_args(site, out))
    assert rc == 1
    assert "nothing could be fetched" in stderr and "robots_unavailable" in stderr, stderr[-2000:]
    assert "robots_unavailable" in stdout  # the summary
    paths = site.paths()
    assert paths and set(paths) == {"/robots.txt"}, paths
    rows = fetch_rows(out)
    seed = one_row(rows, site.url("/"))
    assert seed["decision"] == "robots_unavailable"
    assert "500" in seed["reason"]
    assert not [r for r in page_rows(rows) if r["decision"] == "fetched"]


def test_robots_404_allows_everything(site, tmp_path):
    site.page("/", "/a", "/b", "/admin/")  # no robots.txt route: 404
    site.page("/a", "/b")
    site.page("/b")
    site.page("/admin/")
    out = tmp_path / "crawl"
    rc, stdout, stderr = run_ernte(*crawl_args(site, out))
    assert rc == 0, stderr[-3000:]
    assert sorted(site.paths()) == sorted(["/robots.txt", "/", "/a", "/b", "/admin/"])
    rows = fetch_rows(out)
    robots = one_row(rows, site.url("/robots.txt"))
    assert robots["decision"] == "fetched" and robots["http_status"] == 404
    for path in ("/", "/a", "/b", "/admin/"):
        row = one_row(rows, site.url(path))
        assert row["decision"] == "fetched" and row["http_status"] == 200
        assert row["robots_rule"].startswith("allowed"), row["robots_rule"]
        assert row["ai_optout"] is False


def test_crawl_delay_spaces_requests(site, tmp_path):
    site.robots("User-agent: *\nCrawl-delay: 0.6\n")
    pages = [f"/p{i}" for i in range(1, 6)]
    site.page("/", *pages)
    for p in pages:
        site.page(p, "/", *pages)
    out = tmp_path / "crawl"
    rc, stdout, stderr = run_ernte(*crawl_args(site, out))  # --delay 0: only Crawl-delay spaces them
    assert rc == 0, stderr[-3000:]
    hits = site.page_hits()
    assert sorted(h.path for h in hits) == sorted(["/", *pages])
    gaps = [b.time - a.time for a, b in zip(hits, hits[1:])]
    assert min(gaps) >= 0.55, gaps
    rows = fetch_rows(out)
    assert {r["crawl_delay"] for r in page_rows(rows) if r["decision"] == "fetched"} == {0.6}
