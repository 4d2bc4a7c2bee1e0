"""A model directory's files: config.json, weights in safetensors, the training state for --resume.

    MODELDIR/config.json          model shape, training settings, data and software (written once)
    MODELDIR/model.safetensors    weights of the latest checkpoint (tied weights stored once)
    MODELDIR/checkpoint.pt        optimizer state, RNG states and step of that checkpoint (torch.save)
    MODELDIR/tokenizer.json       copy of the tokenizer the model was trained with

Both checkpoint files record their step; a pair whose steps differ (a crash between the two
renames) is refused on resume instead of continuing from mismatched weights and moments.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import load_model as load_weights_into
from safetensors.torch import save_model as save_weights

from pipeline.lineage import stale_warning
from training.model import GPT, GPTConfig

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
STATE_FILE = "checkpoint.pt"
TOKENIZER_FILE = "tokenizer.json"
MODEL_KEYS = ("n_layer", "n_head", "n_embd", "block_size", "vocab_size", "dropout", "bias")


class CheckpointError(Exception):
    """A model directory that cannot be loaded or resumed."""


def write_json(path: Path, data: dict) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def read_config(modeldir: Path) -> dict:
    path = Path(modeldir) / CONFIG_FILE
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CheckpointError(f"{path} not found: not an `ernte train` model directory") from None
    except ValueError as exc:
        raise CheckpointError(f"{path}: not valid JSON: {exc}") from None


def model_config(config: dict) -> GPTConfig:
    """The GPTConfig recorded in a config.json."""
    try:
        return GPTConfig(**{k: config[k] for k in MODEL_KEYS})
    except (KeyError, TypeError) as exc:
        raise CheckpointError(f"config.json lacks the model shape ({exc})") from None


def save_checkpoint(modeldir: Path, model: GPT, optimizer: torch.optim.Optimizer, step: int, extra: dict) -> None:
    """Weights and training state after `step` optimizer steps, each file written then renamed."""
    modeldir = Path(modeldir)
    state = {
        "step": step,
        "optimizer": optimizer.state_dict(),
        "rng_cpu": torch.get_rng_state(),
        "rng_cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        **extra,
    }
    tmp_state = modeldir / (STATE_FILE + ".tmp")
    torch.save(state, tmp_state)
    tmp_weights = modeldir / (WEIGHTS_FILE + ".tmp")
    save_weights(model, str(tmp_weights), metadata={"format": "pt", "step": str(step), "model": "ernte-gpt"})
    os.replace(tmp_weights, modeldir / WEIGHTS_FILE)
    os.replace(tmp_state, modeldir / STATE_FILE)


def weights_step(modeldir: Path) -> int | None:
    with safe_open(str(Path(modeldir) / WEIGHTS_FILE), framework="pt") as f:
        step = (f.metadata() or {}).get("step")
    return int(step) if step is not None else None


def load_model(modeldir: Path, device: str | torch.device = "cpu") -> tuple[GPT, dict]:
    """The model of MODELDIR with its latest weights, in eval mode, and its config.json."""
    modeldir = Path(modeldir)
    config = read_config(modeldir)
    warning = stale_warning(modeldir)  # made from documents since withdrawn: say so on every use
    if warning:
        logging.getLogger(__name__).warning(warning)
    model = GPT(model_config(config))
    path = modeldir / WEIGHTS_FILE
    if not path.is_file():
        raise CheckpointError(f"{path} not found: the run has not written a checkpoint yet")
    missing, unexpected = load_weights_into(model, str(path), strict=False, device=str(device))
    if missing or unexpected:
        raise CheckpointError(f"{path} does not fit config.json (missing {missing}, unexpected {unexpected})")
    return model.to(device).eval(), config


def load_training_state(modeldir: Path, model: GPT, optimizer: torch.optim.Optimizer) -> dict:
    """Loads the latest checkpoint into model and optimizer, restores the RNG states, and returns
    the saved state (step and extras)."""
    modeldir = Path(modeldir)
    state_path = modeldir / STATE_FILE
    if not state_path.is_file() or not (modeldir / WEIGHTS_FILE).is_file():
        raise CheckpointError(f"{modeldir} has no checkpoint to resume from ({STATE_FILE} and {WEIGHTS_FILE})")
    state = torch.load(state_path, map_location="cpu", weights_only=True)
    if weights_step(modeldir) != state["step"]:
        raise CheckpointError(f"{modeldir}: {WEIGHTS_FILE} and {STATE_FILE} are from different steps (interrupted while checkpointing?)")
    device = next(model.parameters()).device
    missing, unexpected = load_weights_into(model, str(modeldir / WEIGHTS_FILE), strict=False, device=str(device))
    if missing or unexpected:
        raise CheckpointError(f"{modeldir / WEIGHTS_FILE} does not fit the model (missing {missing}, unexpected {unexpected})")
    optimizer.load_state_dict(state["optimizer"])
    torch.set_rng_state(state["rng_cpu"])
    if state["rng_cuda"] and torch.cuda.is_available() and device.type == "cuda":
        torch.cuda.set_rng_state_all(state["rng_cuda"])
    return state
