"""`ernte sample MODELDIR --prompt TEXT`: text from a trained model, with its own tokenizer.json."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path

import torch

from training import checkpoint as ckpt


@dataclass
class Samples:
    texts: list[str]  # prompt + continuation, one per sample
    seed: int
    new_tokens: list[int]


def sample_text(
    modeldir: Path,
    prompt: str,
    max_new_tokens: int = 200,
    temperature: float = 0.8,
    top_k: int | None = None,
    top_p: float | None = None,
    seed: int | None = None,
    num_samples: int = 1,
    device: str = "cpu",
    stop_at_eot: bool = True,
) -> Samples:
    """Continues PROMPT num_samples times. An empty prompt starts from the end-of-text token, i.e.
    from the beginning of a document. Sampling stops at end-of-text unless stop_at_eot is false."""
    from training.tokenizer import EOT, load_tokenizer

    modeldir = Path(modeldir)
    model, _ = ckpt.load_model(modeldir, device)
    tok_path = modeldir / ckpt.TOKENIZER_FILE
    if not tok_path.is_file():
        raise ckpt.CheckpointError(f"{tok_path} not found: the model was trained without a tokenizer.json")
    tokenizer = load_tokenizer(tok_path)
    eot = tokenizer.token_to_id(EOT)

    ids = tokenizer.encode(prompt, add_special_tokens=False).ids if prompt else []
    prefix = [eot] if not ids else []
    context = (prefix + ids)[-model.config.block_size :]
    seed = secrets.randbits(31) if seed is None else seed
    generator = torch.Generator(device=device).manual_seed(seed)
    idx = torch.tensor([context] * num_samples, dtype=torch.long, device=device)
    out = model.generate(idx, max_new_tokens, temperature=temperature, top_k=top_k, top_p=top_p, generator=generator, stop_token=eot if stop_at_eot else None)

    texts, counts = [], []
    for row in out.tolist():
        new = row[len(context) :]
        if stop_at_eot and eot in new:
            new = new[: new.index(eot)]
        counts.append(len(new))
        texts.append(prompt + tokenizer.decode(new, skip_special_tokens=False) if ids else tokenizer.decode(new, skip_special_tokens=False))
    return Samples(texts, seed, counts)
