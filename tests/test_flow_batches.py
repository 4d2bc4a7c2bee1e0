"""How curation tasks are grouped into Prefect tasks (pipeline.flows.batches): every file task
exactly once, small files sharing a task, large ones alone, the load even across groups."""

from __future__ import annotations

from pathlib import Path

from pipeline.curate_worker import FileTask
from pipeline.flows import batches, task_bytes


def _tasks(tmp_path: Path, sizes: list[int]) -> list[FileTask]:
    out = []
    for i, size in enumerate(sizes):
        path = tmp_path / f"f{i}.warc.gz"
        path.write_bytes(b"\0" * size)
        out.append(FileTask(str(path), str(tmp_path / f"w{i}.parquet"), {}))
    return out


def _check_partition(groups, tasks):
    flat = [(t.input_path, t.start) for g in groups for t in g]
    assert sorted(flat) == sorted((t.input_path, t.start) for t in tasks) and len(flat) == len(set(flat))


def test_small_files_share_tasks_two_per_worker_and_loads_even_out(tmp_path):
    tasks = _tasks(tmp_path, [300_000 + 7_000 * i for i in range(24)])
    groups = batches(tasks, workers=2, target_bytes=16 << 20)
    _check_partition(groups, tasks)
    assert len(groups) == 4
    loads = [sum(task_bytes(t) for t in g) for g in groups]
    assert loads == sorted(loads, reverse=True)  # heaviest first
    assert max(loads) - min(loads) <= max(task_bytes(t) for t in tasks)


def test_large_files_get_a_task_each_and_many_files_fill_target_sized_tasks(tmp_path):
    big = _tasks(tmp_path, [5_000, 9_000, 7_000])
    groups = batches(big, workers=2, target_bytes=4_000)
    _check_partition(groups, big)
    assert sorted(len(g) for g in groups) == [1, 1, 1]
    (tmp_path / "many").mkdir()
    many = _tasks(tmp_path / "many", [1_000] * 100)
    groups = batches(many, workers=2, target_bytes=10_000)
    _check_partition(groups, many)
    assert len(groups) == 10 and {len(g) for g in groups} == {10}


def test_byte_ranges_count_by_their_length_and_nothing_to_do_gives_no_groups(tmp_path):
    [whole] = _tasks(tmp_path, [100_000])
    ranges = [FileTask(whole.input_path, f"{whole.work_path}.{s}", {}, start=s, end=min(s + 25_000, 100_000)) for s in range(0, 100_000, 25_000)]
    assert [task_bytes(t) for t in ranges] == [25_000] * 4
    groups = batches(ranges, workers=1, target_bytes=50_000)
    _check_partition(groups, ranges)
    assert [len(g) for g in groups] == [2, 2]
    assert batches([], workers=2) == []
