"""Set-up of the worker processes of the Dask LocalClusters Ernte starts itself (a cluster at a
user's address is not ours to change). Dask imports this module in each worker process (its
`preload`) and calls `dask_setup`.

A worker process that has run curation tasks holds Prefect, trafilatura, lxml, the fastText model
and their objects; the interpreter's teardown frees all of them one by one when the process
ends: 0.35 s of CPU per worker, and closing the cluster waits for it (0.45 s of a 2-worker
cluster's 0.5 s close, measured). Nothing needs that teardown: results are written and renamed
by then, Dask has released the worker's directory, and Prefect has sent its last logs and events
(its services drain in threading's exit hook, which runs before `atexit`'s). So the process ends
right after atexit's other work, streams and logging flushed.
"""

from __future__ import annotations

import atexit
import logging
import os
import sys


def _exit_without_teardown(worker) -> None:
    # Only after the worker closed as asked (a worker that failed ends the ordinary way, with its
    # exit status). atexit runs what was registered after the worker started before this, and
    # this ends the process: what was registered before it (logging's flush) is done here by hand.
    from distributed.core import Status

    if worker.status != Status.closed:
        return
    try:
        sys.stdout.flush()
        sys.stderr.flush()
        logging.shutdown()
    finally:
        os._exit(0)


def dask_setup(worker) -> None:
    """Dask's preload hook, called in each worker process as it starts."""
    atexit.register(_exit_without_teardown, worker)


def warm() -> None:
    """What a curate task's start would otherwise do on a fresh worker: unpickling this call imports
    this module only, so the curation stack is imported here, and the language-ID model loaded."""
    import pipeline.flows  # noqa: F401 - Prefect and the curation stack, as a curate task needs them
    from filters.langid import _load_model

    _load_model()
