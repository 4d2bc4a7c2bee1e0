"""Encoding documents on a process pool: what each worker does with a chunk of texts, and the
ordered pool that `ernte tokenize` feeds. Imports only numpy and the tokenizer module, so that
spawned workers start quickly.
"""

from __future__ import annotations

import hashlib
import os
import unicodedata
from collections import deque
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Iterable, Iterator, Protocol

import numpy as np

from training.tokenizer import ENCODERS, Encoder

_ASCII_WHITESPACE = b" \t\n\r\x0b\x0c"


def normalize_for_overlap(text: str) -> bytes:
    """UTF-8 of the NFC text, ASCII letters lower-cased, ASCII whitespace removed: copies that differ
    only in layout or ASCII case compare equal. Byte operations keep this at ~200 MB/s, a few
    percent of encoding (str.casefold and split/join would cost a fifth of it)."""
    return unicodedata.normalize("NFC", text).encode("utf-8").lower().translate(None, _ASCII_WHITESPACE)


def text_key(text: str) -> int:
    """64-bit hash of the normalised text (collisions are negligible at dataset sizes)."""
    return int.from_bytes(hashlib.blake2b(normalize_for_overlap(text), digest_size=8).digest(), "little")


@dataclass
class EncodedChunk:
    tokens: np.ndarray  # uint32: for each document, EOT then its ids (llm.c's layout)
    lengths: np.ndarray  # ids per document, EOT not counted
    keys: np.ndarray  # text_key per document, uint64
    text_bytes: np.ndarray  # UTF-8 bytes per document

    def starts(self) -> np.ndarray:
        """Offset of each document's EOT in `tokens`, and the end as a last entry."""
        out = np.zeros(len(self.lengths) + 1, dtype=np.int64)
        np.cumsum(self.lengths + 1, out=out[1:])
        return out


def encode_chunk(texts: list[str], backend: str, eot: int, encoders: dict[str, Encoder] | None = None) -> EncodedChunk:
    ids = _encoder(backend, encoders).encode_batch(texts)
    eot_arr = np.array([eot], dtype=np.uint32)
    tokens = np.concatenate([part for doc in ids for part in (eot_arr, doc)]) if ids else np.zeros(0, dtype=np.uint32)
    lengths = np.fromiter((len(doc) for doc in ids), dtype=np.int64, count=len(ids))
    keys = np.fromiter((text_key(t) for t in texts), dtype=np.uint64, count=len(texts))
    nbytes = np.fromiter((len(t.encode("utf-8")) for t in texts), dtype=np.int64, count=len(texts))
    return EncodedChunk(tokens, lengths, keys, nbytes)


# A worker process's tokenizer and its encoders, built on first use of each backend.
_worker_json = ""
_worker_encoders: dict[str, Encoder] = {}


def _init_worker(tokenizer_json: str) -> None:
    global _worker_json
    os.environ["TOKENIZERS_PARALLELISM"] = "false"  # the pool is the parallelism
    _worker_json = tokenizer_json


def _encoder(backend: str, encoders: dict[str, Encoder] | None) -> Encoder:
    if encoders is None:
        encoders = _worker_encoders
    if backend not in encoders:
        encoders[backend] = ENCODERS[backend](encoders.get("_json") or _worker_json)  # type: ignore[arg-type]
    return encoders[backend]


def _ready() -> bool:
    return True


class HasTexts(Protocol):
    texts: list[str]


class ChunkEncoder:
    """Encodes chunks on WORKERS processes (in this process for 1), results in input order, at most
    2 x WORKERS chunks in flight so memory stays bounded whatever the dataset size."""

    def __init__(self, tokenizer_json: str, eot: int, workers: int):
        self.workers, self.eot = workers, eot
        self._local: dict = {"_json": tokenizer_json}
        self._pool = None
        self._starting: list = []
        if workers > 1:
            import multiprocessing

            # spawn: the parent has used tokenizers' thread pool (training, spot check) and pyarrow's.
            self._pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"), initializer=_init_worker, initargs=(tokenizer_json,))

    def __enter__(self) -> ChunkEncoder:
        return self

    def __exit__(self, *exc) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)

    def start(self) -> None:
        """Starts the worker processes without waiting for them (they start while the caller works)."""
        if self._pool is not None and not self._starting:
            self._starting = [self._pool.submit(_ready) for _ in range(self.workers)]

    def warm_up(self, backend: str) -> None:
        """Starts every worker and builds its encoder (benchmarks time the steady state)."""
        if self._pool is not None:
            for f in [self._pool.submit(encode_chunk, ["warm up"], backend, self.eot) for _ in range(self.workers)]:
                f.result()

    def map_ordered(self, chunks: Iterable[HasTexts], backend: str) -> Iterator[tuple[HasTexts, EncodedChunk]]:
        if self._pool is None:
            for chunk in chunks:
                yield chunk, encode_chunk(chunk.texts, backend, self.eot, self._local)
            return
        pending: deque = deque()
        for chunk in chunks:
            pending.append((chunk, self._pool.submit(encode_chunk, chunk.texts, backend, self.eot)))
            chunk.texts = []  # sent; the text is not needed here any more
            if len(pending) >= 2 * self.workers:
                done_chunk, future = pending.popleft()
                yield done_chunk, future.result()
        while pending:
            done_chunk, future = pending.popleft()
            yield done_chunk, future.result()
