"""MODELDIR/model_card.md: a model card (Mitchell et al. 2019, "Model Cards for Model Reporting")
written from the model directory's own records, config.json and metrics.jsonl, so it can be
rewritten at any time and says nothing those files do not."""

from __future__ import annotations

from pathlib import Path


def _v(value, fmt: str = "") -> str:
    if value is None or value == "":
        return "not recorded"
    return format(value, fmt) if fmt else str(value)


def _evaluation_lines(evaluation: dict | None) -> list[str]:
    """The held-out sets of `ernte evaluate` (MODELDIR/eval.json), as a table."""
    if not evaluation or not evaluation.get("sets"):
        return ["No held-out evaluation beyond the validation split yet (`ernte evaluate MODELDIR` adds raw-text and reference-set results)."]
    lines = [
        f"Held-out sets scored by `ernte evaluate` ({_v(evaluation.get('evaluated_at'))}; windows of {_v(evaluation.get('window'))} tokens, at most {_v(evaluation.get('max_tokens'), ',')} tokens per set; `eval.json`):",
        "",
        "| set | kind | documents | tokens | bytes | loss (nats/token) | bits per byte |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in evaluation["sets"]:
        lines.append(f"| {r['name']} | {r['kind']} | {_v(r.get('documents'))} | {r['tokens']:,} | {r['bytes']:,} | {r['loss']:.4f} | {_v(r.get('bpb'), '.4f')} |")
    return lines


def render_model_card(config: dict, metrics: list[dict], name: str, evaluation: dict | None = None) -> str:
    train, data, software = config.get("train", {}), config.get("data", {}), config.get("software", {})
    runs = config.get("runs", [])
    last = metrics[-1] if metrics else {}
    evals = [r for r in metrics if r.get("val_loss") is not None]
    final_eval = evals[-1] if evals else {}
    steady = [r["tokens_per_s"] for r in metrics[1:]] or [r["tokens_per_s"] for r in metrics]
    tokens_per_s = sorted(steady)[len(steady) // 2] if steady else None
    mfus = sorted(r["mfu"] for r in metrics[1:] if r.get("mfu") is not None)
    mfu = mfus[len(mfus) // 2] if mfus else None
    steps = last.get("step", 0)
    tokens_seen = steps * config.get("tokens_per_step", 0)
    devices = sorted({f"{r['device'].get('name') or r['device']['type']} ({r['device'].get('precision', '')})" for r in runs if r.get("device")})
    commands = [r["command"] for r in runs if r.get("command")]
    sw = ", ".join(f"{k} {v}" for k, v in software.items())

    lines = [
        f"# Model card: {name}",
        "",
        "## Model details",
        "",
        f"- A decoder-only transformer language model (GPT-2 architecture as in nanoGPT: pre-norm blocks, learned position embeddings, tied input/output embeddings), trained by Ernte (`ernte train`) from preset `{train.get('preset')}`.",
        f"- Shape: {config.get('n_layer')} layers, {config.get('n_head')} heads, {config.get('n_embd')} embedding width, context {config.get('block_size')} tokens, vocabulary {config.get('vocab_size')} (embeddings padded to {config.get('padded_vocab_size')}), dropout {config.get('dropout')}, biases {config.get('bias')}.",
        f"- Parameters: {_v(config.get('num_params'), ',')} ({_v(config.get('num_params_non_embedding'), ',')} without position embeddings); training FLOPs per token {_v(config.get('flops_per_token'), ',')}.",
        f"- Training: {steps} optimizer steps of {_v(config.get('tokens_per_step'), ',')} tokens ({train.get('batch_size')} sequences x {train.get('grad_accum_steps')} accumulation steps x {config.get('block_size')} tokens), {tokens_seen:,} tokens in all; AdamW (betas {train.get('beta1')}, {train.get('beta2')}, weight decay {train.get('weight_decay')}), learning rate {_v(train.get('lr'), 'g')} with {train.get('warmup_steps')} warm-up steps and cosine decay to {_v(train.get('min_lr'), 'g')} over {train.get('lr_decay_steps')} steps, gradient clipping {train.get('grad_clip')}, batch order {train.get('batch_order')}.",
        f"- Seed: {train.get('seed')}. Training configuration hash: `{_v(config.get('train_config_sha256'))}` (all settings in `config.json`).",
        f"- Hardware: {', '.join(devices) or 'not recorded'}.",
        f"- Software: {sw or 'not recorded'}.",
        "- Files: `model.safetensors` (weights), `config.json`, `tokenizer.json` (Hugging Face tokenizers, byte-level BPE), `metrics.jsonl`, `loss_curve.png`, `checkpoint.pt` (optimizer state, for `--resume`).",
        "- Reproduce: " + ("; then ".join(f"`{c}`" for c in commands) if commands else "`ernte train TOKDIR --out MODELDIR` with the settings in `config.json`") + ".",
        "",
        "## Intended use",
        "",
        "- Research and teaching: showing what a curated web crawl is worth as training data, comparing curation choices (raw against curated shards), auditing memorization and tracing which models used which documents.",
        "- Not intended for generating text that people rely on, for factual answers, or for any decision about people. It is a small model trained on a small crawl; it produces fluent-looking text without regard to truth.",
        "",
        "## Factors",
        "",
        "- The text comes from the crawled sites only: their languages, topics, registers and authors. Performance on other domains and languages is unknown and expected to be poor.",
        "- Languages in the data are those `ernte curate` kept (see the curated dataset's manifest); nothing is reported here per language or per site.",
        "",
        "## Metrics",
        "",
        "- Cross-entropy loss in nats per token on training batches and on held-out validation batches (the same batches at every evaluation).",
        "- Validation bits per byte: total validation loss in bits divided by the UTF-8 bytes the validation targets decode to. Unlike the loss per token, it does not depend on the tokenizer, so models with different tokenizers can be compared.",
        f"- Throughput: tokens per second of training and model FLOPs utilisation (MFU: FLOPs per token x tokens per second / peak FLOP/s); the peak here: {_v(config.get('mfu_basis'))}.",
        "",
        "## Evaluation data",
        "",
        f"- The validation split of the token directory `{_v(data.get('tokdir'))}`: {_v(data.get('val_tokens'), ',')} tokens in {_v(data.get('val_shards'))} shard(s); each evaluation uses {_v(data.get('val_eval_tokens'), ',')} target tokens ({_v(data.get('val_eval_bytes'), ',')} bytes of text).",
        "- The split is made by `ernte tokenize` (by document, deterministic); validation documents are held out of training.",
        "",
        "## Training data",
        "",
        f"- Dataset version: {_v(data.get('dataset_version'))}.",
        f"- sha256 of the curated dataset's manifest.json: `{_v(data.get('curated_manifest_sha256'))}`.",
        f"- sha256 of the token manifest (TOKDIR/manifest.json): `{_v(data.get('token_manifest_sha256'))}`.",
        f"- sha256 of tokenizer.json: `{_v(data.get('tokenizer_sha256'))}`.",
        f"- {_v(data.get('train_tokens'), ',')} training tokens in {_v(data.get('train_shards'))} shard(s); end-of-text token id {_v(data.get('eot_token'))}.",
        "- Source: web pages crawled by `ernte crawl` (robots.txt honoured, AI-training reservations recorded or honoured as configured), curated by `ernte curate` (text extraction, language identification, FineWeb quality filters, e-mail and IP address replacement, exact and MinHash deduplication). Per-document lineage is in the curated dataset's provenance tables.",
        "",
        "## Quantitative analyses",
        "",
        "| measure | value |",
        "| --- | --- |",
        f"| optimizer steps | {steps} |",
        f"| final training loss (nats/token) | {_v(last.get('train_loss'), '.4f')} |",
        f"| validation loss (nats/token), step {final_eval.get('step', '-')} | {_v(final_eval.get('val_loss'), '.4f')} |",
        f"| validation bits per byte | {_v(final_eval.get('val_bpb'), '.4f')} |",
        f"| training tokens/s (median) | {_v(tokens_per_s, ',.0f')} |",
        f"| MFU (median) | {'n/a' if mfu is None else f'{100 * mfu:.1f}%'} |",
        "",
        "Every logged step is in `metrics.jsonl`; the curve is in `loss_curve.png`. No disaggregated (per-language, per-site) results yet.",
        "",
        *_evaluation_lines(evaluation),
        "",
        "## Ethical considerations",
        "",
        "- Web text contains personal data. Curation replaces e-mail and IP addresses, but names and other personal details can remain, and a model can reproduce training text verbatim (memorization grows with repetition; deduplication reduces it).",
        "- Web text carries the biases and errors of its authors and of the sites chosen for the crawl; generated text can be offensive or false.",
        "- Consent: reservations under EU DSM Art. 4(3) / UrhG §44b were honoured by the crawl as configured. When a rights holder withdraws, the document is removed from a new dataset version and the model has to be retrained on it (`ernte train` on the new token directory); this model keeps what it learnt from the old version.",
        "",
        "## Caveats and recommendations",
        "",
        "- A small model trained briefly on a small corpus: use it to compare data and training choices, not as a language model for applications.",
        "- Losses are only comparable between models evaluated on the same validation data; bits per byte are comparable across tokenizers.",
        "- Check the training data's provenance before sharing generated text or the weights.",
        "",
    ]
    return "\n".join(lines)


def write_model_card(modeldir: Path, config: dict, metrics: list[dict]) -> Path:
    path = Path(modeldir) / "model_card.md"
    tmp = path.with_name(path.name + ".tmp")
    evaluation = None
    eval_path = Path(modeldir) / "eval.json"
    if eval_path.is_file():
        import json

        evaluation = json.loads(eval_path.read_text(encoding="utf-8"))
    tmp.write_text(render_model_card(config, metrics, Path(modeldir).name, evaluation), encoding="utf-8")
    tmp.replace(path)
    return path
