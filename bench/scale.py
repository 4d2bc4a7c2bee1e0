"""Curation on the process pool vs on Dask through Prefect, at 1x, 2x and 4x the input.

    .venv/bin/python bench/scale.py [--input WARC...] [--factors 1,2,4] [--workers 2] [--repeat 1]

The same WARC files are curated by `run_curate` on its process pool (what `ernte curate` runs)
and by the Prefect flow `pipeline.flows.curate_flow` with prefect-dask's DaskTaskRunner on a
LocalCluster of `--workers` processes, each into a fresh directory; the sides take turns in
each round (`--repeat` rounds, medians reported). Larger inputs are the same files copied k
times under other names (the same documents again: the same work per copy, and deduplication
drops the copies). The Prefect API is what `ernte run` uses (`pipeline.flows.prefect_api`: one
temporary server, started once first and not timed, and no flow-run heartbeats); the Dask
cluster start is timed, as a user pays it on every flow run of the curate flow alone. A third
side curates as `ernte run` does on Dask: on the cluster the end-to-end flow starts and warms in
the background while it crawls (warm-up untimed, the close after curation timed). Default input:
a crawl of the demo site, as bench/curate.py makes it (6 files of 0.3 MB: a run of seconds, where
Prefect's fixed cost per flow run shows); `--file-mib 8` makes files the size of real ones.
Target (issue 6): Dask through Prefect within 10 % of the process pool; cost linear in input.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent


def _bench_curate():
    spec = importlib.util.spec_from_file_location("bench_curate", HERE / "curate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _warcinfo_member(note: str) -> bytes:
    """One record-gzipped warcinfo record: appended to a copy, it makes the copy's bytes (and
    sha256) its own, so curation cannot treat it as the same file again."""
    import io

    from warcio.warcwriter import WARCWriter

    buf = io.BytesIO()
    writer = WARCWriter(buf, gzip=True)
    payload = f"software: ernte bench/scale.py\r\ncopy: {note}\r\n".encode()
    writer.write_record(writer.create_warc_record("", "warcinfo", payload=io.BytesIO(payload), length=len(payload), warc_content_type="application/warc-fields"))
    return buf.getvalue()


def replicate(files: list[Path], factor: int, into: Path) -> list[Path]:
    """The files copied FACTOR times, each copy made distinct (see _warcinfo_member): the same
    records, so the same work per copy, and deduplication drops the copies' documents."""
    into.mkdir(parents=True, exist_ok=True)
    copies = []
    for k in range(factor):
        for path in files:
            target = into / f"copy{k}-{path.name}"
            target.write_bytes(path.read_bytes() + _warcinfo_member(f"{k} {path.name}"))
            copies.append(target)
    return copies


def concatenated(files: list[Path], mib: float, count: int, into: Path) -> list[Path]:
    """COUNT files of about MIB MiB each, every one the crawl's files concatenated again and again
    (record-gzipped WARC members concatenate into a valid WARC): inputs the size of real crawl
    files, so a task does what it does at scale (a byte range of `range_bytes` or a whole file)
    and the per-task costs weigh what they weigh there."""
    into.mkdir(parents=True, exist_ok=True)
    blob = b"".join(p.read_bytes() for p in files)
    copies = max(1, round(mib * (1 << 20) / len(blob)))
    out = []
    for k in range(count):
        target = into / f"big{k}.warc.gz"
        with open(target, "wb") as fh:
            for _ in range(copies):
                fh.write(blob)
            fh.write(_warcinfo_member(f"big{k}"))
        out.append(target)
    return out


def time_process_pool(files: list[Path], out: Path, workers: int) -> tuple[float, int]:
    from pipeline.config import CurateConfig
    from pipeline.curate import run_curate

    started = time.perf_counter()
    summary = run_curate(files, out, CurateConfig(workers=workers), progress=False)
    return time.perf_counter() - started, summary.documents


def time_dask_flow(files: list[Path], out: Path, workers: int) -> tuple[float, int]:
    from pipeline.flows import curate_flow_with

    started = time.perf_counter()
    result = curate_flow_with("dask", dask_workers=workers)([str(p) for p in files], str(out), {"workers": workers})
    return time.perf_counter() - started, result["documents"]


def time_dask_flow_warm(files: list[Path], out: Path, workers: int) -> tuple[float, int]:
    """As `ernte run` curates on Dask: on the LocalCluster the end-to-end flow starts and warms while
    it crawls (`pipeline.flows.WarmCluster`). The warm-up is not timed (the crawl hides it); the
    curate flow and the cluster's close after it are."""
    from pipeline.flows import WarmCluster, curate_flow_with

    warm = WarmCluster(workers)
    address = warm.address()
    started = time.perf_counter()
    try:
        result = curate_flow_with("dask", dask_address=address)([str(p) for p in files], str(out), {"workers": workers})
    finally:
        warm.close()
    return time.perf_counter() - started, result["documents"]


def time_prefect_floor(tasks: int, workers: int) -> float:
    """What a curate flow on the warm cluster costs without the curation: a flow of TASKS Prefect
    tasks that do nothing, and the cluster's close (flow-run creation, each task run's engine,
    events and logs, the futures' round trips)."""
    from prefect import flow, task
    from prefect.cache_policies import NO_CACHE
    from prefect_dask import DaskTaskRunner

    from pipeline.flows import WarmCluster

    @task(name="nothing", cache_policy=NO_CACHE)
    def nothing(i: int) -> int:
        return i

    @flow(name="ernte-bench-floor")
    def floor_flow(count: int) -> list[int]:
        return [f.result() for f in [nothing.submit(i) for i in range(count)]]

    warm = WarmCluster(workers)
    address = warm.address()
    started = time.perf_counter()
    try:
        floor_flow.with_options(task_runner=DaskTaskRunner(address=address))(tasks)
    finally:
        warm.close()
    return time.perf_counter() - started


SIDES = {"process_pool": time_process_pool, "dask_prefect": time_dask_flow, "dask_warm": time_dask_flow_warm}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--input", nargs="+", type=Path, help="WARC files (default: a fresh crawl of the demo site)")
    parser.add_argument("--factors", default="1,2,4", help="input multiples (default: 1,2,4)")
    parser.add_argument("--workers", type=int, default=2, help="processes on both sides (default: 2)")
    parser.add_argument("--repeat", type=int, default=1, help="rounds per side and size; median reported")
    parser.add_argument("--json", type=Path, help="write the results here")
    parser.add_argument("--file-mib", type=float, help="instead of copying the crawl's small files, make FACTOR files of this many MiB each (the crawl concatenated): tasks the size of real ones")
    args = parser.parse_args(argv)
    try:
        factors = [int(f) for f in args.factors.split(",")]
    except ValueError:
        parser.error("--factors: comma-separated integers")
    if args.workers < 1 or args.repeat < 1 or any(f < 1 for f in factors):
        parser.error("--workers, --repeat and every factor must be >= 1")

    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    work = Path(tempfile.mkdtemp(prefix="ernte-scale-"))
    os.environ.setdefault("PREFECT_HOME", str(work / "prefect-home"))
    try:
        files = args.input or _bench_curate().demo_crawl(work, 300_000)
        files = [Path(f) for f in files]
        if not files:
            print("no input WARC files", file=sys.stderr)
            return 2
        from pipeline.flows import prefect_api

        results = []
        with prefect_api():  # the API as `ernte run` has it: one temporary server, started once, untimed
            for factor in factors:
                inputs = concatenated(files, args.file_mib, factor, work / f"x{factor}") if args.file_mib else replicate(files, factor, work / f"x{factor}")
                row = {"factor": factor, "files": len(inputs), "bytes": sum(p.stat().st_size for p in inputs)}
                times: dict[str, list[float]] = {side: [] for side in SIDES}
                documents: dict[str, int] = {}
                # The sides take turns within each round, so that a slow stretch of the machine
                # (a shared VM's neighbours) weighs on all of them, not on one side's repeats.
                for r in range(args.repeat):
                    for side, fn in SIDES.items():
                        out = work / f"out-{side}-{factor}-{r}"
                        seconds, documents[side] = fn(inputs, out, args.workers)
                        times[side].append(seconds)
                        shutil.rmtree(out, ignore_errors=True)
                        print(f"x{factor} round {r + 1} {side:13s} {seconds:7.2f} s  {documents[side]} docs", flush=True)
                for side in SIDES:
                    median = statistics.median(times[side])
                    row[side] = {"seconds": median, "runs": times[side], "documents": documents[side], "docs_per_s": documents[side] / median}
                    print(f"x{factor} {side:13s} {median:7.2f} s (median of {args.repeat})  {documents[side]} docs  {documents[side] / median:6.1f} docs/s", flush=True)
                row["dask_over_pool"] = row["dask_prefect"]["seconds"] / row["process_pool"]["seconds"]
                row["warm_over_pool"] = row["dask_warm"]["seconds"] / row["process_pool"]["seconds"]
                results.append(row)
            # Small inputs get two tasks per worker (pipeline.flows.batches).
            floor = statistics.median(time_prefect_floor(2 * args.workers, args.workers) for _ in range(args.repeat))
        print(f"\nPrefect's floor on the warm cluster: a flow of {2 * args.workers} tasks that do nothing takes {floor:.2f} s (median of {args.repeat})")
        print()
        print("| input | files | process pool s | Dask via Prefect s | Dask / pool | on the warm cluster (ernte run) s | warm / pool |")
        print("|---|---:|---:|---:|---:|---:|---:|")
        for row in results:
            p, d, w = row["process_pool"], row["dask_prefect"], row["dask_warm"]
            print(f"| {row['factor']}x | {row['files']} | {p['seconds']:.2f} | {d['seconds']:.2f} | {row['dask_over_pool']:.2f} | {w['seconds']:.2f} | {row['warm_over_pool']:.2f} |")
        base = results[0]
        for row in results[1:]:
            k = row["factor"] / base["factor"]
            print(f"{row['factor']}x vs {base['factor']}x: process pool {row['process_pool']['seconds'] / base['process_pool']['seconds']:.2f}x the time, "
                  f"Dask {row['dask_prefect']['seconds'] / base['dask_prefect']['seconds']:.2f}x (linear: {k:.0f}x)")
        if args.json:
            args.json.write_text(json.dumps({"workers": args.workers, "results": results, "prefect_floor_seconds": floor}, indent=2))
        return 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
