"""Test web sites for the crawl integration tests: a small threaded HTTP server on 127.0.0.1
with per-path behaviour and its own request log (the evidence of what the crawler really did),
plus helpers to run `ernte crawl` in a subprocess and read its outputs back.

No mocks: the crawler under test talks real HTTP to these servers from its own process.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import os
import resource
import struct
import subprocess
import sys
import threading
import time
import zlib
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Callable
from urllib.parse import urlsplit

import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parent.parent
TDMREP_PATH = "/.well-known/tdmrep.json"
ERNTE_CMD = [sys.executable, "-m", "pipeline.cli"]


# --- the server -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Hit:
    """One request as the server saw it, logged when its headers had arrived."""

    time: float
    method: str
    path: str  # path with query string, as on the request line
    user_agent: str
    headers: dict


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    content_type: str | None = "text/html; charset=utf-8"
    headers: list[tuple[str, str]] = field(default_factory=list)
    abort: bool = False  # close the connection without answering
    no_length: bool = False  # no Content-Length: the body ends when the connection closes


@dataclass(frozen=True)
class Req:
    path: str  # with query
    headers: dict
    nth: int  # how many earlier requests the server saw for this exact path (0 = first)


Handler = Callable[[Req], Reply]


def html(*links: str, title: str = "page", text: str = "") -> bytes:
    """A small HTML page linking to each of links (hrefs as given)."""
    anchors = "\n".join(f'<p><a href="{href}">{href}</a></p>' for href in links)
    return f"<!doctype html><html><head><title>{title}</title></head><body><h1>{title}</h1><p>{text}</p>\n{anchors}\n</body></html>".encode()


class TestSite:
    """A threaded HTTP/1.1 server on 127.0.0.1:0. Routes map an exact path (with query) to a
    Reply or to a function of the request; prefix routes catch whole subtrees; anything else
    is 404. Every request is logged in `hits`, thread-safely."""

    __test__ = False  # not a pytest class

    def __init__(self) -> None:
        self.routes: dict[str, Reply | Handler] = {}
        self.prefixes: list[tuple[str, Handler]] = []
        self._hits: list[Hit] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- configuration --------------------------------------------------------------------------
    def page(self, path: str, *links: str, **kw) -> None:
        self.routes[path] = Reply(body=html(*links, title=path, **kw))

    def add(self, path: str, reply: Reply | Handler) -> None:
        self.routes[path] = reply

    def add_prefix(self, prefix: str, handler: Handler) -> None:
        self.prefixes.append((prefix, handler))

    def robots(self, text: str | None, status: int = 200) -> None:
        self.routes["/robots.txt"] = Reply(status=status, body=(text or "").encode(), content_type="text/plain")

    # -- running --------------------------------------------------------------------------------
    def start(self) -> "TestSite":
        site = self

        class _H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:  # quiet
                pass

            def do_GET(self) -> None:
                site._handle(self)

            def do_HEAD(self) -> None:
                site._handle(self)

        class _S(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request, client_address) -> None:
                pass  # the crawler hanging up early (StopDownload, size limits) is expected

        self._server = _S(("127.0.0.1", 0), _H)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> "TestSite":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        return self.base + path

    # -- the log --------------------------------------------------------------------------------
    @property
    def hits(self) -> list[Hit]:
        with self._lock:
            return list(self._hits)

    def paths(self, tdmrep: bool = False) -> list[str]:
        """Paths requested, in order; the crawler's /.well-known/tdmrep.json probe only when asked."""
        return [h.path for h in self.hits if tdmrep or h.path != TDMREP_PATH]

    def page_hits(self) -> list[Hit]:
        """Requests other than robots.txt and tdmrep.json."""
        return [h for h in self.hits if h.path not in ("/robots.txt", TDMREP_PATH)]

    def count(self, path: str) -> int:
        return sum(1 for h in self.hits if h.path == path)

    # -- serving --------------------------------------------------------------------------------
    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        now = time.time()
        headers = {k.lower(): v for k, v in h.headers.items()}
        with self._lock:
            nth = sum(1 for x in self._hits if x.path == h.path)
            self._hits.append(Hit(now, h.command, h.path, headers.get("user-agent", ""), headers))
        route = self.routes.get(h.path)
        if route is None:
            plain = urlsplit(h.path).path
            for prefix, handler in self.prefixes:
                if plain.startswith(prefix):
                    route = handler
                    break
        if route is None:
            reply = Reply(status=404, body=b"not found", content_type="text/plain")
        elif isinstance(route, Reply):
            reply = route
        else:
            reply = route(Req(h.path, headers, nth))
        if reply.abort:
            h.close_connection = True
            try:
                h.connection.shutdown(2)
            except OSError:
                pass
            return
        try:
            h.send_response(reply.status)
            if reply.content_type:
                h.send_header("Content-Type", reply.content_type)
            for k, v in reply.headers:
                h.send_header(k, v)
            if reply.no_length:
                h.send_header("Connection", "close")
                h.close_connection = True
            else:
                h.send_header("Content-Length", str(len(reply.body)))
            h.end_headers()
            if h.command != "HEAD":
                h.wfile.write(reply.body)
            h.wfile.flush()
        except OSError:
            h.close_connection = True  # the crawler hung up (size / type limits)


# --- payloads -------------------------------------------------------------------------------------


def gzip_bomb(uncompressed_bytes: int = 2 << 30) -> bytes:
    """A valid single-member gzip stream of `uncompressed_bytes` zeros (~1 KB per MiB), built in
    well under a second: full-flushed deflate blocks of 1 MiB of zeros are identical, so one is
    compressed and repeated (CRC and size trailer computed for real)."""
    mib = 1 << 20
    assert uncompressed_bytes % mib == 0
    zeros = bytes(mib)
    comp = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    first = comp.compress(zeros) + comp.flush(zlib.Z_FULL_FLUSH)
    block = comp.compress(zeros) + comp.flush(zlib.Z_FULL_FLUSH)
    assert first == block
    tail = comp.flush(zlib.Z_FINISH)
    n = uncompressed_bytes // mib
    crc = 0
    for _ in range(n):
        crc = zlib.crc32(zeros, crc)
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"
    return header + block * n + tail + struct.pack("<II", crc & 0xFFFFFFFF, uncompressed_bytes & 0xFFFFFFFF)


def gzipped(data: bytes) -> bytes:
    return gzip.compress(data, mtime=0)


def sha1_b32(data: bytes) -> str:
    return "sha1:" + base64.b32encode(hashlib.sha1(data).digest()).decode("ascii")


# --- running the crawler --------------------------------------------------------------------------


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str
    seconds: float

    def __iter__(self):  # rc, out, err = run(...)
        return iter((self.returncode, self.stdout, self.stderr))


def ernte_env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


def run_ernte(*args: str, timeout: float = 120) -> Run:
    """Run `ernte ARGS...` to completion; returns (returncode, stdout, stderr)."""
    started = time.monotonic()
    proc = subprocess.run([*ERNTE_CMD, *map(str, args)], capture_output=True, text=True, timeout=timeout, cwd=ROOT, env=ernte_env())
    return Run(proc.returncode, proc.stdout, proc.stderr, time.monotonic() - started)


_RSS_WRAPPER = """
import resource, subprocess, sys
code = subprocess.call(sys.argv[2:])
with open(sys.argv[1], "w") as fh:
    fh.write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss))
sys.exit(code)
"""


def run_ernte_measured(*args: str, timeout: float = 120) -> tuple[Run, int]:
    """Like run_ernte, in a fresh wrapper process whose only descendants are this crawl, so the
    wrapper's RUSAGE_CHILDREN max RSS (KiB on Linux) is the peak of this crawl's process tree."""
    import tempfile

    with tempfile.NamedTemporaryFile("r", suffix=".rss", delete=False) as fh:
        rss_file = fh.name
    try:
        started = time.monotonic()
        proc = subprocess.run([sys.executable, "-c", _RSS_WRAPPER, rss_file, *ERNTE_CMD, *map(str, args)], capture_output=True, text=True, timeout=timeout, cwd=ROOT, env=ernte_env())
        run = Run(proc.returncode, proc.stdout, proc.stderr, time.monotonic() - started)
        text = Path(rss_file).read_text().strip()
        return run, int(text) if text else -1
    finally:
        os.unlink(rss_file)


def children_maxrss_kib() -> int:
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss


def crawl_args(site: TestSite, out: Path, *extra: str, seed: str = "/") -> list[str]:
    """`crawl SEED --out OUT --allow-private --delay 0 EXTRA...` (EXTRA may repeat --delay: the last wins)."""
    return ["crawl", site.url(seed), "--out", str(out), "--allow-private", "--delay", "0", *extra]


# --- reading outputs ------------------------------------------------------------------------------


def fetch_rows(out: Path) -> list[dict]:
    """The Parquet fetch log as a list of dicts, in seq order."""
    parts = sorted((Path(out) / "fetches").glob("part-*.parquet"))
    rows: list[dict] = []
    for p in parts:
        rows.extend(pq.read_table(p).to_pylist())
    return sorted(rows, key=lambda r: r["seq"])


def rows_for(rows: list[dict], url: str) -> list[dict]:
    return [r for r in rows if r["url"] == url]


def one_row(rows: list[dict], url: str) -> dict:
    found = rows_for(rows, url)
    assert len(found) == 1, f"expected one fetch-log row for {url}, got {len(found)}: {[r['decision'] for r in found]}"
    return found[0]


def page_rows(rows: list[dict]) -> list[dict]:
    """Rows other than robots.txt and tdmrep.json fetches."""
    return [r for r in rows if not (r["reason"] or "").startswith(("robots.txt", "tdmrep.json"))]


def journal_rows(out: Path) -> list[dict]:
    """Rows in DIR/state/journal.jsonl (a torn last line is skipped)."""
    rows = []
    with open(Path(out) / "state" / "journal.jsonl", "rb") as fh:
        for raw in fh:
            try:
                entry = json.loads(raw)
            except ValueError:
                continue
            if entry.get("t") == "row":
                rows.append(entry["row"])
    return rows


def warc_files(out: Path) -> list[Path]:
    return sorted((Path(out) / "warc").glob("*.warc.gz"))


@dataclass
class Record:
    file: str
    offset: int
    length: int
    type: str
    headers: dict  # WARC headers (first value of each name)
    header_list: list[tuple[str, str]]
    protocol: str  # version line, e.g. WARC/1.1
    raw_block: bytes  # record block exactly as stored (after gzip member decompression)
    http_status: str | None
    http_headers: list[tuple[str, str]] | None
    payload_raw: bytes | None  # HTTP entity body as stored (content-encoding intact)


def read_records(path: Path) -> list[Record]:
    """Every record of a WARC file with its raw block, read with warcio's ArchiveIterator."""
    from warcio.archiveiterator import ArchiveIterator

    records = []
    with open(path, "rb") as fh:
        it = ArchiveIterator(fh, no_record_parse=True)
        for rec in it:
            block = rec.raw_stream.read()
            it.read_to_end(rec)
            records.append(_record(path.name, it.get_record_offset(), it.get_record_length(), rec, block))
    return records


def _record(name, offset, length, rec, block: bytes) -> Record:
    from warcio.statusandheaders import StatusAndHeadersParser

    headers: dict = {}
    for k, v in rec.rec_headers.headers:
        headers.setdefault(k, v)
    status = http_headers = payload = None
    if rec.rec_type in ("response", "revisit", "request") and block:
        if rec.rec_type == "request":
            first_line_ok = True
        else:
            first_line_ok = block.startswith(b"HTTP/")
        if first_line_ok:
            import io

            stream = io.BytesIO(block)
            sh = StatusAndHeadersParser(["HTTP/1.0", "HTTP/1.1"], verify=False).parse(stream)
            status, http_headers = sh.statusline, list(sh.headers)
            if rec.rec_type == "request":
                status = block.split(b"\r\n", 1)[0].decode("latin-1")  # the request line
            payload = stream.read()
    return Record(name, offset, length, rec.rec_type, headers, list(rec.rec_headers.headers), rec.rec_headers.protocol, block, status, http_headers, payload)


def all_records(out: Path) -> list[Record]:
    recs = []
    for p in warc_files(out):
        recs.extend(read_records(p))
    return recs
