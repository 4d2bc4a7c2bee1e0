"""`ernte train TOKDIR --out MODELDIR`: a GPT trained on token shards, in one flat loop (after nanoGPT).

On CUDA: bf16 autocast, torch.compile, fused AdamW, TF32 matmuls. On CPU: fp32, eager. Each
optimizer step accumulates `grad_accum_steps` micro-batches; the learning rate warms up linearly
and decays on a cosine to min_lr. Validation runs on the same held-out batches every
`eval_interval` steps and reports loss in nats per token and bits per byte. Checkpoints hold
everything a resumed run needs to produce the losses an uninterrupted one would have (on CPU,
bit for bit): weights, optimizer moments, RNG states and the step; batches are a function of the
seed and the step (training/data_loader.py).

MODELDIR gets config.json, model.safetensors, checkpoint.pt, tokenizer.json, metrics.jsonl (one
line per logged step), loss_curve.png and model_card.md.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import math
import platform
import shutil
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch

from pipeline import __version__, lineage
from pipeline.config import TrainConfig, config_hash
from training import checkpoint as ckpt
from training.data_loader import BatchLoader, TokenWindows, shard_paths
from training.model import GPT, PRESETS, GPTConfig
from training.token_shards import read_shard
from pipeline.files import file_sha256
from training.tokenizer import byte_decoder

logger = logging.getLogger("ernte.train")

METRICS_FILE = "metrics.jsonl"
PLOT_FILE = "loss_curve.png"
TOKEN_MANIFEST = "manifest.json"
PLOT_EVERY_S = 60.0

# Dense bf16 tensor-core peaks from NVIDIA's datasheets (without sparsity), matched on the
# device name in order. H200 has H100 SXM's compute.
GPU_PEAK_BF16 = [("H100 PCIe", 756e12), ("H100 NVL", 835e12), ("H100", 989e12), ("H200", 989e12), ("GH200", 989e12), ("A100", 312e12), ("L40S", 362e12), ("A10G", 70e12), ("L4", 121e12)]


class TrainInputError(Exception):
    """Unusable input or options (exit code 2): missing TOKDIR or shards, no CUDA, a clash with MODELDIR."""


class TrainFailed(Exception):
    """Training ran but failed (exit code 1), e.g. the loss became NaN."""


# -- inputs ----------------------------------------------------------------------------------------


@dataclass
class TokenData:
    """What TOKDIR holds, and the facts about it that go into config.json and the model card."""

    tokdir: Path
    manifest: dict
    manifest_sha256: str | None
    tokenizer_path: Path | None
    tokenizer_sha256: str | None
    vocab_size: int
    eot: int | None
    train_paths: list[Path]
    val_paths: list[Path]

    def facts(self) -> dict:
        # `ernte tokenize` writes source.* and tokenizer.*; the flat names are read as well.
        m = self.manifest
        return {
            "tokdir": str(self.tokdir.resolve()),
            "token_manifest_sha256": self.manifest_sha256,
            "tokenizer_sha256": self.tokenizer_sha256,
            "dataset_version": _lookup(m, "source.dataset_version", "dataset_version"),
            "curated_manifest_sha256": _lookup(m, "source.manifest_sha256", "curated_manifest_sha256", "source_manifest_sha256"),
            "curated_dir": _lookup(m, "source.curated_dir", "curated_dir"),
            "vocab_size": self.vocab_size,
            "eot_token": self.eot,
            "train_shards": len(self.train_paths),
            "val_shards": len(self.val_paths),
        }


def _lookup(manifest: dict, *paths: str):
    """The first of the dotted PATHS present in the manifest (field names differ between versions)."""
    for path in paths:
        node = manifest
        for part in path.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        if node is not None:
            return node
    return None


def open_token_dir(tokdir: Path) -> TokenData:
    tokdir = Path(tokdir)
    if not tokdir.is_dir():
        raise TrainInputError(f"TOKDIR {tokdir} is not a directory (make one with `ernte tokenize`)")
    train_paths, val_paths = shard_paths(tokdir, "train"), shard_paths(tokdir, "val")
    if not train_paths:
        raise TrainInputError(f"no train_*.bin token shards in {tokdir} (make them with `ernte tokenize`)")
    manifest_path = tokdir / TOKEN_MANIFEST
    manifest, manifest_sha = {}, None
    if manifest_path.is_file():
        manifest_sha = file_sha256(manifest_path)
        try:
            manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        except ValueError as exc:
            raise TrainInputError(f"{manifest_path}: not valid JSON: {exc}") from None
    else:
        logger.warning("%s has no %s: the model card will not name the dataset", tokdir, TOKEN_MANIFEST)
    tok_path = tokdir / ckpt.TOKENIZER_FILE
    tokenizer = None
    if tok_path.is_file():
        tokenizer = json.loads(tok_path.read_text(encoding="utf-8"))
    else:
        logger.warning("%s has no tokenizer.json: no bits per byte, and `ernte sample` will not work", tokdir)
    vocab_size = _lookup(manifest, "tokenizer.vocab_size", "vocab_size")
    eot = _lookup(manifest, "tokenizer.eot_id", "eot_id", "eot")
    recorded_sha = _lookup(manifest, "tokenizer.sha256", "tokenizer_sha256")
    if tokenizer is not None:
        ids = [*tokenizer["model"]["vocab"].values(), *(t["id"] for t in tokenizer.get("added_tokens", []))]
        vocab_size = vocab_size or max(ids) + 1
        if eot is None:
            eot = next((t["id"] for t in tokenizer.get("added_tokens", []) if t["content"] == "<|endoftext|>"), None)
    if vocab_size is None:
        vocab_size = max(int(np.max(read_shard(p), initial=0)) for p in train_paths) + 1
        logger.warning("vocabulary size not recorded in %s; using the largest id in the shards + 1 (%d)", tokdir, vocab_size)
    tok_sha = file_sha256(tok_path) if tokenizer else None
    if recorded_sha and tok_sha and recorded_sha.removeprefix("sha256:") != tok_sha:
        logger.warning("%s is not the tokenizer the manifest records (sha256 %s, manifest says %s)", tok_path, tok_sha, recorded_sha)
    return TokenData(tokdir, manifest, manifest_sha, tok_path if tokenizer else None, tok_sha, int(vocab_size), eot, train_paths, val_paths)


def token_byte_lengths(tokenizer_path: Path, vocab_size: int) -> np.ndarray | None:
    """UTF-8 bytes each id decodes to, for a byte-level BPE (special tokens: 0). Summed over a
    stretch of ids this is exactly the length of its decoded text. None for other tokenizers."""
    spec = json.loads(Path(tokenizer_path).read_text(encoding="utf-8"))
    decoder = spec.get("decoder") or {}
    kinds = [d.get("type") for d in decoder.get("decoders", [decoder])]
    if (spec.get("model") or {}).get("type") != "BPE" or "ByteLevel" not in kinds:
        return None
    table = byte_decoder()
    lengths = np.zeros(vocab_size, dtype=np.int64)
    for token, idx in spec["model"]["vocab"].items():
        if any(c not in table for c in token):
            return None
        lengths[idx] = len(token)
    for added in spec.get("added_tokens", []):
        lengths[added["id"]] = 0 if added.get("special") else len(added["content"].encode("utf-8"))
    return lengths


def resolve_device(requested: str) -> torch.device:
    if requested == "cuda" and not torch.cuda.is_available():
        why = f"this torch ({torch.__version__}) is built without CUDA" if torch.version.cuda is None else "no CUDA device is visible"
        raise TrainInputError(f"--device cuda, but CUDA is not available: {why}; use --device cpu or auto")
    if requested == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(requested)


def model_config_for(cfg: TrainConfig, vocab_size: int) -> GPTConfig:
    shape = dict(PRESETS[cfg.preset])
    for key in ("n_layer", "n_head", "n_embd", "block_size"):
        if getattr(cfg, key) is not None:
            shape[key] = getattr(cfg, key)
    if shape["n_embd"] % shape["n_head"]:
        raise TrainInputError(f"n_embd ({shape['n_embd']}) must be a multiple of n_head ({shape['n_head']})")
    return GPTConfig(vocab_size=vocab_size, dropout=cfg.dropout, bias=cfg.bias, **shape)


def resolved(cfg: TrainConfig) -> TrainConfig:
    """Fills the defaults that depend on other settings, so that config.json has the values used."""
    return cfg.model_copy(update={"lr_decay_steps": cfg.lr_decay_steps or cfg.max_steps, "min_lr": cfg.lr / 10 if cfg.min_lr is None else cfg.min_lr})


# -- the pieces of the loop ------------------------------------------------------------------------


def lr_at(it: int, cfg: TrainConfig) -> float:
    """Learning rate for optimizer step `it` (0-based): linear warm-up, cosine decay to min_lr."""
    if it < cfg.warmup_steps:
        return cfg.lr * (it + 1) / (cfg.warmup_steps + 1)
    if it >= cfg.lr_decay_steps:
        return cfg.min_lr
    ratio = (it - cfg.warmup_steps) / max(1, cfg.lr_decay_steps - cfg.warmup_steps)
    return cfg.min_lr + 0.5 * (1.0 + math.cos(math.pi * ratio)) * (cfg.lr - cfg.min_lr)


@functools.cache
def measured_cpu_peak_flops(n: int = 1024, repeats: int = 10) -> float:
    """Best of a few fp32 n x n matmuls on this CPU with torch's threads: an attainable peak
    (not a datasheet one) for CPU MFU."""
    a, b = torch.full((n, n), 0.5), torch.full((n, n), 0.25)
    for _ in range(3):  # thread pool and clocks up first
        a @ b
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t0)
    return 2 * n**3 / best


def peak_flops_for(device: torch.device, configured: float | None) -> tuple[float | None, str]:
    """(peak FLOP/s, what it is) that MFU is measured against; None where unknown."""
    if configured:
        return configured, f"configured peak {configured / 1e12:g} TFLOP/s"
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
        for key, peak in GPU_PEAK_BF16:
            if key in name:
                return peak, f"{name} bf16 dense datasheet peak {peak / 1e12:g} TFLOP/s"
        return None, f"n/a: no datasheet peak known for {name} (set train.peak_flops)"
    peak = measured_cpu_peak_flops()
    return peak, f"measured CPU fp32 matmul peak {peak / 1e9:.1f} GFLOP/s ({torch.get_num_threads()} threads)"


def train_step(model, optimizer, loader, grad_accum_steps: int, autocast, grad_clip: float) -> torch.Tensor:
    """One optimizer step over grad_accum_steps micro-batches; returns their mean loss (a tensor,
    so the caller decides when to wait for the device)."""
    total = torch.zeros((), device=loader.device)
    for _ in range(grad_accum_steps):
        x, y = next(loader)
        with autocast:
            _, loss = model(x, y)
        loss = loss / grad_accum_steps
        loss.backward()
        total += loss.detach()
    if grad_clip > 0:
        torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return total


@torch.no_grad()
def evaluate(model, batches: list[tuple[torch.Tensor, torch.Tensor]], autocast) -> float:
    """Mean loss (nats per token) over the fixed validation batches."""
    model.eval()
    losses = torch.zeros(len(batches), device=batches[0][0].device)
    for i, (x, y) in enumerate(batches):
        with autocast:
            _, loss = model(x, y)
        losses[i] = loss
    model.train()
    return losses.mean().item()


def validation_batches(windows: TokenWindows, cfg: TrainConfig, device: torch.device) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """The first eval_batches sequential batches of the split, at most one pass over it (one
    batch, wrapping around, when the split has fewer windows than batch_size)."""
    n = min(cfg.eval_batches, max(1, windows.sequential_windows // cfg.batch_size))
    loader = BatchLoader(windows, cfg.batch_size, device, order="sequential", prefetch=False)
    return [next(loader) for _ in range(n)]


# -- the run ---------------------------------------------------------------------------------------


@dataclass
class TrainSummary:
    out: Path
    start_step: int
    last_step: int
    max_steps: int
    params: int
    train_loss: float | None = None
    val_loss: float | None = None
    val_bpb: float | None = None
    tokens_per_s: float | None = None
    mfu: float | None = None
    mfu_basis: str = ""
    seconds: float = 0.0
    files: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        def num(v, fmt):
            return "n/a" if v is None else format(v, fmt)

        return [
            f"model: {self.out} ({self.params / 1e6:.2f}M parameters)",
            f"steps: {self.start_step} -> {self.last_step} of {self.max_steps} in {self.seconds:.1f} s",
            f"train loss: {num(self.train_loss, '.4f')}  val loss: {num(self.val_loss, '.4f')}  val bits/byte: {num(self.val_bpb, '.4f')}",
            f"tokens/s: {num(self.tokens_per_s, ',.0f')}  MFU: {'n/a' if self.mfu is None else f'{100 * self.mfu:.1f}%'} ({self.mfu_basis})",
        ]


def _software() -> dict:
    import safetensors

    versions = {"ernte": __version__, "python": platform.python_version(), "torch": torch.__version__, "numpy": np.__version__, "safetensors": safetensors.__version__}
    try:
        import tokenizers

        versions["tokenizers"] = tokenizers.__version__
    except ImportError:
        pass
    if torch.version.cuda:
        versions["cuda"] = torch.version.cuda
    return versions


def _device_info(device: torch.device) -> dict:
    if device.type == "cuda":
        return {"type": "cuda", "name": torch.cuda.get_device_name(device), "precision": "bf16 autocast" if torch.cuda.is_bf16_supported() else "fp32"}
    return {"type": "cpu", "name": cpu_name(), "threads": torch.get_num_threads(), "precision": "fp32"}


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _read_metrics(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _truncate_metrics(path: Path, last_step: int) -> None:
    """Drops lines past the checkpoint a resumed run continues from (they will be recomputed)."""
    rows = [r for r in _read_metrics(path) if r["step"] <= last_step]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


def run_train(tokdir: Path, out: Path, cfg: TrainConfig, resume: bool = False, command: str | None = None) -> TrainSummary:
    """Trains (or, with resume, continues) the model in OUT on TOKDIR's shards."""
    started = time.perf_counter()
    data = open_token_dir(tokdir)
    device = resolve_device(cfg.device)
    out = Path(out)
    cfg = resolved(cfg)
    gcfg = model_config_for(cfg, data.vocab_size)

    stored = None
    if resume:
        if not (out / ckpt.STATE_FILE).is_file():
            raise TrainInputError(f"--resume: {out} has no checkpoint to continue from")
        stored = ckpt.read_config(out)
        if ckpt.model_config(stored) != gcfg:
            raise TrainInputError(f"--resume: the model in {out} is {ckpt.model_config(stored)}, the options ask for {gcfg}")
        if stored.get("data", {}).get("token_manifest_sha256") != data.manifest_sha256:
            logger.warning("%s/manifest.json differs from the one this model started on", data.tokdir)
    elif (out / ckpt.STATE_FILE).exists() or (out / ckpt.WEIGHTS_FILE).exists():
        raise TrainInputError(f"{out} already holds a model: continue it with --resume or choose another --out")
    out.mkdir(parents=True, exist_ok=True)

    torch.manual_seed(cfg.seed)
    use_bf16 = device.type == "cuda" and torch.cuda.is_bf16_supported()
    if device.type == "cuda":
        torch.set_float32_matmul_precision("high")  # TF32 for the fp32 matmuls outside autocast
    autocast = torch.autocast(device_type="cuda", dtype=torch.bfloat16) if use_bf16 else contextlib.nullcontext()

    model = GPT(gcfg).to(device)
    optimizer = model.configure_optimizer(cfg.weight_decay, cfg.lr, (cfg.beta1, cfg.beta2), device.type)
    start_step = 0
    if resume:
        try:
            state = ckpt.load_training_state(out, model, optimizer)
        except ckpt.CheckpointError as exc:
            raise TrainInputError(str(exc)) from None
        start_step = state["step"]
        _truncate_metrics(out / METRICS_FILE, start_step)
        logger.info("resuming %s at step %d", out, start_step)
    else:
        (out / METRICS_FILE).write_text("", encoding="utf-8")
        if data.tokenizer_path is not None:
            shutil.copyfile(data.tokenizer_path, out / ckpt.TOKENIZER_FILE)

    train_windows = TokenWindows(data.train_paths, gcfg.block_size)
    if not train_windows:
        raise TrainInputError(f"the train shards in {tokdir} hold no stretch of block_size + 1 = {gcfg.block_size + 1} tokens")
    val_windows = TokenWindows(data.val_paths, gcfg.block_size)
    val = validation_batches(val_windows, cfg, device) if val_windows else []
    if not val:
        logger.warning("no validation split of at least %d tokens in %s: no validation loss", gcfg.block_size + 1, tokdir)
    val_bytes = None
    if val and data.tokenizer_path is not None:
        lengths = token_byte_lengths(data.tokenizer_path, gcfg.padded_vocab_size)
        if lengths is not None:
            val_bytes = int(sum(lengths[y.cpu().numpy()].sum() for _, y in val))
    val_tokens = sum(y.numel() for _, y in val)

    peak, mfu_basis = peak_flops_for(device, cfg.peak_flops)
    flops_per_token = model.flops_per_token()
    tokens_per_step = cfg.batch_size * cfg.grad_accum_steps * gcfg.block_size

    facts = data.facts() | {"train_tokens": train_windows.tokens, "val_tokens": val_windows.tokens, "val_eval_tokens": val_tokens, "val_eval_bytes": val_bytes}
    runs = (stored or {}).get("runs", [])
    runs.append({"started_at": datetime.now(timezone.utc).isoformat(timespec="seconds"), "start_step": start_step, "max_steps": cfg.max_steps, "device": _device_info(device), "command": command})
    config_json = {
        "model_type": "ernte-gpt",
        **{k: getattr(gcfg, k) for k in ckpt.MODEL_KEYS},
        "padded_vocab_size": gcfg.padded_vocab_size,
        "num_params": model.num_params(non_embedding=False),
        "num_params_non_embedding": model.num_params(),
        "flops_per_token": flops_per_token,
        "train": cfg.model_dump(mode="json"),
        "train_config_sha256": config_hash(cfg),
        "tokens_per_step": tokens_per_step,
        "mfu_basis": mfu_basis,
        "data": facts,
        "software": _software(),
        "runs": runs,
    }
    ckpt.write_json(out / ckpt.CONFIG_FILE, config_json)
    lineage.register(facts["curated_dir"], {"kind": "model", "path": str(out.resolve()), "tokens": facts["tokdir"], "dataset_version": facts["dataset_version"]})
    warning = lineage.stale_warning(data.tokdir)
    if warning:
        logger.warning(warning)

    step_model = model
    if cfg.compile if cfg.compile is not None else device.type == "cuda":
        step_model = torch.compile(model)
    loader = BatchLoader(train_windows, cfg.batch_size, device, seed=cfg.seed, order=cfg.batch_order, start=start_step * cfg.grad_accum_steps)
    summary = TrainSummary(out, start_step, start_step, cfg.max_steps, model.num_params(non_embedding=False), mfu_basis=mfu_basis)
    logger.info(
        "training %s: %.2fM parameters, %s tokens per step (%d x %d x %d), %d steps, on %s",
        gcfg,
        summary.params / 1e6,
        f"{tokens_per_step:,}",
        cfg.batch_size,
        cfg.grad_accum_steps,
        gcfg.block_size,
        cfg.max_steps,
        _device_info(device)["name"] or device.type,
    )

    step_times: list[float] = []
    step = start_step
    in_step = False
    plot_title = f"{out.name}: {cfg.preset}, {summary.params / 1e6:.2f}M parameters"
    last_plot = time.perf_counter()

    def checkpoint() -> None:
        ckpt.save_checkpoint(out, model, optimizer, step, {"train_config_sha256": config_hash(cfg)})

    with open(out / METRICS_FILE, "a", encoding="utf-8") as metrics:
        try:
            model.train()
            while step < cfg.max_steps:
                lr = lr_at(step, cfg)
                for group in optimizer.param_groups:
                    group["lr"] = lr
                t0 = time.perf_counter()
                in_step = True
                loss = train_step(step_model, optimizer, loader, cfg.grad_accum_steps, autocast, cfg.grad_clip).item()
                dt = time.perf_counter() - t0
                step += 1
                in_step = False
                if not math.isfinite(loss):
                    raise TrainFailed(f"the training loss is {loss} at step {step}; try a lower --lr or more --warmup-steps")
                if step > start_step + 1:  # the first step includes compilation and warm-up
                    step_times.append(dt)
                row = {"step": step, "train_loss": loss, "lr": lr, "tokens_per_s": tokens_per_step / dt}
                row["mfu"] = flops_per_token * row["tokens_per_s"] / peak if peak else None
                evaluated = bool(val) and (step % cfg.eval_interval == 0 or step == cfg.max_steps)
                if evaluated:
                    row["val_loss"] = evaluate(step_model, val, autocast)
                    row["val_bpb"] = row["val_loss"] * val_tokens / (math.log(2) * val_bytes) if val_bytes else None
                    summary.val_loss, summary.val_bpb = row["val_loss"], row["val_bpb"]
                    logger.info("step %d: val loss %.4f, val bits/byte %s", step, row["val_loss"], "n/a" if row["val_bpb"] is None else f"{row['val_bpb']:.4f}")
                if evaluated or step % cfg.log_interval == 0 or step == cfg.max_steps:
                    row["time_s"] = round(time.perf_counter() - started, 3)
                    metrics.write(json.dumps(row) + "\n")
                    metrics.flush()
                    mfu = "n/a" if row["mfu"] is None else f"{100 * row['mfu']:.1f}%"
                    logger.info("step %d/%d: loss %.4f, lr %.2e, %.0f ms, %s tok/s, MFU %s", step, cfg.max_steps, loss, lr, dt * 1000, f"{row['tokens_per_s']:,.0f}", mfu)
                summary.train_loss, summary.last_step = loss, step
                if step % cfg.checkpoint_interval == 0 or step == cfg.max_steps:
                    checkpoint()
                    if time.perf_counter() - last_plot > PLOT_EVERY_S:  # a live curve, without plotting being a cost
                        plot_loss_curve(out / METRICS_FILE, out / PLOT_FILE, title=plot_title)
                        last_plot = time.perf_counter()
        except KeyboardInterrupt:
            # Inside a step the weights may be half updated: then the last periodic checkpoint stays.
            if step > start_step and not in_step:
                checkpoint()
                logger.warning("interrupted: checkpoint of step %d written; continue with --resume", step)
            raise
        finally:
            loader.close()

    if step_times:
        summary.tokens_per_s = tokens_per_step * len(step_times) / sum(step_times)
        summary.mfu = flops_per_token * summary.tokens_per_s / peak if peak else None
    if step == start_step:
        logger.info("%s is already trained to step %d (--max-steps %d)", out, step, cfg.max_steps)
    summary.seconds = time.perf_counter() - started
    plot_loss_curve(out / METRICS_FILE, out / PLOT_FILE, title=plot_title)
    from training.model_card import write_model_card

    write_model_card(out, ckpt.read_config(out), _read_metrics(out / METRICS_FILE))
    summary.files = sorted(p.name for p in out.iterdir() if not p.name.endswith(".tmp"))
    return summary


def plot_loss_curve(metrics_path: Path, png_path: Path, title: str = "") -> None:
    """Training loss per step, validation loss and (on a second axis) validation bits per byte."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = _read_metrics(metrics_path)
    if not rows:
        return
    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=110)
    ax.plot([r["step"] for r in rows], [r["train_loss"] for r in rows], lw=1, color="tab:blue", label="train loss")
    val = [r for r in rows if r.get("val_loss") is not None]
    if val:
        ax.plot([r["step"] for r in val], [r["val_loss"] for r in val], "o-", ms=3, color="tab:orange", label="val loss")
    ax.set_xlabel("step")
    ax.set_ylabel("loss (nats/token)")
    ax.grid(alpha=0.3)
    handles, labels = ax.get_legend_handles_labels()
    bpb = [r for r in val if r.get("val_bpb") is not None]
    if bpb:
        ax2 = ax.twinx()
        ax2.plot([r["step"] for r in bpb], [r["val_bpb"] for r in bpb], "s--", ms=3, color="tab:green", label="val bits/byte")
        ax2.set_ylabel("bits per byte")
        h2, l2 = ax2.get_legend_handles_labels()
        handles, labels = handles + h2, labels + l2
    ax.legend(handles, labels, loc="upper right")
    ax.set_title(title)
    fig.tight_layout()
    tmp = png_path.with_name(png_path.name + ".tmp.png")
    fig.savefig(tmp)
    plt.close(fig)
    tmp.replace(png_path)
