"""pipeline.dask_worker: the worker processes of Ernte's own LocalClusters end without the
interpreter's teardown once their worker closed, and the ordinary way otherwise."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

# A process that registers an exit hook (as a library would when imported), then starts a "worker"
# (dask_setup is what Dask's preload calls) and ends with the worker in the given status.
_PROCESS = """
import atexit, logging, sys
from types import SimpleNamespace
from distributed.core import Status
from pipeline import dask_worker

marker, status, exit_code = sys.argv[1], sys.argv[2], int(sys.argv[3])
atexit.register(lambda: open(marker, "w").write("teardown ran"))
handler = logging.StreamHandler(sys.stderr)
handler.flush = lambda flush=handler.flush: (sys.stderr.write("log handler flushed\\n"), flush())
logging.getLogger().addHandler(handler)
worker = SimpleNamespace(status=Status.running)
dask_worker.dask_setup(worker)
sys.stdout.write("unflushed output")  # no newline: still in the buffer at exit
worker.status = Status[status]
sys.exit(exit_code)
"""


def _end(tmp_path: Path, status: str, exit_code: int = 0) -> tuple[subprocess.CompletedProcess, bool]:
    marker = tmp_path / f"{status}-{exit_code}.marker"
    proc = subprocess.run([sys.executable, "-c", _PROCESS, str(marker), status, str(exit_code)], cwd=REPO, capture_output=True, text=True, timeout=60)
    return proc, marker.exists()


def test_a_closed_worker_ends_without_teardown_after_flushing_output_and_logging(tmp_path):
    proc, teardown_ran = _end(tmp_path, "closed")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "unflushed output"
    assert "log handler flushed" in proc.stderr
    assert not teardown_ran  # the exit hooks registered before the worker started were skipped


def test_a_worker_that_did_not_close_ends_the_ordinary_way_with_its_exit_status(tmp_path):
    proc, teardown_ran = _end(tmp_path, "running", exit_code=3)
    assert proc.returncode == 3
    assert proc.stdout == "unflushed output"
    assert teardown_ran
