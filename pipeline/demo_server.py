"""HTTP server for the bundled demo site (pipeline/demo_site/), stdlib only.

Every stage of the pipeline is demonstrated and tested offline against this server. Besides
plain static serving it does what a real web server does to a crawler:

- Content-Type per extension, with the charset the file is really in (HTML: sniffed from
  the BOM, the XML declaration or the <meta> charset; text: utf-8 when the bytes decode);
- Content-Length and Last-Modified; If-Modified-Since answers 304;
- gzip Content-Encoding for text types when Accept-Encoding allows it (``gzip=False`` turns
  it off); Vary: Accept-Encoding;
- TDMRep headers (``tdm-reservation``, ``tdm-policy``) on the paths of ``TDM_RULES``, and
  the same rules as ``/.well-known/tdmrep.json`` (generated unless a file of that name exists);
- directory paths serve index.html (a directory without a trailing slash redirects, 301);
  404 for missing files; 400 for paths that try to leave the root (``..``, encoded or not);
- GET and HEAD (other methods: 501); HTTP/1.1 keep-alive;
- a thread-safe request log (``DemoServer.requests``) and, with ``request_log_path``, one
  JSON line per request appended and flushed, for tests that run the crawler in another
  process.
"""

from __future__ import annotations

import codecs
import email.utils
import gzip as gzip_module
import json
import mimetypes
import re
import socket
import sys
import threading
import time
from dataclasses import asdict, dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Callable
from urllib.parse import unquote, urlsplit

__all__ = [
    "DEMO_SITE_ROOT",
    "TDM_RULES",
    "TdmRule",
    "RequestLogEntry",
    "DemoServer",
    "serve_forever",
]

DEMO_SITE_ROOT: Path = Path(__file__).parent / "demo_site"


@dataclass(frozen=True)
class TdmRule:
    """TDMRep (W3C Community Group, Text and Data Mining Reservation Protocol) headers for
    every response whose path starts with ``prefix``. ``policy`` is a site path; the header
    carries it as an absolute URL on this server."""

    prefix: str
    reservation: int  # 1: TDM rights reserved; 0: explicitly not reserved
    policy: str | None = None


# The TDM path rules of the demo site, the longest matching prefix wins. The reservations
# are test fixtures of this demo, not a statement by the documents' authors (whose licences
# are in demo_site/ATTRIBUTION.md).
TDM_RULES: tuple[TdmRule, ...] = (
    TdmRule("/faq/de/", 1, "/tdm/policy.json"),  # German FAQ: reserved, with a policy
    TdmRule("/maint-guide/fr/", 1),  # French New Maintainers' Guide: reserved, no policy
    TdmRule("/history/en/", 0),  # English history: explicitly not reserved
)

WELL_KNOWN_TDMREP = "/.well-known/tdmrep.json"


@dataclass(frozen=True)
class RequestLogEntry:
    time: float  # time.time() when the request arrived
    method: str
    path: str  # request path including query string
    status: int
    user_agent: str


_CONTENT_TYPES = {
    ".html": "text/html",
    ".htm": "text/html",
    ".xhtml": "application/xhtml+xml",
    ".txt": "text/plain",
    ".md": "text/markdown",
    ".css": "text/css",
    ".js": "text/javascript",
    ".json": "application/json",
    ".xml": "application/xml",
    ".png": "image/png",
    ".gif": "image/gif",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".svg": "image/svg+xml",
    ".pdf": "application/pdf",
    ".epub": "application/epub+zip",
    ".gz": "application/gzip",
    ".py": "text/x-python",
}
_TEXT_TYPES = ("text/", "application/json", "application/xml", "application/xhtml+xml", "image/svg+xml")
_SNIFF_BYTES = 2048
_CHARSET_RES = (
    re.compile(rb'<\?xml[^>]*\bencoding\s*=\s*["\']([A-Za-z0-9._:-]+)', re.I),
    re.compile(rb'<meta[^>]*\bcharset\s*=\s*["\']?([A-Za-z0-9._:-]+)', re.I),
)


def content_type_for(path: Path, data: bytes) -> str:
    """Media type with the charset the bytes are really in (none when unknown)."""
    ext = path.suffix.lower()
    ctype = _CONTENT_TYPES.get(ext) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    if not ctype.startswith(_TEXT_TYPES) or ctype == "application/json":
        return ctype  # JSON is UTF-8 by definition (RFC 8259): no charset parameter
    charset = None
    if ctype in ("text/html", "application/xhtml+xml"):
        charset = _declared_charset(data[:_SNIFF_BYTES])
    if charset is None:
        try:
            data.decode("utf-8")
            charset = "utf-8"
        except UnicodeDecodeError:
            charset = None
    return f"{ctype}; charset={charset}" if charset else ctype


def _declared_charset(head: bytes) -> str | None:
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    for rx in _CHARSET_RES:
        m = rx.search(head)
        if m:
            name = m.group(1).decode("ascii").lower()
            try:
                codecs.lookup(name)
            except LookupError:
                continue
            return name
    return None


def accepts_gzip(accept_encoding: str | None) -> bool:
    """RFC 9110 Accept-Encoding: gzip (or x-gzip, or *) with a non-zero q-value."""
    if not accept_encoding:
        return False
    qs: dict[str, float] = {}
    for item in accept_encoding.split(","):
        token, *params = [p.strip() for p in item.split(";")]
        if not token:
            continue
        q = 1.0
        for p in params:
            if p.lower().startswith("q="):
                try:
                    q = float(p[2:])
                except ValueError:
                    q = 0.0
        qs[token.lower()] = q
    for name in ("gzip", "x-gzip"):
        if name in qs:
            return qs[name] > 0
    return qs.get("*", 0.0) > 0


def tdm_rule_for(path: str, rules: tuple[TdmRule, ...] = TDM_RULES) -> TdmRule | None:
    best = None
    for rule in rules:
        if path.startswith(rule.prefix) and (best is None or len(rule.prefix) > len(best.prefix)):
            best = rule
    return best


_HOST_RE = re.compile(r"[A-Za-z0-9.-]+(:[0-9]{1,5})?|\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?")


class _BadPath(Exception):
    pass


def resolve_request_path(root: Path, raw_path: str) -> tuple[Path, str]:
    """Map the path part of a request target to a file system path under ``root``.

    Returns (file system path, decoded URL path without empty segments). Raises _BadPath for anything that could
    leave the root: ``.`` or ``..`` segments (after percent-decoding), backslashes, NUL,
    invalid UTF-8, or a symlink that resolves outside.
    """
    if not raw_path.startswith("/"):
        raise _BadPath(raw_path)
    try:
        decoded = unquote(raw_path, encoding="utf-8", errors="strict")
    except UnicodeDecodeError as exc:
        raise _BadPath(raw_path) from exc
    if "\x00" in decoded or "\\" in decoded:
        raise _BadPath(raw_path)
    segments = decoded.split("/")[1:]
    if any(s in (".", "..") for s in segments):
        raise _BadPath(raw_path)
    parts = [s for s in segments if s]
    root_resolved = root.resolve()
    target = root_resolved.joinpath(*parts)
    resolved = target.resolve()
    if resolved != root_resolved and not resolved.is_relative_to(root_resolved):
        raise _BadPath(raw_path)
    normalized = "/" + "/".join(parts) + ("/" if parts and decoded.endswith("/") else "")
    return resolved, normalized


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    demo: DemoServer

    def __init__(self, *args, **kwargs) -> None:
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(*args, **kwargs)

    def process_request(self, request, client_address) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """End open keep-alive connections, so nothing is served after stop()."""
        with self._connections_lock:
            conns = list(self._connections)
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def handle_error(self, request, client_address):  # noqa: D401 - stdlib signature
        exc = sys.exc_info()[1]
        if self.demo.quiet or isinstance(exc, OSError):  # ConnectionError, timeouts, stop()
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    server: _HTTPServer
    server_version = "ErnteDemo/1.0"
    protocol_version = "HTTP/1.1"
    timeout = 30  # idle keep-alive connections are closed after this many seconds
    disable_nagle_algorithm = True  # headers and body go out in separate writes

    _arrival: float | None = None

    # --- request bookkeeping -------------------------------------------------------------
    def parse_request(self) -> bool:
        self._arrival = time.time()
        return super().parse_request()

    def log_request(self, code="-", size="-") -> None:
        demo = self.server.demo
        try:
            status = int(code)
        except (TypeError, ValueError):
            status = 0
        headers = getattr(self, "headers", None)
        entry = RequestLogEntry(
            time=self._arrival if self._arrival is not None else time.time(),
            method=self.command or "",
            path=self.path if isinstance(getattr(self, "path", None), str) else "",
            status=status,
            user_agent=(headers.get("User-Agent", "") if headers is not None else "") or "",
        )
        self._arrival = None
        demo._record(entry)
        if not demo.quiet:
            super().log_request(code, size)

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - stdlib signature
        if not self.server.demo.quiet:
            sys.stderr.write("%s - - [%s] %s\n" % (self.address_string(), self.log_date_time_string(), format % args))

    # --- methods ----------------------------------------------------------------------
    def do_GET(self) -> None:
        self._serve(head=False)

    def do_HEAD(self) -> None:
        self._serve(head=True)

    def _serve(self, head: bool) -> None:
        demo = self.server.demo
        target = self.path.split("#", 1)[0]
        if target.startswith("/"):  # origin-form (RFC 9112 3.2.1)
            raw_path, _, query = target.partition("?")
        elif target.lower().startswith(("http://", "https://")):  # absolute-form
            parts = urlsplit(target)
            raw_path, query = parts.path or "/", parts.query
        else:
            self._send_simple(HTTPStatus.BAD_REQUEST, head)
            return
        try:
            fs_path, url_path = resolve_request_path(demo.root, raw_path)
        except _BadPath:
            self._send_simple(HTTPStatus.BAD_REQUEST, head)
            return

        if url_path == WELL_KNOWN_TDMREP and not fs_path.is_file():
            body = json.dumps(demo.tdmrep_json(self._absolute_url("")), indent=2).encode("utf-8") + b"\n"
            self._send_body(HTTPStatus.OK, body, "application/json", url_path, head, mtime=demo.started_at)
            return

        if fs_path.is_dir():
            if not raw_path.endswith("/"):
                location = raw_path + "/" + (f"?{query}" if query else "")
                self.send_response(HTTPStatus.MOVED_PERMANENTLY)
                self.send_header("Location", location)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            fs_path = fs_path / "index.html"
        elif raw_path.endswith("/"):  # "/robots.txt/" names no directory
            self._send_simple(HTTPStatus.NOT_FOUND, head)
            return
        if not fs_path.is_file():
            self._send_simple(HTTPStatus.NOT_FOUND, head)
            return

        try:
            stat = fs_path.stat()
            data, ctype = demo._load(fs_path, stat)
        except OSError:
            self._send_simple(HTTPStatus.NOT_FOUND, head)
            return

        ims = self.headers.get("If-Modified-Since")
        if ims:
            try:
                since = email.utils.parsedate_to_datetime(ims).timestamp()
            except (TypeError, ValueError, IndexError, OverflowError):
                since = None
            if since is not None and int(stat.st_mtime) <= since:
                self.send_response(HTTPStatus.NOT_MODIFIED)
                self._common_headers(url_path, stat.st_mtime, ctype)
                self.end_headers()
                return

        self._send_body(HTTPStatus.OK, data, ctype, url_path, head, mtime=stat.st_mtime, fs_path=fs_path, stat=stat)

    # --- responses ------------------------------------------------------------------------
    def _common_headers(self, url_path: str, mtime: float, ctype: str) -> None:
        demo = self.server.demo
        self.send_header("Last-Modified", email.utils.formatdate(mtime, usegmt=True))
        if demo.gzip and ctype.startswith(_TEXT_TYPES):
            self.send_header("Vary", "Accept-Encoding")
        rule = tdm_rule_for(url_path, demo.tdm_rules)
        if rule is not None:
            self.send_header("tdm-reservation", str(rule.reservation))
            if rule.policy:
                self.send_header("tdm-policy", self._absolute_url(rule.policy))

    def _absolute_url(self, path: str) -> str:
        """``path`` on this server, under the host name the client used when it is sane."""
        host = self.headers.get("Host", "") if self.headers is not None else ""
        if host and _HOST_RE.fullmatch(host):
            return f"http://{host}{path}"
        return self.server.demo.absolute_url(path)

    def _send_body(self, status, data: bytes, ctype: str, url_path: str, head: bool, *, mtime: float, fs_path=None, stat=None) -> None:
        demo = self.server.demo
        encoding = None
        if demo.gzip and ctype.startswith(_TEXT_TYPES) and accepts_gzip(self.headers.get("Accept-Encoding")):
            data = demo._gzipped(fs_path, stat, data) if fs_path is not None else gzip_module.compress(data, 6, mtime=0)
            encoding = "gzip"
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        if encoding:
            self.send_header("Content-Encoding", encoding)
        self._common_headers(url_path, mtime, ctype)
        self.end_headers()
        if not head:
            self.wfile.write(data)

    def _send_simple(self, status: HTTPStatus, head: bool) -> None:
        body = f"{status.value} {status.phrase}\n".encode("ascii")
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not head:
            self.wfile.write(body)


class DemoServer:
    """Serves DEMO_SITE_ROOT (or another root) on host:port (port 0 = a free port). Thread-safe request log."""

    def __init__(
        self,
        root: Path = DEMO_SITE_ROOT,
        host: str = "127.0.0.1",
        port: int = 0,
        request_log_path: Path | None = None,
        quiet: bool = True,
        *,
        gzip: bool = True,
        tdm_rules: tuple[TdmRule, ...] = TDM_RULES,
    ) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise FileNotFoundError(f"site root {self.root} is not a directory")
        self.host = host
        self.port = port
        self.request_log_path = Path(request_log_path) if request_log_path is not None else None
        self.quiet = quiet
        self.gzip = gzip
        self.tdm_rules = tuple(tdm_rules)
        self.started_at = time.time()
        self._lock = threading.Lock()
        self._log: list[RequestLogEntry] = []
        self._log_file = None
        self._cache: dict[tuple[Path, int, int], tuple[bytes, str]] = {}
        self._gz_cache: dict[tuple[Path, int, int], bytes] = {}
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._base_url: str | None = None

    # --- lifecycle -------------------------------------------------------------------------
    def start(self) -> str:
        """Start serving in a daemon thread; returns the base URL like 'http://127.0.0.1:PORT'."""
        if self._httpd is not None:
            raise RuntimeError("DemoServer already started")
        if self.request_log_path is not None:
            self.request_log_path.parent.mkdir(parents=True, exist_ok=True)
            self._log_file = open(self.request_log_path, "a", encoding="utf-8")
        httpd = _HTTPServer((self.host, self.port), _Handler)
        httpd.demo = self
        self._httpd = httpd
        host, port = httpd.server_address[:2]
        self.port = port
        shown = f"[{host}]" if ":" in host else host
        self._base_url = f"http://{shown}:{port}"
        self.started_at = time.time()
        self._thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.1}, name=f"demo-server-{port}", daemon=True)
        self._thread.start()
        return self._base_url

    def stop(self) -> None:
        httpd, self._httpd = self._httpd, None
        if httpd is not None:
            httpd.shutdown()
            httpd.server_close()
            httpd.close_connections()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        with self._lock:
            if self._log_file is not None:
                self._log_file.close()
                self._log_file = None

    def __enter__(self) -> DemoServer:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    # --- state -----------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        if self._base_url is None:
            raise RuntimeError("DemoServer not started")
        return self._base_url

    @property
    def requests(self) -> list[RequestLogEntry]:
        """A copy of the request log so far."""
        with self._lock:
            return list(self._log)

    def absolute_url(self, path: str) -> str:
        return self.base_url + path

    def tdmrep_json(self, base_url: str | None = None) -> list[dict]:
        """The TDM rules as a TDMRep /.well-known/tdmrep.json document (policies absolute on base_url)."""
        base = base_url if base_url is not None else self.base_url
        out = []
        for rule in self.tdm_rules:
            item: dict = {"location": rule.prefix + "*", "tdm-reservation": rule.reservation}
            if rule.policy:
                item["tdm-policy"] = base + rule.policy
            out.append(item)
        return out

    # --- internals -------------------------------------------------------------------------
    def _record(self, entry: RequestLogEntry) -> None:
        with self._lock:
            self._log.append(entry)
            if self._log_file is not None:
                self._log_file.write(json.dumps(asdict(entry), ensure_ascii=False) + "\n")
                self._log_file.flush()

    def _load(self, fs_path: Path, stat) -> tuple[bytes, str]:
        key = (fs_path, stat.st_mtime_ns, stat.st_size)
        with self._lock:
            hit = self._cache.get(key)
        if hit is not None:
            return hit
        data = fs_path.read_bytes()
        result = (data, content_type_for(fs_path, data))
        with self._lock:
            self._cache[key] = result
        return result

    def _gzipped(self, fs_path: Path, stat, data: bytes) -> bytes:
        key = (fs_path, stat.st_mtime_ns, stat.st_size)
        with self._lock:
            hit = self._gz_cache.get(key)
        if hit is not None:
            return hit
        gz = gzip_module.compress(data, 6, mtime=0)
        with self._lock:
            self._gz_cache[key] = gz
        return gz


def serve_forever(
    host: str = "127.0.0.1",
    port: int = 0,
    request_log_path: Path | None = None,
    on_ready: Callable[[str], None] | None = None,
    *,
    root: Path = DEMO_SITE_ROOT,
    quiet: bool = True,
    gzip: bool = True,
) -> None:
    """Blocking: serve until KeyboardInterrupt; calls on_ready(base_url) once listening."""
    server = DemoServer(root, host, port, request_log_path, quiet, gzip=gzip)
    base_url = server.start()
    stop = threading.Event()
    try:
        if on_ready is not None:
            on_ready(base_url)
        while not stop.wait(1.0):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


if __name__ == "__main__":  # python -m pipeline.demo_server [PORT]
    serve_forever(
        port=int(sys.argv[1]) if len(sys.argv) > 1 else 0,
        on_ready=lambda url: print(f"demo site at {url}/", flush=True),
        quiet=False,
    )
