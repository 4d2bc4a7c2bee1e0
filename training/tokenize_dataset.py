"""`ernte tokenize`: a curated directory in; a tokenizer, llm.c token shards and a manifest out.

1. The curated DIR is read through its manifest: the shards of every committed run, in order.
   Documents with `train_eligible` false are left out when the column exists (consent issue).
2. Each document goes to train or val by a hash of its doc_id (`assign_split`), the same whatever
   the rest of the dataset holds, so a document stays in its split across dataset versions.
3. A byte-level BPE is trained on the train documents (or a given tokenizer.json is reused).
4. Documents are encoded in parallel (a process pool, tasks of `chunk_bytes` of text, results taken
   in order, so the output does not depend on the worker count), with tiktoken where it gives the
   same ids as `tokenizers` on a spot-check sample. Train shards are written as they fill; val
   documents are staged and written at the end without those whose normalised text also occurs
   in train (or earlier in val).
5. TOKDIR/documents.parquet says where every document went; TOKDIR/manifest.json, written last,
   commits the run. A run into an existing TOKDIR first removes the old manifest and shards.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import platform
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from pipeline import __version__, lineage
from pipeline.config import TokenizeConfig, config_hash
from pipeline.schema import TOKEN_DOCS
from training.encode_worker import ChunkEncoder, EncodedChunk
from training.token_shards import ShardWriter, format_for_vocab
from pipeline.files import file_sha256
from training.tokenizer import (
    EOT,
    NotConvertible,
    choose_encoder,
    eot_id,
    load_tokenizer,
    sample_texts,
    save_tokenizer,
    train_bpe,
)

logger = logging.getLogger(__name__)

MANIFEST = "manifest.json"
DOCUMENTS = "documents.parquet"
ELIGIBLE_COLUMN = "train_eligible"
_VAL_STAGING = "val.staging"
_OUR_FILES = ("manifest.json", "tokenizer.json", "tokenizer_config.json", DOCUMENTS)


class TokenizeInputError(Exception):
    """A missing or unusable input or output directory, or tokenizer file (exit code 2)."""


class TokenizeFailed(Exception):
    """Nothing to tokenize: no eligible document, or none left for training (exit code 1)."""


# -- per-document logic ----------------------------------------------------------------------------


def assign_split(doc_id: str, val_fraction: float, seed: int = 0) -> str:
    """'val' for about VAL_FRACTION of doc_ids, 'train' for the rest; a pure function of its inputs."""
    digest = hashlib.blake2b(f"{seed}:{doc_id}".encode("utf-8"), digest_size=8).digest()
    return "val" if int.from_bytes(digest, "big") < val_fraction * 2**64 else "train"


def val_keep_mask(val_keys: np.ndarray, train_keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(keep, duplicate_of_train): val documents kept are in neither train nor earlier in val."""
    val_keys = np.asarray(val_keys, dtype=np.uint64)
    in_train = np.isin(val_keys, np.asarray(train_keys, dtype=np.uint64))
    first = np.zeros(len(val_keys), dtype=bool)
    first[np.unique(val_keys, return_index=True)[1]] = True
    return ~in_train & first, in_train


# -- the source dataset ----------------------------------------------------------------------------


@dataclass
class CuratedSource:
    directory: Path
    manifest_sha256: str
    version: str  # the latest run id
    runs: list[str]
    shards: list[Path]
    eligibility_column: bool

    def as_dict(self) -> dict:
        return {
            "curated_dir": str(self.directory),
            "dataset_version": self.version,
            "manifest_sha256": self.manifest_sha256,
            "runs": self.runs,
            "shards": [p.name for p in self.shards],
            "eligibility": f"rows with {ELIGIBLE_COLUMN} true" if self.eligibility_column else f"every document (no {ELIGIBLE_COLUMN} column)",
        }


def open_curated(directory: Path) -> CuratedSource:
    directory = Path(directory).resolve()
    if not directory.is_dir():
        raise TokenizeInputError(f"curated directory not found: {directory}")
    manifest_path = directory / "manifest.json"
    if not manifest_path.is_file():
        raise TokenizeInputError(f"{directory} is not a curated directory (no manifest.json; make one with `ernte curate`)")
    raw = manifest_path.read_bytes()
    try:
        manifest = json.loads(raw.decode("utf-8"))
        runs = manifest["runs"]
    except (ValueError, KeyError, TypeError) as exc:
        raise TokenizeInputError(f"{manifest_path}: not a curate manifest: {exc}") from None
    shards: list[Path] = []
    for run in runs:
        names = (run.get("outputs") or {}).get("shards")
        if names is None:  # an older manifest without outputs: the run's shards by name
            names = sorted(p.name for p in (directory / "shards").glob(f"{run['run_id']}-*.parquet"))
        shards += [directory / "shards" / name for name in names]
    missing = [str(p) for p in shards if not p.is_file()]
    if missing:
        raise TokenizeInputError(f"{directory}: shards named in manifest.json are missing: {', '.join(missing[:5])}")
    flagged = [ELIGIBLE_COLUMN in pq.read_schema(p).names for p in shards]
    eligible = any(flagged)
    if eligible and not all(flagged):
        logger.warning("%d of %d shards in %s have no %s column; all their documents count as eligible", flagged.count(False), len(flagged), directory, ELIGIBLE_COLUMN)
    return CuratedSource(directory, hashlib.sha256(raw).hexdigest(), runs[-1]["run_id"] if runs else "", [r["run_id"] for r in runs], shards, eligible)


@dataclass
class DocBatch:
    source_shard: str
    doc_ids: list[str]
    texts: list[str]
    eligible: list[bool]


def iter_documents(source: CuratedSource, batch_rows: int = 1024) -> Iterator[DocBatch]:
    for path in source.shards:
        parquet = pq.ParquetFile(path)
        has_flag = ELIGIBLE_COLUMN in parquet.schema_arrow.names
        columns = ["doc_id", "text"] + ([ELIGIBLE_COLUMN] if has_flag else [])
        for batch in parquet.iter_batches(batch_size=batch_rows, columns=columns):
            doc_ids = batch.column("doc_id").to_pylist()
            texts = batch.column("text").to_pylist()
            # Only an explicit true is consent to train; null is not.
            eligible = [v is True for v in batch.column(ELIGIBLE_COLUMN).to_pylist()] if has_flag else [True] * len(doc_ids)
            yield DocBatch(path.name, doc_ids, [t or "" for t in texts], eligible)


def _train_texts(source: CuratedSource, config: TokenizeConfig) -> Iterator[str]:
    used = 0
    for batch in iter_documents(source):
        for doc_id, text, ok in zip(batch.doc_ids, batch.texts, batch.eligible):
            if ok and assign_split(doc_id, config.val_fraction, config.split_seed) == "train":
                if config.bpe_max_bytes is not None and used >= config.bpe_max_bytes:
                    return
                used += len(text.encode("utf-8"))
                yield text


def _eligible_texts(source: CuratedSource) -> Iterator[str]:
    for batch in iter_documents(source):
        yield from (t for t, ok in zip(batch.texts, batch.eligible) if ok)


@dataclass
class _Chunk:
    source_shard: list[str] = field(default_factory=list)
    doc_ids: list[str] = field(default_factory=list)
    splits: list[str] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    chars: int = 0


def _chunks(source: CuratedSource, config: TokenizeConfig, counts: dict, excluded: list[dict]) -> Iterator[_Chunk]:
    chunk = _Chunk()
    for batch in iter_documents(source):
        for doc_id, text, ok in zip(batch.doc_ids, batch.texts, batch.eligible):
            counts["documents_seen"] += 1
            if not ok:
                counts["excluded_not_train_eligible"] += 1
                excluded.append(_doc_row(doc_id, batch.source_shard, "excluded", "not_train_eligible", None, None, None, None))
                continue
            chunk.source_shard.append(batch.source_shard)
            chunk.doc_ids.append(doc_id)
            chunk.splits.append(assign_split(doc_id, config.val_fraction, config.split_seed))
            chunk.texts.append(text)
            chunk.chars += len(text)
            if chunk.chars >= config.chunk_bytes:
                yield chunk
                chunk = _Chunk()
    if chunk.doc_ids:
        yield chunk


def _doc_row(doc_id, source_shard, split, drop_reason, shard, offset, tokens, text_bytes) -> dict:
    return {"doc_id": doc_id, "source_shard": source_shard, "split": split, "drop_reason": drop_reason, "shard": shard, "offset": offset, "tokens": tokens, "text_bytes": text_bytes}


# -- the run ---------------------------------------------------------------------------------------


@dataclass
class TokenizeSummary:
    out_dir: Path
    manifest: dict

    def lines(self) -> list[str]:
        m = self.manifest
        tr, va = m["splits"]["train"], m["splits"]["val"]
        tok = m["tokenizer"]
        enc = m["encoding"]
        return [
            f"token directory: {self.out_dir}",
            f"source: {m['source']['curated_dir']} ({m['source']['dataset_version']}, manifest sha256 {m['source']['manifest_sha256'][:12]})",
            f"tokenizer: {'trained' if tok['trained'] else 'reused'}, {tok['vocab_size']} ids, <|endoftext|> = {tok['eot_id']}, sha256 {tok['sha256'][:12]}",
            f"train: {tr['documents']} documents, {tr['tokens']} tokens in {len(tr['shards'])} shard(s)",
            f"val: {va['documents']} documents, {va['tokens']} tokens in {len(va['shards'])} shard(s)"
            f" ({va['dropped_duplicate_of_train']} dropped as duplicates of train, {va['dropped_duplicate_within_val']} within val)",
            f"excluded (not train-eligible): {m['documents']['excluded_not_train_eligible']}",
            f"encoding: {enc['backend']} ({enc['reason']}), {m['format']['dtype']} shards, {m['throughput']['encode_mb_per_s']} MB/s, {m['throughput']['encode_tokens_per_s']} tokens/s",
        ]


def _prepare_out(out: Path) -> None:
    """Removes an earlier run's outputs; refuses a directory holding anything else."""
    if out.exists() and not out.is_dir():
        raise TokenizeInputError(f"--out {out} exists and is not a directory")
    out.mkdir(parents=True, exist_ok=True)
    foreign = [p.name for p in out.iterdir() if not (p.name in _OUR_FILES or p.suffix in (".bin", ".tmp") or p.name == _VAL_STAGING)]
    if foreign:
        raise TokenizeInputError(f"--out {out} holds files that are not token-directory outputs ({', '.join(sorted(foreign)[:5])}); choose an empty or new directory")
    (out / MANIFEST).unlink(missing_ok=True)  # uncommitted from here until the new manifest
    for p in out.iterdir():
        if p.suffix in (".bin", ".tmp") or p.name in (_VAL_STAGING, DOCUMENTS):
            p.unlink()


def run_tokenize(curated_dir: Path, out: Path, config: TokenizeConfig, progress: bool = True) -> TokenizeSummary:
    started = datetime.now(timezone.utc)
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    source = open_curated(curated_dir)
    out = Path(out)
    reused_json, reused_bytes = None, None
    if config.tokenizer is not None:
        try:
            reused_bytes = Path(config.tokenizer).read_bytes()  # copied verbatim: its sha256 stays the same
            reused_json = load_tokenizer(config.tokenizer).to_str()
        except Exception as exc:  # tokenizers raises plain Exceptions for unreadable files
            raise TokenizeInputError(f"cannot load tokenizer {config.tokenizer}: {exc}") from None
    _prepare_out(out)

    # Pass 1: the tokenizer.
    t = time.perf_counter()
    if reused_json is None:
        texts = _train_texts(source, config)
        first = next(texts, None)
        if first is None:
            raise TokenizeFailed(_empty_reason(source, any(True for _ in _eligible_texts(source))))
        logger.info("training a byte-level BPE (vocab_size %d) on the train documents", config.vocab_size)
        tok = train_bpe(_prepend(first, texts), config.vocab_size, config.min_frequency)
    else:
        from tokenizers import Tokenizer

        tok = Tokenizer.from_str(reused_json)
    tokenizer_path = save_tokenizer(tok, out, reused_bytes)
    tokenizer_json = tok.to_str()
    timings["tokenizer_s"] = time.perf_counter() - t
    vocab_size, eot = tok.get_vocab_size(), eot_id(tok)
    fmt = format_for_vocab(vocab_size)

    with ChunkEncoder(tokenizer_json, eot, config.workers) as encoder:
        encoder.start()  # worker processes start while the spot check runs
        # Which engine encodes: tiktoken where it matches tokenizers on a sample.
        t = time.perf_counter()
        sample = [] if config.encoder == "hf" else list(sample_texts(_eligible_texts(source), config.spot_check_docs, config.spot_check_bytes))
        try:
            choice = choose_encoder(tokenizer_json, sample, config.encoder)
        except NotConvertible as exc:
            raise TokenizeFailed(f"encoder tiktoken was asked for, but {exc}") from None
        timings["spot_check_s"] = time.perf_counter() - t
        logger.info("encoding with %s (%s)", choice.backend, choice.reason)

        # Pass 2: encode, write train shards, stage val documents.
        t = time.perf_counter()
        state = _EncodePass(out, fmt, config)
        state.run(source, config, encoder, choice.backend, progress)
        timings["encode_s"] = time.perf_counter() - t
    if state.train.documents == 0:
        state.docs_writer.close()
        raise TokenizeFailed(_empty_reason(source, bool(state.val_docs)))

    t = time.perf_counter()
    val_entry = state.write_val()
    timings["val_s"] = time.perf_counter() - t

    # Manifest: written last, commits the run.
    timings["total_s"] = time.perf_counter() - t0
    encoded_bytes = state.text_bytes["train"] + state.text_bytes["val"]
    manifest = {
        "kind": "ernte-tokens",
        "ernte_version": __version__,
        "started_at": started.isoformat(),
        "finished_at": datetime.now(timezone.utc).isoformat(),
        "source": source.as_dict(),
        "tokenizer": {
            "file": tokenizer_path.name,
            "sha256": file_sha256(tokenizer_path),
            "trained": reused_json is None,
            "reused_from": str(Path(config.tokenizer).resolve()) if config.tokenizer else None,
            "type": "byte-level BPE (GPT-2 pre-tokenization)",
            "vocab_size": vocab_size,
            "eot_token": EOT,
            "eot_id": eot,
        },
        "format": {
            "name": "llm.c",
            "dtype": fmt.name,
            "magic": fmt.magic,
            "version": fmt.version,
            "header_bytes": 1024,
            "shard_tokens": config.shard_tokens,
            "eot": "before every document",
        },
        "encoding": choice.as_dict(),
        "splits": {"train": _split_entry(state.train, state.text_bytes["train"]), "val": val_entry},
        "documents": {**state.counts, "documents_file": DOCUMENTS},
        "config": config.model_dump(mode="json"),
        "config_sha256": config_hash(config),
        "versions": _versions(),
        "timings_s": {k: round(v, 3) for k, v in timings.items()},
        "throughput": {
            "encode_mb_per_s": round(encoded_bytes / 1e6 / max(timings["encode_s"], 1e-9), 2),
            "encode_tokens_per_s": int(state.encoded_tokens / max(timings["encode_s"], 1e-9)),
            "workers": config.workers,
        },
    }
    tmp = out / (MANIFEST + ".tmp")
    tmp.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, out / MANIFEST)
    # The curated directory's register names what was made from it (`ernte trace`, `ernte withdraw`).
    lineage.register(source.directory, {"kind": "tokens", "path": str(out.resolve()), "dataset_version": source.version, "curated_manifest_sha256": source.manifest_sha256})
    return TokenizeSummary(out, manifest)


class _EncodePass:
    """The encoding pass's outputs: train shards as they fill, val documents staged for later,
    normalised-text keys of both splits, and the document index."""

    def __init__(self, out: Path, fmt, config: TokenizeConfig):
        self.out = out
        self.train = ShardWriter(out, "train", fmt, config.shard_tokens)
        self.val = ShardWriter(out, "val", fmt, config.shard_tokens)
        self.counts = {"documents_seen": 0, "excluded_not_train_eligible": 0}
        self.text_bytes = {"train": 0, "val": 0}
        self.train_keys: list[np.ndarray] = []
        self.val_keys: list[np.ndarray] = []
        self.val_docs: list[tuple[str, str, int, int, int]] = []  # doc_id, source shard, EOT offset in staging, tokens, text bytes
        self.staged = 0  # tokens in the staging file, EOTs included
        self.encoded_tokens = 0  # ids of every encoded document, EOTs not counted
        self.docs_writer = pq.ParquetWriter(out / (DOCUMENTS + ".tmp"), TOKEN_DOCS, compression="zstd")

    def run(self, source: CuratedSource, config: TokenizeConfig, encoder: ChunkEncoder, backend: str, progress: bool) -> None:
        from tqdm import tqdm

        excluded: list[dict] = []
        bar = tqdm(unit="doc", desc="tokenize", file=sys.stderr, disable=None if progress else True)
        with open(self.out / _VAL_STAGING, "wb") as staging:
            for chunk, encoded in encoder.map_ordered(_chunks(source, config, self.counts, excluded), backend):
                if excluded:
                    self.docs_writer.write_table(pa.Table.from_pylist(excluded, schema=TOKEN_DOCS))
                    excluded.clear()
                self._add(chunk, encoded, staging)
                bar.update(len(chunk.doc_ids))
        if excluded:
            self.docs_writer.write_table(pa.Table.from_pylist(excluded, schema=TOKEN_DOCS))
        bar.close()
        self.train.close()

    def _add(self, chunk: _Chunk, encoded: EncodedChunk, staging) -> None:
        is_train = np.array([s == "train" for s in chunk.splits], dtype=bool)
        self.train_keys.append(encoded.keys[is_train])
        self.val_keys.append(encoded.keys[~is_train])
        self.text_bytes["train"] += int(encoded.text_bytes[is_train].sum())
        self.text_bytes["val"] += int(encoded.text_bytes[~is_train].sum())
        self.encoded_tokens += int(encoded.lengths.sum())
        starts = encoded.starts()
        shard_of: list[str | None] = [None] * len(is_train)
        offset_of = np.full(len(is_train), -1, dtype=np.int64)
        # Runs of consecutive train documents go to the shards in one piece (val is ~1%).
        edges = np.flatnonzero(np.diff(np.concatenate([[False], is_train, [False]]).astype(np.int8)))
        for first, end in zip(edges[::2], edges[1::2]):
            names, offsets = self.train.add_documents(encoded.tokens[starts[first] : starts[end]], starts[first:end] - starts[first])
            shard_of[first:end] = names
            offset_of[first:end] = offsets
        for i in np.flatnonzero(~is_train):
            staging.write(encoded.tokens[starts[i] : starts[i + 1]].tobytes())
            self.val_docs.append((chunk.doc_ids[i], chunk.source_shard[i], self.staged, int(encoded.lengths[i]), int(encoded.text_bytes[i])))
            self.staged += int(starts[i + 1] - starts[i])
        n_train = int(is_train.sum())
        rows = {
            "doc_id": [d for d, t in zip(chunk.doc_ids, is_train) if t],
            "source_shard": [d for d, t in zip(chunk.source_shard, is_train) if t],
            "split": ["train"] * n_train,
            "drop_reason": [None] * n_train,
            "shard": [d for d, t in zip(shard_of, is_train) if t],
            "offset": offset_of[is_train],
            "tokens": encoded.lengths[is_train],
            "text_bytes": encoded.text_bytes[is_train],
        }
        self.docs_writer.write_table(pa.Table.from_pydict(rows, schema=TOKEN_DOCS))

    def write_val(self) -> dict:
        """Val shards without documents whose text is also in train (or earlier in val)."""
        keys = np.concatenate(self.val_keys) if self.val_keys else np.zeros(0, dtype=np.uint64)
        keep, dup_of_train = val_keep_mask(keys, np.concatenate(self.train_keys))
        staged = np.memmap(self.out / _VAL_STAGING, dtype=np.uint32, mode="r") if self.staged else np.zeros(0, dtype=np.uint32)
        rows = []
        kept_bytes = 0
        for i, (doc_id, source_shard, start, n, nbytes) in enumerate(self.val_docs):
            if keep[i]:
                shard, offset = self.val.add_document(staged[start : start + 1 + n])
                rows.append(_doc_row(doc_id, source_shard, "val", None, shard, offset, n, nbytes))
                kept_bytes += nbytes
            else:
                reason = "val_duplicate_of_train" if dup_of_train[i] else "val_duplicate"
                rows.append(_doc_row(doc_id, source_shard, "excluded", reason, None, None, n, nbytes))
        if rows:
            self.docs_writer.write_table(pa.Table.from_pylist(rows, schema=TOKEN_DOCS))
        self.docs_writer.close()
        self.val.close()
        del staged
        (self.out / _VAL_STAGING).unlink()
        os.replace(self.out / (DOCUMENTS + ".tmp"), self.out / DOCUMENTS)
        if self.val.documents == 0:
            logger.warning("the val split is empty (%d documents in it before deduplication); raise --val-fraction for a validation set", len(self.val_docs))
        return _split_entry(self.val, kept_bytes) | {
            "documents_before_dedup": len(self.val_docs),
            "dropped_duplicate_of_train": int(np.sum(~keep & dup_of_train)),
            "dropped_duplicate_within_val": int(np.sum(~keep & ~dup_of_train)),
            "dedup": "exact: NFC, ASCII lower-cased, ASCII whitespace removed, 64-bit blake2b",
        }


def _split_entry(writer: ShardWriter, text_bytes: int) -> dict:
    return {
        "documents": writer.documents,
        "tokens": writer.tokens,  # end-of-text tokens included, as in the shard headers
        "text_bytes": text_bytes,
        "shards": [{"file": s.file, "tokens": s.tokens, "documents": s.documents, "sha256": s.sha256} for s in writer.shards],
    }


def _prepend(first: str, rest: Iterator[str]) -> Iterator[str]:
    yield first
    yield from rest


def _empty_reason(source: CuratedSource, any_eligible: bool) -> str:
    if any_eligible:
        return "every eligible document fell into the val split: nothing to train on; lower --val-fraction"
    if not source.shards:
        return f"{source.directory} holds no shards: nothing to tokenize"
    if source.eligibility_column:
        return f"no train-eligible document in {source.directory} ({ELIGIBLE_COLUMN} is false or null everywhere)"
    return f"no document in {source.directory}'s shards"


def _versions() -> dict:
    import tiktoken
    import tokenizers

    return {
        "ernte": __version__,
        "python": platform.python_version(),
        "tokenizers": tokenizers.__version__,
        "tiktoken": tiktoken.__version__ if hasattr(tiktoken, "__version__") else _dist_version("tiktoken"),
        "numpy": np.__version__,
        "pyarrow": pa.__version__,
    }


def _dist_version(name: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return None
