"""Reading documents from WARC/ARC files written by anyone, including broken ones."""

import gzip
import io
from pathlib import Path

import pytest
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from pipeline.warc_input import HtmlDocument, NotAnArchiveError, Skipped, WarcDocumentReader, decode_html, is_html

PAGE = "<html><head><title>T</title></head><body><p>Grüße aus Köln, ein Absatz.</p></body></html>"


def _write_warc(path: Path, records, gzip_records=True, version="WARC/1.0"):
    """records: (url, body bytes, content_type, extra http headers, record type). Record ids and
    dates are fixed, so the bytes (and what a corruption test breaks) are the same every run."""
    with open(path, "wb") as fh:
        writer = WARCWriter(fh, gzip=gzip_records, warc_version=version)
        for n, (url, body, ctype, extra, rtype) in enumerate(records):
            fixed = {"WARC-Record-ID": f"<urn:uuid:00000000-0000-4000-8000-{n:012d}>", "WARC-Date": f"2024-01-01T00:00:{n % 60:02d}Z"}
            headers = [("Content-Type", ctype)] if ctype else []
            headers += extra
            http = StatusAndHeaders("200 OK", headers, protocol="HTTP/1.1")
            if rtype == "revisit":
                from warcio.utils import Digester

                d = Digester("sha1")
                d.update(body)
                rec = writer.create_revisit_record(url, str(d), "http://x/orig", "2020-01-01T00:00:00Z", http_headers=http)
                rec.rec_headers.replace_header("WARC-Record-ID", fixed["WARC-Record-ID"])
                rec.rec_headers.replace_header("WARC-Date", fixed["WARC-Date"])
            else:
                rec = writer.create_warc_record(url, "response", payload=io.BytesIO(body), length=len(body), http_headers=http, warc_headers_dict=dict(fixed))
            writer.write_record(rec)
    return path


def _docs(path, **kw):
    reader = WarcDocumentReader(path, **kw)
    items = list(reader)
    return reader, [i for i in items if isinstance(i, HtmlDocument)], [i for i in items if isinstance(i, Skipped)]


def test_html_xhtml_sniffed_and_non_html_skipped(tmp_path):
    xhtml = b'<?xml version="1.0" encoding="utf-8"?>\n<html xmlns="http://www.w3.org/1999/xhtml"><body><p>x</p></body></html>'
    path = _write_warc(
        tmp_path / "a.warc.gz",
        [
            ("http://h/1", PAGE.encode(), "text/html; charset=utf-8", [], "response"),
            ("http://h/2", xhtml, "application/xhtml+xml", [], "response"),
            ("http://h/3", PAGE.encode(), None, [], "response"),  # no Content-Type: sniffed
            ("http://h/4", b"\x89PNG....", "image/png", [], "response"),
            ("http://h/5", PAGE.encode(), "application/octet-stream", [], "response"),
        ],
    )
    reader, docs, _ = _docs(path)
    assert [d.url for d in docs] == ["http://h/1", "http://h/2", "http://h/3", "http://h/5"]
    assert reader.counts["skipped_not_html"] == 1
    assert docs[0].html == PAGE and docs[0].charset == "utf-8"
    assert len({d.doc_id for d in docs}) == 4


def test_charsets_from_header_meta_and_detection():
    latin = PAGE.encode("cp1252")
    assert decode_html(latin, "text/html; charset=iso-8859-1")[0] == PAGE
    meta = b'<html><head><meta charset="windows-1252"></head><body>' + "Grüße".encode("cp1252") + b"</body></html>"
    assert "Grüße" in decode_html(meta, "text/html")[0]
    text, charset, errors = decode_html(b"<p>ok \xff\xfe broken</p>", "text/html; charset=utf-8")
    assert errors == 2 and "\ufffd" in text and charset == "utf-8"
    assert is_html(None, None, b"  <!DOCTYPE html><html>") and not is_html("image/png", None, b"<html>")


def test_content_encoding_decoded_and_size_capped(tmp_path):
    body = gzip.compress(PAGE.encode())
    bomb = gzip.compress(b"<html>" + b" " * (3 * 1024 * 1024))
    path = _write_warc(
        tmp_path / "b.warc.gz",
        [
            ("http://h/gz", body, "text/html", [("Content-Encoding", "gzip")], "response"),
            ("http://h/bomb", bomb, "text/html", [("Content-Encoding", "gzip")], "response"),
            ("http://h/empty", b"   ", "text/html", [], "response"),
        ],
    )
    reader, docs, skipped = _docs(path, max_body_bytes=1024 * 1024)
    assert [d.url for d in docs] == ["http://h/gz"] and docs[0].html == PAGE
    assert {s.reason for s in skipped} == {"too_large", "empty_body"}
    assert all(s.doc_id for s in skipped)


def test_revisit_resolved_to_original_in_same_file(tmp_path):
    path = _write_warc(
        tmp_path / "c.warc.gz",
        [("http://h/orig", PAGE.encode(), "text/html", [], "response"), ("http://h/copy", PAGE.encode(), "text/html", [], "revisit")],
        version="WARC/1.1",
    )
    reader, docs, _ = _docs(path)
    assert [d.record_type for d in docs] == ["response", "revisit"]
    assert docs[1].html == PAGE and docs[1].url == "http://h/copy"
    assert reader.counts["revisit_resolved"] == 1


def test_unresolvable_revisit_is_recorded(tmp_path):
    path = _write_warc(tmp_path / "d.warc.gz", [("http://h/copy", PAGE.encode(), "text/html", [], "revisit")])
    _, docs, skipped = _docs(path)
    assert not docs and [s.reason for s in skipped] == ["revisit_unresolved"]


@pytest.mark.parametrize("compressed", [True, False])
def test_corrupt_record_skipped_rest_of_file_read(tmp_path, compressed):
    records = [(f"http://h/{i}", PAGE.replace("Köln", f"Köln {i}").encode(), "text/html", [], "response") for i in range(6)]
    path = _write_warc(tmp_path / ("e.warc.gz" if compressed else "e.warc"), records, gzip_records=compressed)
    data = bytearray(path.read_bytes())
    third = data.find(b"http://h/2") if not compressed else None
    if compressed:
        # Destroy the compressed data of the third record's gzip member (its header survives).
        members = [i for i in range(len(data)) if data[i : i + 3] == b"\x1f\x8b\x08"]
        start = members[2] + 12
        data[start : start + 60] = b"\xff" * 60
    else:
        data[third - 200 : third] = b"X" * 200  # breaks the WARC header of record 2
    path.write_bytes(bytes(data))
    reader, docs, skipped = _docs(path)
    assert any(s.reason == "corrupt_record" for s in skipped)
    assert 4 <= len(docs) < 6
    assert "http://h/5" in {d.url for d in docs}  # records after the damage are still read
    assert reader.errors


def test_truncated_last_member(tmp_path):
    records = [(f"http://h/{i}", PAGE.encode() + bytes([65 + i]), "text/html", [], "response") for i in range(3)]
    path = _write_warc(tmp_path / "f.warc.gz", records)
    path.write_bytes(path.read_bytes()[:-30])
    _, docs, _ = _docs(path)
    assert [d.url for d in docs][:2] == ["http://h/0", "http://h/1"]


def test_not_an_archive(tmp_path):
    bad = tmp_path / "x.warc.gz"
    bad.write_bytes(gzip.compress(b"hello, this is not a WARC"))
    with pytest.raises(NotAnArchiveError):
        WarcDocumentReader(bad)
    plain = tmp_path / "y.warc"
    plain.write_text("just text")
    with pytest.raises(NotAnArchiveError):
        WarcDocumentReader(plain)


def _items(reader):
    return [(type(i).__name__, i.doc_id, i.url, getattr(i, "html", None), getattr(i, "reason", None)) for i in reader]


@pytest.mark.parametrize("range_bytes", [300, 1000, 4096])
def test_byte_ranges_yield_each_record_once(tmp_path, range_bytes):
    """Reading a record-gzipped WARC range by range gives what reading it whole gives, revisits
    whose original is in an earlier range included."""
    from pipeline.warc_input import byte_ranges

    records = []
    for i in range(30):
        body = PAGE.replace("Köln", f"Köln {i}").encode()
        records.append((f"http://h/{i}", body, "text/html", [], "response"))
        if i % 7 == 6:  # a revisit of the first page (same payload digest), further on
            records.append((f"http://h/0?again={i}", PAGE.replace("Köln", "Köln 0").encode(), "text/html", [], "revisit"))
    path = _write_warc(tmp_path / "r.warc.gz", records)
    whole = _items(WarcDocumentReader(path))
    assert sum(1 for item in whole if item[0] == "HtmlDocument") == 34  # 30 responses + 4 resolved revisits
    ranges = byte_ranges(path.stat().st_size, range_bytes)
    assert len(ranges) > 2
    pieces = []
    for start, end in ranges:
        pieces += _items(WarcDocumentReader(path, start=start, end=end))
    assert pieces == whole


def test_byte_ranges_refused_where_boundaries_are_ambiguous(tmp_path):
    plain = _write_warc(tmp_path / "p.warc", [("http://h/1", PAGE.encode(), "text/html", [], "response")], gzip_records=False)
    with pytest.raises(ValueError, match="byte ranges"):
        WarcDocumentReader(plain, start=10, end=100)


def test_member_start_needs_a_warc_record_not_just_gzip_magic(tmp_path):
    from pipeline.warc_input import is_warc_member_start

    path = _write_warc(tmp_path / "m.warc.gz", [("http://h/1", PAGE.encode(), "text/html", [], "response")])
    fake = tmp_path / "fake.bin"
    fake.write_bytes(b"\x1f\x8b\x08" + b"\x00" * 40 + gzip.compress(b"not a record at all"))
    with open(path, "rb") as fh:
        assert is_warc_member_start(fh, 0)
        assert not is_warc_member_start(fh, 1)
    with open(fake, "rb") as fh:
        assert not is_warc_member_start(fh, 0)  # magic bytes, but no valid member
        assert not is_warc_member_start(fh, 43)  # a valid member, but not a WARC record
