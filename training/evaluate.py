"""`ernte evaluate MODELDIR`: held-out loss and bits per byte of a trained model on several text sets.

Sets (each named; NAME=PATH or a PATH named after itself):
- `--tokens DIR`: the val split of a token directory (`ernte tokenize`), encoded with the model's
  tokenizer (checked by sha256). Without any set given, the model's own TOKDIR val split is used.
- `--parquet PATH`: the `text` column of a Parquet file or of the *.parquet files under a directory
  (a curated directory's shards/, or its rejected/ texts from `--keep-rejected`).
- `--text-dir DIR`: every *.txt file under DIR is one document.
- the bundled reference set (training/reference_text/, texts written for Ernte, CC0), unless
  `--no-reference`: text that neither the crawl nor curation touched.

Each set is scored as one stream, an end-of-text token before every document (as in the token
shards), in windows of block_size + 1 tokens that tile it. Loss is nats per target token; bits
per byte is the total loss in bits over the UTF-8 bytes the targets decode to, so it does not
depend on the tokenizer. Results go to MODELDIR/eval.json and the model card.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from training import checkpoint as ckpt
from training.data_loader import shard_paths
from training.token_shards import read_shard

EVAL_FILE = "eval.json"
REFERENCE_DIR = Path(__file__).resolve().parent / "reference_text"


class EvaluateInputError(Exception):
    """A missing model or input, or a token set made with another tokenizer (exit code 2)."""


class EvaluateFailed(Exception):
    """Evaluation ran but produced no finite result (exit code 1)."""


@dataclass
class SetResult:
    name: str
    kind: str  # tokens | parquet | text | reference
    path: str
    documents: int | None
    tokens: int  # target tokens scored
    bytes: int  # UTF-8 bytes those targets decode to
    loss: float  # nats per target token
    bpb: float | None  # bits per byte
    truncated: bool  # the set was longer than max_tokens


def bits_per_byte(total_nats: float, n_bytes: int) -> float | None:
    """Total loss in nats -> bits per UTF-8 byte of the text scored."""
    return total_nats / (math.log(2) * n_bytes) if n_bytes else None


def document_stream(texts, encode, eot: int) -> tuple[np.ndarray, int]:
    """(ids with EOT before every document, number of documents)."""
    parts, n = [], 0
    for text in texts:
        parts.append(np.asarray([eot], dtype=np.int64))
        parts.append(np.asarray(encode(text), dtype=np.int64))
        n += 1
    return (np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)), n


@torch.no_grad()
def score_stream(model, ids: np.ndarray, byte_lengths: np.ndarray | None, batch_size: int = 8, max_tokens: int | None = None, device: str = "cpu") -> tuple[float, int, int]:
    """(total loss in nats, target tokens, target bytes) of IDS under MODEL, in windows of
    block_size + 1 tokens overlapping by one (every token after the first is a target once)."""
    T = model.config.block_size
    ids = np.asarray(ids, dtype=np.int64)
    if max_tokens is not None:
        ids = ids[: max_tokens + 1]
    starts = list(range(0, max(len(ids) - 1, 0), T))
    was_training = model.training
    model.eval()
    total, n_tok, n_bytes = 0.0, 0, 0
    for i in range(0, len(starts), batch_size):
        group = starts[i : i + batch_size]
        x = np.full((len(group), T), 0, dtype=np.int64)
        y = np.full((len(group), T), -1, dtype=np.int64)
        for row, s in enumerate(group):
            w = min(T, len(ids) - 1 - s)
            x[row, :w], y[row, :w] = ids[s : s + w], ids[s + 1 : s + 1 + w]
        xt, yt = torch.from_numpy(x).to(device), torch.from_numpy(y).to(device)
        logits, _ = model(xt, yt)
        total += F.cross_entropy(logits.view(-1, logits.size(-1)).float(), yt.view(-1), ignore_index=-1, reduction="sum").item()
        targets = y[y >= 0]
        n_tok += len(targets)
        if byte_lengths is not None:
            n_bytes += int(byte_lengths[targets].sum())
    model.train(was_training)
    return total, n_tok, n_bytes


# -- sets ------------------------------------------------------------------------------------------


def _named(spec: str) -> tuple[str, Path]:
    name, sep, path = spec.partition("=")
    return (name, Path(path)) if sep and name and path else (Path(spec).name or spec, Path(spec))


def parquet_texts(path: Path):
    import pyarrow.parquet as pq

    files = sorted(path.rglob("*.parquet")) if path.is_dir() else [path]
    for f in files:
        pf = pq.ParquetFile(f)
        if "text" not in pf.schema_arrow.names:
            raise EvaluateInputError(f"{f} has no text column")
        for batch in pf.iter_batches(columns=["text"], batch_size=1024):
            yield from (t for t in batch.column("text").to_pylist() if t)


def text_dir_texts(path: Path):
    for f in sorted(path.rglob("*.txt")):
        text = f.read_text(encoding="utf-8")
        if text.strip():
            yield text


def token_dir_val(tokdir: Path, tokenizer_sha256: str | None) -> np.ndarray:
    paths = shard_paths(tokdir, "val")
    if not paths:
        raise EvaluateInputError(f"{tokdir} has no val_*.bin shards")
    manifest = tokdir / "manifest.json"
    if tokenizer_sha256 and manifest.is_file():
        recorded = (json.loads(manifest.read_text(encoding="utf-8")).get("tokenizer") or {}).get("sha256")
        if recorded and recorded.removeprefix("sha256:") != tokenizer_sha256:
            raise EvaluateInputError(f"{tokdir} was encoded with another tokenizer (sha256 {recorded[:12]}, the model's is {tokenizer_sha256[:12]}); tokenize it with --tokenizer MODELDIR/tokenizer.json")
    return np.concatenate([np.asarray(read_shard(p), dtype=np.int64) for p in paths])


@dataclass
class EvalSpec:
    """What `evaluate_model` scores: lists of NAME=PATH / PATH strings."""

    tokens: tuple[str, ...] = ()
    parquet: tuple[str, ...] = ()
    text_dirs: tuple[str, ...] = ()
    reference: bool = True
    own_val: bool = True  # the model's TOKDIR val split when no --tokens is given


def evaluate_model(modeldir: Path, spec: EvalSpec, max_tokens: int | None = 1_000_000, batch_size: int = 8, device: str = "cpu", write: bool = True) -> list[SetResult]:
    """Scores every set of SPEC; writes MODELDIR/eval.json and rewrites the model card."""
    from training.tokenizer import eot_id, load_tokenizer
    from training.train import token_byte_lengths

    modeldir = Path(modeldir)
    if not (modeldir / ckpt.CONFIG_FILE).is_file():
        raise EvaluateInputError(f"{modeldir} holds no model (no config.json; train one with `ernte train`)")
    tok_path = modeldir / ckpt.TOKENIZER_FILE
    if not tok_path.is_file():
        raise EvaluateInputError(f"{tok_path} not found: cannot encode text or count bytes")
    try:
        model, config = ckpt.load_model(modeldir, device)
    except ckpt.CheckpointError as exc:
        raise EvaluateInputError(str(exc)) from None
    tokenizer = load_tokenizer(tok_path)
    tokenizer.encode_special_tokens = True
    eot = eot_id(tokenizer)
    tok_sha = hashlib.sha256(tok_path.read_bytes()).hexdigest()
    lengths = token_byte_lengths(tok_path, model.config.padded_vocab_size)

    def encode(text: str):
        return tokenizer.encode(text, add_special_tokens=False).ids

    jobs: list[tuple[str, str, Path]] = []
    tokens = list(spec.tokens)
    if not tokens and spec.own_val and config.get("data", {}).get("tokdir"):
        own = Path(config["data"]["tokdir"])
        if shard_paths(own, "val"):
            tokens.append(f"val={own}")
    for kind, specs in (("tokens", tokens), ("parquet", spec.parquet), ("text", spec.text_dirs)):
        for s in specs:
            name, path = _named(s)
            if not path.exists():
                raise EvaluateInputError(f"--{kind}: {path} not found")
            jobs.append((name, kind, path))
    if spec.reference:
        jobs.append(("reference", "reference", REFERENCE_DIR))
    if not jobs:
        raise EvaluateInputError("nothing to evaluate: give --tokens, --parquet or --text-dir, or keep the reference set")

    results = []
    for name, kind, path in jobs:
        docs = None
        if kind == "tokens":
            ids = token_dir_val(path, tok_sha)
            docs = int(np.sum(ids == eot))
        else:
            texts = parquet_texts(path) if kind == "parquet" else text_dir_texts(path)
            ids, docs = document_stream(texts, encode, eot)
        if len(ids) < 2:
            raise EvaluateInputError(f"set {name} ({path}) holds no text")
        total, n_tok, n_bytes = score_stream(model, ids, lengths, batch_size, max_tokens, device)
        loss = total / n_tok
        if not math.isfinite(loss):
            raise EvaluateFailed(f"set {name}: the loss is {loss}")
        truncated = max_tokens is not None and len(ids) - 1 > max_tokens
        results.append(SetResult(name, kind, str(path.resolve()), docs, n_tok, n_bytes, loss, bits_per_byte(total, n_bytes) if lengths is not None else None, truncated))
    if write:
        record = {
            "evaluated_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "tokenizer_sha256": tok_sha,
            "max_tokens": max_tokens,
            "window": model.config.block_size,
            "sets": [asdict(r) for r in results],
        }
        ckpt.write_json(modeldir / EVAL_FILE, record)
        from training.model_card import write_model_card
        from training.train import _read_metrics

        write_model_card(modeldir, config, _read_metrics(modeldir / "metrics.jsonl"))
    return results


def result_lines(results: list[SetResult]) -> list[str]:
    lines = [f"{'set':<16} {'kind':<9} {'docs':>6} {'tokens':>10} {'bytes':>11} {'loss':>8} {'bits/byte':>9}"]
    for r in results:
        bpb = "n/a" if r.bpb is None else f"{r.bpb:.4f}"
        lines.append(f"{r.name:<16} {r.kind:<9} {'-' if r.documents is None else r.documents:>6} {r.tokens:>10,} {r.bytes:>11,} {r.loss:>8.4f} {bpb:>9}" + (" (truncated)" if r.truncated else ""))
    return lines
