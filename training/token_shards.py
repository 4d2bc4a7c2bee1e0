"""Token shards in the llm.c / modded-nanogpt format: a 256 x int32 header, then the token ids.

Header (little-endian int32): [0] magic, [1] version, [2] number of tokens; the rest zero.
Two variants, as llm.c's dev/data/data_common.py writes them:

- "uint16" (llm.c's "gpt-2"): magic 20240520, version 1, uint16 ids, vocabularies up to 65,536.
- "uint32" (llm.c's "llama-3"): magic 20240801, version 7, uint32 ids, larger vocabularies.

Documents follow each other with the end-of-text token *before* each document, as llm.c's
fineweb.py does, and shards are filled to exactly `shard_tokens` tokens (the last one of a split
holds the remainder), so a document can continue in the next shard. Readers memory-map the ids.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

HEADER_INTS = 256
HEADER_BYTES = HEADER_INTS * 4


@dataclass(frozen=True)
class ShardFormat:
    name: str  # "uint16" | "uint32"
    magic: int
    version: int
    dtype: type

    @property
    def max_vocab(self) -> int:
        return int(np.iinfo(self.dtype).max) + 1


FORMATS = {
    "uint16": ShardFormat("uint16", 20240520, 1, np.uint16),
    "uint32": ShardFormat("uint32", 20240801, 7, np.uint32),
}
_BY_MAGIC = {(f.magic, f.version): f for f in FORMATS.values()}


def format_for_vocab(vocab_size: int) -> ShardFormat:
    """uint16 while every id fits (ids < 65,536), else uint32."""
    return FORMATS["uint16"] if vocab_size <= FORMATS["uint16"].max_vocab else FORMATS["uint32"]


class ShardFormatError(ValueError):
    """A file that is not a valid token shard."""


@dataclass(frozen=True)
class ShardHeader:
    format: ShardFormat
    tokens: int


def make_header(fmt: ShardFormat, n_tokens: int) -> bytes:
    if not 0 <= n_tokens < 2**31:
        raise ValueError(f"a shard holds fewer than 2**31 tokens, not {n_tokens}")
    header = np.zeros(HEADER_INTS, dtype="<i4")
    header[0], header[1], header[2] = fmt.magic, fmt.version, n_tokens
    return header.tobytes()


def write_shard(path: Path, tokens: np.ndarray, fmt: ShardFormat) -> str:
    """Writes header and ids to PATH.tmp and renames it, so a shard is complete or absent.
    Returns the file's sha256."""
    path = Path(path)
    ids = np.ascontiguousarray(tokens, dtype=np.dtype(fmt.dtype).newbyteorder("<"))
    header = make_header(fmt, len(ids))
    digest = hashlib.sha256(header)
    digest.update(memoryview(ids).cast("B"))
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        f.write(header)
        f.write(memoryview(ids).cast("B"))
    os.replace(tmp, path)
    return digest.hexdigest()


def read_header(path: Path) -> ShardHeader:
    """The header of PATH, checked against the file size."""
    path = Path(path)
    size = path.stat().st_size
    if size < HEADER_BYTES:
        raise ShardFormatError(f"{path}: {size} bytes, shorter than the {HEADER_BYTES}-byte header")
    header = np.fromfile(path, dtype="<i4", count=HEADER_INTS)
    fmt = _BY_MAGIC.get((int(header[0]), int(header[1])))
    if fmt is None:
        raise ShardFormatError(f"{path}: unknown magic/version {int(header[0])}/{int(header[1])}")
    n_tokens = int(header[2])
    expected = HEADER_BYTES + n_tokens * np.dtype(fmt.dtype).itemsize
    if n_tokens < 0 or size != expected:
        raise ShardFormatError(f"{path}: header says {n_tokens} tokens ({expected} bytes), file has {size} bytes")
    return ShardHeader(fmt, n_tokens)


def read_shard(path: Path) -> np.ndarray:
    """The ids of a shard, memory-mapped read-only."""
    header = read_header(path)
    if header.tokens == 0:
        return np.zeros(0, dtype=header.format.dtype)
    return np.memmap(path, dtype=np.dtype(header.format.dtype).newbyteorder("<"), mode="r", offset=HEADER_BYTES, shape=(header.tokens,))


def split_documents(tokens: np.ndarray, eot: int) -> list[np.ndarray]:
    """The documents of an EOT-delimited stream (EOT before each document), without their EOT.

    Tokens before the first EOT (the tail of a document begun in an earlier shard) come first.
    """
    starts = np.flatnonzero(np.asarray(tokens) == eot)
    pieces = []
    if len(starts) == 0 or starts[0] != 0:
        pieces.append(np.asarray(tokens[: starts[0] if len(starts) else len(tokens)]))
    bounds = list(starts) + [len(tokens)]
    for a, b in zip(bounds[:-1], bounds[1:]):
        pieces.append(np.asarray(tokens[a + 1 : b]))
    return pieces


@dataclass
class WrittenShard:
    file: str
    tokens: int
    documents: int  # documents whose EOT is in this shard
    sha256: str = ""


class ShardWriter:
    """Appends EOT-prefixed documents to `{prefix}_{index:06d}.bin` shards of exactly `shard_tokens`
    tokens (the last one shorter). Files are written as *.tmp and renamed by write_shard."""

    def __init__(self, out_dir: Path, prefix: str, fmt: ShardFormat, shard_tokens: int):
        if shard_tokens < 1 or shard_tokens >= 2**31:
            raise ValueError("shard_tokens must be between 1 and 2**31 - 1")
        self.out_dir, self.prefix, self.fmt, self.shard_tokens = Path(out_dir), prefix, fmt, shard_tokens
        self._buffer = np.empty(shard_tokens, dtype=fmt.dtype)
        self._filled = 0
        self._docs_per_shard: dict[int, int] = {}
        self.shards: list[WrittenShard] = []
        self.tokens = 0
        self.documents = 0

    def file_name(self, index: int) -> str:
        return f"{self.prefix}_{index:06d}.bin"

    def add_document(self, tokens: np.ndarray) -> tuple[str, int]:
        """Appends one document (its EOT first); returns the shard and offset where its EOT went."""
        names, offsets = self.add_documents(tokens, np.zeros(1, dtype=np.int64))
        return names[0], int(offsets[0])

    def add_documents(self, tokens: np.ndarray, starts: np.ndarray) -> tuple[list[str], np.ndarray]:
        """Appends documents laid out back to back in TOKENS, each starting with its EOT at STARTS;
        returns each one's shard and the offset of its EOT there."""
        position = self.tokens + np.asarray(starts, dtype=np.int64)
        index, offsets = np.divmod(position, self.shard_tokens)
        for i, count in zip(*np.unique(index, return_counts=True)):
            self._docs_per_shard[int(i)] = self._docs_per_shard.get(int(i), 0) + int(count)
        self.documents += len(position)
        pos = 0
        while pos < len(tokens):
            take = min(len(tokens) - pos, self.shard_tokens - self._filled)
            self._buffer[self._filled : self._filled + take] = tokens[pos : pos + take]
            self._filled += take
            pos += take
            self.tokens += take
            if self._filled == self.shard_tokens:
                self._flush()
        return [self.file_name(int(i)) for i in index], offsets

    def _flush(self) -> None:
        if self._filled == 0:
            return
        index = len(self.shards)
        name = self.file_name(index)
        sha256 = write_shard(self.out_dir / name, self._buffer[: self._filled], self.fmt)
        self.shards.append(WrittenShard(name, self._filled, self._docs_per_shard.pop(index, 0), sha256))
        self._filled = 0

    def close(self) -> list[WrittenShard]:
        self._flush()
        return self.shards
