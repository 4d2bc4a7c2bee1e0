"""The fetch log: one row per URL the crawler decided about, as a Parquet dataset DIR/fetches/.

Rows go first to an append-only journal (DIR/state/journal.jsonl, flushed per fetch), which is
the source of truth that survives `kill -9`; Parquet parts are written from it in batches,
atomically (temp file, then rename), and a resumed crawl writes the parts the journal has beyond
them. The journal also lists every URL that was queued, so `--resume` knows the frontier.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from pipeline.schema import FETCH_DECISIONS, FETCH_LOG_COLUMNS

JOURNAL_NAME = "journal.jsonl"


@dataclass
class QueuedUrl:
    url: str
    depth: int
    referrer: str | None


@dataclass
class JournalState:
    """What an earlier (possibly killed) crawl into the same directory left behind."""

    rows: list[dict] = field(default_factory=list)
    queued: list[QueuedUrl] = field(default_factory=list)

    @property
    def decided_urls(self) -> set[str]:
        return {r["canonical_url"] for r in self.rows if r.get("canonical_url")}

    def frontier(self) -> list[QueuedUrl]:
        """Queued URLs with no decision yet, in queue order."""
        decided = self.decided_urls
        from crawlers.url_policy import canonical_url

        seen: set[str] = set()
        pending = []
        for q in self.queued:
            c = canonical_url(q.url)
            if c not in decided and c not in seen:
                seen.add(c)
                pending.append(q)
        return pending


def read_journal(path: Path) -> JournalState:
    state = JournalState()
    if not path.exists():
        return state
    with open(path, "rb") as fh:
        for raw in fh:
            try:
                entry = json.loads(raw)
            except ValueError:
                continue  # the torn last line of a killed crawl
            if entry.get("t") == "row":
                state.rows.append(entry["row"])
            elif entry.get("t") == "queued":
                state.queued.append(QueuedUrl(entry["url"], entry["depth"], entry.get("referrer")))
    return state


def _to_arrow_row(row: dict) -> dict:
    out = {name: row.get(name) for name in FETCH_LOG_COLUMNS}
    if out["fetched_at"] is not None:
        out["fetched_at"] = datetime.fromtimestamp(out["fetched_at"], tz=timezone.utc)
    return out


def write_part(directory: Path, rows: list[dict]) -> Path:
    """Write rows (already in seq order) as one Parquet part, atomically."""
    import pyarrow as pa  # imported here: the `ernte crawl` parent process never needs it
    import pyarrow.parquet as pq

    from pipeline.schema import FETCH_LOG

    directory.mkdir(parents=True, exist_ok=True)
    first, last = rows[0]["seq"], rows[-1]["seq"]
    final = directory / f"part-{first:09d}-{last:09d}.parquet"
    tmp = final.with_suffix(".parquet.tmp")
    table = pa.Table.from_pylist([_to_arrow_row(r) for r in rows], schema=FETCH_LOG)
    pq.write_table(table, tmp, compression="zstd")
    os.replace(tmp, final)
    return final


def covered_seq(directory: Path) -> int:
    """Highest seq already in a Parquet part (-1 if none)."""
    last = -1
    for p in directory.glob("part-*-*.parquet"):
        last = max(last, int(p.stem.split("-")[2]))
    return last


class FetchLog:
    """Appends decisions to the journal and Parquet parts. Used from the Scrapy reactor thread only."""

    def __init__(self, out_dir: Path, crawl_id: str, rows_per_part: int, previous: JournalState):
        self.fetches_dir = Path(out_dir) / "fetches"
        self.state_dir = Path(out_dir) / "state"
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.fetches_dir.mkdir(parents=True, exist_ok=True)
        self.crawl_id = crawl_id
        self.rows_per_part = rows_per_part
        for stale in self.fetches_dir.glob("*.tmp"):
            stale.unlink()  # a part that was being written when the crawler died
        done = covered_seq(self.fetches_dir)
        self._pending = [r for r in previous.rows if r["seq"] > done]
        self._next_seq = max((r["seq"] for r in previous.rows), default=-1) + 1
        journal = self.state_dir / JOURNAL_NAME
        self._journal = open(journal, "ab")
        if self._journal.tell() > 0:
            with open(journal, "rb") as fh:
                fh.seek(-1, os.SEEK_END)
                if fh.read(1) != b"\n":
                    # A killed crawl can leave half a line; end it so our first row is a line of its own.
                    self._journal.write(b"\n")
        self.counts: dict[str, int] = {}
        self._flush_parts(force=True)

    def queued(self, url: str, depth: int, referrer: str | None) -> None:
        self._journal.write(json.dumps({"t": "queued", "url": url, "depth": depth, "referrer": referrer}).encode() + b"\n")

    def record(self, row: dict) -> dict:
        assert row["decision"] in FETCH_DECISIONS, row["decision"]
        row = {**row, "seq": self._next_seq, "crawl_id": self.crawl_id}
        self._next_seq += 1
        self._journal.write(json.dumps({"t": "row", "row": row}, default=str).encode() + b"\n")
        self._journal.flush()  # one write per decision: survives kill -9 of this process
        self.counts[row["decision"]] = self.counts.get(row["decision"], 0) + 1
        self._pending.append(row)
        self._flush_parts()
        return row

    def flush_queue(self) -> None:
        self._journal.flush()

    def _flush_parts(self, force: bool = False) -> None:
        while len(self._pending) >= self.rows_per_part or (force and self._pending):
            batch, self._pending = self._pending[: self.rows_per_part], self._pending[self.rows_per_part :]
            write_part(self.fetches_dir, batch)

    def close(self) -> None:
        self._flush_parts(force=True)
        self._journal.flush()
        os.fsync(self._journal.fileno())
        self._journal.close()


def write_missing_parts(out_dir: Path) -> int:
    """Write Parquet parts for journal rows not yet in the fetch log (after a crashed crawl)."""
    fetches = Path(out_dir) / "fetches"
    done = covered_seq(fetches)
    missing = [r for r in read_journal(Path(out_dir) / "state" / JOURNAL_NAME).rows if r["seq"] > done]
    if missing:
        write_part(fetches, missing)
    return len(missing)

