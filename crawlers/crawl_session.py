"""State one crawl shares between the spider and its middlewares: budgets, seen URLs, per-host
robots.txt and politeness, and the two sinks (WARC writer, fetch log).

Everything runs on the Twisted reactor thread, so plain dicts need no locks.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from crawlers.fetch_log import FetchLog, JournalState
from crawlers.robots_policy import RobotsTxt
from crawlers.tdmrep import TdmRep
from crawlers.url_policy import canonical_url, url_host
from crawlers.warc_writer import OriginalCapture, WarcWriter
from pipeline.config import CrawlConfig
from pipeline.schema import FetchDecision, empty_fetch_row, is_host_file_row


@dataclass
class HostState:
    robots: RobotsTxt | None = None
    robots_status: str = ""  # 'ok 200', 'allow-all 404', 'unavailable 503', ...
    robots_expires: float = 0.0
    robots_pending: object | None = None  # Deferred while robots.txt is being fetched
    crawl_delay: float | None = None
    tdmrep: TdmRep | None = None  # the host's /.well-known/tdmrep.json, once fetched
    tdmrep_expires: float = 0.0
    tdmrep_pending: object | None = None  # Deferred while it is being fetched
    not_before: float = 0.0  # Retry-After / back-off: no request to this host before this time
    pages_attempted: int = 0
    address_problem: str | None = None
    address_checked: bool = False


@dataclass
class CrawlSession:
    config: CrawlConfig
    seeds: list[str]
    fetch_log: FetchLog
    warc: WarcWriter
    previous: JournalState
    hosts: dict[str, HostState] = field(default_factory=dict)
    seen_canonical: set[str] = field(default_factory=set)
    seen_raw: set[str] = field(default_factory=set)
    pages_attempted: int = 0
    progress: object | None = None  # tqdm bar, when shown

    def __post_init__(self) -> None:
        self.seed_hosts = frozenset(url_host(s) for s in self.seeds)
        for row in self.previous.rows:
            if row.get("canonical_url"):
                self.seen_canonical.add(row["canonical_url"])
            if row["decision"] == FetchDecision.FETCHED.value and not is_host_file_row(row):
                self.pages_attempted += 1
                self.host(row["host"] or "").pages_attempted += 1
            if row.get("warc_record_type") == "response" and row.get("payload_digest"):
                # WARC-Refers-To-Date must be the original's WARC-Date; older journals lack it.
                date = row.get("warc_date") or time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(row["fetched_at"]))
                self.warc.remember_original(row["payload_digest"], OriginalCapture(row["url"], date, row["warc_record_id"]))
        for q in self.previous.queued:
            self.seen_canonical.add(canonical_url(q.url))
            self.seen_raw.add(q.url)

    def host(self, name: str) -> HostState:
        state = self.hosts.get(name)
        if state is None:
            state = self.hosts[name] = HostState()
        return state

    # -- budgets -------------------------------------------------------------------------------
    def budget_problem(self, host: str) -> str | None:
        if self.pages_attempted >= self.config.max_pages:
            return f"max_pages {self.config.max_pages} reached"
        limit = self.config.max_pages_per_host
        if limit is not None and self.host(host).pages_attempted >= limit:
            return f"max_pages_per_host {limit} reached for {host}"
        return None

    def take_page_slot(self, host: str) -> None:
        self.pages_attempted += 1
        self.host(host).pages_attempted += 1

    def return_page_slot(self, host: str) -> None:
        """A body we stopped after the headers (unwanted type) is not a page: it uses no budget."""
        self.pages_attempted -= 1
        self.host(host).pages_attempted -= 1

    # -- decisions -----------------------------------------------------------------------------
    def decide(self, url: str, decision: FetchDecision, *, depth: int | None = None, referrer: str | None = None, **fields) -> dict:
        row = empty_fetch_row()
        row.update(url=url, host=url_host(url), depth=depth, referrer=referrer, decision=decision.value, fetched_at=time.time())
        row.update(fields)
        row["canonical_url"] = canonical_url(url)
        written = self.fetch_log.record(row)
        if self.progress is not None and decision == FetchDecision.FETCHED and not is_host_file_row(row):
            self.progress.update(1)
        return written
