"""The `ernte` command line: bad input, exit codes, messages, and `ernte robots`."""

from __future__ import annotations

import socket

import pytest
from crawl_sites import Reply, crawl_args, fetch_rows, one_row, run_ernte

# --- usage and configuration errors: exit 2, a message, nothing crawled ----------------------------


@pytest.mark.parametrize("seed", ["ftp://x", "not a url", "http://", "mailto:someone@example.org"])
def test_invalid_seed_is_a_usage_error(tmp_path, seed):
    out = tmp_path / "crawl"
    rc, stdout, stderr = run_ernte("crawl", seed, "--out", str(out))
    assert rc == 2, (stdout, stderr)
    assert "error" in stderr and seed in stderr, stderr
    assert not out.exists(), "nothing may be written for a usage error"


def test_no_seed_without_resume_is_a_usage_error(tmp_path):
    rc, stdout, stderr = run_ernte("crawl", "--out", str(tmp_path / "crawl"))
    assert rc == 2 and "SEED" in stderr, stderr


@pytest.mark.parametrize(
    "yaml_text, key",
    [
        ("crawl:\n  max_pagez: 3\n", "max_pagez"),
        ("crawl:\n  max_pages: 3\ncrawll:\n  delay_s: 0\n", "crawll"),
    ],
)
def test_unknown_config_key_is_named(tmp_path, yaml_text, key):
    cfg = tmp_path / "ernte.yaml"
    cfg.write_text(yaml_text)
    out = tmp_path / "crawl"
    rc, stdout, stderr = run_ernte("crawl", "http://example.invalid/", "--out", str(out), "--config", str(cfg))
    assert rc == 2, stderr
    assert key in stderr, stderr
    assert not out.exists()


def test_max_pages_zero_is_a_usage_error(tmp_path):
    out = tmp_path / "crawl"
    rc, stdout, stderr = run_ernte("crawl", "http://example.invalid/", "--out", str(out), "--max-pages", "0")
    assert rc == 2, stderr
    assert "max_pages" in stderr, stderr
    assert not out.exists()


def test_missing_config_file_is_a_usage_error(tmp_path):
    rc, stdout, stderr = run_ernte("crawl", "http://example.invalid/", "--out", str(tmp_path / "c"), "--config", str(tmp_path / "nope.yaml"))
    assert rc == 2 and "nope.yaml" in stderr, stderr


@pytest.mark.parametrize("argv", [["--help"], ["crawl", "--help"], ["robots", "--help"], ["-h"]])
def test_help_exits_0(argv):
    rc, stdout, stderr = run_ernte(*argv)
    assert rc == 0, stderr
    assert "Usage:" in stdout


def test_crawl_help_lists_the_options():
    rc, stdout, stderr = run_ernte("crawl", "--help")
    for option in ("--out", "--allow-private", "--max-pages", "--max-pages-per-host", "--max-depth", "--user-agent", "--delay", "--no-politeness", "--skip-ai-optout", "--scope", "--config", "--resume"):
        assert option in stdout, option


# --- crawls that cannot fetch anything: exit 1 and rows saying why ---------------------------------


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again when the with-block ends


def test_unreachable_host(tmp_path):
    """Connection refused already for robots.txt: RFC 9309 treats an unreachable robots.txt as
    complete disallow, so the seed is recorded as robots_unavailable with the network error."""
    port = _closed_port()
    out = tmp_path / "crawl"
    seed = f"http://127.0.0.1:{port}/start"
    rc, stdout, stderr = run_ernte("crawl", seed, "--out", str(out), "--allow-private", "--delay", "0")
    assert rc == 1, stderr[-3000:]
    assert "nothing could be fetched" in stderr
    row = one_row(fetch_rows(out), seed)
    assert row["decision"] == "robots_unavailable", row
    assert "refused" in row["reason"].lower(), row["reason"]


def test_connection_dropped_is_an_error_row(site, tmp_path):
    site.add("/", Reply(abort=True))  # robots.txt: 404; the page: connection closed without an answer
    out = tmp_path / "crawl"
    rc, stdout, stderr = run_ernte(*crawl_args(site, out))
    assert rc == 1, stderr[-3000:]
    assert "nothing could be fetched" in stderr and "error" in stderr
    row = one_row(fetch_rows(out), site.url("/"))
    assert row["decision"] == "error", row
    assert row["reason"], row
    assert row["http_status"] is None and row["warc_record_id"] is None
    # retry_times 2: three attempts; Twisted may re-send once by itself when the first attempt went
    # out on a kept-alive connection (the one robots.txt came over) that turns out to be closed.
    assert 3 <= site.count("/") <= 4, site.paths()


def test_loopback_seed_needs_allow_private(site, tmp_path):
    site.page("/")
    out = tmp_path / "crawl"
    rc, stdout, stderr = run_ernte("crawl", site.url("/"), "--out", str(out), "--delay", "0")
    assert rc == 1, stderr[-3000:]
    assert "out_of_scope" in stderr
    row = one_row(fetch_rows(out), site.url("/"))
    assert row["decision"] == "out_of_scope"
    assert "loopback" in row["reason"] or "private" in row["reason"], row["reason"]
    assert site.hits == [], "a refused host must not even be asked for robots.txt"

    # The directory now holds a crawl: using it again without --resume is a usage error.
    rc, stdout, stderr = run_ernte("crawl", site.url("/"), "--out", str(out), "--allow-private")
    assert rc == 2 and "--resume" in stderr, stderr
    assert site.hits == []


def test_resume_without_a_crawl_is_a_usage_error(tmp_path):
    rc, stdout, stderr = run_ernte("crawl", "--resume", "--out", str(tmp_path / "empty"))
    assert rc == 2 and "resume" in stderr, stderr


# --- ernte robots ----------------------------------------------------------------------------------

ROBOTS = """User-agent: *
Disallow: /private/
Allow: /private/open

User-agent: GPTBot
Disallow: /
"""


def test_robots_command(tmp_path):
    robots = tmp_path / "robots.txt"
    robots.write_text(ROBOTS)
    urls = ["https://example.org/", "https://example.org/private/x", "https://example.org/private/open"]
    rc, stdout, stderr = run_ernte("robots", str(robots), "--agent", "ErnteBot/0.1 (+https://x)", *urls)
    assert rc == 0, stderr
    lines = stdout.strip().splitlines()
    assert len(lines) == 3, stdout
    verdicts = [ln.split(" ", 2) for ln in lines]
    assert [v[0] for v in verdicts] == ["allowed", "disallowed", "allowed"]
    assert [v[1] for v in verdicts] == urls
    assert "no matching rule" in verdicts[0][2]
    assert "disallow: /private/" in verdicts[1][2] and "line 2" in verdicts[1][2]
    assert "allow: /private/open" in verdicts[2][2] and "line 3" in verdicts[2][2]

    rc, stdout, stderr = run_ernte("robots", str(robots), "--agent", "GPTBot", "https://example.org/")
    assert rc == 0
    verdict, url, rule = stdout.strip().split(" ", 2)
    assert (verdict, url) == ("disallowed", "https://example.org/")
    assert "disallow: /" in rule and "GPTBot" in rule and "line 6" in rule


def test_robots_command_usage_errors(tmp_path):
    robots = tmp_path / "robots.txt"
    robots.write_text(ROBOTS)
    assert run_ernte("robots", str(robots), "https://example.org/").returncode == 2  # no --agent
    assert run_ernte("robots", str(tmp_path / "missing.txt"), "--agent", "X", "https://example.org/").returncode == 2
    assert run_ernte("robots", str(robots), "--agent", "X").returncode == 2  # no URL
