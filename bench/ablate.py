"""Ablation: the same model and token budget trained on raw and on curated shards of one crawl.

    .venv/bin/python bench/ablate.py [--workdir /tmp/ernte-ablate] [--seeds 1 2] [--steps 300]

1. Crawls the bundled demo site (bench/curate.py's `demo_crawl`), unless WORKDIR has the crawl.
2. `ernte curate` twice on the same WARCs: *curated* with the default configuration (language
   score, FineWeb quality filters, exact + MinHash dedup), *raw* with quality off, every language
   and language score, dedup off (trafilatura's text of every HTML page, e-mail/IP replacement kept).
3. `ernte tokenize` the curated directory (one BPE, trained on curated train documents), then the
   raw directory with that same tokenizer.json. Both split by the same doc_id hash, so a page is
   held out from both models or from neither.
4. `ernte train` one model per (data, seed): same preset, steps, batch, so the same token budget.
5. `ernte evaluate` each on curated val, raw val and the bundled reference texts; a table of mean
   loss / bits per byte with the spread over seeds (min-max) goes to stdout and WORKDIR/ablate.json.
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

RAW_CONFIG = "curate:\n  quality: false\n  languages: null\n  min_lang_score: 0.0\n  dedup:\n    exact: false\n    minhash: false\n"


def ernte(*args: str, log: Path) -> None:
    cmd = [sys.executable, "-m", "pipeline.cli", *args]
    with open(log, "ab") as f:
        code = subprocess.call(cmd, stdout=f, stderr=subprocess.STDOUT, cwd=REPO)
    if code != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {code}; see {log}")


def prepare_data(workdir: Path, vocab_size: int, val_fraction: float) -> dict[str, Path]:
    """Crawl, curate (curated and raw) and tokenize with one tokenizer; reuses what WORKDIR has."""
    from bench.curate import demo_crawl

    workdir.mkdir(parents=True, exist_ok=True)
    log = workdir / "commands.log"
    warcs = sorted((workdir / "demo-crawl" / "warc").glob("*.warc.gz")) or demo_crawl(workdir, 10_000_000)
    (workdir / "raw.yaml").write_text(RAW_CONFIG)
    if not (workdir / "curated" / "manifest.json").is_file():
        ernte("curate", *map(str, warcs), "--out", str(workdir / "curated"), log=log)
    if not (workdir / "raw" / "manifest.json").is_file():
        ernte("curate", *map(str, warcs), "--out", str(workdir / "raw"), "--config", str(workdir / "raw.yaml"), log=log)
    tok_cur, tok_raw = workdir / "tok-curated", workdir / "tok-raw"
    if not (tok_cur / "manifest.json").is_file():
        ernte("tokenize", str(workdir / "curated"), "--out", str(tok_cur), "--vocab-size", str(vocab_size), "--val-fraction", str(val_fraction), log=log)
    if not (tok_raw / "manifest.json").is_file():
        ernte("tokenize", str(workdir / "raw"), "--out", str(tok_raw), "--tokenizer", str(tok_cur / "tokenizer.json"), "--val-fraction", str(val_fraction), log=log)
    return {"curated": tok_cur, "raw": tok_raw}


def split_facts(tokdir: Path) -> dict:
    m = json.loads((tokdir / "manifest.json").read_text())
    return {k: {"documents": m["splits"][k]["documents"], "tokens": m["splits"][k]["tokens"], "bytes": m["splits"][k]["text_bytes"]} for k in ("train", "val")}


def spread(values: list[float]) -> str:
    mean = statistics.fmean(values)
    return f"{mean:.3f} ({min(values):.3f}-{max(values):.3f})"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/ernte-ablate"))
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--preset", default="tiny")
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--vocab-size", type=int, default=4096)
    ap.add_argument("--val-fraction", type=float, default=0.2)
    ap.add_argument("--eval-tokens", type=int, default=60_000, help="tokens scored per held-out set at most")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)

    import torch

    from pipeline.config import TrainConfig
    from training.evaluate import EvalSpec, evaluate_model
    from training.train import run_train

    t0 = time.perf_counter()
    tokdirs = prepare_data(args.workdir, args.vocab_size, args.val_fraction)
    facts = {name: split_facts(d) for name, d in tokdirs.items()}
    spec = EvalSpec(tokens=(f"curated-val={tokdirs['curated']}", f"raw-val={tokdirs['raw']}"), reference=True)
    runs = []
    for data, tokdir in tokdirs.items():
        for seed in args.seeds:
            out = args.workdir / "models" / f"{data}-seed{seed}"
            if not (out / "model.safetensors").is_file():
                cfg = TrainConfig(preset=args.preset, max_steps=args.steps, batch_size=args.batch_size, lr=args.lr, warmup_steps=args.steps // 10, eval_interval=args.steps, checkpoint_interval=args.steps, log_interval=50, device="cpu", seed=seed)
                run_train(tokdir, out, cfg)
            results = evaluate_model(out, spec, max_tokens=args.eval_tokens)
            runs.append({"data": data, "seed": seed, "model": str(out), "sets": {r.name: {"loss": r.loss, "bpb": r.bpb, "tokens": r.tokens, "bytes": r.bytes} for r in results}})
            print(f"{data} seed {seed}: " + ", ".join(f"{r.name} {r.loss:.3f} nats/token, {r.bpb:.3f} bits/byte" for r in results), flush=True)
    cfg_json = json.loads((args.workdir / "models" / f"curated-seed{args.seeds[0]}" / "config.json").read_text())
    sets = ["curated-val", "raw-val", "reference"]
    lines = [
        f"| trained on | train tokens | {' | '.join(f'{s} loss' for s in sets)} | {' | '.join(f'{s} bits/byte' for s in sets)} |",
        "| --- | --- |" + " --- |" * (2 * len(sets)),
    ]
    for data in tokdirs:
        rows = [r for r in runs if r["data"] == data]
        losses = [spread([r["sets"][s]["loss"] for r in rows]) for s in sets]
        bpbs = [spread([r["sets"][s]["bpb"] for r in rows]) for s in sets]
        lines.append(f"| {data} | {facts[data]['train']['tokens']:,} | {' | '.join(losses)} | {' | '.join(bpbs)} |")
    summary = {
        "settings": vars(args) | {"workdir": str(args.workdir)},
        "model": {k: cfg_json[k] for k in ("n_layer", "n_head", "n_embd", "block_size", "vocab_size", "num_params", "tokens_per_step")},
        "tokens_seen_per_model": cfg_json["tokens_per_step"] * args.steps,
        "data": facts,
        "eval_sets": {s: runs[0]["sets"][s]["tokens"] for s in sets},
        "runs": runs,
        "table": lines,
        "torch": torch.__version__,
        "seconds": round(time.perf_counter() - t0, 1),
    }
    (args.workdir / "ablate.json").write_text(json.dumps(summary, indent=2, default=str) + "\n")
    print(f"\nmodel: {summary['model']}, {summary['tokens_seen_per_model']:,} tokens seen per model, seeds {args.seeds}")
    print(f"data: {json.dumps(facts)}")
    print(f"eval tokens per set: {summary['eval_sets']}")
    print("mean over seeds (min-max):")
    print("\n".join(lines))
    print(f"\n{summary['seconds']} s; {args.workdir / 'ablate.json'}")


if __name__ == "__main__":
    main()
