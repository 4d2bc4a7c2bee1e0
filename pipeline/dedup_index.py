"""Deduplication across everything curated into one directory, deterministic and incremental.

Documents that share an exact hash or any MinHash band key are joined (union-find); each
connected component is one cluster. The representative is the earliest fetch, then the smallest
doc_id, so the same input gives the same clusters whatever the worker count or input order.

The index persists in DIR/dedup/ (one Parquet file per curate run). A later run clusters its new
documents together with the indexed ones: a new document that joins an existing cluster is a
duplicate of that cluster's representative, because documents already published stay published
(their decisions are final; cluster sizes in earlier provenance rows are as of their run).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.schema import DEDUP_INDEX


@dataclass(frozen=True)
class DedupCandidate:
    doc_id: str
    fetched_at: datetime | None
    exact_hash: str
    band_keys: tuple[bytes, ...]


@dataclass(frozen=True)
class DedupAssignment:
    cluster_id: str
    cluster_size: int
    duplicate: bool  # not the representative: dropped
    kind: str | None  # 'exact' or 'near' when duplicate


class _UnionFind:
    def __init__(self, n: int):
        self.parent = list(range(n))

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def _sort_key(fetched_at: datetime | None, doc_id: str) -> tuple:
    return (fetched_at is None, fetched_at.timestamp() if fetched_at else 0.0, doc_id)


def load_index(directory: Path) -> pa.Table:
    files = sorted(Path(directory).glob("index-*.parquet"))
    if not files:
        return DEDUP_INDEX.empty_table()
    return pa.concat_tables([pq.read_table(f, schema=DEDUP_INDEX) for f in files])


def assign_clusters(candidates: list[DedupCandidate], index: pa.Table) -> dict[str, DedupAssignment]:
    old_ids = index.column("doc_id").to_pylist()
    old_fetched = index.column("fetched_at").to_pylist()
    old_exact = index.column("exact_hash").to_pylist()
    old_bands = index.column("band_keys").to_pylist()
    old_cluster = index.column("cluster_id").to_pylist()
    old_rep = index.column("representative").to_pylist()
    n_old = len(old_ids)

    new = sorted(candidates, key=lambda c: _sort_key(c.fetched_at, c.doc_id))
    uf = _UnionFind(n_old + len(new))
    owner: dict[bytes, int] = {}

    def link(i: int, exact: str, bands) -> None:
        for key in (b"x" + exact.encode("ascii"), *bands):
            first = owner.setdefault(key, i)
            if first != i:
                uf.union(first, i)

    for i in range(n_old):
        link(i, old_exact[i], old_bands[i] or ())
    for j, cand in enumerate(new):
        link(n_old + j, cand.exact_hash, cand.band_keys)

    members: dict[int, list[int]] = {}
    for i in range(n_old + len(new)):
        members.setdefault(uf.find(i), []).append(i)

    out: dict[str, DedupAssignment] = {}
    for group in members.values():
        new_members = [i - n_old for i in group if i >= n_old]
        if not new_members:
            continue
        olds = [i for i in group if i < n_old]
        if olds:
            reps = [i for i in olds if old_rep[i]] or olds
            rep_old = min(reps, key=lambda i: _sort_key(old_fetched[i], old_ids[i]))
            cluster_id, rep_doc, rep_exact = old_cluster[rep_old], None, old_exact[rep_old]
        else:
            first = min(new_members, key=lambda j: _sort_key(new[j].fetched_at, new[j].doc_id))
            cluster_id, rep_doc, rep_exact = new[first].doc_id, new[first].doc_id, new[first].exact_hash
        for j in new_members:
            cand = new[j]
            duplicate = cand.doc_id != rep_doc
            kind = None if not duplicate else ("exact" if cand.exact_hash == rep_exact else "near")
            out[cand.doc_id] = DedupAssignment(cluster_id, len(group), duplicate, kind)
    return out


def index_rows(candidates: list[DedupCandidate], assignments: dict[str, DedupAssignment], run_id: str) -> pa.Table:
    rows = [
        {
            "doc_id": c.doc_id,
            "fetched_at": c.fetched_at,
            "exact_hash": c.exact_hash,
            "band_keys": list(c.band_keys),
            "cluster_id": assignments[c.doc_id].cluster_id,
            "representative": not assignments[c.doc_id].duplicate,
            "run_id": run_id,
        }
        for c in sorted(candidates, key=lambda c: _sort_key(c.fetched_at, c.doc_id))
    ]
    return pa.Table.from_pylist(rows, schema=DEDUP_INDEX)
