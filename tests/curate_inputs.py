"""Inputs for the `ernte curate` tests: realistic English pages and WARC files written with
warcio; and its outputs read back.

The page text is real prose: sentences from the English Debian manuals of the demo site
(pipeline/demo_site/), in their original order, cut into documents of a few hundred words that
share no sentence, so two documents are duplicates only where a test makes them so. Everything
is deterministic: record ids, dates and gzip members are the same on every run.
"""

from __future__ import annotations

import io
import json
import re
import uuid
import zlib
from dataclasses import dataclass, field
from functools import lru_cache
from html.parser import HTMLParser
from pathlib import Path

import pyarrow.parquet as pq
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from crawl_sites import ROOT, sha1_b32

DEMO_SITE = ROOT / "pipeline" / "demo_site"
PROSE_SOURCES = ("maint-guide/en/*.en.html", "faq/en/*.en.html", "history/en/*.en.html")
HTML_TYPE = "text/html; charset=utf-8"

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")
# Plain prose only: no markup debris, code, e-mail addresses or phrases a C4 rule removes.
_PROSE = re.compile(r"^[A-Z][A-Za-z0-9 ,;:'’()/-]+\.$")
_C4_TRIGGERS = re.compile(r"(?i)javascript|cookie|lorem|privacy|terms of|\be\.g|\bi\.e|etc\.")


class _Paragraphs(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.paragraphs: list[str] = []
        self._current: list[str] | None = None

    def handle_starttag(self, tag, attrs) -> None:
        if tag == "p":
            self._current = []

    def handle_endtag(self, tag) -> None:
        if tag == "p" and self._current is not None:
            self.paragraphs.append(" ".join("".join(self._current).split()))
            self._current = None

    def handle_data(self, data) -> None:
        if self._current is not None:
            self._current.append(data)


@lru_cache(maxsize=1)
def prose_sentences() -> tuple[str, ...]:
    """Distinct prose sentences of the English demo manuals, in document order."""
    seen: set[str] = set()
    out: list[str] = []
    for pattern in PROSE_SOURCES:
        for path in sorted(DEMO_SITE.glob(pattern)):
            parser = _Paragraphs()
            parser.feed(path.read_text(encoding="utf-8"))
            for paragraph in parser.paragraphs:
                for sentence in _SENTENCE_END.split(paragraph):
                    sentence = sentence.strip()
                    if _PROSE.match(sentence) and 8 <= len(sentence.split()) <= 40 and not _C4_TRIGGERS.search(sentence) and sentence not in seen:
                        seen.add(sentence)
                        out.append(sentence)
    return tuple(out)


@dataclass(frozen=True)
class Page:
    title: str
    paragraphs: tuple[str, ...]

    @property
    def text(self) -> str:
        return "\n".join(self.paragraphs)


@lru_cache(maxsize=1)
def english_pages() -> tuple[Page, ...]:
    """Documents of 6 paragraphs x 3 sentences that FineWeb's quality filters keep."""
    from filters import quality

    sentences = prose_sentences()
    pages = []
    per_page = 18
    for start in range(0, len(sentences) - per_page + 1, per_page):
        chunk = sentences[start : start + per_page]
        paragraphs = tuple(" ".join(chunk[i : i + 3]) for i in range(0, per_page, 3))
        title = " ".join(chunk[0].rstrip(".").split()[:6])
        page = Page(title, paragraphs)
        if quality.decide(quality.measure(page.text, "en")).kept:
            pages.append(page)
    return tuple(pages)


def near_copy(page: Page) -> Page:
    """The same page with a few words changed in two paragraphs (word-5-gram Jaccard about 0.9)."""
    paragraphs = list(page.paragraphs)
    for i in (1, 4):
        words = paragraphs[i].split()
        words[len(words) // 2] = "notably"
        paragraphs[i] = " ".join(words)
    return Page(page.title, tuple(paragraphs))


def page_html(page: Page, url: str, extra_paragraphs: tuple[str, ...] = ()) -> bytes:
    """A page as a documentation site serves it: navigation, article, footer."""
    body = "\n".join(f"<p>{p}</p>" for p in (*page.paragraphs, *extra_paragraphs))
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{page.title} | Example Docs</title>
<link rel="canonical" href="{url}">
</head>
<body>
<header><nav><a href="/">Home</a> | <a href="/docs/">Documentation</a> | <a href="/about/">About</a></nav></header>
<main>
<article>
<h1>{page.title}</h1>
{body}
</article>
</main>
<footer><p>Example Docs, published under the GNU General Public License.</p></footer>
</body>
</html>
""".encode("utf-8")


# --- WARC files -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Capture:
    """One record to write. kind: response | revisit (payload digest of `body`, refers to `refers_to`)."""

    url: str
    body: bytes
    date: str = "2024-01-01T00:00:00Z"
    content_type: str | None = HTML_TYPE
    status: str = "200 OK"
    headers: tuple[tuple[str, str], ...] = ()
    kind: str = "response"
    refers_to: "Capture | None" = None

    @property
    def record_id(self) -> str:
        return f"<urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, f'{self.kind} {self.url} {self.date}')}>"

    @property
    def doc_id(self) -> str:
        from pipeline.warc_input import doc_id_for

        return doc_id_for(self.record_id)


def write_warc(path: Path, captures: list[Capture], *, compress: bool = True, version: str = "WARC/1.1", warcinfo: bool = True) -> Path:
    """Write captures (a warcinfo record first) with warcio; returns path."""
    with open(path, "wb") as fh:
        writer = WARCWriter(fh, gzip=compress, warc_version=version)
        if warcinfo:
            info = f"software: ernte-tests\r\nformat: WARC File Format {version.removeprefix('WARC/')}\r\n".encode()
            headers = {"WARC-Record-ID": f"<urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, 'warcinfo ' + path.name)}>", "WARC-Date": "2024-01-01T00:00:00Z", "WARC-Filename": path.name}
            writer.write_record(writer.create_warc_record("", "warcinfo", payload=io.BytesIO(info), length=len(info), warc_content_type="application/warc-fields", warc_headers_dict=headers))
        for cap in captures:
            http_headers = ([("Content-Type", cap.content_type)] if cap.content_type else []) + list(cap.headers)
            warc_headers = {"WARC-Record-ID": cap.record_id, "WARC-Date": cap.date}
            if cap.kind == "revisit":
                http = StatusAndHeaders(cap.status, http_headers, protocol="HTTP/1.1")
                refers = cap.refers_to
                record = writer.create_revisit_record(cap.url, sha1_b32(cap.body), refers.url if refers else "http://elsewhere.example/", refers.date if refers else "2020-01-01T00:00:00Z", http_headers=http, warc_headers_dict=warc_headers)
                if refers is not None:
                    record.rec_headers.add_header("WARC-Refers-To", refers.record_id)
            else:
                http = StatusAndHeaders(cap.status, http_headers + [("Content-Length", str(len(cap.body)))], protocol="HTTP/1.1")
                record = writer.create_warc_record(cap.url, "response", payload=io.BytesIO(cap.body), length=len(cap.body), http_headers=http, warc_headers_dict=warc_headers)
            writer.write_record(record)
    return path


def gzip_members(data: bytes) -> list[int]:
    """Start offsets of the gzip members of a record-per-member WARC file."""
    starts, pos = [], 0
    while pos < len(data):
        starts.append(pos)
        d = zlib.decompressobj(16 + zlib.MAX_WBITS)
        d.decompress(data[pos:])
        pos = len(data) - len(d.unused_data)
    return starts


# --- reading outputs --------------------------------------------------------------------------


@dataclass
class Curated:
    """A curated directory read back with pyarrow (each table a list of dicts)."""

    out: Path
    manifest: dict = field(default_factory=dict)
    provenance: list[dict] = field(default_factory=list)
    shards: dict[str, list[dict]] = field(default_factory=dict)  # file name -> rows
    rejected: list[dict] = field(default_factory=list)

    @classmethod
    def read(cls, out: Path) -> "Curated":
        out = Path(out)
        manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8")) if (out / "manifest.json").exists() else {}
        provenance = [row for p in sorted((out / "provenance").glob("*.parquet")) for row in pq.read_table(p).to_pylist()]
        shards = {p.name: pq.read_table(p).to_pylist() for p in sorted((out / "shards").glob("*.parquet"))}
        rejected = [row for p in sorted((out / "rejected").glob("*.parquet")) for row in pq.read_table(p).to_pylist()]
        return cls(out, manifest, provenance, shards, rejected)

    def shard_rows(self) -> list[dict]:
        return [row for rows in self.shards.values() for row in rows]

    def by_url(self) -> dict[str, dict]:
        rows: dict[str, dict] = {}
        for row in self.provenance:
            assert row["url"] not in rows, f"two provenance rows for {row['url']}"
            rows[row["url"]] = row
        return rows

    def by_doc(self) -> dict[str, dict]:
        rows = {row["doc_id"]: row for row in self.provenance}
        assert len(rows) == len(self.provenance), "a doc_id with two provenance rows"
        return rows
