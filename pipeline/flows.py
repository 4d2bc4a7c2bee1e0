"""Prefect flows: each stage as a flow, and one that chains them.

Tasks are coarse, because Prefect costs 0.1-0.3 s per task run: one per crawl, one per WARC file
(or byte range of a large one) for curation, one for tokenizing, one for training; never one per
document. The curate flow is `pipeline.curate.run_curate` with its per-file tasks submitted to the
flow's task runner instead of a local process pool, so both paths write the same outputs:

- `task_runner="process"` (the default): Prefect's ProcessPoolTaskRunner on this machine;
- `task_runner="dask"`: prefect-dask's DaskTaskRunner, on the cluster at `dask_address`, or on a
  LocalCluster of `dask_workers` worker processes when no address is given.

A rerun skips finished work: curation reuses every work file whose name is the hash of the input
file's sha256, the byte range and the per-document configuration, and skips inputs already in the
curated directory's manifest. Failing files are retried (`retries`), then reported; the others
are still curated.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Iterable, Literal

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.futures import as_completed

from pipeline.config import CurateConfig, TokenizeConfig, TrainConfig
from pipeline.curate import run_curate
from pipeline.curate_worker import FileResult, FileTask, curate_file

TaskRunnerName = Literal["process", "dask"]

@task(name="curate-file", retries=2, retry_delay_seconds=2, cache_policy=NO_CACHE, task_run_name="curate {file_task.input_path}")
def curate_file_task(file_task: FileTask) -> FileResult:
    # Dask runs it in a worker thread: filters.extract enforces the per-document limit there too.
    return curate_file(file_task)


def _submit_to_prefect(todo: list[FileTask]) -> Iterable[tuple[FileTask, FileResult | BaseException]]:
    futures = {curate_file_task.submit(t): t for t in todo}
    for future in as_completed(list(futures)):
        try:
            yield futures[future], future.result()
        except Exception as exc:  # reported by run_curate; the other files go on
            yield futures[future], exc


def _task_runner(name: TaskRunnerName, workers: int, dask_address: str | None, dask_workers: int):
    if name == "dask":
        from prefect_dask import DaskTaskRunner

        if dask_address:
            return DaskTaskRunner(address=dask_address)
        # One thread per worker process: curation is CPU-bound Python.
        return DaskTaskRunner(cluster_kwargs={"n_workers": dask_workers, "threads_per_worker": 1, "processes": True, "dashboard_address": None})
    from prefect.task_runners import ProcessPoolTaskRunner

    return ProcessPoolTaskRunner(max_workers=workers)


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
    summary = run_curate([Path(p) for p in inputs], Path(out), curate_config, progress=False, map_tasks=_submit_to_prefect)
    for line in summary.lines():
        logger.info(line)
    _funnel_artifacts(summary, Path(out))
    if summary.failed_inputs:
        raise RuntimeError("curation failed for: " + "; ".join(summary.failed_inputs))
    if summary.no_usable_record:
        raise RuntimeError(f"no usable record in the inputs: {', '.join(inputs)}")
    return {"run_id": summary.run_id, "documents": summary.documents, "kept": summary.kept, "skipped_inputs": summary.skipped_inputs}


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

    summary = run_tokenize(Path(curated_dir), Path(out), TokenizeConfig.model_validate(config or {}), progress=False)
    for line in summary.lines():
        get_run_logger().info(line)
    return {"out": out}


@task(name="train", cache_policy=NO_CACHE)
def train_task(tokdir: str, out: str, config: dict | None = None, resume: bool = False) -> dict:
    from training.train import run_train

    summary = run_train(Path(tokdir), Path(out), TrainConfig.model_validate(config or {}), resume=resume)
    for line in summary.lines():
        get_run_logger().info(line)
    return {"out": out}


@flow(name="ernte-tokenize")
def tokenize_flow(curated_dir: str, out: str, config: dict | None = None) -> dict:
    return tokenize_task(curated_dir, out, config)


@flow(name="ernte-train")
def train_flow(tokdir: str, out: str, config: dict | None = None, resume: bool = False) -> dict:
    return train_task(tokdir, out, config, resume)


@task(name="crawl", cache_policy=NO_CACHE, retries=1, retry_delay_seconds=5)
def crawl_task(seeds: list[str], out: str, config: dict | None = None) -> dict:
    # The Twisted reactor cannot restart: the crawl runs in a child process.
    from crawlers.crawl_process import run_crawl
    from pipeline.config import CrawlConfig

    summary = run_crawl(seeds, Path(out), CrawlConfig.model_validate(config or {}), resume=Path(out, "state").exists(), in_process=False)
    for line in summary.lines():
        get_run_logger().info(line)
    if summary.exit_code != 0 or summary.pages_fetched == 0:
        raise RuntimeError(f"crawl into {out} fetched {summary.pages_fetched} page(s), exit code {summary.exit_code}")
    return {"out": out, "pages": summary.pages_fetched}


def dataset_version(curated_dir: Path) -> str | None:
    """The curated directory's newest run id: a new one each time a run adds documents."""
    from pipeline.curate import read_manifest

    runs = read_manifest(curated_dir)["runs"]
    return runs[-1]["run_id"] if runs else None


def crawl_dirs(data_dir: Path) -> list[str]:
    return [str(d) for d in sorted((data_dir / "crawls").glob("crawl-*")) if (d / "warc").is_dir()]


@flow(name="ernte-run")
def ernte_flow(config: dict) -> dict:
    """The whole path: crawl the seeds into a new crawl directory, curate every crawl not yet
    curated, then tokenize and train when the dataset has a version no model was trained on."""
    from datetime import datetime, timezone

    from pipeline.config import ErnteConfig

    cfg = ErnteConfig.model_validate(config)
    run = cfg.run
    data = Path(run.data_dir).resolve()
    logger = get_run_logger()
    done: dict[str, object] = {}
    if "crawl" in run.stages and run.seeds:
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S")
        done["crawl"] = crawl_task(run.seeds, str(data / "crawls" / f"crawl-{stamp}"), cfg.crawl.model_dump(mode="json"))
    curated = data / "curated"
    if "curate" in run.stages:
        inputs = crawl_dirs(data)
        if not inputs:
            raise RuntimeError(f"nothing to curate: no crawl directory under {data / 'crawls'}")
        curate_config = cfg.curate.model_dump(mode="json")
        flow_run = curate_flow_with(run.task_runner, cfg.curate.workers, run.dask_address, run.dask_workers)
        done["curate"] = flow_run(inputs, str(curated), curate_config)
    version = dataset_version(curated)
    if version is None:
        logger.info("no curated dataset yet: nothing to tokenize or train")
        return done
    tokens, model = data / "tokens" / version, data / "models" / version
    if "tokenize" in run.stages:
        if (tokens / "manifest.json").exists():
            logger.info(f"dataset {version} is tokenized already: {tokens}")
        else:
            done["tokenize"] = tokenize_task(str(curated), str(tokens), cfg.tokenize.model_dump(mode="json"))
    if "train" in run.stages:
        if (model / "model_card.md").exists():
            logger.info(f"a model was trained on dataset {version} already: {model}")
        else:
            done["train"] = train_task(str(tokens), str(model), cfg.train.model_dump(mode="json"), resume=(model / "checkpoint.pt").exists())
    create_markdown_artifact(
        "\n".join([f"# Ernte run, dataset {version}", "", f"- data: `{data}`", f"- curated: `{curated}`", f"- tokens: `{tokens}`", f"- model: `{model}`"]),
        key="ernte-run",
        description="Where this run's outputs are",
    )
    done["dataset_version"] = version
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
