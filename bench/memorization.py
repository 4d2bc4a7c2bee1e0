"""Memorization audit: canaries planted 1, 10 and 100 times; a model trained on the data as it is
and one trained on it after curation's deduplication; how many canaries each reproduces.

    .venv/bin/python bench/memorization.py [--workdir /tmp/ernte-ablate] [--steps 600] [--per-group 8]

Needs the curated directory and token directory bench/ablate.py makes in WORKDIR (it runs that
preparation when they are missing). The background text is the curated train documents (already
deduplicated by `ernte curate`); canaries (training/memorization.py: 64+ tokens of made-up words
from a seed) are added to it as extra documents, PER_GROUP canaries each 1, 10 and 100 times:

- "planted": the background plus every copy (what a pipeline without dedup would train on);
- "deduplicated": the same document list through curation's own exact and MinHash clustering
  (filters/dedup.py + pipeline/dedup_index.py), one document kept per cluster.

Both are encoded with the ablation's tokenizer and trained with the same model, seed and token
budget. A canary counts as reproduced when greedy decoding from [EOT] + its first 32 tokens gives
exactly its next 32 tokens. Results: stdout and WORKDIR/memorization.json.
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

GROUPS = (1, 10, 100)


def background_texts(curated: Path, val_fraction: float, split_seed: int) -> list[str]:
    from training.tokenize_dataset import assign_split, iter_documents, open_curated

    out = []
    for batch in iter_documents(open_curated(curated)):
        out += [t for d, t in zip(batch.doc_ids, batch.texts) if assign_split(d, val_fraction, split_seed) == "train"]
    return out


def write_token_dir(out: Path, texts: list[str], like: Path) -> int:
    """A token directory with TEXTS as its train split and LIKE's val split and tokenizer."""
    from training.token_shards import ShardWriter, format_for_vocab
    from training.tokenizer import HFEncoder, eot_id, load_tokenizer

    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    tok_json = (like / "tokenizer.json").read_text(encoding="utf-8")
    tok = load_tokenizer(like / "tokenizer.json")
    eot = eot_id(tok)
    writer = ShardWriter(out, "train", format_for_vocab(tok.get_vocab_size()), 10**8)
    for ids in HFEncoder(tok_json).encode_batch(texts):
        writer.add_document(np.concatenate([[eot], ids]))
    writer.close()
    for name in ("tokenizer.json", "tokenizer_config.json", *(p.name for p in like.glob("val_*.bin"))):
        shutil.copyfile(like / name, out / name)
    manifest = json.loads((like / "manifest.json").read_text())
    (out / "manifest.json").write_text(json.dumps({"kind": "ernte-tokens", "tokenizer": manifest["tokenizer"], "note": "memorization audit: background + canaries"}, indent=2))
    return writer.tokens


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/ernte-ablate"))
    ap.add_argument("--per-group", type=int, default=8, help="canaries per repeat count")
    ap.add_argument("--preset", default="tiny")
    ap.add_argument("--n-layer", type=int)
    ap.add_argument("--n-embd", type=int)
    ap.add_argument("--steps", type=int, default=600)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)

    from bench.ablate import prepare_data
    from pipeline.config import TrainConfig
    from training import checkpoint as ckpt
    from training.memorization import deduplicate, make_canaries, plant, reproduced
    from training.tokenizer import eot_id, load_tokenizer
    from training.train import run_train

    t0 = time.perf_counter()
    tokdir = prepare_data(args.workdir, 4096, 0.2)["curated"]
    tcfg = json.loads((tokdir / "manifest.json").read_text())["config"]
    background = background_texts(args.workdir / "curated", tcfg["val_fraction"], tcfg["split_seed"])
    tok = load_tokenizer(tokdir / "tokenizer.json")
    canaries = make_canaries(lambda t: tok.encode(t, add_special_tokens=False).ids, {r: args.per_group for r in GROUPS}, first_seed=1000)
    planted = plant(background, canaries, seed=args.seed)
    deduped = deduplicate(planted)
    canary_texts = {c.text for c in canaries}
    copies = {name: sum(d in canary_texts for d in docs) for name, docs in (("planted", planted), ("deduplicated", deduped))}
    result = {"settings": vars(args) | {"workdir": str(args.workdir)}, "background_documents": len(background), "canaries": len(canaries), "canary_copies": copies, "models": {}}
    for name, docs in (("planted", planted), ("deduplicated", deduped)):
        data = args.workdir / f"tok-mem-{name}"
        tokens = write_token_dir(data, docs, tokdir)
        out = args.workdir / "models" / f"mem-{name}-seed{args.seed}"
        if out.exists():
            shutil.rmtree(out)
        cfg = TrainConfig(preset=args.preset, n_layer=args.n_layer, n_embd=args.n_embd, max_steps=args.steps, batch_size=args.batch_size, lr=args.lr, warmup_steps=args.steps // 10, eval_interval=args.steps, checkpoint_interval=args.steps, log_interval=50, device="cpu", seed=args.seed)
        run_train(data, out, cfg)
        model, config = ckpt.load_model(out)
        hits = reproduced(model, canaries, eot_id(tok))
        by_group = {r: sum(h for h, c in zip(hits, canaries) if c.repeats == r) for r in GROUPS}
        last = json.loads((out / "metrics.jsonl").read_text().splitlines()[-1])
        result["models"][name] = {"documents": len(docs), "train_tokens": tokens, "tokens_seen": config["tokens_per_step"] * args.steps, "num_params": config["num_params"], "final_train_loss": last["train_loss"], "val_loss": last.get("val_loss"), "reproduced": by_group}
        print(f"{name}: {len(docs)} documents, {tokens:,} tokens; reproduced " + ", ".join(f"{by_group[r]}/{args.per_group} of the {r}x canaries" for r in GROUPS), flush=True)
    result["seconds"] = round(time.perf_counter() - t0, 1)
    lines = ["| trained on | documents | train tokens | canary copies | " + " | ".join(f"{r}x canaries reproduced" for r in GROUPS) + " | val loss |", "| --- | --- | --- | --- |" + " --- |" * (len(GROUPS) + 1)]
    for name, m in result["models"].items():
        lines.append(f"| {name} | {m['documents']:,} | {m['train_tokens']:,} | {copies[name]} | " + " | ".join(f"{m['reproduced'][r]}/{args.per_group}" for r in GROUPS) + f" | {m['val_loss']:.3f} |")
    result["table"] = lines
    (args.workdir / "memorization.json").write_text(json.dumps(result, indent=2) + "\n")
    print("\n".join(lines))
    print(f"{result['seconds']} s; {args.workdir / 'memorization.json'}")


if __name__ == "__main__":
    main()
