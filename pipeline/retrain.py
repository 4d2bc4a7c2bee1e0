"""`ernte retrain MODELDIR`: the same model, trained again on the current version of its dataset.

After `ernte withdraw`, models made from the withdrawn documents are stale. Retraining takes what
MODELDIR's config.json and its token directory's manifest record (the curated directory, the
tokenize and train configurations) and runs tokenize and train again on the curated directory's
current version. The tokenizer is trained again as well: its merges were learned from the old
text. Outputs go beside the old ones, named by the new dataset version (the layout `ernte run`
uses: tokens/<version>/, models/<version>/), unless --tokens-out / --out say otherwise.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from pipeline.config import TokenizeConfig, TrainConfig


class RetrainError(Exception):
    """MODELDIR lacks what retraining needs (exit code 2)."""


@dataclass
class RetrainPlan:
    curated_dir: Path
    version: str
    tokens_out: Path
    model_out: Path
    tokenize_config: TokenizeConfig
    train_config: TrainConfig
    tokens_ready: bool  # the current version is tokenized already with the same configuration


def _sibling(old: Path, old_version: str | None, new_version: str) -> Path:
    """`.../<old version>` becomes `.../<new version>`; any other name gets the version appended."""
    if old_version and old.name == old_version:
        return old.parent / new_version
    return old.with_name(f"{old.name}-{new_version}")


def plan(modeldir: Path, out: Path | None = None, tokens_out: Path | None = None) -> RetrainPlan:
    modeldir = Path(modeldir)
    config_path = modeldir / "config.json"
    if not config_path.is_file():
        raise RetrainError(f"{modeldir} is not a model directory (no config.json; made by `ernte train`)")
    config = json.loads(config_path.read_text(encoding="utf-8"))
    data = config.get("data", {})
    curated, tokdir, old_version = data.get("curated_dir"), data.get("tokdir"), data.get("dataset_version")
    if not curated or not (Path(curated) / "manifest.json").is_file():
        raise RetrainError(f"{modeldir}: its curated directory {curated!r} is gone; tokenize and train by hand")
    manifest = json.loads((Path(curated) / "manifest.json").read_text(encoding="utf-8"))
    if not manifest.get("runs"):
        raise RetrainError(f"{curated} holds no dataset version")
    version = manifest["runs"][-1]["run_id"]
    token_config = {}
    if tokdir and (Path(tokdir) / "manifest.json").is_file():
        token_config = json.loads((Path(tokdir) / "manifest.json").read_text(encoding="utf-8")).get("config", {})
    tokenize_config = TokenizeConfig.model_validate(token_config)
    train_config = TrainConfig.model_validate(config.get("train", {}))
    tokens_out = Path(tokens_out) if tokens_out else _sibling(Path(tokdir) if tokdir else modeldir.parent / "tokens", old_version, version)
    model_out = Path(out) if out else _sibling(modeldir, old_version, version)
    if model_out.resolve() == modeldir.resolve():
        raise RetrainError(f"{modeldir} was trained on {version}, the current version already: nothing to retrain")
    ready = False
    if (tokens_out / "manifest.json").is_file():
        existing = json.loads((tokens_out / "manifest.json").read_text(encoding="utf-8"))
        ready = existing.get("source", {}).get("dataset_version") == version and existing.get("config") == tokenize_config.model_dump(mode="json")
    return RetrainPlan(Path(curated), version, tokens_out, model_out, tokenize_config, train_config, ready)


def retrain(modeldir: Path, out: Path | None = None, tokens_out: Path | None = None, progress: bool = True, command: str | None = None):
    """Tokenize (unless done) and train; returns (plan, tokenize summary or None, train summary)."""
    from training.tokenize_dataset import run_tokenize
    from training.train import run_train

    p = plan(modeldir, out, tokens_out)
    if (p.model_out / "config.json").exists():
        raise RetrainError(f"{p.model_out} already holds a model: give another --out")
    token_summary = None
    if not p.tokens_ready:
        token_summary = run_tokenize(p.curated_dir, p.tokens_out, p.tokenize_config, progress=progress)
    train_summary = run_train(p.tokens_out, p.model_out, p.train_config, command=command)
    return p, token_summary, train_summary
