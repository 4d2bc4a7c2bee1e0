"""Extraction quality: Ernte's ``filters.extract.extract`` scored with trafilatura's own evaluation.

The method is trafilatura's ``tests/comparison.py`` (``evaluate_result`` and ``calculate_scores``):
every page of its benchmark carries snippets that must appear in the extracted text (``with``) and
snippets that must not (``without``, navigation, footers, related links). For each page, a
``with`` snippet found in the text (plain substring test) is a true positive, one missing a false
negative; a ``without`` snippet found is a false positive, one absent a true negative. No text at
all counts every ``with`` as missed and every ``without`` as absent. Over all pages:
precision = tp/(tp+fp), recall = tp/(tp+fn), accuracy = (tp+tn)/all, F1 = 2tp/(2tp+fp+fn).
The table also shows F1 with whitespace runs collapsed on both sides before matching, as
trafilatura's newer ``tests/eval_common.py`` does (``\\s+`` -> one space, no-break spaces included).

Data
----
- **Pages**: ``tests/cache/*.html`` of the trafilatura 0.9.3 source distribution on PyPI, the last
  release that ships them. The sdist is downloaded once into ``--cache-dir`` (default
  ``bench/.cache/``), checked against its pinned SHA-256 and read in place (``tarfile``, nothing
  is unpacked); every page is checked against its own SHA-256.
- **Snippets**: ``bench/data/trafilatura_eval_snippets.json``, copied from trafilatura's
  ``tests/evaldata.json`` at a pinned commit (no sdist ships them): every entry whose page is in
  the sdist, 79 pages. The sdist's other cache pages are metadata test pages without snippets.
- **Bundled pages**: the 14 pages of ``tests/data/extract/trafilatura_eval`` (the unit test's
  fixture) are the same files (same SHA-256) and snippets; they are scored once, and shown again
  as a subset so the numbers can be set beside ``tests/test_extract.py``. With
  ``--bundled-only`` only they are scored and nothing is downloaded.

Pages are decoded as Ernte decodes a WARC record without HTTP headers
(``pipeline.warc_input.decode_html``: ``<meta>`` charset, BOM, UTF-8, detection), or with
``--decode eval`` as trafilatura's evaluation does (UTF-8, else cp1252). On these pages the two
agree.

Configurations
--------------
- ``ernte``: ``extract(html, url)`` with the default ``ExtractConfig`` (FineWeb's settings).
- ``ernte-fast``: ``ExtractConfig(fast=True)`` (no readability/jusText fallbacks), if the
  config has that field.
- ``trafilatura``: ``trafilatura.extract(html)``, all defaults (comments included, balanced).
- ``trafilatura-datatrove``: ``trafilatura.extract(html, favor_precision=True,
  include_comments=False, deduplicate=True)``, datatrove's call, i.e. what Ernte wraps.

Deduplication state (Ernte's and trafilatura's module-level cache) is reset before every page,
so each page is scored as the first page of a file. Each configuration first extracts one page
untimed (imports and lazy set-up), then every page timed with ``time.perf_counter``;
``--repeat N`` times all pages N times and reports the median (scores come from the first pass).
Ernte's time includes what it does around trafilatura (parse, title/canonical/lang lookups,
htmldate).

Exit status: 0 when Ernte's default F1 meets the target (0.92), 1 when below it, 2 when the
benchmark could not run (data not available, bad arguments).

    .venv/bin/python bench/extract_eval.py
    .venv/bin/python bench/extract_eval.py --verbose --configs ernte
    .venv/bin/python bench/extract_eval.py --repeat 3 --json /tmp/extract_eval.json
    .venv/bin/python bench/extract_eval.py --bundled-only          # offline: the 14 bundled pages
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import hashlib
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Callable

REPO = Path(__file__).resolve().parent.parent
SNIPPETS = REPO / "bench" / "data" / "trafilatura_eval_snippets.json"
BUNDLED = REPO / "tests" / "data" / "extract" / "trafilatura_eval"
DEFAULT_CACHE = REPO / "bench" / ".cache"
TARGET_F1 = 0.92  # the issue: Ernte's extraction F1 >= 0.92 on trafilatura's benchmark
CONFIG_NAMES = ("ernte", "ernte-fast", "trafilatura", "trafilatura-datatrove")
CONFIG_LABELS = {
    "ernte": "Ernte default (FineWeb settings)",
    "ernte-fast": "Ernte, ExtractConfig(fast=True)",
    "trafilatura": "trafilatura.extract, defaults",
    "trafilatura-datatrove": "trafilatura.extract, datatrove's args",
}


class DataUnavailable(Exception):
    """The pages or snippets cannot be had (exit status 2)."""


# --------------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------------
@dataclasses.dataclass
class Page:
    url: str
    file: str
    data: bytes
    with_: list[str]
    without: list[str]
    bundled: bool  # also one of the 14 pages of tests/data/extract/trafilatura_eval


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def fetch_sdist(source: dict, cache_dir: Path, local: Path | None) -> Path:
    """Path of the verified sdist: --sdist, the cache, or a download into the cache."""
    name, want = source["distribution"], source["sha256"]
    if local is not None:
        if not local.is_file() or _sha256(local.read_bytes()) != want:
            raise DataUnavailable(f"{local} is not {name} (missing, or SHA-256 is not {want})")
        return local
    cached = cache_dir / name
    if cached.is_file() and _sha256(cached.read_bytes()) == want:
        return cached
    cache_dir.mkdir(parents=True, exist_ok=True)
    errors = []
    with tempfile.TemporaryDirectory(dir=cache_dir, prefix=".download-") as tmp:
        target = Path(tmp) / name
        print(f"downloading {name} (2.7 MB) from PyPI into {cache_dir} ...", file=sys.stderr)
        try:  # the pinned file, checked by hash: no setup.py is run
            with urllib.request.urlopen(source["url"], timeout=60) as response, open(target, "wb") as out:
                shutil.copyfileobj(response, out)
        except OSError as err:
            errors.append(f"{source['url']}: {err}")
        if not target.is_file() or _sha256(target.read_bytes()) != want:
            # pip knows the configured index (a mirror or proxy where files.pythonhosted.org is
            # not reachable); it prepares the sdist's metadata, which runs its setup.py.
            pin = name.removesuffix(".tar.gz").replace("-", "==", 1)
            cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:", "--quiet", pin, "-d", tmp]
            run = subprocess.run(cmd, capture_output=True, text=True)
            if run.returncode != 0:
                errors.append(f"pip download: {(run.stderr or run.stdout).strip().splitlines()[-1:]}")
        if not target.is_file() or _sha256(target.read_bytes()) != want:
            errors.append(f"no file with SHA-256 {want}")
            raise DataUnavailable(f"could not download {name}: " + "; ".join(errors))
        os.replace(target, cached)
    return cached


def read_sdist_pages(sdist: Path, entries: list[dict], prefix: str) -> dict[str, bytes]:
    """file name -> bytes, read from the tarball without unpacking it; every page hash-checked."""
    wanted = {prefix + e["file"]: e for e in entries}
    found: dict[str, bytes] = {}
    with tarfile.open(sdist, "r:gz") as tar:
        for member in tar:
            entry = wanted.get(member.name)
            if entry is None or not member.isfile():
                continue
            data = tar.extractfile(member).read()
            if _sha256(data) != entry["sha256"]:
                raise DataUnavailable(f"{member.name} in {sdist.name} does not match its SHA-256")
            found[entry["file"]] = data
    missing = sorted(set(e["file"] for e in entries) - set(found))
    if missing:
        raise DataUnavailable(f"{sdist.name} lacks {len(missing)} page(s): {', '.join(missing[:5])}")
    return found


def load_bundled() -> list[Page]:
    entries = json.loads((BUNDLED / "evaldata.json").read_text(encoding="utf-8"))["pages"]
    pages = []
    for e in entries:
        data = (BUNDLED / e["file"]).read_bytes()
        if _sha256(data) != e["sha256"]:
            raise DataUnavailable(f"{BUNDLED / e['file']} does not match its SHA-256")
        pages.append(Page(e["url"], e["file"], data, e["with"], e["without"], bundled=True))
    return pages


def load_pages(args) -> tuple[list[Page], dict]:
    """The pages to score (sdist pages, bundled ones marked) and a description of the sources."""
    bundled = load_bundled()
    if args.bundled_only:
        return bundled, {"pages": f"{len(bundled)} pages of {BUNDLED.relative_to(REPO)}"}
    spec = json.loads(SNIPPETS.read_text(encoding="utf-8"))
    source = spec["pages_source"]
    sdist = fetch_sdist(source, args.cache_dir, args.sdist)
    datas = read_sdist_pages(sdist, spec["pages"], source["member_prefix"])
    bundled_by_url = {p.url: p for p in bundled}
    pages = []
    for e in spec["pages"]:
        mine = bundled_by_url.pop(e["url"], None)
        if mine is not None and (mine.data != datas[e["file"]] or (mine.with_, mine.without) != (e["with"], e["without"])):
            raise DataUnavailable(f"bundled page {mine.file} differs from the sdist's {e['file']} or its snippets")
        pages.append(Page(e["url"], e["file"], datas[e["file"]], e["with"], e["without"], bundled=mine is not None))
    pages.extend(bundled_by_url.values())  # bundled pages the sdist set lacks (none today)
    described = {
        "pages": f"tests/cache/ of {source['distribution']} (sha256 {source['sha256'][:12]}...), {len(pages)} pages "
        f"with snippets, {sum(p.bundled for p in pages)} of them also in {BUNDLED.relative_to(REPO)}",
        "snippets": f"{spec['snippets_source']['repository']} {spec['snippets_source']['path']} at {spec['snippets_source']['commit'][:12]}",
        "sdist": str(sdist),
    }
    return pages, described


def decoder(kind: str) -> Callable[[bytes], str]:
    if kind == "ernte":
        from pipeline.warc_input import decode_html

        return lambda data: decode_html(data, None)[0]

    def eval_decode(data: bytes) -> str:  # trafilatura's evaluation: UTF-8, else a single-byte codec
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            return data.decode("cp1252", errors="replace")

    return eval_decode


# --------------------------------------------------------------------------------------------
# Extractors
# --------------------------------------------------------------------------------------------
def parse_variant(spec: str) -> dict:
    """'favor_precision=false,deduplicate=false' -> keyword arguments for ExtractConfig."""
    from filters.extract import ExtractConfig

    fields = {f.name: f for f in dataclasses.fields(ExtractConfig)}
    kwargs = {}
    for item in filter(None, (part.strip() for part in spec.split(","))):
        key, sep, raw = item.partition("=")
        key, raw = key.strip(), raw.strip()
        if not sep or key not in fields:
            raise ValueError(f"{item!r}: expected FIELD=VALUE with FIELD one of {', '.join(fields)}")
        default = fields[key].default
        if isinstance(default, bool):
            if raw.lower() not in ("true", "false", "1", "0"):
                raise ValueError(f"{item!r}: {key} takes true or false")
            kwargs[key] = raw.lower() in ("true", "1")
        else:
            kwargs[key] = type(default)(raw)
    if not kwargs:
        raise ValueError(f"{spec!r}: no FIELD=VALUE given")
    return kwargs


def make_extractors(names: list[str], variants: list[dict]) -> tuple[dict[str, tuple[str, Callable, Callable]], list[str]]:
    """name -> (label, extract(html, url) -> text, reset_state()); plus notes on configs left out."""
    import trafilatura
    from trafilatura.deduplication import LRU_TEST

    from filters.extract import ExtractConfig, extract, reset_dedup_state

    def ernte(config: ExtractConfig) -> Callable[[str, str], str | None]:
        return lambda html, url: extract(html, url, config).text

    notes = []
    available = {
        "ernte": (CONFIG_LABELS["ernte"], ernte(ExtractConfig()), reset_dedup_state),
        "trafilatura": (CONFIG_LABELS["trafilatura"], lambda html, url: trafilatura.extract(html), LRU_TEST.clear),
        # deduplicate=True uses trafilatura's module-level cache, as in datatrove
        "trafilatura-datatrove": (
            CONFIG_LABELS["trafilatura-datatrove"],
            lambda html, url: trafilatura.extract(html, favor_precision=True, include_comments=False, deduplicate=True),
            LRU_TEST.clear,
        ),
    }
    if "fast" in {f.name for f in dataclasses.fields(ExtractConfig)}:
        available["ernte-fast"] = (CONFIG_LABELS["ernte-fast"], ernte(ExtractConfig(fast=True)), reset_dedup_state)
    elif "ernte-fast" in names:
        notes.append("ernte-fast left out: ExtractConfig has no 'fast' field")
    chosen = {n: available[n] for n in names if n in available}
    for kwargs in variants:
        shown = ", ".join(f"{k}={v!r}" for k, v in kwargs.items())
        chosen[f"ernte[{shown}]"] = (f"Ernte, ExtractConfig({shown})", ernte(ExtractConfig(**kwargs)), reset_dedup_state)
    return chosen, notes


# --------------------------------------------------------------------------------------------
# Scoring (trafilatura's tests/comparison.py)
# --------------------------------------------------------------------------------------------
def _ws(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def score_page(page: Page, text: str | None, normalize: bool = False) -> dict:
    """tp/fn/fp/tn of one page and which snippets were missed or unwanted."""
    if text is None:
        return {"tp": 0, "fn": len(page.with_), "fp": 0, "tn": len(page.without), "missed": list(page.with_), "unwanted": []}
    haystack = _ws(text) if normalize else text
    found = (lambda s: _ws(s) in haystack) if normalize else (lambda s: s in haystack)
    missed = [s for s in page.with_ if not found(s)]
    unwanted = [s for s in page.without if found(s)]
    return {
        "tp": len(page.with_) - len(missed),
        "fn": len(missed),
        "fp": len(unwanted),
        "tn": len(page.without) - len(unwanted),
        "missed": missed,
        "unwanted": unwanted,
    }


def scores(counts: dict) -> dict:
    tp, fn, fp, tn = counts["tp"], counts["fn"], counts["fp"], counts["tn"]
    return {
        "precision": tp / (tp + fp) if tp + fp else 0.0,
        "recall": tp / (tp + fn) if tp + fn else 0.0,
        "accuracy": (tp + tn) / (tp + fn + fp + tn) if tp + fn + fp + tn else 0.0,
        "f1": 2 * tp / (2 * tp + fp + fn) if 2 * tp + fp + fn else 0.0,
    }


def total(per_page: list[dict], key: str = "exact") -> dict:
    counts = {k: sum(p[key][k] for p in per_page) for k in ("tp", "fn", "fp", "tn")}
    return {**counts, **scores(counts)}


# --------------------------------------------------------------------------------------------
# Running
# --------------------------------------------------------------------------------------------
def run_config(name: str, label: str, fn, reset, pages: list[Page], htmls: list[str], repeat: int) -> dict:
    """Extract every page (repeat times), time each call; score the first pass."""
    reset()
    try:  # warm-up, untimed: imports, stoplists, lazy set-up
        fn(htmls[0], pages[0].url)
    except Exception:  # scored (and reported) in the timed pass below
        pass
    texts: list[str | None] = []
    errors: dict[str, str] = {}
    passes = []
    for round_ in range(repeat):
        times = []
        for page, html in zip(pages, htmls):
            reset()
            started = time.perf_counter()
            try:
                text = fn(html, page.url)
            except Exception as err:  # a crash counts as no text, as in trafilatura's eval_common
                text = None
                errors[page.file] = f"{type(err).__name__}: {err}"
            times.append(time.perf_counter() - started)
            if round_ == 0:
                texts.append(text)
        passes.append(times)
    reset()
    per_page = []
    for i, (page, text) in enumerate(zip(pages, texts)):
        per_page.append({
            "file": page.file,
            "url": page.url,
            "bundled": page.bundled,
            "chars": len(text) if text else 0,
            "seconds": statistics.median(p[i] for p in passes),
            "exact": score_page(page, text),
            "normalized": score_page(page, text, normalize=True),
        })
    pass_totals = [sum(p) for p in passes]
    seconds = statistics.median(pass_totals)
    return {
        "config": name,
        "label": label,
        "texts": texts,
        "per_page": per_page,
        "errors": errors,
        "seconds_total": seconds,
        "seconds_each_pass": pass_totals,
        "ms_per_doc_median": 1000 * statistics.median(pp["seconds"] for pp in per_page),
        "docs_per_s": len(pages) / seconds if seconds > 0 else None,
    }


def summarize(result: dict, subset: Callable[[dict], bool] = lambda p: True) -> dict:
    rows = [p for p in result["per_page"] if subset(p)]
    return {"pages": len(rows), **total(rows, "exact"), "f1_normalized": total(rows, "normalized")["f1"]}


def markdown(results: list[dict], subset: Callable[[dict], bool] = lambda p: True, timing: bool = True) -> str:
    head = "| configuration | pages | TP | FN | FP | TN | precision | recall | accuracy | **F1** | F1 (ws-normalized) |"
    rule = "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    if timing:
        head += " ms/doc (median) | docs/s |"
        rule += "---:|---:|"
    rows = [head, rule]
    for r in results:
        s = summarize(r, subset)
        row = (
            f"| {r['label']} | {s['pages']} | {s['tp']} | {s['fn']} | {s['fp']} | {s['tn']} | {s['precision']:.3f} | "
            f"{s['recall']:.3f} | {s['accuracy']:.3f} | **{s['f1']:.3f}** | {s['f1_normalized']:.3f} |"
        )
        if timing:
            row += f" {r['ms_per_doc_median']:.1f} | {r['docs_per_s']:.1f} |"
        rows.append(row)
    return "\n".join(rows)


def visible_text(html: str) -> str:
    """All text a reader could see: the parsed page without scripts, styles and templates."""
    from lxml import etree
    from trafilatura.utils import load_html

    tree = load_html(html)
    if tree is None:
        return ""
    etree.strip_elements(tree, "script", "style", "noscript", "template", etree.Comment, with_tail=False)
    return _ws(tree.text_content())


def comments_text(html: str) -> str:
    """The reader comments trafilatura finds on the page (what include_comments=False drops)."""
    import trafilatura

    try:
        document = trafilatura.bare_extraction(html, include_comments=True, with_metadata=False)
    except Exception:  # only an annotation hint for --verbose
        return ""
    return _ws(document.comments or "") if document is not None else ""


def verbose_report(results: list[dict], pages: list[Page], htmls: list[str]) -> str:
    """Per configuration, the pages with missed or unwanted snippets (exact matching).

    A missed snippet is marked when it is not in the page's text at all (no extractor can find
    it) or when it is in what trafilatura takes for reader comments (lost with comments off).
    """
    html_of = {p.file: h for p, h in zip(pages, htmls)}
    hints: dict[str, tuple[str, str]] = {}

    def why(file: str, snippet: str) -> str:
        if file not in hints:
            hints[file] = (visible_text(html_of[file]), comments_text(html_of[file]))
        page_text, comments = hints[file]
        if _ws(snippet) not in page_text:
            return "  (not in the page's text at all)"
        return "  (in reader comments)" if _ws(snippet) in comments else ""

    lines = []
    for r in results:
        bad = [p for p in r["per_page"] if p["exact"]["missed"] or p["exact"]["unwanted"]]
        lines.append(f"\n## {r['label']}: {len(bad)} of {len(r['per_page'])} pages with missed or unwanted snippets\n")
        for p in bad:
            size = " (no text extracted)" if not p["chars"] else f" ({p['chars']} chars)"
            lines.append(f"- {p['file']}{size}{' [bundled]' if p['bundled'] else ''}")
            for snippet in p["exact"]["missed"]:
                lines.append(f"    missed:   {snippet!r}{why(p['file'], snippet)}")
            for snippet in p["exact"]["unwanted"]:
                lines.append(f"    unwanted: {snippet!r}")
            if r["errors"].get(p["file"]):
                lines.append(f"    error: {r['errors'][p['file']]}")
    return "\n".join(lines)


def machine_info() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    cpu_model = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = {}
    for package in ("trafilatura", "lxml", "htmldate", "justext", "charset-normalizer"):
        try:
            versions[package] = version(package)
        except PackageNotFoundError:
            pass
    return {"cpus": os.cpu_count(), "cpu_model": cpu_model, "platform": platform.platform(), "python": platform.python_version(), "versions": versions}


# --------------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Score Ernte's text extraction with trafilatura's evaluation (snippets that must / must not appear) on trafilatura's test pages.",
        epilog="Exit status: 0 Ernte's default F1 meets the 0.92 target, 1 below it, 2 could not run.",
    )
    parser.add_argument("--configs", default=",".join(CONFIG_NAMES), help=f"comma-separated, from {', '.join(CONFIG_NAMES)} (default: all)")
    parser.add_argument("--variant", action="append", default=[], metavar="FIELD=VALUE,...", help="also score Ernte with these ExtractConfig fields changed, e.g. favor_precision=false,deduplicate=false (repeatable)")
    parser.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE, help="where the trafilatura 0.9.3 sdist is kept (default: bench/.cache/)")
    parser.add_argument("--sdist", type=Path, help="use this local trafilatura-0.9.3.tar.gz instead of the cache or a download")
    parser.add_argument("--bundled-only", action="store_true", help="score only the 14 pages bundled in tests/data/extract (no download)")
    parser.add_argument("--decode", choices=("ernte", "eval"), default="ernte", help="ernte: pipeline.warc_input.decode_html (default); eval: UTF-8, else cp1252, as trafilatura's evaluation")
    parser.add_argument("--repeat", type=int, default=1, help="timed passes over all pages per configuration; median reported (default: %(default)s)")
    parser.add_argument("--verbose", "-v", action="store_true", help="list, per configuration, the pages with missed or unwanted snippets")
    parser.add_argument("--json", type=Path, metavar="OUT", help="write settings, totals and per-page results here")
    parser.add_argument("--dump-text", type=Path, metavar="DIR", help="write every extracted text to DIR/<config>/<page>.txt")
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.configs.split(",") if n.strip()]
    unknown = [f"unknown config {n!r} (choose from {', '.join(CONFIG_NAMES)})" for n in names if n not in CONFIG_NAMES]
    sys.path.insert(0, str(REPO))
    try:
        variants = [parse_variant(spec) for spec in args.variant]
    except ValueError as err:
        unknown.append(f"--variant {err}")
    if unknown or not (names or args.variant) or args.repeat < 1:
        parser.print_usage(sys.stderr)
        print(f"extract_eval.py: error: {'; '.join(unknown)}" if unknown else "extract_eval.py: error: need a config and --repeat >= 1", file=sys.stderr)
        return 2

    started = dt.datetime.now(dt.timezone.utc)
    try:
        pages, sources = load_pages(args)
    except (DataUnavailable, OSError) as err:
        print(f"extract_eval.py: cannot get the benchmark data: {err}", file=sys.stderr)
        print(
            "Get trafilatura-0.9.3.tar.gz from PyPI yourself, e.g.\n"
            "  pip download --no-deps --no-binary :all: trafilatura==0.9.3 -d DIR\n"
            "and pass --sdist DIR/trafilatura-0.9.3.tar.gz, or run --bundled-only (14 pages, no download).",
            file=sys.stderr,
        )
        return 2
    decode = decoder(args.decode)
    htmls = [decode(p.data) for p in pages]
    extractors, notes = make_extractors(names, variants)
    for note in notes:
        print(f"note: {note}", file=sys.stderr)

    load_before = os.getloadavg()
    results = []
    for name, (label, fn, reset) in extractors.items():
        print(f"{name}: {len(pages)} pages x {args.repeat} ...", file=sys.stderr)
        results.append(run_config(name, label, fn, reset, pages, htmls, args.repeat))
    load_after = os.getloadavg()

    print(f"\nExtraction benchmark, {started:%Y-%m-%d}, {os.cpu_count()} CPUs, {len(pages)} pages ({sources['pages']})")
    if "snippets" in sources:
        print(f"Snippets: {sources['snippets']}; decoding: {args.decode}; exact substring matching unless noted\n")
    print(markdown(results))
    n_bundled = sum(p.bundled for p in pages)
    if n_bundled and n_bundled < len(pages):
        print(f"\nSubset: the {n_bundled} pages bundled in {BUNDLED.relative_to(REPO)} (tests/test_extract.py)\n")
        print(markdown(results, subset=lambda p: p["bundled"], timing=False))
    by_name = {r["config"]: r for r in results}
    if "ernte" in by_name and "trafilatura-datatrove" in by_name:
        same = sum(a == b for a, b in zip(by_name["ernte"]["texts"], by_name["trafilatura-datatrove"]["texts"]))
        print(f"\nErnte default and trafilatura with datatrove's args give the same text on {same} of {len(pages)} pages.")
    for r in results:
        if r["errors"]:
            print(f"WARNING: {r['label']} raised on {len(r['errors'])} page(s): {sorted(r['errors'])[:5]}")
    if max(load_before[0], load_after[0]) > 0.5 * (os.cpu_count() or 1):
        print(f"WARNING: load average {load_before[0]:.1f} before, {load_after[0]:.1f} after: other work may distort the timings")
    verdict = None
    if "ernte" in by_name:
        f1 = summarize(by_name["ernte"])["f1"]
        verdict = f1 >= TARGET_F1
        print(f"\nErnte default F1 {f1:.3f}: {'meets' if verdict else 'BELOW'} the {TARGET_F1} target")
    if args.verbose:
        print(verbose_report(results, pages, htmls))

    if args.dump_text:
        for r in results:
            folder = args.dump_text / r["config"]
            folder.mkdir(parents=True, exist_ok=True)
            for page, text in zip(pages, r["texts"]):
                (folder / (page.file + ".txt")).write_text(text or "", encoding="utf-8")
    if args.json:
        record = {
            "benchmark": "extract_eval",
            "date": started.isoformat(timespec="seconds"),
            "command": " ".join(["python", *sys.argv]),
            "machine": machine_info(),
            "load_average_1min": {"before": load_before[0], "after": load_after[0]},
            "settings": {"configs": list(extractors), "decode": args.decode, "repeat": args.repeat, "bundled_only": args.bundled_only, "target_f1": TARGET_F1},
            "sources": sources,
            "notes": notes,
            "results": [
                {
                    **{k: v for k, v in r.items() if k != "texts"},
                    "total": summarize(r),
                    "total_bundled_subset": summarize(r, lambda p: p["bundled"]),
                }
                for r in results
            ],
        }
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        print(f"\nwrote {args.json}", file=sys.stderr)
    if verdict is None:  # Ernte's default not run: nothing to judge
        return 0
    return 0 if verdict else 1


if __name__ == "__main__":
    sys.exit(main())
