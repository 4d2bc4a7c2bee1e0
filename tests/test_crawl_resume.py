"""kill -9 in the middle of a real crawl, then `ernte crawl --resume --out DIR`.

The server's request log shows what was fetched twice; the journal, WARC files and Parquet fetch
log show what survived the kill and what the resumed crawl made of it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from crawl_sites import ERNTE_CMD, ROOT, TestSite, crawl_args, ernte_env, fetch_rows, html, journal_rows, read_records, run_ernte, warc_files
from warcio.archiveiterator import ArchiveIterator

WARCIO = str(Path(sys.executable).parent / "warcio")
N_PAGES = 40
COPY_BODY = html(title="the same leaf page twice", text="copied")


def _site(site: TestSite) -> list[str]:
    site.robots("User-agent: *\nCrawl-delay: 0.1\n")
    for i in range(N_PAGES):
        links = [f"/page/{j}" for j in range(i + 1, min(N_PAGES, i + 4))]
        if i == 2:
            links.append("/copy/a")  # fetched early, before the kill
        if i == N_PAGES - 4:
            links.append("/copy/b")  # fetched late, after the resume: a revisit of /copy/a
        site.page(f"/page/{i}", *links, text=f"page number {i}")
    site.add("/copy/a", lambda req: _copy())
    site.add("/copy/b", lambda req: _copy())
    return [f"/page/{i}" for i in range(N_PAGES)] + ["/copy/a", "/copy/b"]


def _copy():
    from crawl_sites import Reply

    return Reply(body=COPY_BODY)


def _readable_records(path: Path) -> tuple[int, list[int], bool]:
    """(complete records, their offsets, whether the tail raised) reading up to the first error."""
    offsets = []
    failed = False
    with open(path, "rb") as fh:
        it = ArchiveIterator(fh)
        try:
            for rec in it:
                rec.content_stream().read()
                it.read_to_end(rec)
                offsets.append(it.get_record_offset())
        except Exception:
            failed = True
    return len(offsets), offsets, failed


def test_resume_after_kill_9(site, tmp_path):
    pages = _site(site)
    out = tmp_path / "crawl"
    cmd = [*ERNTE_CMD, *crawl_args(site, out, "--delay", "0.1", seed="/page/0")]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=ernte_env(), start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while len(site.page_hits()) < 15 or site.count("/copy/a") == 0:
            assert proc.poll() is None, "the crawl ended before it could be killed"
            assert time.monotonic() < deadline, "the crawl did not get going"
            time.sleep(0.005)
        os.killpg(os.getpgid(proc.pid), signal.SIGKILL)
    finally:
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    served_before_resume = Counter(h.path for h in site.page_hits())
    assert 15 <= sum(served_before_resume.values()) < len(pages), "the kill should land mid-crawl"

    # What the kill left: readable WARC records up to the last complete one, and a journal.
    journal = journal_rows(out)
    fetched_in_journal = [r for r in journal if r["decision"] == "fetched"]
    assert len(fetched_in_journal) >= 10
    files = warc_files(out)
    assert files
    complete = 0
    offsets_by_file = {}
    for f in files:
        n, offsets, _ = _readable_records(f)
        complete += n
        offsets_by_file[f.name] = set(offsets)
    assert complete >= 1 + 3 * len(fetched_in_journal)
    for row in fetched_in_journal:  # the WARC is flushed before the journal row is written
        assert row["warc_offset"] in offsets_by_file[row["warc_file"]], row["url"]

    # kill -9 can also tear the last record or journal line mid-write (buffered writes reach the
    # file in chunks). Make sure the resume meets both: half of the last record again, and half
    # of a journal line.
    last = files[-1]
    data = last.read_bytes()
    good_size = len(data)
    last_offset = max(offsets_by_file[last.name])
    torn = data[last_offset:][: (good_size - last_offset) // 2]
    with open(last, "ab") as fh:
        fh.write(torn)
    with open(out / "state" / "journal.jsonl", "ab") as fh:
        fh.write(b'{"t": "queued", "url": "http://127.0.0.1:1/torn", "de')

    # Resume: no seeds, no flags; the interrupted crawl's settings (--allow-private, delays) carry on.
    run = run_ernte("crawl", "--resume", "--out", str(out))
    assert run.returncode == 0, run.stderr[-3000:]

    rows = fetch_rows(out)
    fetched = Counter(r["url"] for r in rows if r["decision"] == "fetched")
    for path in pages:
        assert fetched[site.url(path)] == 1, f"{path}: {fetched[site.url(path)]} fetched rows"
    assert not [r for r in rows if r["decision"] not in ("fetched",)], Counter(r["decision"] for r in rows)

    served = Counter(h.path for h in site.page_hits())
    assert set(served) == set(pages)
    assert max(served.values()) <= 2, served.most_common(3)
    twice = [p for p, n in served.items() if n == 2]
    assert len(twice) <= 1, f"only the page in flight at the kill may be fetched again: {twice}"
    if twice:
        assert served_before_resume[twice[0]] == 1

    for f in warc_files(out):
        check = subprocess.run([WARCIO, "check", str(f)], capture_output=True, text=True)
        assert check.returncode == 0, f"{f.name}: {check.stdout} {check.stderr}"

    # Every row the first run flushed to its journal is in the Parquet fetch log, unchanged.
    by_seq = {r["seq"]: r for r in rows}
    for jr in journal:
        assert jr["seq"] in by_seq, jr
        assert (by_seq[jr["seq"]]["url"], by_seq[jr["seq"]]["decision"], by_seq[jr["seq"]]["crawl_id"]) == (jr["url"], jr["decision"], jr["crawl_id"])
    assert len({r["crawl_id"] for r in rows}) == 2
    assert last.read_bytes() == data, "the repair must cut exactly the torn tail, and keep every complete record"
    # The journal still holds every row, the resumed run's included (none glued to the torn line).
    assert sorted(r["seq"] for r in journal_rows(out)) == sorted(by_seq)
    assert sorted(by_seq) == list(range(len(rows)))

    # Offsets of every capture, old and new, still point at their records after the repair.
    records = {}
    for f in warc_files(out):
        for rec in read_records(f):
            if rec.type in ("response", "revisit"):
                records[rec.headers["WARC-Record-ID"]] = rec
    for row in rows:
        if row["warc_record_id"]:
            rec = records[row["warc_record_id"]]
            assert (rec.file, rec.offset, rec.headers["WARC-Target-URI"]) == (row["warc_file"], row["warc_offset"], row["url"])

    # A payload first archived before the kill makes a proper revisit after the resume.
    a = next(r for r in rows if r["url"] == site.url("/copy/a"))
    b = next(r for r in rows if r["url"] == site.url("/copy/b"))
    assert a["crawl_id"] != b["crawl_id"]
    assert (a["warc_record_type"], b["warc_record_type"]) == ("response", "revisit")
    original, revisit = records[a["warc_record_id"]], records[b["warc_record_id"]]
    assert revisit.headers["WARC-Refers-To"] == original.headers["WARC-Record-ID"]
    assert revisit.headers["WARC-Refers-To-Target-URI"] == site.url("/copy/a")
    assert revisit.headers["WARC-Refers-To-Date"] == original.headers["WARC-Date"]
    assert revisit.headers["WARC-Payload-Digest"] == original.headers["WARC-Payload-Digest"]
