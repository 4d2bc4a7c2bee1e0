"""`ernte run` killed with SIGKILL (the whole process group) and run again: the same outputs as an
uninterrupted run on the same crawl, nothing twice; a failing stage fails the run naming its input."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

ROOT = Path(__file__).resolve().parents[2]
STAGES = ["curate", "tokenize", "train"]


def _config(data: Path, stages: list[str] = STAGES) -> dict:
    return {
        "run": {"data_dir": str(data), "stages": stages},
        "curate": {"workers": 1},
        "tokenize": {"vocab_size": 300, "val_fraction": 0.2, "workers": 1},
        # Long enough (0.05-0.1 s a step) to be killed between two checkpoints.
        "train": {"preset": "tiny", "max_steps": 30, "eval_interval": 15, "checkpoint_interval": 5, "batch_size": 2},
    }


def _column(curated: Path, sub: str, column: str) -> list:
    return [v for p in sorted((curated / sub).glob("*.parquet")) for v in pq.read_table(p, columns=[column]).column(column).to_pylist()]


def _ernte_run(config_path: Path) -> subprocess.Popen:
    from prefect.settings import PREFECT_API_URL

    env = dict(os.environ, PREFECT_API_URL=PREFECT_API_URL.value(), PREFECT_SERVER_ANALYTICS_ENABLED="false")
    return subprocess.Popen(
        [sys.executable, "-m", "pipeline.cli", "run", "--config", str(config_path)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )


def _kill_when(proc: subprocess.Popen, ready, timeout: float = 240) -> bool:
    """SIGKILL the run's process group (the flow and its task processes) once ready() holds;
    False when the run ended first."""
    deadline = time.monotonic() + timeout
    while proc.poll() is None and time.monotonic() < deadline:
        if ready():
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            return True
        time.sleep(0.02)
    _, err = proc.communicate(timeout=5 if proc.poll() is not None else None)
    assert proc.returncode == 0, err[-3000:]
    return False


@pytest.fixture(scope="module")
def demo_crawl(tmp_path_factory) -> Path:
    """One crawl of the demo site, curated by every test from a copy: the same input each time."""
    from crawlers.crawl_process import run_crawl
    from pipeline.config import CrawlConfig
    from pipeline.demo_server import DemoServer

    data = tmp_path_factory.mktemp("crawled")
    with DemoServer() as server:
        summary = run_crawl([server.base_url + "/"], data / "crawls" / "crawl-20240101T000000", CrawlConfig(allow_private=True, max_pages=30, delay_s=0, politeness=False), resume=False)
    assert summary.exit_code == 0 and summary.pages_fetched >= 20
    return data


def test_a_run_killed_anywhere_reruns_to_the_outputs_of_an_uninterrupted_one(prefect_server, demo_crawl, tmp_path):
    import yaml

    from pipeline.flows import ernte_flow

    clean, killed = tmp_path / "clean", tmp_path / "killed"
    shutil.copytree(demo_crawl, clean)
    shutil.copytree(demo_crawl, killed)
    result = ernte_flow(_config(clean, ["curate", "tokenize"]))  # the model is not compared
    assert result["dataset_version"] == "run-0001" and "tokenize" in result

    config_path = tmp_path / "pipeline.yaml"
    config_path.write_text(yaml.safe_dump(_config(killed)))
    curated, model = killed / "curated", killed / "models" / "run-0001"
    # Killed while curating or just after (the first WARC file's results are in work/) ...
    assert _kill_when(_ernte_run(config_path), lambda: any((curated / "work").glob("*.parquet")))
    assert not (model / "model_card.md").exists()
    # ... then while training, between checkpoints (or earlier, if it gets there first) ...
    killed_in_training = _kill_when(_ernte_run(config_path), lambda: (model / "checkpoint.pt").exists())
    assert killed_in_training and not (model / "model_card.md").exists()
    # ... and run to the end.
    proc = _ernte_run(config_path)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err[-3000:]
    assert "dataset_version: run-0001" in out

    manifest = json.loads((curated / "manifest.json").read_text())
    assert [r["run_id"] for r in manifest["runs"]] == ["run-0001"]
    prov = _column(curated, "provenance", "doc_id")
    assert len(prov) == len(set(prov)), "a document in the provenance twice"
    shard_ids = _column(curated, "shards", "doc_id")
    assert len(shard_ids) == len(set(shard_ids)), "a document in two shards"
    assert set(prov) == set(_column(clean / "curated", "provenance", "doc_id"))
    assert set(shard_ids) == set(_column(clean / "curated", "shards", "doc_id"))
    assert not [p for p in curated.rglob("*") if p.name.endswith(".tmp")]
    assert json.loads((killed / "tokens" / "run-0001" / "manifest.json").read_text())["documents"] == json.loads((clean / "tokens" / "run-0001" / "manifest.json").read_text())["documents"]
    assert (model / "model_card.md").exists() and (model / "eligible.json").exists()
    steps = [json.loads(line)["step"] for line in (model / "metrics.jsonl").read_text().splitlines()]
    assert steps == sorted(set(steps)) and steps[-1] == 30, "metrics of a resumed training twice, or unfinished"
    assert len(json.loads((model / "config.json").read_text())["runs"]) >= 2, "the training was not resumed"

    # Killed between writing the weights and the training state: no checkpoint to resume, so the
    # training starts again rather than failing every rerun.
    import torch

    from pipeline.flows import train_flow

    torn = killed / "models" / "torn"
    shutil.copytree(model, torn)
    (torn / "model_card.md").unlink()
    state = torch.load(torn / "checkpoint.pt", weights_only=True)
    torch.save(state | {"step": state["step"] - 5}, torn / "checkpoint.pt")
    train_flow(str(killed / "tokens" / "run-0001"), str(torn), _config(killed)["train"], resume=True)
    assert (torn / "model_card.md").exists() and len(json.loads((torn / "config.json").read_text())["runs"]) == 1


def test_a_failing_stage_fails_the_run_naming_the_input(prefect_server, tmp_path):
    warc = tmp_path / "data" / "crawls" / "crawl-20240101T000000" / "warc"
    warc.mkdir(parents=True)
    (warc / "broken-00000.warc.gz").write_bytes(b"this is not a WARC file\n" * 10)
    config_path = tmp_path / "pipeline.yaml"
    config_path.write_text(f"run:\n  data_dir: {tmp_path / 'data'}\n  stages: [curate, tokenize, train]\ncurate:\n  workers: 1\n")
    proc = _ernte_run(config_path)
    _, err = proc.communicate(timeout=240)
    assert proc.returncode == 1, err[-3000:]
    assert "ernte: error: the flow failed" in err and "broken-00000.warc.gz" in err.splitlines()[-1], err[-3000:]
    # Nothing presented as done: no manifest commits a curated run, no tokens, no model.
    assert not (tmp_path / "data" / "curated" / "manifest.json").exists()
    assert not (tmp_path / "data" / "models").exists() and not (tmp_path / "data" / "report.html").exists()


def test_a_run_killed_while_crawling_finishes_that_crawl_before_it_is_curated(prefect_server, tmp_path):
    import yaml

    from crawlers.crawl_process import summarize
    from pipeline.demo_server import DemoServer
    from pipeline.flows import crawl_dirs
    from pipeline.schema import is_host_file_row

    data = tmp_path / "data"
    config_path = tmp_path / "pipeline.yaml"
    with DemoServer() as server:
        config = {"run": {"data_dir": str(data), "seeds": [server.base_url + "/"], "stages": ["crawl"]}, "crawl": {"allow_private": True, "max_pages": 40, "delay_s": 0, "politeness": False}}
        config_path.write_text(yaml.safe_dump(config))

        def crawling() -> bool:
            journals = list((data / "crawls").glob("crawl-*/state/journal.jsonl"))
            return bool(journals) and journals[0].read_bytes().count(b'"decision": "fetched"') >= 6  # robots.txt, tdmrep.json, pages

        assert _kill_when(_ernte_run(config_path), crawling)
        [crawl] = (data / "crawls").glob("crawl-*")
        assert (crawl / "flow-crawl.unfinished").exists()
        assert crawl_dirs(data) == [], "an unfinished crawl offered for curation"
        proc = _ernte_run(config_path)
        out, err = proc.communicate(timeout=240)
        assert proc.returncode == 0, err[-3000:]
    assert list((data / "crawls").glob("crawl-*")) == [crawl], "a second crawl instead of finishing the first"
    assert not (crawl / "flow-crawl.unfinished").exists() and crawl_dirs(data) == [str(crawl)]
    assert "'resumed': True" in out, out
    summary = summarize(crawl)
    assert summary.pages_fetched >= 30
    rows = [r for p in sorted((crawl / "fetches").glob("part-*.parquet")) for r in pq.read_table(p, columns=["decision", "reason", "url"]).to_pylist()]
    pages = [r["url"] for r in rows if r["decision"] == "fetched" and not is_host_file_row(r)]  # robots.txt is fetched again on resume
    assert len(pages) == len(set(pages)), "a page fetched twice"


def test_the_crawl_childs_log_lines_become_one_record_per_message_at_its_level():
    import logging

    from pipeline.flows import _ChildLog

    records: list[tuple[int, str]] = []

    class Sink:
        def log(self, level, message):
            records.append((level, message))

    forward = _ChildLog(Sink())
    forward("2024-05-01 09:59:59 [crawlers.middlewares] INFO: robots.txt for 127.0.0.1: ok 200")
    assert records == [(logging.INFO, "[crawlers.middlewares] robots.txt for 127.0.0.1: ok 200")]  # sent at once, not when the next line comes
    records.clear()
    for line in [
        "2024-05-01 10:00:00 [scrapy.core.engine] INFO: Spider opened",
        "2024-05-01 10:00:01 [ernte] WARNING: a.warc.gz: cut 12 bytes of an incomplete last record",
        "2024-05-01 10:00:02 [scrapy.statscollectors] INFO: Dumping Scrapy stats:",
        "{'downloader/request_count': 3,",
        " 'finish_reason': 'finished'}",
    ]:
        forward(line)
    forward.flush()
    assert records == [
        (logging.INFO, "[scrapy.core.engine] Spider opened"),
        (logging.WARNING, "[ernte] a.warc.gz: cut 12 bytes of an incomplete last record"),
        (logging.INFO, "[scrapy.statscollectors] Dumping Scrapy stats:\n{'downloader/request_count': 3,\n 'finish_reason': 'finished'}"),
    ]


def test_the_end_to_end_flow_curates_on_a_dask_cluster_it_warmed_with_the_pools_outputs(prefect_server, demo_crawl, tmp_path, monkeypatch):
    """With task_runner dask and no address, the flow starts a LocalCluster in the background when it
    begins and curates on it once it is warm; the outputs are the process pool's."""
    from pipeline import flows

    addresses = []
    address = flows.WarmCluster.address
    monkeypatch.setattr(flows.WarmCluster, "address", lambda self: addresses.append(address(self)) or addresses[-1])
    on_pool, on_dask = tmp_path / "pool", tmp_path / "dask"
    shutil.copytree(demo_crawl, on_pool)
    shutil.copytree(demo_crawl, on_dask)
    flows.ernte_flow(_config(on_pool, ["curate"]))
    config = _config(on_dask, ["curate"])
    config["run"] |= {"task_runner": "dask", "dask_workers": 2}
    result = flows.ernte_flow(config)
    assert result["curate"]["run_id"] == "run-0001"
    assert len(addresses) == 1 and addresses[0].startswith("tcp://127.0.0.1:"), addresses
    for sub in ("provenance", "shards"):
        assert sorted(_column(on_dask / "curated", sub, "doc_id")) == sorted(_column(on_pool / "curated", sub, "doc_id")), sub
    assert sorted(_column(on_dask / "curated", "shards", "text")) == sorted(_column(on_pool / "curated", "shards", "text"))
