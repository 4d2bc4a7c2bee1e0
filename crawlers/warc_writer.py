"""WARC/1.1 archiving of every capture, through warcio.

One gzip member per record (so any record can be read from its offset alone), files rotated at a
size limit and named PREFIX-TIMESTAMP-SERIAL.warc.gz, a warcinfo record first in every file, and
request / response / metadata records per fetch linked by WARC-Concurrent-To. A payload seen
before is written as a revisit record (identical-payload-digest profile) instead of a second copy.

After every fetch the file is flushed, so a killed crawler leaves at worst one incomplete record
at the end of one file; `repair_truncated_warc` cuts that tail off before a resumed crawl writes on.
"""

from __future__ import annotations

import base64
import hashlib
import os
import zlib
from dataclasses import dataclass
from datetime import datetime, timezone
from io import BytesIO
from pathlib import Path

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

WARC_VERSION = "WARC/1.1"
# Hop-by-hop framing that Scrapy has already undone: the archived body is de-chunked, so the
# header that announced chunking would make the archived message unparseable.
_FRAMING_HEADERS = {b"transfer-encoding"}


def payload_digest(body: bytes) -> str:
    """WARC-Payload-Digest value: sha1 of the entity body (transfer decoding undone), base32."""
    return "sha1:" + base64.b32encode(hashlib.sha1(body).digest()).decode("ascii")


def warc_date(epoch_s: float) -> str:
    """WARC 1.1 date with microseconds, UTC."""
    return datetime.fromtimestamp(epoch_s, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True)
class Capture:
    """One HTTP exchange as received, ready to archive."""

    url: str
    method: str
    request_target: str  # path?query as sent on the request line
    request_headers: list[tuple[str, str]]
    protocol: str  # e.g. HTTP/1.1
    status: int
    reason: str
    response_headers: list[tuple[bytes, bytes]]
    body: bytes  # entity body after transfer decoding, content-encoding intact
    started_at: float  # epoch seconds when the request was sent
    finished_at: float
    ip_address: str | None
    metadata: dict[str, str]  # extra fields for the metadata record
    truncated: str | None = None  # WARC-Truncated reason when the body was not received whole


@dataclass(frozen=True)
class ArchivedRecord:
    warc_file: str
    offset: int
    length: int
    record_id: str
    record_type: str  # response | revisit
    payload_digest: str
    date: str = ""  # its WARC-Date (a later revisit's WARC-Refers-To-Date)


@dataclass(frozen=True)
class OriginalCapture:
    """Where an identical payload was first archived (revisit target)."""

    url: str
    date: str
    record_id: str


class WarcWriter:
    """Writes captures into rotating WARC files in a directory. Not thread-safe (Scrapy runs one reactor thread)."""

    def __init__(self, directory: Path, prefix: str, max_bytes: int, warcinfo: dict[str, str], revisit_duplicates: bool = True):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.prefix = prefix
        self.max_bytes = max_bytes
        self.warcinfo = warcinfo
        self.revisit_duplicates = revisit_duplicates
        self.originals: dict[str, OriginalCapture] = {}
        self._serial = self._next_free_serial()
        self._fh = None
        self._writer: WARCWriter | None = None
        self._name = ""
        self.files_written: list[str] = []

    def _next_free_serial(self) -> int:
        serials = [int(p.name.split("-")[-1].split(".")[0]) for p in self.directory.glob(f"{self.prefix}-*-*.warc.gz")]
        return max(serials, default=-1) + 1

    def remember_original(self, digest: str, original: OriginalCapture) -> None:
        """Register a payload archived in an earlier session (resume), so repeats become revisits."""
        self.originals.setdefault(digest, original)

    # -- files ---------------------------------------------------------------------------------
    def _open(self) -> None:
        stamp = datetime.now(timezone.utc).strftime("%Y%m%d%H%M%S%f")[:17]
        self._name = f"{self.prefix}-{stamp}-{self._serial:05d}.warc.gz"
        self._serial += 1
        self._fh = open(self.directory / self._name, "xb")
        self._writer = WARCWriter(self._fh, gzip=True, warc_version=WARC_VERSION)
        self._writer.write_record(self._writer.create_warcinfo_record(self._name, self.warcinfo))
        self._fh.flush()
        self.files_written.append(self._name)

    def _rotate_if_needed(self) -> None:
        if self._fh is None:
            self._open()
        elif self._fh.tell() >= self.max_bytes:
            self.close()
            self._open()

    def close(self) -> None:
        if self._fh is not None:
            self._fh.flush()
            os.fsync(self._fh.fileno())
            self._fh.close()
            self._fh = None
            self._writer = None

    def _write(self, record) -> tuple[int, int]:
        offset = self._fh.tell()
        self._writer.write_record(record)
        return offset, self._fh.tell() - offset

    # -- records -------------------------------------------------------------------------------
    def archive(self, capture: Capture) -> ArchivedRecord:
        """Archive one exchange: response (or revisit), then request and metadata records."""
        self._rotate_if_needed()
        w = self._writer
        digest = payload_digest(capture.body)
        date = warc_date(capture.started_at)
        http_headers = StatusAndHeaders(
            f"{capture.status} {capture.reason}".strip(),
            [(k.decode("latin-1"), v.decode("latin-1")) for k, v in capture.response_headers if k.lower() not in _FRAMING_HEADERS],
            protocol=capture.protocol,
        )
        common = {"WARC-Date": date}
        if capture.ip_address:
            common["WARC-IP-Address"] = capture.ip_address
        if capture.truncated:
            common["WARC-Truncated"] = capture.truncated

        # A truncated body is not the payload: it is never a revisit, nor the original of one.
        original = self.originals.get(digest) if self.revisit_duplicates and not capture.truncated else None
        if original is not None:
            main = w.create_revisit_record(
                capture.url,
                digest,
                original.url,
                original.date,
                http_headers=http_headers,
                warc_headers_dict={**common, "WARC-Refers-To": original.record_id},
            )
            record_type = "revisit"
        else:
            main = w.create_warc_record(
                capture.url,
                "response",
                payload=BytesIO(capture.body),
                length=len(capture.body),
                http_headers=http_headers,
                warc_headers_dict={**common, "WARC-Payload-Digest": digest},
            )
            record_type = "response"
        record_id = main.rec_headers.get_header("WARC-Record-ID")
        offset, length = self._write(main)
        if record_type == "response" and not capture.truncated:
            self.originals.setdefault(digest, OriginalCapture(capture.url, date, record_id))

        # is_http_request: warcio takes the method off the front of this line (its 'protocol'
        # argument would be overwritten), so the HTTP version must be part of the line itself.
        request_head = StatusAndHeaders(f"{capture.method} {capture.request_target} {capture.protocol}", capture.request_headers, is_http_request=True)
        request = w.create_warc_record(
            capture.url,
            "request",
            payload=BytesIO(b""),
            length=0,
            http_headers=request_head,
            warc_headers_dict={"WARC-Date": date, "WARC-Concurrent-To": record_id},
        )
        self._write(request)

        fields = {"fetchTimeMs": f"{(capture.finished_at - capture.started_at) * 1000:.0f}", **capture.metadata}
        block = "".join(f"{k}: {v}\r\n" for k, v in fields.items() if v not in (None, "")).encode("utf-8")
        metadata = w.create_warc_record(
            capture.url,
            "metadata",
            payload=BytesIO(block),
            length=len(block),
            warc_content_type="application/warc-fields",
            warc_headers_dict={"WARC-Date": date, "WARC-Concurrent-To": record_id},
        )
        self._write(metadata)
        self._fh.flush()  # a completed fetch survives kill -9 of the crawler process
        return ArchivedRecord(self._name, offset, length, record_id, record_type, digest, date)


def _complete_members_end(fh) -> int:
    """Offset where the run of complete gzip members at the start of fh ends.

    Every record is its own gzip member, written compressed as it goes and closed by the gzip
    trailer, so a member is complete exactly when its record is. (warcio's ArchiveIterator reads
    a torn last member without complaint, as a record with a short block.)"""
    end = pos = 0
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    buf = b""
    while True:
        if not buf:
            buf = fh.read(1 << 16)  # small reads keep the (discarded) inflated output small
            if not buf:
                return end
        try:
            inflater.decompress(buf)
        except zlib.error:
            return end  # not gzip from here on: garbage after the last complete record
        if inflater.eof:
            pos += len(buf) - len(inflater.unused_data)
            end, buf = pos, inflater.unused_data
            inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        else:
            pos += len(buf)
            buf = b""


def repair_truncated_warc(path: Path) -> int:
    """Cut an interrupted WARC file back to its last complete record; returns bytes removed."""
    size = path.stat().st_size
    with open(path, "rb") as fh:
        good_end = _complete_members_end(fh)
    if good_end < size:
        with open(path, "r+b") as fh:
            fh.truncate(good_end)
            fh.flush()
            os.fsync(fh.fileno())
    return size - good_end
