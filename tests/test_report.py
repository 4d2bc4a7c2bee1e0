"""`ernte report`: one static HTML page about a curated directory made by a real `ernte curate` run
(subprocess) on WARC files written with warcio, some of whose pages carry HTML/script payloads in
their titles, URLs and licence markup. The page is read back as text and rendered by Debian's
Chromium (headless) to show the payloads stay text.
"""

from __future__ import annotations

import html
import json
import re
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import duckdb
import pytest
from crawl_sites import Reply, TestSite, crawl_args, fetch_rows, run_ernte
from curate_inputs import Capture, english_pages, page_html, write_warc

CHROMIUM = Path("/usr/bin/chromium")

SCRIPT_TITLE = "<script>alert(1)</script>"
PWNED_TITLE = "<script>document.title='PWNED'</script>"
IMG_PAYLOAD = "<img src=x onerror=\"document.body.setAttribute('data-pwned','1')\">"
URL_PAYLOAD = "https://evil.example.net/<script>document.title='PWNED'</script>"
WITHDRAWAL_REASON = "<img src=x onerror=\"document.body.setAttribute('data-pwned','withdrawal')\">"


def ernte(*args, timeout: float = 120):
    return run_ernte(*map(str, args), timeout=timeout)


def _page(title: str, paragraphs, footer: str = "<footer><p>Example Docs.</p></footer>") -> bytes:
    """A page whose <title> text (after HTML parsing) is exactly `title`."""
    body = "\n".join(f"<p>{p}</p>" for p in paragraphs)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title></head>
<body><main><article><h1>{html.escape(title)}</h1>
{body}
</article></main>
{footer}
</body></html>
""".encode()


@pytest.fixture(scope="module")
def curated(tmp_path_factory):
    """Seven pages on three hosts: payload titles and URL, a CC BY-SA licence link (with a payload
    attribute), opt-out headers, an exact copy and a thin page (both dropped); a withdrawals file."""
    pages = english_pages()
    root = tmp_path_factory.mktemp("report")
    licence_footer = (
        f'<footer><p>This work is licensed under a <a rel="license" title="{html.escape(IMG_PAYLOAD)}" '
        'href="https://creativecommons.org/licenses/by-sa/4.0/">Creative Commons Attribution-ShareAlike 4.0 International License</a>.</p></footer>'
    )
    caps = [
        Capture("https://docs.example.org/p0.html", page_html(pages[0], "https://docs.example.org/p0.html"), date="2024-01-01T10:00:00Z"),
        Capture("https://docs.example.org/licensed.html", _page("Licensed page", pages[1].paragraphs, licence_footer), date="2024-01-01T10:01:00Z"),
        Capture("https://docs.example.org/xss.html", _page(SCRIPT_TITLE, pages[2].paragraphs), date="2024-01-01T10:02:00Z"),
        Capture(URL_PAYLOAD, _page(IMG_PAYLOAD, pages[3].paragraphs), date="2024-01-01T10:03:00Z"),
        Capture("https://evil.example.net/pwned.html", _page(PWNED_TITLE, pages[4].paragraphs), date="2024-01-01T10:04:00Z"),
        Capture(
            "https://news.example.com/reserved.html",
            page_html(pages[10], "https://news.example.com/reserved.html"),
            headers=(("tdm-reservation", "1"), ("X-Robots-Tag", "noai")),
            date="2024-01-02T00:00:00Z",
        ),
        Capture("https://news.example.com/copy.html", page_html(pages[0], "https://docs.example.org/p0.html"), date="2024-02-01T00:00:00Z"),
        Capture("https://news.example.com/thin.html", b"<html lang=en><body><p>Hello.</p></body></html>", date="2024-01-03T00:00:00Z"),
    ]
    warc = write_warc(root / "in.warc.gz", caps)
    out = root / "curated"
    run = ernte("curate", warc, "--out", out, "--workers", 1)
    assert run.returncode == 0, run.stderr[-3000:]
    withdrawals = [
        {"at": "2024-03-01T00:00:00+00:00", "version": 2, "reason": WITHDRAWAL_REASON, "selector": {"host": "news.example.com"}, "documents": 3},
        {"at": "2024-03-02T00:00:00+00:00", "version": 3, "reason": "owner request", "selector": "url = 'https://docs.example.org/p0.html'", "documents": ["d1", "d2"]},
    ]
    (out / "withdrawals.jsonl").write_text("".join(json.dumps(w) + "\n" for w in withdrawals), encoding="utf-8")
    return out


@pytest.fixture(scope="module")
def crawl_dir(tmp_path_factory):
    """A real crawl of a two-page local site (for the fetch-decision counts via --crawl)."""
    root = tmp_path_factory.mktemp("report-crawl")
    with TestSite() as site:
        site.robots("User-agent: *\nDisallow: /private/\n")
        site.page("/", "/a.html", "/private/b.html")
        site.add("/a.html", Reply(body=page_html(english_pages()[20], site.url("/a.html"))))
        run = run_ernte(*crawl_args(site, root / "crawl"))
        assert run.returncode == 0, run.stderr[-3000:]
    return root / "crawl"


@pytest.fixture(scope="module")
def report(curated, crawl_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("report-out") / "nested" / "dir" / "report.html"
    run = ernte("report", curated, "--out", out, "--crawl", crawl_dir)
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.strip() == str(out)
    assert run.seconds < 20, f"report took {run.seconds:.1f} s"
    return out


class _Tables(HTMLParser):
    """Text of every table cell, by table id; and every tag name seen."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tables: dict[str, list[list[str]]] = {}
        self.ids: dict[str, str] = {}
        self.tags: list[tuple[str, dict]] = []
        self._table: str | None = None
        self._cell: list[str] | None = None
        self._id: str | None = None

    def handle_starttag(self, tag, attrs) -> None:
        attrs = dict(attrs)
        self.tags.append((tag, attrs))
        if tag == "table":
            self._table = attrs.get("id") or f"table{len(self.tables)}"
            self.tables[self._table] = []
        elif tag == "tr" and self._table:
            self.tables[self._table].append([])
        elif tag in ("td", "th"):
            self._cell = []
        elif tag == "dd" and attrs.get("id"):
            self._id, self._cell = attrs["id"], []

    def handle_endtag(self, tag) -> None:
        if tag in ("td", "th") and self._cell is not None and self._table:
            self.tables[self._table][-1].append("".join(self._cell))
            self._cell = None
        elif tag == "dd" and self._id:
            self.ids[self._id] = "".join(self._cell or [])
            self._id = self._cell = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data) -> None:
        if self._cell is not None:
            self._cell.append(data)


def parse(page: str) -> _Tables:
    p = _Tables()
    p.feed(page)
    return p


def provenance_sql(curated: Path, sql: str, params=()):
    """`sql` over view p: the provenance files, read directly (not through pipeline.inspection)."""
    con = duckdb.connect()
    con.execute(f"CREATE VIEW p AS SELECT * FROM read_parquet('{curated}/provenance/*.parquet')")
    return con.execute(sql, list(params)).fetchall()


def test_report_sections_numbers_and_escaping(curated, crawl_dir, report):
    page = report.read_text(encoding="utf-8")
    assert not list(report.parent.glob("*.tmp")), "temporary file left behind"
    parsed = parse(page)
    # the payloads are in the data (so the page had to escape them) ...
    titles = {t for (t,) in provenance_sql(curated, "SELECT title FROM p WHERE decision = 'kept'")}
    assert {SCRIPT_TITLE, PWNED_TITLE, IMG_PAYLOAD} <= titles, titles
    assert provenance_sql(curated, "SELECT count(*) FROM p WHERE url = ?", [URL_PAYLOAD]) == [(1,)]
    (evidence,) = provenance_sql(curated, "SELECT licence_evidence FROM p WHERE licence_spdx = 'CC-BY-SA-4.0'")[0]
    assert "<a" in evidence  # markup, shown as text
    # ... and appear only escaped
    for raw in (SCRIPT_TITLE, PWNED_TITLE, IMG_PAYLOAD, URL_PAYLOAD, WITHDRAWAL_REASON, "<script", "<img src=x", evidence):
        assert raw not in page, raw
    assert html.escape(SCRIPT_TITLE) in page
    assert not [t for t, _ in parsed.tags if t in ("script", "iframe", "object", "embed", "svg", "link")]
    assert all(a.get("src", "").startswith("data:image/png;base64,") for t, a in parsed.tags if t == "img")
    assert not [a for _, a in parsed.tags if any(k.startswith("on") for k in a)]
    # the parsed page shows the payloads as text, where the data has them
    samples = parsed.tables["samples-table"]
    sample_titles = {row[0] for row in samples[1:]}
    assert {SCRIPT_TITLE, PWNED_TITLE, IMG_PAYLOAD} <= sample_titles
    assert URL_PAYLOAD in {row[1] for row in samples[1:]}
    assert evidence[:150] in "".join(c for row in samples for c in row)

    # totals and tables match DuckDB over the provenance files
    total, kept, hosts = provenance_sql(curated, "SELECT count(*), count(*) FILTER (WHERE decision = 'kept'), count(DISTINCT host) FROM p")[0]
    assert (total, kept) == (8, 6)
    assert parsed.ids["total-documents"] == str(total) and parsed.ids["total-kept"] == str(kept) and parsed.ids["total-hosts"] == str(hosts)
    assert parsed.ids["total-runs"] == "1"
    by_host = provenance_sql(curated, "SELECT host, count(*), count(*) FILTER (WHERE decision = 'kept') FROM p GROUP BY 1")
    assert {(r[0], int(r[1]), int(r[2])) for r in parsed.tables["hosts-table"][1:]} == set(by_host)
    drops = provenance_sql(curated, "SELECT drop_reason, count(*) FROM p WHERE decision <> 'kept' GROUP BY 1")
    assert {(r[1], int(r[2])) for r in parsed.tables["drop-reasons"][1:]} == set(drops)
    assert {("exact_duplicate", 1)} <= set(drops)
    funnel = parsed.tables["funnel-table"]
    assert funnel[1][:2] == ["read", str(total)] and ["after deduplication", str(kept), "1"] in [r[:3] for r in funnel]
    licences = {r[0]: (int(r[1]), int(r[2])) for r in parsed.tables["licences-table"][1:]}
    assert licences["CC-BY-SA-4.0"] == (1, 1)
    langs = provenance_sql(curated, "SELECT coalesce(lang, '(none)'), count(*) FROM p GROUP BY 1")
    assert {(r[0], int(r[1])) for r in parsed.tables["languages-table"][1:]} == set(langs)
    # opt-out signals by host: the reserved page's host
    optout = parsed.tables["optout-hosts"]
    header = optout[0]
    news = next(r for r in optout if r[0] == "news.example.com")
    assert news[header.index("tdm-reservation: 1 (header)")] == "1" and news[header.index("X-Robots-Tag noai")] == "1"
    assert news[header.index("TDM reservation (interpreted)")] == "1" and news[header.index("noai (interpreted)")] == "1"
    eligibility = {r[0]: int(r[1]) for r in parsed.tables["eligibility"][1:]}
    assert eligibility == dict(provenance_sql(curated, "SELECT eligibility_reason, count(*) FROM p WHERE decision = 'kept' GROUP BY 1"))
    # quality histograms: one image, a row per measured signal
    quality = {r[0]: int(r[1]) for r in parsed.tables["quality-table"][1:]}
    assert quality["gopher_q_word_count"] == provenance_sql(curated, "SELECT count(gopher_q_word_count) FROM p")[0][0]
    assert page.count('<img class="plot"') >= 6
    # runs, withdrawals and the crawl's fetch decisions
    manifest = json.loads((curated / "manifest.json").read_text())
    runs = parsed.tables["runs-table"]
    assert runs[1][0] == manifest["runs"][0]["run_id"] and runs[1][6] == str(kept) and runs[1][3] == "1"
    withdrawals = parsed.tables["withdrawals-table"]
    assert [r[2] for r in withdrawals[1:]] == [WITHDRAWAL_REASON, "owner request"]
    assert withdrawals[2][4].startswith("2: d1, d2")
    decisions = {}
    for row in fetch_rows(crawl_dir):
        decisions[row["decision"]] = decisions.get(row["decision"], 0) + 1
    assert {r[0]: int(r[1]) for r in parsed.tables["fetch-decisions"][1:]} == decisions
    assert decisions.get("robots_disallowed") == 1


def test_chromium_renders_payloads_as_text(report, tmp_path):
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run `make chromium` (installs Debian's chromium) to run the rendering test")
    args = [
        str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
        f"--user-data-dir={tmp_path / 'profile'}",
    ]  # fmt: skip
    dom = subprocess.run([*args, "--dump-dom", report.as_uri()], check=False, capture_output=True, text=True, timeout=60)
    assert dom.returncode == 0 and "</html>" in dom.stdout, dom.stderr[-2000:]
    text = dom.stdout
    # the payloads are text nodes of the rendered DOM ...
    assert html.escape(SCRIPT_TITLE, quote=False) in text
    assert html.escape(PWNED_TITLE, quote=False) in text
    assert html.escape(IMG_PAYLOAD, quote=False) in text
    # ... no element came from them, and none ran
    assert "<script" not in text and not re.search(r"<img[^>]*onerror", text)
    assert "PWNED" not in text.split("<body", 1)[0] and "<title>Ernte report" in text
    assert "data-pwned" not in re.sub(r"&lt;.*?&gt;", "", text)
    assert not [m for m in re.findall(r"<img\b[^>]*>", text) if 'src="data:image/png;base64,' not in m]
    shot = tmp_path / "report.png"
    run = subprocess.run([*args, "--window-size=1280,2400", f"--screenshot={shot}", report.as_uri()], check=False, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0 and shot.stat().st_size > 10_000, run.stderr[-2000:]


def test_empty_curated_dir_gives_a_page(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "manifest.json").write_text('{"runs": []}', encoding="utf-8")
    out = tmp_path / "empty.html"
    run = ernte("report", tmp_path / "empty", "--out", out)
    assert run.returncode == 0, run.stderr[-3000:]
    page = out.read_text(encoding="utf-8")
    assert "Nothing curated yet" in page and page.rstrip().endswith("</html>")
    assert parse(page).ids["total-documents"] == "0"


def test_not_a_curated_dir_is_a_usage_error(tmp_path, crawl_dir):
    for directory in (tmp_path, tmp_path / "missing", crawl_dir):
        out = tmp_path / "r.html"
        run = ernte("report", directory, "--out", out)
        assert run.returncode == 2, (directory, run.returncode, run.stderr)
        assert "not a curated directory" in run.stderr or "no such directory" in run.stderr, run.stderr
        assert not out.exists()
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "manifest.json").write_text("{not json", encoding="utf-8")
    run = ernte("report", tmp_path / "bad", "--out", tmp_path / "r.html")
    assert run.returncode == 2 and "not valid JSON" in run.stderr, run.stderr

