"""Reading documents out of WARC/ARC files that anyone wrote (Ernte, Common Crawl, Heritrix, wget,
Browsertrix), robustly.

- Every response record with a 2xx HTML payload is a document; revisit records become documents
  too when their original is in the same file or in a given digest index (an Ernte fetch log).
- HTML is recognised by the HTTP Content-Type, then WARC-Identified-Payload-Type, then by
  sniffing the first bytes, XHTML included (no libmagic).
- Bodies are decoded from chunked transfer and content encodings by warcio, read with a size
  cap (a gzip bomb never inflates past it), and turned into text by the charset of the headers,
  then `<meta>`, then a BOM, then UTF-8, then detection.
- A corrupt record or truncated gzip member is skipped with its reason and reading resumes at
  the next record boundary, so one bad record never loses the rest of a file.
- A record-gzipped WARC can be read in byte ranges (`start`, `end`): a range holds the records
  whose gzip member starts inside it, so the ranges of a file, read one by one or in parallel,
  yield each record exactly once. Revisits whose original lies before the range are resolved
  from an index of the file's earlier records, built when the first such revisit turns up.
"""

from __future__ import annotations

import codecs
import gzip
import hashlib
import re
import zlib
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator
from urllib.parse import urlsplit

from warcio.archiveiterator import ArchiveIterator

from crawlers.tdmrep import MAX_TDMREP_BYTES, TDMREP_PATH

GZIP_MAGIC = b"\x1f\x8b\x08"
HTML_TYPES = ("text/html", "application/xhtml+xml", "application/vnd.wap.xhtml+xml")
# Content types that say nothing about the payload: the body is sniffed instead.
UNINFORMATIVE_TYPES = ("application/octet-stream", "text/plain", "unknown/unknown", "application/unknown")
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.IGNORECASE)
_SNIFF_HTML = re.compile(rb"<!doctype\s+html|<html[\s>]|<head[\s>]|<body[\s>]|<title[\s>]", re.IGNORECASE)


class NotAnArchiveError(Exception):
    """The file is not WARC or ARC (gzipped or not)."""


@dataclass(frozen=True)
class HtmlDocument:
    doc_id: str  # stable: derived from the WARC record id (or the ARC file and offset)
    url: str
    warc_file: str
    warc_offset: int
    warc_record_id: str
    record_type: str  # response | revisit
    payload_digest: str | None
    http_status: int | None
    content_type: str | None
    fetched_at: datetime | None
    html: str
    charset: str
    decode_errors: int  # bytes that could not be decoded with the chosen charset
    body_bytes: int
    response_headers: dict[str, str]  # lower-case names; only the first value of repeated headers


@dataclass(frozen=True)
class Skipped:
    """An HTML record that yields no document, and why (a provenance row with this drop reason),
    or a corrupt stretch of the file (doc_id None: counted in the manifest only)."""

    reason: str  # too_large, empty_body, revisit_unresolved, corrupt_record
    detail: str | None = None
    doc_id: str | None = None
    url: str | None = None
    warc_file: str | None = None
    warc_offset: int | None = None
    warc_record_id: str | None = None
    record_type: str | None = None
    payload_digest: str | None = None
    http_status: int | None = None
    content_type: str | None = None
    fetched_at: datetime | None = None


def sniff_archive(path: Path) -> str:
    """'warc' or 'arc' (gzipped or not); raises NotAnArchiveError otherwise."""
    with open(path, "rb") as fh:
        head = fh.read(64)
    if head.startswith(GZIP_MAGIC[:2]):
        try:
            with gzip.open(path, "rb") as gz:
                head = gz.read(64)
        except (OSError, EOFError) as exc:
            raise NotAnArchiveError(f"{path}: gzip data that cannot be read ({exc})") from None
    if head.startswith(b"WARC/"):
        return "warc"
    if head.startswith(b"filedesc://"):
        return "arc"
    raise NotAnArchiveError(f"{path}: not a WARC or ARC file (starts with {head[:16]!r})")


def doc_id_for(record_id: str) -> str:
    return hashlib.sha256(record_id.encode("utf-8")).hexdigest()[:24]


def media_type(value: str | None) -> str:
    return (value or "").split(";", 1)[0].strip().lower()


def charset_param(content_type: str | None) -> str | None:
    for part in (content_type or "").split(";")[1:]:
        key, _, value = part.partition("=")
        if key.strip().lower() == "charset" and value.strip():
            return value.strip().strip("\"'").lower()
    return None


def is_html(http_type: str | None, identified_type: str | None, head: bytes) -> bool:
    declared = media_type(http_type)
    if declared in HTML_TYPES:
        return True
    if declared and declared not in UNINFORMATIVE_TYPES:
        return False
    if media_type(identified_type) in HTML_TYPES:
        return True
    return bool(_SNIFF_HTML.search(head[:2048]))


def _known_codec(name: str | None) -> str | None:
    if not name:
        return None
    try:
        return codecs.lookup(name).name
    except LookupError:
        return None


def decode_html(body: bytes, content_type: str | None) -> tuple[str, str, int]:
    """(text, charset used, number of undecodable bytes). Never raises."""
    candidates = [charset_param(content_type)]
    meta = _META_CHARSET.search(body[:4096])
    candidates.append(meta.group(1).decode("ascii", "replace") if meta else None)
    if body.startswith(codecs.BOM_UTF8):
        candidates.insert(0, "utf-8-sig")
    elif body.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        candidates.insert(0, "utf-16")
    for name in candidates:
        codec = _known_codec(name)
        if codec is None:
            continue
        if codec in ("latin-1", "iso8859-1", "ascii"):
            codec = "cp1252"  # what browsers do with these labels
        return _decode_counting(body, codec)
    try:
        return body.decode("utf-8"), "utf-8", 0
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    best = from_bytes(body[:65536]).best()
    return _decode_counting(body, best.encoding if best else "cp1252")


def _decode_counting(body: bytes, codec: str) -> tuple[str, str, int]:
    errors = 0

    def count(exc: UnicodeDecodeError):
        nonlocal errors
        errors += exc.end - exc.start
        return ("\ufffd", exc.end)

    name = f"ernte-count-{id(count)}"
    codecs.register_error(name, count)
    return body.decode(codec, errors=name), codec, errors


def _warc_date(value: str | None) -> datetime | None:
    if not value:
        return None
    text = value.strip()
    try:
        if len(text) == 14 and text.isdigit():  # ARC dates: YYYYMMDDhhmmss
            return datetime.strptime(text, "%Y%m%d%H%M%S").replace(tzinfo=timezone.utc)
        return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(timezone.utc)
    except ValueError:
        return None


@dataclass(frozen=True)
class OriginalRef:
    """Where a payload can be read: for revisit records whose original is in another file."""

    path: Path
    offset: int


def is_warc_member_start(fh, position: int) -> bool:
    """Whether a gzip member holding a WARC record starts at `position` (not merely the three
    magic bytes, which compressed data contains by chance about once every 16 MiB)."""
    fh.seek(position)
    data = fh.read(4096)
    if not data.startswith(GZIP_MAGIC):
        return False
    try:
        head = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(data, 8)
    except zlib.error:
        return False
    return head.startswith(b"WARC/")


def splittable(path: Path) -> bool:
    """Record-gzipped WARC files can be read in byte ranges (ARC and uncompressed files cannot:
    a record boundary there cannot be told from the same bytes inside a payload)."""
    if sniff_archive(path) != "warc":
        return False
    with open(path, "rb") as fh:
        return fh.read(3) == GZIP_MAGIC


def byte_ranges(size: int, range_bytes: int) -> list[tuple[int, int | None]]:
    """[start, end) ranges of about `range_bytes` covering a file of `size` bytes; the last is open."""
    count = max(1, -(-size // range_bytes))
    return [(i * range_bytes, (i + 1) * range_bytes if i < count - 1 else None) for i in range(count)]


class WarcDocumentReader:
    """Iterates one WARC/ARC file (or the byte range [start, end) of a record-gzipped WARC),
    yielding HtmlDocument or Skipped; counts everything in `counts`."""

    def __init__(
        self,
        path: Path,
        max_body_bytes: int = 10 * 1024 * 1024,
        originals: dict[str, OriginalRef] | None = None,
        start: int = 0,
        end: int | None = None,
    ):
        self.path = Path(path)
        self.kind = sniff_archive(self.path)
        with open(self.path, "rb") as fh:
            self.compressed = fh.read(2) == GZIP_MAGIC[:2]
        if (start or end is not None) and not splittable(self.path):
            raise ValueError(f"{self.path}: only record-gzipped WARC files can be read in byte ranges")
        self.start, self.end = start, end
        self.max_body_bytes = max_body_bytes
        self.external_originals = originals or {}
        self.counts: Counter[str] = Counter()
        self.errors: list[str] = []  # first few corruption reasons, for the manifest
        self._by_digest: dict[str, int] = {}
        self._by_record_id: dict[str, int] = {}
        self._prefix_indexed = start == 0
        self.tdmrep_files: dict[str, dict] = {}  # host -> the newest archived tdmrep.json (date, status, body, url)

    def _in_range(self, position: int | None) -> bool:
        return position is not None and (self.end is None or position < self.end)

    def __iter__(self) -> Iterator[HtmlDocument | Skipped]:
        with open(self.path, "rb") as fh:
            start = self.start if self.start == 0 else self._next_boundary(self.start)
            while self._in_range(start):
                fh.seek(start)
                iterator = ArchiveIterator(fh, arc2warc=True, ensure_http_headers=False)
                last_end = start
                try:
                    for record in iterator:
                        offset = iterator.offset
                        if not self._in_range(offset):
                            return  # the next range's first record
                        item = self._document(record, offset, fh)
                        iterator.read_to_end(record)
                        last_end = iterator.get_record_offset() + iterator.get_record_length()
                        self.counts["records"] += 1
                        if item is not None:
                            yield item
                    start = None
                except Exception as exc:  # corrupt record or truncated member: skip to the next boundary
                    self.counts["corrupt_records"] += 1
                    if len(self.errors) < 20:
                        self.errors.append(f"{self.path.name} @ {last_end}: {type(exc).__name__}: {str(exc)[:200]}")
                    yield Skipped("corrupt_record", f"{type(exc).__name__} at offset {last_end}", warc_file=self.path.name, warc_offset=last_end)
                    start = self._next_boundary(last_end + 1)

    def _next_boundary(self, position: int) -> int | None:
        """The first record boundary at or after `position`; None at the end of the file (or of
        the range)."""
        marker = GZIP_MAGIC if self.compressed else (b"WARC/1." if self.kind == "warc" else b"\n\n")
        verify = self.compressed and self.kind == "warc"
        with open(self.path, "rb") as fh, open(self.path, "rb") as probe:
            fh.seek(position)
            window = 1 << 20
            carry = b""
            base = position
            while self._in_range(base - len(carry)):
                chunk = fh.read(window)
                if not chunk:
                    return None
                data = carry + chunk
                found = data.find(marker)
                while found >= 0:
                    candidate = base - len(carry) + found + (2 if marker == b"\n\n" else 0)
                    if not verify or is_warc_member_start(probe, candidate):
                        return candidate
                    found = data.find(marker, found + 1)
                carry = data[-(len(marker) - 1) :]
                base += len(chunk)
            return None

    def _index_prefix(self) -> None:
        """Index the response records before this range, for revisits that refer back to them.
        An earlier record wins over one in the range, as when the whole file is read."""
        self._prefix_indexed = True
        prefix = WarcDocumentReader(self.path, self.max_body_bytes, start=0, end=self.start)
        by_digest: dict[str, int] = {}
        by_record_id: dict[str, int] = {}
        with open(self.path, "rb") as fh:
            position: int | None = 0
            while prefix._in_range(position):
                fh.seek(position)
                iterator = ArchiveIterator(fh, arc2warc=True, ensure_http_headers=False)
                last_end = position
                position = None
                try:
                    for record in iterator:
                        if not prefix._in_range(iterator.offset):
                            break
                        if record.rec_type == "response":
                            headers = record.rec_headers
                            digest = headers.get_header("WARC-Payload-Digest")
                            if digest:
                                by_digest.setdefault(digest, iterator.offset)
                            record_id = headers.get_header("WARC-Record-ID")
                            if record_id:
                                by_record_id[record_id] = iterator.offset
                        iterator.read_to_end(record)
                        last_end = iterator.get_record_offset() + iterator.get_record_length()
                except Exception:  # a corrupt stretch, skipped as the reading pass skips it
                    position = prefix._next_boundary(last_end + 1)
        self._by_digest.update(by_digest)
        self._by_record_id.update(by_record_id)

    def _document(self, record, offset: int, fh) -> HtmlDocument | Skipped | None:
        rec_type = record.rec_type
        headers = record.rec_headers
        url = headers.get_header("WARC-Target-URI")
        if rec_type not in ("response", "revisit"):
            self.counts[f"skipped_{rec_type or 'unknown'}"] += 1
            return None
        record_id = headers.get_header("WARC-Record-ID") or f"<{self.path.name}#{offset}>"
        digest = headers.get_header("WARC-Payload-Digest")
        if rec_type == "response":
            if digest:
                self._by_digest.setdefault(digest, offset)
            self._by_record_id[record_id] = offset
            return self._from_response(record, offset, record_id, url, digest, rec_type)
        # A revisit: read the original's body, keep this record's identity and time.
        if not self._prefix_indexed:
            self._index_prefix()
        original = self._by_record_id.get(headers.get_header("WARC-Refers-To") or "")
        if original is None and digest:
            original = self._by_digest.get(digest)
        if original is not None:
            source = self._read_original(self.path, original)
        elif digest in self.external_originals:
            ref = self.external_originals[digest]
            source = self._read_original(ref.path, ref.offset)
        else:
            source = None
        if source is None:
            self.counts["revisit_unresolved"] += 1
            return self._skipped("revisit_unresolved", "original not in the input", offset, record_id, url, rec_type, headers, record.http_headers, None)
        self.counts["revisit_resolved"] += 1
        status = record.http_headers.get_statuscode() if record.http_headers else None
        return self._build(source, offset, record_id, url, digest, rec_type, record_headers=headers, http_status_override=status)

    def _keep_tdmrep(self, record, url: str, http) -> None:
        """An archived /.well-known/tdmrep.json: kept for the documents of its host (applied at
        output time, after every file is read, since the file may come after the pages)."""
        try:
            status = int(http.get_statuscode())
        except (TypeError, ValueError):
            status = 0
        body = record.content_stream().read(MAX_TDMREP_BYTES)
        host = (urlsplit(url).hostname or "").lower()
        date = record.rec_headers.get_header("WARC-Date") or ""
        if host and date >= self.tdmrep_files.get(host, {}).get("date", ""):
            self.tdmrep_files[host] = {"date": date, "status": status, "body": body.decode("utf-8", "replace"), "url": url}
        self.counts["tdmrep_json"] += 1

    def _read_original(self, path: Path, offset: int):
        with open(path, "rb") as fh:
            fh.seek(offset)
            for record in ArchiveIterator(fh, arc2warc=True):
                return self._payload(record)
        return None

    def _payload(self, record):
        http = record.http_headers
        body = record.content_stream().read(self.max_body_bytes + 1)
        return http, body

    def _from_response(self, record, offset, record_id, url, digest, rec_type):
        http = record.http_headers
        if http is None:
            self.counts["skipped_no_http"] += 1
            return None
        if url and urlsplit(url).path == TDMREP_PATH:
            self._keep_tdmrep(record, url, http)
            return None
        status = http.get_statuscode()
        try:
            status_code = int(status)
        except (TypeError, ValueError):
            status_code = None
        if status_code is None or not 200 <= status_code < 300:
            self.counts["skipped_http_status"] += 1
            return None
        http_type = http.get_header("Content-Type")
        declared = media_type(http_type)
        if declared and declared not in HTML_TYPES and declared not in UNINFORMATIVE_TYPES:
            self.counts["skipped_not_html"] += 1  # decided without reading the body
            return None
        return self._build((http, record.content_stream().read(self.max_body_bytes + 1)), offset, record_id, url, digest, rec_type, record_headers=record.rec_headers)

    def _build(self, source, offset, record_id, url, digest, rec_type, record_headers, http_status_override=None):
        http, body = source
        http_type = http.get_header("Content-Type") if http else None
        identified = record_headers.get_header("WARC-Identified-Payload-Type")
        status = http_status_override or (http.get_statuscode() if http else None)
        try:
            status_code = int(status) if status is not None else None
        except ValueError:
            status_code = None
        if not is_html(http_type, identified, body[:2048]):
            self.counts["skipped_not_html"] += 1
            return None
        if len(body) > self.max_body_bytes:
            self.counts["too_large"] += 1
            return self._skipped("too_large", f"body > {self.max_body_bytes} B after decoding", offset, record_id, url, rec_type, record_headers, http, status_code)
        if not body.strip():
            self.counts["empty_body"] += 1
            return self._skipped("empty_body", None, offset, record_id, url, rec_type, record_headers, http, status_code)
        html, charset, errors = decode_html(body, http_type)
        self.counts["html_documents"] += 1
        response_headers = {}
        if http:
            for name, value in http.headers:
                # A repeated header is one comma-separated list (RFC 9110 5.3): a second Link or
                # X-Robots-Tag header must not be lost.
                key = name.lower()
                response_headers[key] = f"{response_headers[key]}, {value}" if key in response_headers and key != "set-cookie" else value
        return HtmlDocument(
            doc_id=doc_id_for(record_id),
            url=url or "",
            warc_file=self.path.name,
            warc_offset=offset,
            warc_record_id=record_id,
            record_type=rec_type,
            payload_digest=record_headers.get_header("WARC-Payload-Digest"),
            http_status=status_code,
            content_type=http_type,
            fetched_at=_warc_date(record_headers.get_header("WARC-Date")),
            html=html,
            charset=charset,
            decode_errors=errors,
            body_bytes=len(body),
            response_headers=response_headers,
        )

    def _skipped(self, reason, detail, offset, record_id, url, rec_type, record_headers, http, status_code) -> Skipped:
        return Skipped(
            reason,
            detail,
            doc_id=doc_id_for(record_id),
            url=url or "",
            warc_file=self.path.name,
            warc_offset=offset,
            warc_record_id=record_id,
            record_type=rec_type,
            payload_digest=record_headers.get_header("WARC-Payload-Digest"),
            http_status=status_code,
            content_type=http.get_header("Content-Type") if http else None,
            fetched_at=_warc_date(record_headers.get_header("WARC-Date")),
        )
