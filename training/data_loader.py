"""Training batches from token shards: memory-mapped, deterministic, and ready before the GPU asks.

Each batch is a pure function of (seed, batch index): random batches draw their windows from a
generator seeded with both, sequential ones take the split's windows in order. So a resumed run
gets exactly the batches an uninterrupted one would have, with no loader state to save.

On CUDA the next batch is gathered on a background thread into pinned host memory and copied
with `non_blocking=True`, so the copy overlaps the step before it and the GPU does not wait for data.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch

from training.token_shards import read_shard


def shard_paths(tokdir: Path, split: str) -> list[Path]:
    """`{split}_*.bin` in TOKDIR, in name order."""
    return sorted(Path(tokdir).glob(f"{split}_*.bin"))


class TokenWindows:
    """The (block_size + 1)-token windows of one split: inputs are the first block_size tokens,
    targets the last block_size. A window never spans two shards."""

    def __init__(self, paths: list[Path], block_size: int):
        self.block_size = block_size
        self.shards = [s for s in (read_shard(p) for p in paths) if len(s) > block_size]
        self.tokens = sum(len(s) for s in self.shards)
        # Random windows may start at any position with block_size + 1 tokens after it.
        self._random_ends = np.cumsum([len(s) - block_size for s in self.shards])
        # Sequential windows tile each shard, overlapping by the one token that is both the last
        # target of a window and the first input of the next.
        self._seq_ends = np.cumsum([(len(s) - 1) // block_size for s in self.shards])

    def __bool__(self) -> bool:
        return bool(self.shards)

    @property
    def sequential_windows(self) -> int:
        return int(self._seq_ends[-1]) if self.shards else 0

    def _gather(self, shard_idx: np.ndarray, starts: np.ndarray) -> np.ndarray:
        T = self.block_size
        out = np.empty((len(starts), T + 1), dtype=np.int64)
        for row, (s, start) in enumerate(zip(shard_idx, starts)):
            out[row] = self.shards[s][start : start + T + 1]
        return out

    def random_batch(self, batch_size: int, seed: int, index: int) -> np.ndarray:
        """batch_size windows drawn uniformly over all start positions of the split."""
        rng = np.random.default_rng([seed, index])
        flat = rng.integers(0, self._random_ends[-1], size=batch_size)
        shard_idx = np.searchsorted(self._random_ends, flat, side="right")
        starts = flat - np.concatenate(([0], self._random_ends))[shard_idx]
        return self._gather(shard_idx, starts)

    def sequential_batch(self, batch_size: int, index: int) -> np.ndarray:
        """Windows index*batch_size ... in order, wrapping around at the end of the split."""
        flat = (index * batch_size + np.arange(batch_size)) % self._seq_ends[-1]
        shard_idx = np.searchsorted(self._seq_ends, flat, side="right")
        starts = (flat - np.concatenate(([0], self._seq_ends))[shard_idx]) * self.block_size
        return self._gather(shard_idx, starts)


class BatchLoader:
    """Iterates over (x, y) batches on DEVICE, batch index START, START + 1, ...

    order "random": `windows.random_batch(batch_size, seed, index)`; "sequential":
    `windows.sequential_batch(batch_size, index)`. prefetch (default: on CUDA) prepares the next
    host batch on a thread while the current one is in use.
    """

    def __init__(
        self,
        windows: TokenWindows,
        batch_size: int,
        device: torch.device,
        *,
        seed: int = 0,
        order: str = "random",
        start: int = 0,
        prefetch: bool | None = None,
    ):
        if order not in ("random", "sequential"):
            raise ValueError(f"unknown batch order {order!r}")
        self.windows, self.batch_size, self.device = windows, batch_size, torch.device(device)
        self.seed, self.order, self.index = seed, order, start
        self._pin = self.device.type == "cuda"
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="batches") if (self._pin if prefetch is None else prefetch) else None
        self._next: Future | None = None

    def _host_batch(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        if self.order == "random":
            window = self.windows.random_batch(self.batch_size, self.seed, index)
        else:
            window = self.windows.sequential_batch(self.batch_size, index)
        x = torch.from_numpy(np.ascontiguousarray(window[:, :-1]))
        y = torch.from_numpy(np.ascontiguousarray(window[:, 1:]))
        if self._pin:
            x, y = x.pin_memory(), y.pin_memory()
        return x, y

    def __iter__(self) -> BatchLoader:
        return self

    def __next__(self) -> tuple[torch.Tensor, torch.Tensor]:
        if self._pool is None:
            x, y = self._host_batch(self.index)
        else:
            future = self._next or self._pool.submit(self._host_batch, self.index)
            self._next = self._pool.submit(self._host_batch, self.index + 1)
            x, y = future.result()
        self.index += 1
        # From pinned memory the copy is asynchronous; the caching host allocator keeps the
        # buffer alive until the copy has finished.
        return x.to(self.device, non_blocking=self._pin), y.to(self.device, non_blocking=self._pin)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
