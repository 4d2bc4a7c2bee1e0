"""Prefect flows: each stage as a flow, and one that chains them.

Tasks are coarse, because Prefect costs 0.1-0.3 s per task run: one per crawl, one per WARC file
or byte range of a large one for curation (small files share a task, up to BATCH_TARGET_BYTES,
with at least two tasks per worker), one for tokenizing, one for training; never one per
document. The curate flow is `pipeline.curate.run_curate` with its per-file tasks submitted to the
flow's task runner instead of a local process pool, so both paths write the same outputs:

- `task_runner="process"` (the default): Prefect's ProcessPoolTaskRunner on this machine;
- `task_runner="dask"`: prefect-dask's DaskTaskRunner, on the cluster at `dask_address`, or on a
  LocalCluster of `dask_workers` worker processes when no address is given. The end-to-end flow
  starts that LocalCluster in the background when it begins, so that its workers are warm (Prefect
  and the curation stack imported, the language-ID model loaded) by the time the crawl is done
  (`WarmCluster`).

A rerun skips finished work: curation reuses every work file whose name is the hash of the input
file's sha256, the byte range and the per-document configuration, and skips inputs already in the
curated directory's manifest. A failing file is retried (FILE_ATTEMPTS), then reported; the
others are still curated.

The end-to-end flow survives being killed at any point: a crawl directory is marked unfinished
until its crawl task succeeds (an unfinished one is resumed, never curated); curation commits with
its manifest, tokenizing with its manifest, training with its model card, and an interrupted
training resumes from its checkpoint. It tokenizes and trains only when the train-eligible
documents of the newest dataset version differ from those of every version a model was trained on
(`eligible_fingerprint`, stored as models/<version>/eligible.json).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Literal

from prefect import flow, get_run_logger, task
from prefect.artifacts import (
    create_markdown_artifact,
    create_progress_artifact,
    create_table_artifact,
    update_progress_artifact,
)
from prefect.cache_policies import NO_CACHE
from prefect.futures import as_completed

from pipeline.config import CurateConfig, TokenizeConfig, TrainConfig
from pipeline.curate import run_curate
from pipeline.curate_worker import FileResult, FileTask, curate_file, read_work_result
from pipeline.files import write_json_atomically

TaskRunnerName = Literal["process", "dask"]

UNFINISHED_CRAWL = "flow-crawl.unfinished"  # in a crawl directory while the flow's crawl task has not succeeded
ELIGIBLE_FILE = "eligible.json"  # in a model directory: the train-eligible documents it was trained on
PROGRESS_EVERY_S = 2.0  # at most one progress artifact update per this many seconds (each is an API call)


@contextlib.contextmanager
def _forwarded_logs(*names: str, level: int = logging.INFO) -> Iterator[None]:
    """Library loggers (trafilatura, training, ...) also go to the Prefect run log while inside a
    task or flow run (what PREFECT_LOGGING_EXTRA_LOGGERS does, without depending on the
    environment the process was started in)."""
    from prefect.logging.handlers import APILogHandler

    handler = APILogHandler(level=level)
    loggers = [logging.getLogger(name) for name in names]
    raised = []
    for logger in loggers:
        if not any(isinstance(h, APILogHandler) for h in logger.handlers):
            logger.addHandler(handler)
        if logger.getEffectiveLevel() > level:
            raised.append((logger, logger.level))
            logger.setLevel(level)
    try:
        yield
    finally:
        for logger in loggers:
            logger.removeHandler(handler)
        for logger, previous in raised:
            logger.setLevel(previous)


class _Progress:
    """A Prefect progress artifact, updated at most every PROGRESS_EVERY_S seconds and at 100%."""

    def __init__(self, key: str, description: str):
        self.description = description
        self.id = create_progress_artifact(0.0, key=key, description=description)
        self.last = time.monotonic()

    def update(self, done: float, total: float) -> None:
        percent = min(100.0, 100.0 * done / total) if total else 100.0
        if percent >= 100.0 or time.monotonic() - self.last >= PROGRESS_EVERY_S:
            update_progress_artifact(self.id, percent, description=f"{self.description}: {done:g} of {total:g}")
            self.last = time.monotonic()


@contextlib.contextmanager
def prefect_api() -> Iterator[str | None]:
    """The Prefect API for this process *and its children*: PREFECT_API_URL when set, otherwise
    one temporary server started here (and no flow-run heartbeats, see below). Without it, Prefect
    starts a temporary server in this process on first use, and every process-pool or Dask worker
    process, which does not know its address, starts another one (10-25 s each on 2 cores, before
    the first task can run)."""
    from prefect.settings import PREFECT_API_URL, PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

    if PREFECT_API_URL.value():
        yield PREFECT_API_URL.value()
        return
    from prefect.server.api.server import SubprocessASGIServer

    server = SubprocessASGIServer()
    server.start()  # stopped at exit (atexit), after Prefect's log and event workers have drained,
    # as Prefect does with its own temporary server: stopping it here would leave their last
    # batches retrying against a closed port for a minute.
    os.environ["PREFECT_API_URL"] = server.api_url  # inherited by worker processes
    try:
        # Flow-run heartbeats let a server mark runs whose process died; this server dies with the
        # process, so here they serve nothing, and every flow and subflow run would end by waiting
        # for the heartbeat thread's current 1-second sleep (Prefect 3.8: up to 1 s each).
        with temporary_settings(updates={PREFECT_API_URL: server.api_url, PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
            yield server.api_url
    finally:
        os.environ.pop("PREFECT_API_URL", None)


# A Prefect task costs 0.1-0.3 s (engine, API calls, Dask round trip): WARC files much smaller
# than a byte range share a task, so that cost stays small next to the work.
BATCH_TARGET_BYTES = 16 << 20
FILE_ATTEMPTS = 3  # per WARC file (or byte range) inside a batch: transient I/O errors are retried


def task_bytes(file_task: FileTask) -> int:
    end = file_task.end if file_task.end is not None else Path(file_task.input_path).stat().st_size
    return end - file_task.start


def batches(todo: list[FileTask], workers: int, target_bytes: int = BATCH_TARGET_BYTES) -> list[list[FileTask]]:
    """Groups of curation tasks, one Prefect task each: enough groups that each holds about
    `target_bytes`, at least two per worker (so the load evens out), at most one per file task.
    Largest first into the lightest group (LPT); the heaviest group comes first."""
    if not todo:
        return []
    sizes = {id(t): task_bytes(t) for t in todo}
    count = min(len(todo), max(2 * max(workers, 1), -(-sum(sizes.values()) // target_bytes)))
    groups: list[list[FileTask]] = [[] for _ in range(count)]
    loads = [0] * count
    for t in sorted(todo, key=lambda t: -sizes[id(t)]):
        lightest = loads.index(min(loads))
        groups[lightest].append(t)
        loads[lightest] += sizes[id(t)]
    return [g for _, g in sorted(zip(loads, groups), key=lambda lg: -lg[0]) if g]


def _label(group: list[FileTask]) -> str:
    first = Path(group[0].input_path).name
    return first if len(group) == 1 else f"{first} and {len(group) - 1} more"


@task(name="curate-files", retries=1, retry_delay_seconds=2, cache_policy=NO_CACHE, task_run_name="curate {label}")
def curate_files_task(file_tasks: list[FileTask], label: str) -> list[FileResult | str]:
    """Curate a group of WARC files (or byte ranges) one after the other; a file that keeps
    failing gives its error message instead of a result, and the others go on. A retry of the
    whole task (a worker lost, say) skips what the first attempt finished (its work files)."""
    # Dask runs it in a worker thread: filters.extract enforces the per-document limit there too.
    outcomes: list[FileResult | str] = []
    with _forwarded_logs("trafilatura", "pipeline.curate_worker", "filters", level=logging.WARNING):
        for file_task in file_tasks:
            stored = read_work_result(file_task.work_path) if Path(file_task.work_path).exists() else None
            if stored is not None:
                outcomes.append(stored)
                continue
            for attempt in range(1, FILE_ATTEMPTS + 1):
                try:
                    outcomes.append(curate_file(file_task))
                    break
                except Exception as exc:  # noqa: BLE001 - reported per file by run_curate
                    get_run_logger().warning(f"{file_task.input_path}: attempt {attempt} of {FILE_ATTEMPTS} failed: {type(exc).__name__}: {exc}")
                    if attempt == FILE_ATTEMPTS:
                        outcomes.append(f"{type(exc).__name__}: {exc}")
                    else:
                        time.sleep(2)
    return outcomes


def _prefect_mapper(workers: int):
    """run_curate's TaskMapper: the file tasks as batched Prefect tasks on the flow's task runner."""

    def submit(todo: list[FileTask]) -> Iterable[tuple[FileTask, FileResult | BaseException]]:
        progress = _Progress("curate-progress", f"Curation: WARC files and byte ranges done ({len(todo)} to do)")
        groups = batches(todo, workers)
        futures = {curate_files_task.submit(g, _label(g)): g for g in groups}
        done = 0
        for future in as_completed(list(futures)):
            group = futures[future]
            try:
                outcomes: list = future.result()
            except Exception as exc:  # the whole task failed: each of its files is reported
                outcomes = [exc] * len(group)
            for file_task, outcome in zip(group, outcomes):
                done += 1
                yield file_task, RuntimeError(outcome) if isinstance(outcome, str) else outcome
            progress.update(done, len(todo))

    return submit


def _configure_dask() -> None:
    """Dask settings for the LocalClusters Ernte starts (an existing cluster is not ours to configure).
    Measured on curation (bench/scale.py, BENCHMARKS.md): Dask's statistical profiler samples the
    working thread's stack every 10 ms, MALLOC_TRIM_THRESHOLD_=65536, which Dask sets for its
    worker processes, makes glibc hand memory back after nearly every large free, and the event
    loop's health tick (every 20 ms) and system monitor (500 ms) take the GIL from the working
    thread; together about 5 % of the curation time."""
    import dask

    dask.config.set(
        {
            "distributed.worker.profile.enabled": False,
            "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None,
            "distributed.admin.tick.interval": "1s",
            "distributed.admin.system-monitor.interval": "5s",
        }
    )


def _local_cluster_kwargs(workers: int) -> dict:
    # One thread per worker process: curation is CPU-bound Python. pipeline.dask_worker ends each
    # worker process without the interpreter's teardown once the worker closed.
    return {"n_workers": workers, "threads_per_worker": 1, "processes": True, "dashboard_address": None, "preload": ["pipeline.dask_worker"]}


def _task_runner(name: TaskRunnerName, workers: int, dask_address: str | None, dask_workers: int):
    if name == "dask":
        from prefect_dask import DaskTaskRunner

        if dask_address:
            return DaskTaskRunner(address=dask_address)
        _configure_dask()
        return DaskTaskRunner(cluster_kwargs=_local_cluster_kwargs(dask_workers))
    from prefect.task_runners import ProcessPoolTaskRunner

    return ProcessPoolTaskRunner(max_workers=workers)


class WarmCluster:
    """A LocalCluster for the end-to-end flow's curate stage, started in the background when the flow
    begins: its workers start, import Prefect and the curation stack and load the fastText model while
    the crawl runs (about 3 s of a curate flow's fixed cost otherwise: the cluster's start, the imports
    in each spawned worker). The curate flow then runs on it (`dask_address`), and it is closed after
    curation. When it cannot be started, the curate flow starts a LocalCluster of its own."""

    def __init__(self, workers: int):
        import threading

        self._cluster = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._start, args=(workers,), name="ernte-dask-cluster", daemon=True)
        self._thread.start()

    def _start(self, workers: int) -> None:
        try:
            from distributed import Client, LocalCluster

            from pipeline import dask_worker

            _configure_dask()
            self._cluster = LocalCluster(**_local_cluster_kwargs(workers))
            with Client(self._cluster) as client:
                client.run(dask_worker.warm)
        except Exception as exc:  # noqa: BLE001 - address() reports it, and curation starts its own cluster
            self._error = exc

    def address(self) -> str | None:
        """The scheduler's address once the workers are warm; None when the start failed."""
        self._thread.join()
        if self._error is not None or self._cluster is None:
            logging.getLogger(__name__).warning(f"the Dask cluster started in the background failed ({self._error!r}); curation starts its own")
            return None
        return self._cluster.scheduler_address

    def close(self) -> None:
        self._thread.join()
        if self._cluster is not None:
            self._cluster.close()
            self._cluster = None


def _funnel_artifacts(summary, out: Path) -> None:
    rows = [{"stage": key, "documents": value} for key, value in sorted(summary.funnel.items())]
    if rows:
        create_table_artifact(rows, key="curate-funnel", description=f"Curation funnel of {summary.run_id} in {out}")
    lines = [f"# Curation of {out}", "", f"- run: {summary.run_id or 'nothing new'}", f"- documents: {summary.documents}, kept: {summary.kept}"]
    lines += [f"- already curated, skipped: {len(summary.skipped_inputs)} file(s)"] if summary.skipped_inputs else []
    lines += [f"- FAILED: `{failed}`" for failed in summary.failed_inputs]
    lines += ["", f"Provenance: `{out}/provenance/`; shards: `{out}/shards/`; manifest: `{out}/manifest.json`."]
    create_markdown_artifact("\n".join(lines), key="curate-summary", description="Curation summary")


def _curate(inputs: list[str], out: str, config: dict | None) -> dict:
    logger = get_run_logger()
    curate_config = CurateConfig.model_validate(config or {})
    with _forwarded_logs("pipeline.curate", level=logging.WARNING):
        summary = run_curate([Path(p) for p in inputs], Path(out), curate_config, progress=False, map_tasks=_prefect_mapper(curate_config.workers))
    for line in summary.lines():
        logger.info(line)
    _funnel_artifacts(summary, Path(out))
    if summary.failed_inputs:
        raise RuntimeError("curation failed for: " + "; ".join(summary.failed_inputs))
    if summary.no_usable_record:
        raise RuntimeError(f"no usable record in the inputs: {', '.join(inputs)}")
    return {"run_id": summary.run_id, "documents": summary.documents, "kept": summary.kept, "skipped_inputs": summary.skipped_inputs, "funnel": summary.funnel}


@flow(name="ernte-curate")
def curate_flow(inputs: list[str], out: str, config: dict | None = None) -> dict:
    """`ernte curate` as a flow: one task per WARC file or byte range on the flow's task runner."""
    return _curate(inputs, out, config)


def curate_flow_with(task_runner: TaskRunnerName = "process", workers: int = 2, dask_address: str | None = None, dask_workers: int = 2):
    """curate_flow on the chosen task runner."""
    return curate_flow.with_options(task_runner=_task_runner(task_runner, workers, dask_address, dask_workers))


@task(name="tokenize", cache_policy=NO_CACHE)
def tokenize_task(curated_dir: str, out: str, config: dict | None = None) -> dict:
    from training.tokenize_dataset import run_tokenize

    with _forwarded_logs("training"):
        summary = run_tokenize(Path(curated_dir), Path(out), TokenizeConfig.model_validate(config or {}), progress=False)
    for line in summary.lines():
        get_run_logger().info(line)
    return {"out": out}


class _TrainProgress(logging.Handler):
    """Turns run_train's "step N/M" log lines into a progress artifact (run_train has no hook)."""

    def __init__(self, progress: _Progress):
        super().__init__(logging.INFO)
        self.progress = progress

    def emit(self, record: logging.LogRecord) -> None:
        if isinstance(record.msg, str) and record.msg.startswith("step %d/%d") and len(record.args or ()) >= 2:
            with contextlib.suppress(Exception):  # progress is best effort; training goes on
                self.progress.update(record.args[0], record.args[1])


@task(name="train", cache_policy=NO_CACHE)
def train_task(tokdir: str, out: str, config: dict | None = None, resume: bool = False) -> dict:
    from training import checkpoint as ckpt
    from training.train import TrainInputError, run_train

    train_config = TrainConfig.model_validate(config or {})
    progress = _Progress("train-progress", f"Training {out}: steps done")
    hook = _TrainProgress(progress)
    train_logger = logging.getLogger("ernte.train")  # training/train.py's
    train_logger.addHandler(hook)
    try:
        with _forwarded_logs("training", "ernte.train"):
            try:
                summary = run_train(Path(tokdir), Path(out), train_config, resume=resume)
            except TrainInputError as exc:
                if not (resume and "different steps" in str(exc)):
                    raise
                # Killed between writing the weights and the training state: no consistent
                # checkpoint to continue from, so the training starts again.
                get_run_logger().warning(f"{exc}: training {out} again from the start")
                for name in (ckpt.STATE_FILE, ckpt.WEIGHTS_FILE):
                    Path(out, name).unlink(missing_ok=True)
                summary = run_train(Path(tokdir), Path(out), train_config, resume=False)
    finally:
        train_logger.removeHandler(hook)
    progress.update(train_config.max_steps, train_config.max_steps)
    for line in summary.lines():
        get_run_logger().info(line)
    return {"out": out}


@flow(name="ernte-tokenize")
def tokenize_flow(curated_dir: str, out: str, config: dict | None = None) -> dict:
    return tokenize_task(curated_dir, out, config)


@flow(name="ernte-train")
def train_flow(tokdir: str, out: str, config: dict | None = None, resume: bool = False) -> dict:
    return train_task(tokdir, out, config, resume)


# Scrapy's default log format: "2024-05-01 10:00:00 [scrapy.core.engine] INFO: Spider opened"
_SCRAPY_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \[(?P<name>[^\]]+)\] (?P<level>DEBUG|INFO|WARNING|ERROR|CRITICAL): (?P<message>.*)$")


class _ChildLog:
    """Forwards the crawl child's stderr to the run logger, one record per log message (the
    lines of a multi-line one, like Scrapy's stats dump, stay together) at its own level."""

    def __init__(self, logger):
        self.logger = logger
        self.level, self.lines = logging.INFO, []
        self.last_level: int | None = None  # of the message sent last (its continuation lines follow it)

    def __call__(self, line: str) -> None:
        match = _SCRAPY_LINE.match(line)
        if match is None and self.lines:
            self.lines.append(line)
            return
        self.flush()
        if match is None:  # a continuation of a message already sent, or not from a logger
            self.level, self.lines = self.last_level or logging.WARNING, [f"[crawl] {line}"]
            return
        self.level, self.lines = logging.getLevelName(match["level"]), [f"[{match['name']}] {match['message']}"]
        # Multi-line messages (stats dumps, settings, tracebacks) announce themselves with a
        # colon; any other line goes out now, not when the next line arrives, which can be a
        # minute later in a quiet crawl (the run log would show it late).
        if not match["message"].rstrip().endswith(":"):
            self.flush()

    def flush(self) -> None:
        if self.lines and any(line.strip() for line in self.lines):
            self.logger.log(self.level, "\n".join(self.lines))
            self.last_level = self.level
        self.lines = []


@task(name="crawl", cache_policy=NO_CACHE, retries=1, retry_delay_seconds=5)
def crawl_task(seeds: list[str], out: str, config: dict | None = None) -> dict:
    """Crawls SEEDS into OUT, or continues the crawl there (an interrupted flow run's), and marks
    OUT finished only when the crawl succeeded."""
    # The Twisted reactor cannot restart: the crawl runs in a child process.
    from crawlers.crawl_process import SPEC_NAME, run_crawl
    from crawlers.fetch_log import JOURNAL_NAME
    from pipeline.config import CrawlConfig

    logger = get_run_logger()
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    marker = out_dir / UNFINISHED_CRAWL
    marker.touch()
    resume = (out_dir / "state" / JOURNAL_NAME).exists()
    if (out_dir / "state" / SPEC_NAME).exists():  # an interrupted crawl goes on from its own seeds
        seeds = json.loads((out_dir / "state" / SPEC_NAME).read_text(encoding="utf-8"))["seeds"]
    child_log = _ChildLog(logger)
    try:
        summary = run_crawl(seeds, out_dir, CrawlConfig.model_validate(config or {}), resume=resume, in_process=False, log_line=child_log)
    finally:
        child_log.flush()
    for line in summary.lines():
        logger.info(line)
    if summary.exit_code != 0 or summary.pages_fetched == 0:
        raise RuntimeError(f"crawl into {out} fetched {summary.pages_fetched} page(s), exit code {summary.exit_code}")
    marker.unlink()
    return {"out": out, "pages": summary.pages_fetched, "resumed": resume}


def dataset_version(curated_dir: Path) -> str | None:
    """The curated directory's newest run id: a new one each time a run adds documents."""
    from pipeline.curate import read_manifest

    runs = read_manifest(curated_dir)["runs"]
    return runs[-1]["run_id"] if runs else None


def _crawl_candidates(data_dir: Path) -> list[Path]:
    return [d for d in sorted((data_dir / "crawls").glob("crawl-*")) if (d / "warc").is_dir() or (d / UNFINISHED_CRAWL).exists()]


def crawl_dirs(data_dir: Path) -> list[str]:
    """The finished crawl directories (an unfinished one is resumed first, never curated)."""
    return [str(d) for d in _crawl_candidates(data_dir) if not (d / UNFINISHED_CRAWL).exists()]


def unfinished_crawls(data_dir: Path) -> list[Path]:
    return [d for d in _crawl_candidates(data_dir) if (d / UNFINISHED_CRAWL).exists()]


def eligible_fingerprint(curated_dir: Path) -> dict:
    """sha256 over the sorted doc_ids of the train-eligible documents in the curated directory's
    shards (those tokenizing reads: every committed run's), with their count: from the version's
    manifest (pipeline.versions) when it has one, else computed the same way."""
    from pipeline import versions
    from training.tokenize_dataset import open_curated

    source = open_curated(curated_dir)
    stored = versions.read_version(Path(curated_dir), source.version)
    if stored and "eligible_sha256" in stored:
        count, digest = stored["eligible_documents"], stored["eligible_sha256"]
    else:
        _, count, digest = versions.eligible_fingerprint(Path(curated_dir), [p.name for p in source.shards])
    return {"dataset_version": source.version, "eligible_documents": count, "eligible_sha256": digest}


def _trained_on_same_data(models: Path, version: str, fingerprint: dict) -> Path | None:
    """A finished model of another dataset version trained on exactly these eligible documents."""
    for card in sorted(models.glob("*/model_card.md")):
        stored = card.parent / ELIGIBLE_FILE
        if card.parent.name == version or not stored.is_file():
            continue
        with contextlib.suppress(ValueError, OSError):
            if json.loads(stored.read_text(encoding="utf-8")).get("eligible_sha256") == fingerprint["eligible_sha256"]:
                return card.parent
    return None


@task(name="report", cache_policy=NO_CACHE)
def report_task(curated_dir: str, out: str, crawls: list[str]) -> str | None:
    """One static HTML page about the curated dataset and its crawls (written atomically)."""
    try:
        from pipeline.report import write_report
    except ImportError as exc:  # the flow works without the report module
        get_run_logger().warning(f"no report: pipeline.report cannot be imported ({exc})")
        return None
    # Crawl facts come from Ernte's fetch log; a directory of WARC files made elsewhere has none.
    with_fetch_log = tuple(Path(c) for c in crawls if (Path(c) / "fetches").is_dir())
    written = write_report(Path(curated_dir), Path(out), with_fetch_log)
    get_run_logger().info(f"report: {written}")
    return str(written)


@flow(name="ernte-run")
def ernte_flow(config: dict) -> dict:
    """The whole path: crawl the seeds into a new crawl directory (or finish an interrupted
    one), curate every crawl not yet curated, tokenize and train when the train-eligible documents
    of the dataset's newest version are not those a model was trained on, then write the report."""
    from datetime import datetime, timezone

    from pipeline.config import ErnteConfig

    cfg = ErnteConfig.model_validate(config)
    run = cfg.run
    data = Path(run.data_dir).resolve()
    logger = get_run_logger()
    done: dict[str, object] = {}
    # A LocalCluster for curation warms up while the crawl runs (see WarmCluster).
    warm = WarmCluster(run.dask_workers) if "curate" in run.stages and run.task_runner == "dask" and not run.dask_address else None
    try:
        if "crawl" in run.stages:
            unfinished = unfinished_crawls(data)
            for crawl in unfinished:  # an interrupted run's crawl: finished, instead of starting another
                logger.info(f"continuing the unfinished crawl {crawl}")
                done["crawl"] = crawl_task(run.seeds, str(crawl), cfg.crawl.model_dump(mode="json"))
            if run.seeds and not unfinished:
                stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S")
                done["crawl"] = crawl_task(run.seeds, str(data / "crawls" / f"crawl-{stamp}"), cfg.crawl.model_dump(mode="json"))
        curated = data / "curated"
        inputs = crawl_dirs(data)
        if "curate" in run.stages:
            for leftover in unfinished_crawls(data):
                logger.warning(f"not curating {leftover}: its crawl did not finish (the crawl stage continues it)")
            if not inputs:
                raise RuntimeError(f"nothing to curate: no finished crawl directory under {data / 'crawls'}")
            curate_config = cfg.curate.model_dump(mode="json")
            address = run.dask_address or (warm.address() if warm is not None else None)
            flow_run = curate_flow_with(run.task_runner, cfg.curate.workers, address, run.dask_workers)
            done["curate"] = flow_run(inputs, str(curated), curate_config)
    finally:
        if warm is not None:
            warm.close()
    version = dataset_version(curated)
    if version is None:
        logger.info("no curated dataset yet: nothing to tokenize, train or report")
        return done
    done["dataset_version"] = version
    tokens, model = data / "tokens" / version, data / "models" / version
    counts = [{"stage": "curated runs", "count": len(json.loads((curated / "manifest.json").read_text())["runs"])}]
    if isinstance(done.get("crawl"), dict):
        counts.insert(0, {"stage": "pages crawled", "count": done["crawl"]["pages"]})
    if isinstance(done.get("curate"), dict):
        counts += [{"stage": "documents curated", "count": done["curate"]["documents"]}, {"stage": "documents kept", "count": done["curate"]["kept"]}]
        counts += [{"stage": f"curate funnel: {key}", "count": value} for key, value in sorted(done["curate"].get("funnel", {}).items())]
    notes: list[str] = []
    if {"tokenize", "train"} & set(run.stages):
        fingerprint = eligible_fingerprint(curated)
        counts.append({"stage": "train-eligible documents", "count": fingerprint["eligible_documents"]})
        same = None if (model / "model_card.md").exists() else _trained_on_same_data(data / "models", version, fingerprint)
        if same is not None:
            reason = (
                f"dataset {version} has the same {fingerprint['eligible_documents']} train-eligible documents "
                f"(sha256 {fingerprint['eligible_sha256'][:12]}) as {same.name}, on which {same} was trained: not tokenized or trained again"
            )
            logger.info(reason)
            notes.append(reason)
            done["skipped"] = reason
            model = same
            tokens = data / "tokens" / same.name
        else:
            if "tokenize" in run.stages:
                if (tokens / "manifest.json").exists():
                    logger.info(f"dataset {version} is tokenized already: {tokens}")
                else:  # a killed tokenize left no manifest: redone from the start
                    done["tokenize"] = tokenize_task(str(curated), str(tokens), cfg.tokenize.model_dump(mode="json"))
            if "train" in run.stages:
                if (model / "model_card.md").exists():
                    logger.info(f"a model was trained on dataset {version} already: {model}")
                else:  # a killed training continues from its last checkpoint
                    resume = (model / "checkpoint.pt").exists()
                    if resume:
                        logger.info(f"continuing the interrupted training in {model}")
                    done["train"] = train_task(str(tokens), str(model), cfg.train.model_dump(mode="json"), resume=resume)
                if not (model / ELIGIBLE_FILE).exists():
                    write_json_atomically(model / ELIGIBLE_FILE, fingerprint)
    if (model / "model_card.md").exists():
        done["model"] = str(model)
    written = report_task(str(curated), str(data / "report.html"), inputs)
    if written:
        done["report"] = written
    create_table_artifact(counts, key="ernte-run-counts", description=f"Counts of this run, dataset {version}")
    lines = [f"# Ernte run, dataset {version}", ""]
    lines += [f"- report: `{done['report']}`" if "report" in done else "- report: not written (pipeline.report unavailable)"]
    lines += [f"- data: `{data}`", f"- curated: `{curated}`", f"- tokens: `{tokens}`", f"- model: `{model}`"]
    lines += [f"- {note}" for note in notes]
    create_markdown_artifact("\n".join(lines), key="ernte-run", description="Where this run's outputs are")
    return done


@flow(name="ernte-scheduled")
def scheduled_flow(config_path: str, stages: list[str] | None = None) -> dict:
    """ernte_flow with the configuration read from a file on the worker (prefect.yaml's
    deployments pass its path), optionally limited to some stages."""
    from pipeline.config import load_config

    config = load_config(Path(config_path)).model_dump(mode="json")
    if stages is not None:
        config["run"]["stages"] = stages
    return ernte_flow(config)


logging.getLogger("distributed").setLevel(logging.WARNING)
logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per Prefect API call otherwise
