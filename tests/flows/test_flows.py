"""Real Prefect flow runs (a local test server), a real Dask LocalCluster, real crawls."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from curate_inputs import Capture, english_pages, page_html, write_warc

from pipeline.config import CurateConfig
from pipeline.curate import run_curate


def _rows(out: Path, sub: str) -> list[dict]:
    rows = [r for p in sorted((out / sub).glob("*.parquet")) for r in pq.read_table(p).to_pylist()]
    return sorted(rows, key=lambda r: r["doc_id"])


@pytest.fixture(scope="module")
def warc_files(tmp_path_factory) -> list[Path]:
    pages = english_pages()
    root = tmp_path_factory.mktemp("flow-warcs")
    files = []
    for k in range(3):
        caps = [Capture(f"https://flows.example.org/{k}/{i}.html", page_html(pages[k * 4 + i], f"https://flows.example.org/{k}/{i}.html"), date=f"2024-05-0{k + 1}T10:0{i}:00Z") for i in range(4)]
        if k == 2:  # the same page again, fetched later: an exact duplicate across files
            caps.append(Capture("https://mirror.example.net/0/0.html", page_html(pages[0], "https://flows.example.org/0/0.html"), date="2024-06-01T00:00:00Z"))
        files.append(write_warc(root / f"flow-{k}.warc.gz", caps))
    return files


def test_curate_flow_on_dask_equals_the_process_pool(prefect_server, warc_files, tmp_path):
    from pipeline.flows import curate_flow_with

    local, on_dask = tmp_path / "local", tmp_path / "dask"
    run_curate(warc_files, local, CurateConfig(workers=2), progress=False)
    state = curate_flow_with("dask", dask_workers=2)([str(p) for p in warc_files], str(on_dask), {"workers": 2}, return_state=True)
    result = state.result()
    assert result["run_id"] == "run-0001" and result["documents"] == 13
    # The cluster's worker processes end without the interpreter's teardown (pipeline.dask_worker):
    # what Prefect sent from them still arrived, each task run's end state and log line.
    def curate_runs(task_runs):
        return [r for r in task_runs if r.name.startswith("curate ")]

    def settled(task_runs, messages):
        done = [r for r in curate_runs(task_runs) if r.state is not None and r.state.is_completed()]
        return done and len(done) == len(curate_runs(task_runs)) and sum("Finished in state Completed" in m for m in messages) >= len(done)

    task_runs, messages = _task_runs_and_logs(state.state_details.flow_run_id, settled)
    assert curate_runs(task_runs) and all(r.state.is_completed() for r in curate_runs(task_runs)), [(r.name, r.state) for r in task_runs]
    assert sum("Finished in state Completed" in m for m in messages) >= len(curate_runs(task_runs)), messages
    for sub in ("provenance", "shards"):
        assert _rows(on_dask, sub) == _rows(local, sub), sub
    prov = _rows(on_dask, "provenance")
    assert sum(r["drop_reason"] == "exact_duplicate" for r in prov) == 1
    # A rerun finds every input curated: nothing new, nothing written twice.
    again = curate_flow_with("process", workers=2)([str(p) for p in warc_files], str(on_dask), {"workers": 2})
    assert again["run_id"] is None and len(again["skipped_inputs"]) == 3
    assert _rows(on_dask, "provenance") == prov


def _task_runs_and_logs(flow_run_id, settled, timeout_s: float = 30.0) -> tuple[list, list[str]]:
    """A flow run's task runs and log messages, once `settled(task_runs, messages)` or after
    timeout_s: the server records task run states and logs from its event stream, a moment after
    they arrive."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId, LogFilter, LogFilterFlowRunId

    deadline = time.monotonic() + timeout_s
    with get_client(sync_client=True) as client:
        while True:
            task_runs = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])))
            messages = [log.message for log in client.read_logs(log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id])))]
            if settled(task_runs, messages) or time.monotonic() > deadline:
                return task_runs, messages
            time.sleep(0.5)


def _run_records(flow_run_id) -> tuple[list, list[str]]:
    """A flow run's artifacts (its subflows' too) and its log messages, from the test server."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        ArtifactFilter,
        ArtifactFilterFlowRunId,
        FlowRunFilter,
        FlowRunFilterParentFlowRunId,
        LogFilter,
        LogFilterFlowRunId,
    )
    from prefect.logging.handlers import APILogWorker

    APILogWorker.drain_all(timeout=5)
    with get_client(sync_client=True) as client:
        children = client.read_flow_runs(flow_run_filter=FlowRunFilter(parent_flow_run_id=FlowRunFilterParentFlowRunId(any_=[flow_run_id])))
        run_ids = [flow_run_id, *(r.id for r in children)]
        artifacts = client.read_artifacts(artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=run_ids)))
        messages: list[str] = []
        while True:
            page = client.read_logs(log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id])), limit=200, offset=len(messages))
            messages += [log.message for log in page]
            if len(page) < 200:
                return artifacts, messages


def _extra_crawl(data: Path, name: str, captures: list) -> None:
    """A crawl directory made elsewhere (WARC files only), as a later crawl of the flow."""
    warc = data / "crawls" / name / "warc"
    warc.mkdir(parents=True)
    write_warc(warc / f"{name}.warc.gz", captures)


def test_end_to_end_flow_crawls_curates_tokenizes_trains_and_skips_what_is_done(prefect_server, tmp_path):
    import time

    from pipeline.config import ErnteConfig
    from pipeline.demo_server import DemoServer
    from pipeline.flows import ernte_flow

    data = tmp_path / "data"
    with DemoServer() as server:
        config = {
            "run": {"data_dir": str(data), "seeds": [server.base_url + "/"]},
            "crawl": {"allow_private": True, "max_pages": 40, "delay_s": 0, "politeness": False},
            "curate": {"workers": 2},  # the demo site opts out of AI training for part of it: the rest trains
            "tokenize": {"vocab_size": 512, "val_fraction": 0.2, "workers": 1},
            "train": {"preset": "tiny", "max_steps": 4, "eval_interval": 4, "checkpoint_interval": 4, "batch_size": 2},
        }
        ErnteConfig.model_validate(config)
        state = ernte_flow(config, return_state=True)
    first = state.result()
    assert first["dataset_version"] == "run-0001"
    assert len(list((data / "crawls").glob("crawl-*/warc/*.warc.gz"))) >= 1
    assert not list((data / "crawls").glob("crawl-*/flow-crawl.unfinished"))
    curated = json.loads((data / "curated" / "manifest.json").read_text())
    assert curated["runs"][0]["funnel"]["kept"] > 0
    assert (data / "tokens" / "run-0001" / "manifest.json").exists()
    card = (data / "models" / "run-0001" / "model_card.md").read_text()
    assert "run-0001" in card
    assert first["report"] == str(data / "report.html") and (data / "report.html").stat().st_size > 0

    # The run's artifacts and logs on the server: funnel and counts tables, a summary naming the
    # report, progress of curation and training at 100%, the crawl child's Scrapy log.
    for attempt in range(20):  # logs arrive in batches
        artifacts, messages = _run_records(state.state_details.flow_run_id)
        if any("Dumping Scrapy stats" in m for m in messages) or attempt == 19:
            break
        time.sleep(0.5)
    by_key = {a.key: a for a in artifacts}
    assert {"curate-funnel", "ernte-run-counts", "ernte-run", "curate-progress", "train-progress"} <= set(by_key), sorted(by_key)
    assert by_key["curate-funnel"].type == "table" and "kept" in str(by_key["curate-funnel"].data)
    assert str(data / "report.html") in by_key["ernte-run"].data
    assert by_key["curate-progress"].data == 100 and by_key["train-progress"].data == 100
    assert any("[scrapy.statscollectors] Dumping Scrapy stats" in m for m in messages), messages[:20]
    assert any(m.startswith("pages fetched:") for m in messages)
    assert any(m.startswith("step 4/4: loss") for m in messages), "the training loop's log is not in the run log"

    # No seeds now: nothing to crawl, no new WARC file, the same dataset version: nothing redone.
    config["run"]["seeds"] = []
    model_mtime = (data / "models" / "run-0001" / "model_card.md").stat().st_mtime_ns
    second = ernte_flow(config)
    assert second["dataset_version"] == "run-0001" and second["curate"]["run_id"] is None
    assert "tokenize" not in second and "train" not in second
    assert (data / "models" / "run-0001" / "model_card.md").stat().st_mtime_ns == model_mtime

    # A new crawl whose pages are all dropped: a new dataset version with the same train-eligible
    # documents, so no new tokens or model.
    _extra_crawl(data, "crawl-20990101T000000", [Capture(f"https://short.example.org/{i}.html", b"<html><body><p>Too short.</p></body></html>") for i in range(3)])
    third = ernte_flow(config)
    assert third["dataset_version"] == "run-0002" and third["curate"]["kept"] == 0
    assert "tokenize" not in third and "train" not in third and "run-0001" in third["skipped"]
    assert third["model"] == str(data / "models" / "run-0001")
    assert not (data / "tokens" / "run-0002").exists() and not (data / "models" / "run-0002").exists()

    # New train-eligible documents: a new version, tokenized and trained.
    pages = english_pages()
    _extra_crawl(data, "crawl-20990102T000000", [Capture(f"https://new.example.org/{i}.html", page_html(pages[i], f"https://new.example.org/{i}.html")) for i in range(3)])
    fourth = ernte_flow(config)
    assert fourth["dataset_version"] == "run-0003" and "train" in fourth and "skipped" not in fourth
    assert (data / "models" / "run-0003" / "model_card.md").exists()
    assert json.loads((data / "models" / "run-0003" / "eligible.json").read_text())["eligible_documents"] == json.loads((data / "models" / "run-0001" / "eligible.json").read_text())["eligible_documents"] + 3


def test_prefect_yaml_deploys_and_a_deployment_runs_on_a_process_worker(prefect_server, warc_files, tmp_path):
    """prefect.yaml as shipped: deployed to the test server, one deployment run by a real
    process worker, curating WARC files placed where the configuration says."""
    import os
    import shutil
    import subprocess
    import sys

    from prefect.settings import PREFECT_API_URL

    root = Path(__file__).resolve().parents[2]
    data = tmp_path / "data"
    crawl = data / "crawls" / "crawl-20240101T000000" / "warc"
    crawl.mkdir(parents=True)
    for path in warc_files:
        shutil.copy(path, crawl / path.name)
    config = tmp_path / "pipeline.yaml"
    config.write_text(f"run:\n  data_dir: {data}\ncurate:\n  workers: 1\n")
    env = dict(os.environ, PREFECT_API_URL=PREFECT_API_URL.value(), ERNTE_CONFIG=str(config), PWD=str(root))
    prefect = [sys.executable, "-m", "prefect"]

    def run(*args, timeout=240):
        done = subprocess.run([*prefect, *args], cwd=root, env=env, capture_output=True, text=True, timeout=timeout)
        assert done.returncode == 0, (args, done.stdout[-3000:], done.stderr[-3000:])
        return done.stdout

    run("work-pool", "create", "ernte", "--type", "process", "--overwrite")
    deployed = run("--no-prompt", "deploy", "--all")
    assert "nightly-crawl-curate" in deployed and "weekly-tokenize-train" in deployed
    run("deployment", "run", "ernte-scheduled/nightly-crawl-curate", "--param", 'stages=["curate"]')
    worker = subprocess.run([*prefect, "worker", "start", "--pool", "ernte", "--run-once"], cwd=root, env=env, capture_output=True, text=True, timeout=300)
    assert worker.returncode == 0 and "submitting flow run" in worker.stdout + worker.stderr, worker.stderr[-3000:]
    manifest = json.loads((data / "curated" / "manifest.json").read_text())
    assert manifest["runs"][0]["funnel"]["kept"] >= 10
    assert len(manifest["runs"][0]["inputs"]) == 3


def test_ernte_demo_runs_the_whole_path_as_one_flow(tmp_path):
    """`ernte demo`, as the README's first command runs it (smaller): its own embedded Prefect
    server, the demo site, crawl to model, a sample and where everything is."""
    import os
    import subprocess
    import sys

    out = tmp_path / "demo"
    env = dict(os.environ, PREFECT_HOME=str(tmp_path / "prefect-home"), PREFECT_SERVER_ANALYTICS_ENABLED="false")
    env.pop("PREFECT_API_URL", None)
    done = subprocess.run(
        [sys.executable, "-m", "pipeline.cli", "demo", "--out", str(out), "--max-pages", "25", "--train-steps", "5"],
        env=env, capture_output=True, text=True, timeout=420,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    for label in ("shards:", "provenance:", "model card:", "sample:", "ernte inspect"):
        assert label in done.stdout, done.stdout
    assert (out / "models" / "run-0001" / "model.safetensors").exists()
    assert json.loads((out / "curated" / "manifest.json").read_text())["runs"][0]["funnel"]["kept"] > 0
