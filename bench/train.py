"""Training throughput: Ernte's training step against a plain nanoGPT-style reference, same shape.

Both sides train the same model shape on the same token shard (random ids, or the train shards
of --tokdir), one optimizer step at a time, in this process:

- **Ernte**: `training.model.GPT`, `GPT.configure_optimizer`, `training.data_loader.BatchLoader`
  and `training.train.train_step`, as `ernte train` runs them (on CUDA: bf16 autocast,
  torch.compile, fused AdamW, TF32, pinned prefetching loader).
- **Reference**: nanoGPT's model.py and the batch/step code of its train.py, condensed into this
  file (`ref_*` below): the same architecture and initialisation, AdamW fused on CUDA only,
  batches gathered with `torch.stack` from a memmap opened per batch (nanoGPT avoids a memory
  leak that way), the next batch fetched while the step's forward pass is queued.

Per round and side: `--warmup` untimed steps, then `--steps` timed ones (each ends with
`loss.item()`, so the device has finished); the median step time gives tokens/s. Rounds alternate
which side goes first; medians over rounds are reported with the ratio Ernte / reference
(target >= 1.0x). On CUDA MFU is reported against the datasheet peak of the GPU
(`training.train.peak_flops_for`: H100 SXM bf16 dense 989 TFLOP/s); on CPU against a measured
fp32 matmul peak, and said so.

    .venv/bin/python bench/train.py                          # CPU, a 4-layer 256-wide model
    .venv/bin/python bench/train.py --preset small --rounds 5
    .venv/bin/python bench/train.py --device cuda            # gpt2-124m, bf16, compiled
    .venv/bin/python bench/train.py --json train.json
"""

from __future__ import annotations

import argparse
import contextlib
import inspect
import json
import math
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
from torch.nn import functional as F

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from training.data_loader import BatchLoader, TokenWindows, shard_paths  # noqa: E402
from training.model import GPT, PRESETS, GPTConfig  # noqa: E402
from training.token_shards import FORMATS, read_shard, write_shard  # noqa: E402
from training.train import cpu_name, peak_flops_for, train_step  # noqa: E402

TARGET_RATIO = 1.0
BUSY_PERCENT = 15.0  # other work on the machine above this (percent of all CPUs) makes the run suspect
CPU_SHAPE = dict(n_layer=4, n_head=4, n_embd=256, block_size=256)


# -- the reference: nanoGPT (github.com/karpathy/nanoGPT, model.py and train.py), condensed ---------


class RefLayerNorm(nn.Module):
    def __init__(self, ndim, bias):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(ndim))
        self.bias = nn.Parameter(torch.zeros(ndim)) if bias else None

    def forward(self, input):
        return F.layer_norm(input, self.weight.shape, self.weight, self.bias, 1e-5)


class RefCausalSelfAttention(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.c_attn = nn.Linear(config.n_embd, 3 * config.n_embd, bias=config.bias)
        self.c_proj = nn.Linear(config.n_embd, config.n_embd, bias=config.bias)
        self.attn_dropout = nn.Dropout(config.dropout)
        self.resid_dropout = nn.Dropout(config.dropout)
        self.n_head = config.n_head
        self.n_embd = config.n_embd
        self.dropout = config.dropout

    def forward(self, x):
        B, T, C = x.size()
        q, k, v = self.c_attn(x).split(self.n_embd, dim=2)
        k = k.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
        q = q.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
        v = v.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
        y = torch.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=None, dropout_p=self.dropout if self.training else 0, is_causal=True)
        y = y.transpose(1, 2).contiguous().view(B, T, C)
        return self.resid_dropout(self.c_proj(y))


class RefMLP(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.c_fc = nn.Linear(config.n_embd, 4 * config.n_embd, bias=config.bias)
        self.gelu = nn.GELU()
        self.c_proj = nn.Linear(4 * config.n_embd, config.n_embd, bias=config.bias)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x):
        return self.dropout(self.c_proj(self.gelu(self.c_fc(x))))


class RefBlock(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.ln_1 = RefLayerNorm(config.n_embd, bias=config.bias)
        self.attn = RefCausalSelfAttention(config)
        self.ln_2 = RefLayerNorm(config.n_embd, bias=config.bias)
        self.mlp = RefMLP(config)

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        x = x + self.mlp(self.ln_2(x))
        return x


class RefGPT(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.config = config
        self.transformer = nn.ModuleDict(
            dict(
                wte=nn.Embedding(config.vocab_size, config.n_embd),
                wpe=nn.Embedding(config.block_size, config.n_embd),
                drop=nn.Dropout(config.dropout),
                h=nn.ModuleList([RefBlock(config) for _ in range(config.n_layer)]),
                ln_f=RefLayerNorm(config.n_embd, bias=config.bias),
            )
        )
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        self.transformer.wte.weight = self.lm_head.weight
        self.apply(self._init_weights)
        for pn, p in self.named_parameters():
            if pn.endswith("c_proj.weight"):
                torch.nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * config.n_layer))

    def _init_weights(self, module):
        if isinstance(module, nn.Linear):
            torch.nn.init.normal_(module.weight, mean=0.0, std=0.02)
            if module.bias is not None:
                torch.nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            torch.nn.init.normal_(module.weight, mean=0.0, std=0.02)

    def forward(self, idx, targets=None):
        device = idx.device
        b, t = idx.size()
        pos = torch.arange(0, t, dtype=torch.long, device=device)
        x = self.transformer.drop(self.transformer.wte(idx) + self.transformer.wpe(pos))
        for block in self.transformer.h:
            x = block(x)
        x = self.transformer.ln_f(x)
        logits = self.lm_head(x)
        loss = F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1), ignore_index=-1)
        return logits, loss

    def configure_optimizers(self, weight_decay, learning_rate, betas, device_type):
        param_dict = {pn: p for pn, p in self.named_parameters() if p.requires_grad}
        decay_params = [p for n, p in param_dict.items() if p.dim() >= 2]
        nodecay_params = [p for n, p in param_dict.items() if p.dim() < 2]
        optim_groups = [{"params": decay_params, "weight_decay": weight_decay}, {"params": nodecay_params, "weight_decay": 0.0}]
        fused_available = "fused" in inspect.signature(torch.optim.AdamW).parameters
        use_fused = fused_available and device_type == "cuda"
        extra_args = dict(fused=True) if use_fused else dict()
        return torch.optim.AdamW(optim_groups, lr=learning_rate, betas=betas, **extra_args)


def ref_get_batch(path: Path, dtype, batch_size: int, block_size: int, device: torch.device):
    # nanoGPT re-creates the memmap every batch to avoid a memory leak.
    data = np.memmap(path, dtype=dtype, mode="r", offset=1024)
    ix = torch.randint(len(data) - block_size, (batch_size,))
    x = torch.stack([torch.from_numpy((data[i : i + block_size]).astype(np.int64)) for i in ix])
    y = torch.stack([torch.from_numpy((data[i + 1 : i + 1 + block_size]).astype(np.int64)) for i in ix])
    if device.type == "cuda":
        x, y = x.pin_memory().to(device, non_blocking=True), y.pin_memory().to(device, non_blocking=True)
    else:
        x, y = x.to(device), y.to(device)
    return x, y


# -- the benchmark ---------------------------------------------------------------------------------


@dataclass
class Side:
    name: str
    step: object  # () -> float loss
    tokens_per_step: int
    flops_per_token: int


def make_ernte(cfg: GPTConfig, shard: Path, args, device: torch.device) -> Side:
    torch.manual_seed(0)
    model = GPT(cfg).to(device)
    optimizer = model.configure_optimizer(0.1, 6e-4, (0.9, 0.95), device.type)
    step_model = torch.compile(model) if args.compile else model
    autocast = torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda" else contextlib.nullcontext()
    loader = BatchLoader(TokenWindows([shard], cfg.block_size), args.batch_size, device, seed=0)
    model.train()
    step = lambda: train_step(step_model, optimizer, loader, args.grad_accum, autocast, 1.0).item()  # noqa: E731
    return Side("ernte", step, args.batch_size * args.grad_accum * cfg.block_size, model.flops_per_token())


def make_reference(cfg: GPTConfig, shard: Path, args, device: torch.device) -> Side:
    torch.manual_seed(0)
    ref_cfg = GPTConfig(**{**cfg.to_dict(), "vocab_size": cfg.padded_vocab_size})  # nanoGPT pads by hand (50304)
    model = RefGPT(ref_cfg).to(device)
    optimizer = model.configure_optimizers(0.1, 6e-4, (0.9, 0.95), device.type)
    step_model = torch.compile(model) if args.compile else model
    ctx = torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda" else contextlib.nullcontext()
    dtype = read_shard(shard).dtype
    state = {"batch": ref_get_batch(shard, dtype, args.batch_size, cfg.block_size, device)}
    model.train()

    def step() -> float:
        for _ in range(args.grad_accum):
            X, Y = state["batch"]
            with ctx:
                _, loss = step_model(X, Y)
                loss = loss / args.grad_accum
            state["batch"] = ref_get_batch(shard, dtype, args.batch_size, cfg.block_size, device)
            loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        return loss.item() * args.grad_accum

    return Side("reference", step, args.batch_size * args.grad_accum * cfg.block_size, 0)


def time_side(side: Side, warmup: int, steps: int) -> float:
    """Median seconds per step."""
    for _ in range(warmup):
        side.step()
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        loss = side.step()
        times.append(time.perf_counter() - t0)
        if not math.isfinite(loss):
            raise SystemExit(f"{side.name}: loss {loss}")
    return statistics.median(times)


def machine_busy(seconds: float = 1.0) -> float:
    """CPU use of the whole machine (percent of all CPUs) over a moment in which this benchmark is idle."""
    import psutil

    return psutil.cpu_percent(interval=seconds)


def random_shard(directory: Path, vocab_size: int, tokens: int) -> Path:
    rng = np.random.default_rng(0)
    fmt = FORMATS["uint16"] if vocab_size <= 65536 else FORMATS["uint32"]
    path = directory / "train_000000.bin"
    write_shard(path, rng.integers(0, vocab_size, size=tokens).astype(fmt.dtype), fmt)
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    parser.add_argument("--preset", choices=sorted(PRESETS), help=f"model shape (default: {CPU_SHAPE} on CPU, gpt2-124m on CUDA)")
    parser.add_argument("--vocab-size", type=int, help="default: 16384 on CPU (ernte tokenize's default), 50257 (GPT-2) on CUDA")
    parser.add_argument("--batch-size", type=int, help="default: 8 on CPU, 16 on CUDA")
    parser.add_argument("--grad-accum", type=int, default=1)
    parser.add_argument("--steps", type=int, help="timed steps per round and side (default: 10 on CPU, 30 on CUDA)")
    parser.add_argument("--warmup", type=int, help="untimed steps per round and side (default: 2 on CPU, 10 on CUDA)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's)")
    parser.add_argument("--no-reference", action="store_true", help="only time Ernte (e.g. on a GPU, for MFU)")
    parser.add_argument("--compile", action=argparse.BooleanOptionalAction, default=None, help="torch.compile both sides (default: on CUDA)")
    parser.add_argument("--tokdir", type=Path, help="use the first train shard of this token directory instead of random ids")
    parser.add_argument("--json", type=Path, help="write the results here")
    args = parser.parse_args()

    device = torch.device("cuda" if args.device == "cuda" or (args.device == "auto" and torch.cuda.is_available()) else "cpu")
    if device.type == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda, but CUDA is not available")
    cuda = device.type == "cuda"
    if args.threads:
        torch.set_num_threads(args.threads)
    args.compile = cuda if args.compile is None else args.compile
    args.batch_size = args.batch_size or (16 if cuda else 8)
    args.steps = args.steps or (30 if cuda else 10)
    args.warmup = args.warmup if args.warmup is not None else (10 if cuda else 2)
    if cuda:
        torch.set_float32_matmul_precision("high")
    shape = dict(PRESETS[args.preset]) if args.preset else (dict(PRESETS["gpt2-124m"]) if cuda else dict(CPU_SHAPE))

    busy_before = machine_busy()
    with tempfile.TemporaryDirectory() as tmp:
        if args.tokdir:
            shard = shard_paths(args.tokdir, "train")[0]
            vocab = args.vocab_size or int(np.max(read_shard(shard))) + 1
        else:
            vocab = args.vocab_size or (50257 if cuda else 16384)
            shard = random_shard(Path(tmp), vocab, 2_000_000)
        cfg = GPTConfig(vocab_size=vocab, **shape)
        sides = [make_ernte(cfg, shard, args, device)] + ([] if args.no_reference else [make_reference(cfg, shard, args, device)])
        flops_per_token = sides[0].flops_per_token  # the same shape on both sides
        peak, peak_basis = peak_flops_for(device, None)
        device_name = torch.cuda.get_device_name(device) if cuda else f"{cpu_name()}, {torch.get_num_threads()} threads"
        print(f"device: {device_name}; torch {torch.__version__}", file=sys.stderr)
        print(f"shape: {cfg}, batch {args.batch_size} x accum {args.grad_accum} x {cfg.block_size} tokens, compile {args.compile}", file=sys.stderr)
        results: dict[str, list[float]] = {s.name: [] for s in sides}
        for r in range(args.rounds):
            for side in sides if r % 2 == 0 else sides[::-1]:
                seconds = time_side(side, args.warmup, args.steps)
                results[side.name].append(side.tokens_per_step / seconds)
                print(f"round {r + 1} {side.name}: {seconds * 1000:.1f} ms/step, {side.tokens_per_step / seconds:,.0f} tokens/s", file=sys.stderr)

    busy_after = machine_busy()
    medians = {name: statistics.median(v) for name, v in results.items()}
    print(f"| side | tokens/s (median of {args.rounds}) | MFU |")
    print("|---|---:|---:|")
    for name, tps in medians.items():
        mfu = f"{100 * flops_per_token * tps / peak:.1f}%" if peak else "n/a"
        print(f"| {'Ernte' if name == 'ernte' else 'nanoGPT-style reference'} | {tps:,.0f} | {mfu} |")
    print(f"\nMFU basis: {peak_basis}; {flops_per_token:,} FLOPs per token (6N + 12 L T d).")
    ratio = medians["ernte"] / medians["reference"] if "reference" in medians else None
    if ratio is not None:
        print(f"Ernte / reference: **{ratio:.2f}x** ({'meets' if ratio >= TARGET_RATIO else 'BELOW'} the {TARGET_RATIO:.1f}x target)")
    if max(busy_before, busy_after) > BUSY_PERCENT:
        print(f"\nWARNING: the machine was busy with other work (CPU {busy_before:.0f}% before, {busy_after:.0f}% after, while idle here); the numbers are not reliable")
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "device": str(device),
                    "device_name": device_name,
                    "threads": torch.get_num_threads(),
                    "torch": torch.__version__,
                    "shape": cfg.to_dict(),
                    "batch_size": args.batch_size,
                    "grad_accum": args.grad_accum,
                    "compile": args.compile,
                    "tokens_per_s": results,
                    "median_tokens_per_s": medians,
                    "flops_per_token": flops_per_token,
                    "peak_flops": peak,
                    "peak_basis": peak_basis,
                    "ratio": ratio,
                    "busy_percent_before_after": [busy_before, busy_after],
                },
                indent=2,
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
