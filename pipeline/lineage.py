"""Which tokenized datasets and models used a curated directory, and which of them are stale.

A curated DIR keeps a register of what was made from it, `DIR/lineage.jsonl`, one JSON object a
line: `ernte tokenize` appends {"kind": "tokens", ...} when it commits a token directory, and
`ernte train` appends {"kind": "model", ...} when it starts a model. Appending a short line is
atomic on POSIX, so concurrent writers cannot interleave; readers take the last entry per path.

Consumers made from an earlier dataset version that held a withdrawn document are marked stale:
the mark goes into the consumer's own directory (`lineage.json`, read by `ernte sample`,
`ernte evaluate` and `ernte trace`) and is repeated in the withdrawal's audit record.
"""

from __future__ import annotations

import json
import os
from datetime import datetime, timezone
from pathlib import Path

from pipeline.files import write_json_atomically

REGISTER = "lineage.jsonl"
STALE_FILE = "lineage.json"  # inside a token or model directory


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def register(curated_dir: Path | str | None, entry: dict) -> None:
    """Append ENTRY (kind, path, dataset_version, ...) to the curated directory's register.
    A missing curated directory is not an error: the data may have been moved since."""
    if not curated_dir:
        return
    directory = Path(curated_dir)
    if not (directory / "manifest.json").is_file():
        return
    line = json.dumps({"at": _now(), **entry}, default=str) + "\n"
    fd = os.open(directory / REGISTER, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode("utf-8"))
    finally:
        os.close(fd)


def consumers(curated_dir: Path) -> list[dict]:
    """The register's entries, the last one per (kind, path), in order of first appearance;
    each gains `exists` (the directory is still there) and `stale` (its lineage.json says so)."""
    path = Path(curated_dir) / REGISTER
    if not path.is_file():
        return []
    latest: dict[tuple[str, str], dict] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue  # a line cut short by a crash: the rest stay readable
        if isinstance(entry, dict) and entry.get("kind") and entry.get("path"):
            latest[(entry["kind"], entry["path"])] = entry
    out = []
    for entry in latest.values():
        target = Path(entry["path"])
        mark = stale_mark(target)
        out.append(entry | {"exists": target.is_dir(), "stale": bool(mark.get("stale")), "stale_reasons": mark.get("reasons", [])})
    return out


def stale_mark(directory: Path) -> dict:
    path = Path(directory) / STALE_FILE
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def mark_stale(directory: Path, reason: dict) -> None:
    """Record in DIRECTORY/lineage.json that it was made from data since withdrawn (idempotent
    per withdrawal id)."""
    directory = Path(directory)
    if not directory.is_dir():
        return
    mark = stale_mark(directory)
    reasons = [r for r in mark.get("reasons", []) if r.get("withdrawal_id") != reason.get("withdrawal_id")]
    mark = {"stale": True, "stale_since": mark.get("stale_since") or _now(), "reasons": reasons + [reason]}
    write_json_atomically(directory / STALE_FILE, mark)


def stale_warning(directory: Path) -> str | None:
    """A one-line warning when DIRECTORY (a model or token directory) is marked stale."""
    mark = stale_mark(directory)
    if not mark.get("stale"):
        return None
    ids = ", ".join(r.get("withdrawal_id", "?") for r in mark.get("reasons", []))
    return f"{directory} is stale: it was made from documents since withdrawn ({ids}); `ernte retrain MODELDIR` trains a model like it on the current dataset version"
