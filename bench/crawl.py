"""Crawl throughput: Ernte against a bare Scrapy spider, on loopback, politeness off.

Serves the demo site (``pipeline.demo_server.DemoServer``; another directory with
``--site-root``) on 127.0.0.1 and crawls it, each crawl in its own process:

- **Ernte**: ``ernte crawl BASE/ --out TMP --allow-private --no-politeness --max-pages N``,
  exactly as a user runs it (robots.txt, WARC files, fetch log). Pages = fetch-log rows with
  ``decision = 'fetched'`` and a reason other than ``robots.txt``.
- **Bare Scrapy**: a minimal spider (``--bare-spider URL BUDGET``, this file re-invoked):
  ROBOTSTXT_OBEY off, no delay, CONCURRENT_REQUESTS 16 and 16 per domain (what
  ``--no-politeness`` gives Ernte), breadth-first like Ernte, follows same-host links found by
  ``LinkExtractor``, stores nothing. Pages = responses that reached the callback.

Two rates per crawl: **end-to-end** (pages / wall time from process start to exit, Python and
Scrapy start-up included) and **in-crawl** ((pages - 1) / (last - first page timestamp): the
fetch log's ``fetched_at`` for Ernte, the callback's clock for the bare spider).
Peak memory: the summed RSS of the crawl's process tree (``ernte`` starts a crawl child),
polled every 50 ms with psutil. CPU: user + system seconds of the process tree
(``RUSAGE_CHILDREN`` before / after).

Same number of pages on both sides: a warm-up Ernte crawl measures how many pages
``--max-pages`` buys Ernte (robots.txt keeps it out of part of the demo site), and the bare
spider then gets exactly that many: its budget counts the requests it issues, and every issued
request becomes a page. The default budget (1000) is more than the demo site holds, so Ernte
crawls all of it (215 pages) and both sides fetch exactly that many. With a budget below the
site's size Ernte's count can vary by a page or two between runs (which requests reach the
budget edge first depends on timing). Each run's page count is reported; a mismatch is flagged.

Warm-up (one crawl per side, not counted), then ``--repeat`` rounds alternating which side goes
first; medians are reported. Prints a markdown table; ``--json FILE`` writes every run.

    .venv/bin/python bench/crawl.py                       # the whole demo site, 3 rounds
    .venv/bin/python bench/crawl.py --repeat 5 --json crawl.json
    .venv/bin/python bench/crawl.py --synthetic-site 1200 --max-pages 1000
    .venv/bin/python bench/crawl.py --site-root /some/static/site --max-pages 500
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CONCURRENCY = 16  # Ernte's concurrent_requests default; --no-politeness makes it the per-host limit too
POLL_S = 0.05
TARGET_RATIO = 0.8  # the issue: Ernte >= 0.8x the bare spider's pages/s
BUSY_PERCENT = 15.0  # other work on the machine above this (percent of all CPUs) makes the run suspect
RESULT_MARK = "BENCH_RESULT "
PROFILE_ENV = "ERNTE_BENCH_PROFILE_DIR"


# --------------------------------------------------------------------------------------------
# The bare spider (child process)
# --------------------------------------------------------------------------------------------
def bare_spider_main(url: str, budget: int) -> int:
    """Crawl same-host links from URL until BUDGET requests were issued; print the result."""
    from urllib.parse import urlsplit

    from scrapy import Request, Spider
    from scrapy.crawler import CrawlerProcess
    from scrapy.http import TextResponse
    from scrapy.linkextractors import LinkExtractor

    stats = {"pages": 0, "first": None, "last": None, "statuses": {}}

    class BareSpider(Spider):
        name = "bare"

        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.netloc = urlsplit(url).netloc
            self.links = LinkExtractor()
            self.seen: set[str] = set()
            self.issued = 0

        def _request(self, link: str) -> Request | None:
            link = link.split("#", 1)[0]
            if link in self.seen or self.issued >= budget or urlsplit(link).netloc != self.netloc:
                return None
            self.seen.add(link)
            self.issued += 1
            # Every status reaches the callback: Ernte counts a 404 as a fetched page too.
            return Request(link, callback=self.parse, meta={"handle_httpstatus_all": True})

        async def start(self):
            request = self._request(url)
            if request is not None:
                yield request

        def parse(self, response):
            now = time.time()
            stats["pages"] += 1
            stats["first"] = now if stats["first"] is None else stats["first"]
            stats["last"] = now
            key = str(response.status)
            stats["statuses"][key] = stats["statuses"].get(key, 0) + 1
            if not isinstance(response, TextResponse):
                return
            for link in self.links.extract_links(response):
                request = self._request(link.url)
                if request is not None:
                    yield request

    settings = {
        "ROBOTSTXT_OBEY": False,
        "DOWNLOAD_DELAY": 0,
        "AUTOTHROTTLE_ENABLED": False,
        "CONCURRENT_REQUESTS": CONCURRENCY,
        "CONCURRENT_REQUESTS_PER_DOMAIN": CONCURRENCY,
        "TELNETCONSOLE_ENABLED": False,
        "LOG_LEVEL": "INFO",  # what Ernte runs with by default
        # Breadth-first with FIFO queues, as Ernte: the same kind of frontier on both sides.
        "DEPTH_PRIORITY": 1,
        "SCHEDULER_DISK_QUEUE": "scrapy.squeues.PickleFifoDiskQueue",
        "SCHEDULER_MEMORY_QUEUE": "scrapy.squeues.FifoMemoryQueue",
    }
    process = CrawlerProcess(settings)
    process.crawl(BareSpider)
    process.start()
    print(RESULT_MARK + json.dumps(stats), flush=True)
    return 0 if stats["pages"] else 1


# --------------------------------------------------------------------------------------------
# Measuring a child process
# --------------------------------------------------------------------------------------------
def _tree_rss(proc, per_process: dict[int, dict]) -> int:
    """Summed RSS of proc and its descendants now; per_process keeps each one's peak."""
    import psutil

    total = 0
    try:
        procs = [proc, *proc.children(recursive=True)]
    except psutil.Error:
        return 0
    for p in procs:
        try:
            rss = p.memory_info().rss
        except psutil.Error:
            continue
        total += rss
        seen = per_process.get(p.pid)
        if seen is None:
            try:
                cmd = " ".join(p.cmdline()[:4])
            except psutil.Error:
                cmd = "?"
            seen = per_process[p.pid] = {"cmd": cmd, "peak_rss_bytes": 0}
        seen["peak_rss_bytes"] = max(seen["peak_rss_bytes"], rss)
    return total


def run_measured(cmd: list[str], log_path: Path, env: dict | None = None) -> dict:
    """Run cmd; wall time, peak RSS of its process tree, CPU seconds of the tree, stdout."""
    import psutil

    usage_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    peak = 0
    per_process: dict[int, dict] = {}
    with open(log_path, "wb") as log:
        t0 = time.perf_counter()
        child = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=log, env=env, cwd=REPO)
        proc = psutil.Process(child.pid)
        done = threading.Event()

        def poll() -> None:
            nonlocal peak
            while not done.is_set():
                peak = max(peak, _tree_rss(proc, per_process))
                done.wait(POLL_S)

        poller = threading.Thread(target=poll, daemon=True)
        poller.start()
        stdout = child.stdout.read()
        code = child.wait()
        wall = time.perf_counter() - t0
        done.set()
        poller.join()
    usage_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (usage_after.ru_utime - usage_before.ru_utime) + (usage_after.ru_stime - usage_before.ru_stime)
    return {"exit_code": code, "wall_s": wall, "peak_rss_bytes": peak, "peak_rss_per_process": list(per_process.values()), "cpu_s": cpu, "stdout": stdout.decode("utf-8", "replace")}


def _rates(result: dict, pages: int, first: float | None, last: float | None) -> dict:
    span = (last - first) if first is not None and last is not None else None
    result.update(
        pages=pages,
        crawl_span_s=span,
        pages_per_s=pages / result["wall_s"] if result["wall_s"] > 0 else None,
        in_crawl_pages_per_s=(pages - 1) / span if span and pages > 1 else None,
        cpu_ms_per_page=1000 * result["cpu_s"] / pages if pages else None,
    )
    return result


def ernte_command() -> list[str]:
    script = Path(sys.executable).parent / "ernte"
    if script.exists():
        return [str(script)]
    found = shutil.which("ernte")
    return [found] if found else [sys.executable, "-m", "pipeline.cli"]


def read_fetch_log(out_dir: Path) -> tuple[int, float | None, float | None, dict]:
    """(pages fetched, first fetched_at, last fetched_at, rows per decision) from the fetch log."""
    import pyarrow.parquet as pq

    parts = sorted((out_dir / "fetches").glob("*.parquet"))
    if not parts:
        return 0, None, None, {}
    table = pq.ParquetDataset([str(p) for p in parts]).read(columns=["decision", "reason", "fetched_at"])
    decisions: dict[str, int] = {}
    times = []
    for decision, reason, at in zip(*(table.column(c).to_pylist() for c in ("decision", "reason", "fetched_at"))):
        decisions[decision] = decisions.get(decision, 0) + 1
        if decision == "fetched" and reason != "robots.txt":
            times.append(at.timestamp())
    if not times:
        return 0, None, None, decisions
    return len(times), min(times), max(times), decisions


def run_ernte(base_url: str, max_pages: int, workdir: Path, tag: str, env: dict) -> dict:
    out = workdir / f"ernte-{tag}"
    cmd = [*ernte_command(), "crawl", base_url + "/", "--out", str(out), "--allow-private", "--no-politeness", "--max-pages", str(max_pages)]
    result = run_measured(cmd, workdir / f"ernte-{tag}.log", env)
    pages, first, last, decisions = read_fetch_log(out)
    result.update(side="ernte", command=cmd, decisions=decisions)
    shutil.rmtree(out, ignore_errors=True)
    return _rates(result, pages, first, last)


def run_bare(base_url: str, budget: int, workdir: Path, tag: str, env: dict) -> dict:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--bare-spider", base_url + "/", str(budget)]
    result = run_measured(cmd, workdir / f"bare-{tag}.log", env)
    stats = {"pages": 0, "first": None, "last": None, "statuses": {}}
    for line in result["stdout"].splitlines():
        if line.startswith(RESULT_MARK):
            stats = json.loads(line[len(RESULT_MARK):])
    result.update(side="bare", command=cmd, statuses=stats["statuses"])
    return _rates(result, stats["pages"], stats["first"], stats["last"])


# --------------------------------------------------------------------------------------------
# A generated site (--synthetic-site PAGES): more pages than the demo site has
# --------------------------------------------------------------------------------------------
def generate_site(root: Path, pages: int, seed: int = 1) -> Path:
    """PAGES linked HTML pages of 20-40 KB of word salad, about 45 links each, deterministic.

    Page i links to its neighbours (so every page is reachable from the index), to 30 random
    pages, to a few external hosts (out of scope for both crawlers) and to a stylesheet and an
    image (ignored by both link extractors). robots.txt allows everything.
    """
    import random

    rng = random.Random(seed)
    letters = "abcdefghijklmnopqrstuvwxyz"
    vocab = ["".join(rng.choice(letters) for _ in range(rng.randint(2, 11))) for _ in range(3000)]
    root.mkdir(parents=True, exist_ok=True)
    (root / "robots.txt").write_text("User-agent: *\nAllow: /\n")
    (root / "style.css").write_text("body { font-family: serif; }\n")
    (root / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(64))

    def name(i: int) -> str:
        return "index.html" if i == 0 else f"s{i // 100:03d}/p{i:05d}.html"

    for i in range(pages):
        links = {(i + d) % pages for d in (1, 2, 3, -1)} | {rng.randrange(pages) for _ in range(30)}
        links.discard(i)
        depth = "" if i == 0 else "../"
        nav = "".join(f'<li><a href="{depth}{name(j)}">Page {j}</a></li>' for j in sorted(links))
        ext = "".join(f'<li><a href="https://example{k}.org/ref/{i}">ref {k}</a></li>' for k in range(5))
        target = rng.randint(20_000, 40_000)
        paras: list[str] = []
        size = 0
        while size < target:
            words = rng.choices(vocab, k=rng.randint(60, 140))
            para = "<p>" + " ".join(words).capitalize() + ".</p>\n"
            paras.append(para)
            size += len(para)
        html = (
            f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>Page {i}</title>'
            f'<link rel="stylesheet" href="/style.css"></head>\n<body><header><img src="/logo.png" alt=""></header>'
            f"<nav><ul>{nav}</ul></nav><main><h1>Page {i}</h1>\n{''.join(paras)}</main><footer><ul>{ext}</ul></footer></body></html>\n"
        )
        path = root / name(i)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(html, encoding="utf-8")
    return root


# --------------------------------------------------------------------------------------------
# Optional cProfile of every crawl process (--profile DIR)
# --------------------------------------------------------------------------------------------
SITECUSTOMIZE = textwrap.dedent(
    f"""
    import os
    if os.environ.get({PROFILE_ENV!r}):
        import atexit, cProfile, sys
        _prof = cProfile.Profile()
        def _dump():
            _prof.disable()
            name = os.path.basename(sys.argv[0] or "python").replace(".py", "")
            if "--bare-spider" in sys.argv:
                name = "bare"
            elif "crawl_process" in " ".join(sys.argv) or name == "crawl_process":
                name = "ernte-crawl-process"
            _prof.dump_stats(os.path.join(os.environ[{PROFILE_ENV!r}], f"{{name}}-{{os.getpid()}}.prof"))
        atexit.register(_dump)
        _prof.enable()
    """
)


def profile_env(env: dict, profile_dir: Path, workdir: Path) -> dict:
    site = workdir / "profile-site"
    site.mkdir(exist_ok=True)
    (site / "sitecustomize.py").write_text(SITECUSTOMIZE)
    profile_dir.mkdir(parents=True, exist_ok=True)
    return dict(env, **{PROFILE_ENV: str(profile_dir.resolve()), "PYTHONPATH": os.pathsep.join(filter(None, [str(site), env.get("PYTHONPATH")]))})


# --------------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------------
def _median(runs: list[dict], key: str):
    values = [r[key] for r in runs if r.get(key) is not None]
    return statistics.median(values) if values else None


def summarize(runs: list[dict]) -> dict:
    out = {}
    for side in ("ernte", "bare"):
        mine = [r for r in runs if r["side"] == side]
        out[side] = {k: _median(mine, k) for k in ("pages", "wall_s", "pages_per_s", "in_crawl_pages_per_s", "peak_rss_bytes", "cpu_s", "cpu_ms_per_page")}
        out[side]["pages_each_run"] = [r["pages"] for r in mine]
    for key in ("pages_per_s", "in_crawl_pages_per_s"):
        e, b = out["ernte"][key], out["bare"][key]
        out[f"ratio_{key}"] = e / b if e and b else None
    return out


def machine_info() -> dict:
    import psutil

    cpu_model = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = {}
    for mod in ("scrapy", "twisted", "warcio", "pyarrow", "lxml"):
        try:
            versions[mod] = __import__(mod).__version__
        except Exception:  # noqa: BLE001 - informational only
            pass
    return {
        "cpus": os.cpu_count(),
        "cpu_model": cpu_model,
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "versions": versions,
    }


def machine_busy(seconds: float = 1.0) -> float:
    """CPU use of the whole machine (percent of all CPUs) over a moment in which this benchmark is idle."""
    import psutil

    return psutil.cpu_percent(interval=seconds)


def markdown(summary: dict, target: float) -> str:
    def f(v, fmt="{:.1f}"):
        return "n/a" if v is None else fmt.format(v)

    rows = [
        "| side | pages | wall s | pages/s (end-to-end) | pages/s (in-crawl) | peak RSS MiB | CPU s | CPU ms/page |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for side, label in (("ernte", "Ernte (robots, WARC, fetch log)"), ("bare", "bare Scrapy spider")):
        s = summary[side]
        rss = s["peak_rss_bytes"] / 2**20 if s["peak_rss_bytes"] else None
        rows.append(f"| {label} | {f(s['pages'], '{:.0f}')} | {f(s['wall_s'], '{:.2f}')} | {f(s['pages_per_s'])} | {f(s['in_crawl_pages_per_s'])} | {f(rss, '{:.0f}')} | {f(s['cpu_s'], '{:.2f}')} | {f(s['cpu_ms_per_page'])} |")
    lines = ["\n".join(rows), ""]
    for key, label in (("ratio_pages_per_s", "end-to-end"), ("ratio_in_crawl_pages_per_s", "in-crawl")):
        r = summary[key]
        verdict = "n/a" if r is None else ("meets" if r >= target else "BELOW")
        lines.append(f"Ernte / bare, {label}: {f(r, '{:.2f}')}x ({verdict} the {target}x target)")
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--bare-spider"]:
        if len(argv) != 3:
            print("usage: crawl.py --bare-spider URL BUDGET", file=sys.stderr)
            return 2
        return bare_spider_main(argv[1], int(argv[2]))

    parser = argparse.ArgumentParser(
        description="Pages/s of `ernte crawl --no-politeness` against a bare Scrapy spider on the demo site (loopback).",
        epilog="Internal: `crawl.py --bare-spider URL BUDGET` runs the bare spider alone.",
    )
    parser.add_argument("--max-pages", type=int, default=1000, help="Ernte's --max-pages (default: %(default)s, more than the demo site holds); the bare spider gets as many pages as that buys Ernte")
    parser.add_argument("--repeat", type=int, default=3, help="timed rounds per side, alternating which goes first (default: %(default)s)")
    parser.add_argument("--json", type=Path, help="write the settings, every run and the medians here")
    site = parser.add_mutually_exclusive_group()
    site.add_argument("--site-root", type=Path, help="serve this directory instead of the bundled demo site")
    site.add_argument("--synthetic-site", type=int, metavar="PAGES", help="serve a generated site of PAGES linked 20-40 KB pages instead (for budgets above the demo site's ~215 pages)")
    parser.add_argument("--no-warmup", action="store_true", help="skip the bare spider's untimed warm-up crawl (Ernte's always runs: it sets the bare spider's page budget)")
    parser.add_argument("--profile", type=Path, metavar="DIR", help="cProfile every crawl process into DIR (slows both sides; numbers are then not comparable to unprofiled runs)")
    parser.add_argument("--keep-logs", type=Path, metavar="DIR", help="copy each crawl's stderr log into DIR")
    args = parser.parse_args(argv)
    if args.max_pages < 2 or args.repeat < 1:
        parser.error("--max-pages must be >= 2 and --repeat >= 1")

    sys.path.insert(0, str(REPO))
    from pipeline.demo_server import DEMO_SITE_ROOT, DemoServer

    env = dict(os.environ)
    env.pop("ERNTE_LOG_LEVEL", None)  # both sides log at INFO, Ernte's default
    started = dt.datetime.now(dt.timezone.utc)
    busy_before = machine_busy()
    with tempfile.TemporaryDirectory(prefix="ernte-bench-") as tmp:
        workdir = Path(tmp)
        if args.synthetic_site:
            site_root = generate_site(workdir / "site", args.synthetic_site)
            site_label = f"synthetic site ({args.synthetic_site} pages)"
        else:
            site_root = args.site_root or DEMO_SITE_ROOT
            site_label = "demo site" if site_root == DEMO_SITE_ROOT else str(site_root)
        if args.profile:
            env = profile_env(env, args.profile, workdir)
        with DemoServer(root=site_root) as server:
            print(f"{site_label} at {server.base_url}/, Ernte --max-pages {args.max_pages}, {args.repeat} round(s)", file=sys.stderr)
            outcome = crawl_rounds(args, env, workdir, server.base_url)
        if args.keep_logs:
            args.keep_logs.mkdir(parents=True, exist_ok=True)
            for log in workdir.glob("*.log"):
                shutil.copy(log, args.keep_logs / log.name)
    if outcome is None:
        return 1
    warm, budget, runs = outcome

    busy_after = machine_busy()
    summary = summarize(runs)
    failed = [r for r in runs if r["exit_code"] != 0]
    counts = sorted({r["pages"] for r in runs} | {budget})
    print(f"\nCrawl benchmark, {started:%Y-%m-%d}, {os.cpu_count()} CPUs, {site_label}, Ernte --max-pages {args.max_pages}, median of {args.repeat}\n")
    print(markdown(summary, target=TARGET_RATIO))
    if len(counts) > 1:
        print(f"\nWARNING: page counts differ between runs/sides: {counts}")
    if failed:
        print(f"\nWARNING: {len(failed)} crawl(s) exited non-zero")
    if max(busy_before, busy_after) > BUSY_PERCENT:
        print(f"\nWARNING: the machine was busy with other work (CPU {busy_before:.0f}% before, {busy_after:.0f}% after, while idle here); the numbers are not reliable")
    if args.json:
        record = {
            "benchmark": "crawl",
            "date": started.isoformat(timespec="seconds"),
            "command": " ".join(["python", *sys.argv]),
            "machine": machine_info(),
            "settings": {
                "site": site_label,
                "site_root": None if args.synthetic_site else str(site_root),
                "max_pages": args.max_pages,
                "bare_budget": budget,
                "repeat": args.repeat,
                "concurrency": CONCURRENCY,
                "warmup": not args.no_warmup,
                "profiled": bool(args.profile),
            },
            "other_cpu_load_percent": {"before": busy_before, "after": busy_after},
            "warmup_decisions": warm["decisions"],
            "runs": runs,
            "median": summary,
            "target_ratio": TARGET_RATIO,
        }
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(record, indent=2, default=str) + "\n")
        print(f"\nwrote {args.json}", file=sys.stderr)
    return 1 if failed else 0


def crawl_rounds(args, env: dict, workdir: Path, base: str) -> tuple[dict, int, list[dict]] | None:
    """Warm-up (which also fixes the bare spider's budget), then the timed rounds."""
    warm = run_ernte(base, args.max_pages, workdir, "warmup", env)
    budget = warm["pages"]
    if warm["exit_code"] != 0 or budget < 2:
        print(f"Ernte warm-up crawl failed (exit {warm['exit_code']}, {budget} pages); its log ends:", file=sys.stderr)
        print((workdir / "ernte-warmup.log").read_text(errors="replace")[-4000:], file=sys.stderr)
        return None
    print(f"warm-up: --max-pages {args.max_pages} gives Ernte {budget} pages {warm['decisions']}; bare spider budget {budget}", file=sys.stderr)
    if not args.no_warmup:
        run_bare(base, budget, workdir, "warmup", env)
    runs: list[dict] = []
    for i in range(args.repeat):
        order = ("ernte", "bare") if i % 2 == 0 else ("bare", "ernte")
        for side in order:
            tag = f"r{i + 1}"
            r = run_ernte(base, args.max_pages, workdir, tag, env) if side == "ernte" else run_bare(base, budget, workdir, tag, env)
            r["round"] = i + 1
            r.pop("stdout", None)
            runs.append(r)
            print(
                f"round {i + 1} {side:5s}: exit {r['exit_code']}, {r['pages']} pages, {r['wall_s']:.2f} s, "
                f"{r['pages_per_s'] or 0:.1f} pages/s end-to-end, {r['in_crawl_pages_per_s'] or 0:.1f} in-crawl, "
                f"peak RSS {r['peak_rss_bytes'] / 2**20:.0f} MiB, CPU {r['cpu_s']:.2f} s",
                file=sys.stderr,
            )
    return warm, budget, runs


if __name__ == "__main__":
    sys.exit(main())
