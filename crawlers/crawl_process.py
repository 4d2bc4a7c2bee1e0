"""Runs one crawl in its own process (Twisted's reactor cannot be restarted) and summarises it.

The parent (`run_crawl`) writes a spec file into the crawl directory and starts
`python -m crawlers.crawl_process SPEC`; the child builds the Scrapy settings and the shared
`CrawlSession`, crawls, and closes the WARC file and fetch log. The parent then reads the
fetch log back, so the summary reflects what was actually recorded.
"""

from __future__ import annotations

import json
import logging
import os
import platform
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from crawlers.fetch_log import JOURNAL_NAME, FetchLog, read_journal, write_missing_parts
from crawlers.warc_writer import WarcWriter, repair_truncated_warc
from pipeline import __version__
from pipeline.config import CrawlConfig, config_hash

SPEC_NAME = "crawl-spec.json"


class CrawlDirectoryError(Exception):
    """The output directory cannot be used as asked (exit code 2)."""


@dataclass
class CrawlSummary:
    out_dir: Path
    decisions: dict[str, int]
    pages_fetched: int
    warc_files: list[str]
    exit_code: int  # the child's

    def lines(self) -> list[str]:
        out = [f"crawl directory: {self.out_dir}", f"WARC files ({len(self.warc_files)}): {self.out_dir / 'warc'}", f"fetch log: {self.out_dir / 'fetches'}", f"pages fetched: {self.pages_fetched}"]
        for decision, n in sorted(self.decisions.items(), key=lambda kv: -kv[1]):
            out.append(f"  {decision:22s} {n}")
        return out


def scrapy_settings(config: CrawlConfig) -> dict:
    polite = config.politeness
    return {
        "BOT_NAME": "ernte",
        "USER_AGENT": config.user_agent,
        "ROBOTSTXT_OBEY": False,  # replaced by CrawlPolicyMiddleware (RFC 9309, Google semantics)
        "COOKIES_ENABLED": False,
        "TELNETCONSOLE_ENABLED": False,
        "LOG_LEVEL": os.environ.get("ERNTE_LOG_LEVEL", "INFO"),
        "CONCURRENT_REQUESTS": config.concurrent_requests,
        "CONCURRENT_REQUESTS_PER_DOMAIN": config.per_host_concurrency if polite else config.concurrent_requests,
        "CONCURRENT_ITEMS": 1,  # callbacks yield only requests; Scrapy starts this many asyncio tasks per callback/errback result
        "DOWNLOAD_DELAY": config.delay_s if polite else 0,
        "RANDOMIZE_DOWNLOAD_DELAY": False,  # a randomised delay could go below Crawl-delay
        "AUTOTHROTTLE_ENABLED": polite and config.autothrottle,  # our subclass below, with a Crawl-delay floor
        "AUTOTHROTTLE_START_DELAY": max(config.delay_s, 0.1),
        "DOWNLOAD_TIMEOUT": config.download_timeout_s,
        "DOWNLOAD_MAXSIZE": config.max_response_bytes,
        "DOWNLOAD_WARNSIZE": 0,
        "RETRY_HTTP_CODES": [],  # statuses are retried (and archived) by ArchiveMiddleware
        "RETRY_TIMES": config.retry_times,
        "DEPTH_PRIORITY": 1,  # breadth-first
        "SCHEDULER_DISK_QUEUE": "scrapy.squeues.PickleFifoDiskQueue",
        "SCHEDULER_MEMORY_QUEUE": "scrapy.squeues.FifoMemoryQueue",
        "DOWNLOADER_MIDDLEWARES": {
            "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware": None,
            "scrapy.downloadermiddlewares.offsite.OffsiteMiddleware": None,
            "crawlers.middlewares.CrawlPolicyMiddleware": 50,
            "crawlers.middlewares.ArchiveMiddleware": 950,
        },
        "EXTENSIONS": {
            "scrapy.extensions.throttle.AutoThrottle": None,
            "crawlers.middlewares.CrawlDelayAutoThrottle": 0,
            "scrapy.extensions.telnet.TelnetConsole": None,
            "scrapy.extensions.remote_control.RemoteControl": None,  # a crawler opens no listening sockets
        },
        "DEFAULT_REQUEST_HEADERS": {"Accept": "text/html,application/xhtml+xml;q=0.9,*/*;q=0.5", "Accept-Encoding": "gzip, deflate"},
        "LOG_FORMATTER": "scrapy.logformatter.LogFormatter",
    }


def warcinfo_fields(config: CrawlConfig, robots_policy: str) -> dict[str, str]:
    return {
        "software": f"Ernte/{__version__} (Scrapy, warcio; Python {platform.python_version()})",
        "format": "WARC File Format 1.1",
        "conformsTo": "https://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.1/",
        "operator": config.operator or "unspecified",
        "http-header-user-agent": config.user_agent,
        "robots": robots_policy,
        "isPartOf": "ernte-crawl",
        "ernte-config-sha256": config_hash(config),
    }


def child_main(spec_path: Path, install_root_handler: bool = True) -> int:
    """Entry point of the crawl process."""
    from scrapy.crawler import CrawlerProcess
    from tqdm import tqdm

    from crawlers.crawl_session import CrawlSession
    from crawlers.spider import ErnteSpider

    spec = json.loads(spec_path.read_text())
    out = Path(spec["out"])
    config = CrawlConfig.model_validate(spec["config"])
    warc_dir = out / "warc"
    if spec["resume"]:
        for warc in sorted(warc_dir.glob("*.warc.gz")):
            cut = repair_truncated_warc(warc)
            if cut:
                logging.getLogger("ernte").warning("%s: cut %d bytes of an incomplete last record", warc.name, cut)
    previous = read_journal(out / "state" / JOURNAL_NAME)
    crawl_id = spec["crawl_id"]
    robots_policy = "obey (RFC 9309, Google robots.txt semantics); AI-training agents " + ",".join(config.ai_agents) + (" skipped" if config.skip_ai_optout else " recorded")
    warc = WarcWriter(warc_dir, config.warc_prefix, config.warc_max_bytes, warcinfo_fields(config, robots_policy), config.revisit_duplicates)
    fetch_log = FetchLog(out, crawl_id, config.fetch_log_rows_per_part, previous)
    session = CrawlSession(config=config, seeds=spec["seeds"], fetch_log=fetch_log, warc=warc, previous=previous)
    session.progress = tqdm(total=config.max_pages, initial=session.pages_attempted, unit="page", desc="crawl", file=sys.stderr, disable=None, dynamic_ncols=True)
    process = CrawlerProcess(scrapy_settings(config), install_root_handler=install_root_handler)
    process.crawl(ErnteSpider, ernte_session=session)
    try:
        process.start()
    finally:
        session.progress.close()
        warc.close()
        fetch_log.close()
    return 1 if process.bootstrap_failed else 0


def run_crawl(seeds: list[str], out: Path, config: CrawlConfig, resume: bool, in_process: bool = False, log_line: Callable[[str], None] | None = None) -> CrawlSummary:
    """Prepare the directory, run the crawl, read back the summary.

    in_process: crawl in this process (its Twisted reactor cannot run again afterwards). The
    `ernte crawl` command does this, since its process exists for that one crawl; callers that go
    on afterwards (the demo, flows, tests) get a child process.
    log_line: with a child process, each line the child writes to stderr (Scrapy's log) goes
    here instead of to this process's stderr (the flows forward them to the Prefect run log).
    """
    out = Path(out)
    journal = out / "state" / JOURNAL_NAME
    spec_file = out / "state" / SPEC_NAME
    if journal.exists() and not resume:
        raise CrawlDirectoryError(f"{out} already holds a crawl; pass --resume to continue it or choose another --out")
    if resume and not journal.exists():
        raise CrawlDirectoryError(f"--resume: {out} holds no crawl to resume")
    if resume and not seeds:
        seeds = json.loads(spec_file.read_text())["seeds"]
    if not seeds:
        raise CrawlDirectoryError("no seed URLs given")
    (out / "state").mkdir(parents=True, exist_ok=True)
    crawl_id = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + "-" + uuid.uuid4().hex[:8]
    spec = {"out": str(out.resolve()), "seeds": seeds, "config": config.model_dump(mode="json"), "resume": resume, "crawl_id": crawl_id}
    spec_file.write_text(json.dumps(spec, indent=2))
    (out / "crawl.json").write_text(json.dumps({"ernte_version": __version__, "crawl_id": crawl_id, "seeds": seeds, "config": spec["config"], "config_sha256": config_hash(config)}, indent=2))
    if in_process:
        code = child_main(spec_file, install_root_handler=False)
        return summarize(out, code)
    root = Path(__file__).resolve().parent.parent
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")])))
    command = [sys.executable, "-m", "crawlers.crawl_process", str(spec_file)]
    if log_line is None:
        code = subprocess.call(command, env=env)
    else:
        env["PYTHONUNBUFFERED"] = "1"  # a pipe is block-buffered: lines would arrive (and be stamped) late
        with subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True, errors="replace", bufsize=1) as child:
            for line in child.stderr:
                log_line(line.rstrip("\n"))
        code = child.returncode
    if code != 0:
        # The crawl process died: the journal still has every completed fetch; publish them.
        write_missing_parts(out)
    return summarize(out, code)


def summarize(out: Path, exit_code: int = 0) -> CrawlSummary:
    import pyarrow.parquet as pq

    from pipeline.schema import is_host_file_row

    decisions: dict[str, int] = {}
    pages = 0
    parts = sorted((out / "fetches").glob("part-*.parquet"))
    if parts:
        table = pq.ParquetDataset([str(p) for p in parts]).read(columns=["decision", "reason"])
        for decision, reason in zip(table.column("decision").to_pylist(), table.column("reason").to_pylist()):
            decisions[decision] = decisions.get(decision, 0) + 1
            if decision == "fetched" and not is_host_file_row({"decision": decision, "reason": reason}):
                pages += 1
    warcs = sorted(p.name for p in (out / "warc").glob("*.warc.gz"))
    return CrawlSummary(out, decisions, pages, warcs, exit_code)


if __name__ == "__main__":
    sys.exit(child_main(Path(sys.argv[1])))
