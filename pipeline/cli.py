"""The `ernte` command. Exit codes: 0 success, 1 failure, 2 usage or configuration error.

Logs go to stderr; results (paths, summaries, robots verdicts) go to stdout.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from urllib.parse import urlsplit

import click

from pipeline import __version__
from pipeline.config import ConfigError, apply_overrides, load_config

EXIT_FAILURE = 1
EXIT_USAGE = 2


def _fail_usage(message: str) -> None:
    click.echo(f"ernte: error: {message}", err=True)
    sys.exit(EXIT_USAGE)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="ernte")
@click.option("-v", "--verbose", count=True, help="More log output on stderr (-vv for debug).")
@click.option("-q", "--quiet", is_flag=True, help="Only warnings and errors on stderr.")
def main(verbose: int, quiet: bool) -> None:
    """Ernte: crawl, curate and train on web data with per-document lineage."""
    level = logging.WARNING if quiet else (logging.DEBUG if verbose > 1 else logging.INFO)
    logging.basicConfig(level=level, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    os.environ.setdefault("ERNTE_LOG_LEVEL", logging.getLevelName(level))


def read_seeds(seed_args: tuple[str, ...]) -> list[str]:
    """A SEED is a URL or a file with one URL per line ('#' comments and blank lines ignored)."""
    seeds: list[str] = []
    for arg in seed_args:
        if "://" in arg:
            candidates = [arg]
        elif Path(arg).is_file():
            lines = Path(arg).read_text(encoding="utf-8").splitlines()
            candidates = [ln.strip() for ln in lines if ln.strip() and not ln.lstrip().startswith("#")]
        else:
            _fail_usage(f"seed {arg!r} is neither a URL nor a readable file of URLs")
        for url in candidates:
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                _fail_usage(f"invalid seed URL {url!r}: only http(s) URLs with a host are crawled")
            seeds.append(url)
    return seeds


@main.command()
@click.argument("seeds", nargs=-1)
@click.option("--out", "out", type=click.Path(file_okay=False, path_type=Path), required=True, help="Crawl directory (warc/, fetches/, state/).")
@click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path), help="YAML configuration file (section 'crawl').")
@click.option("--max-pages", type=int, help="Pages to fetch in total.")
@click.option("--max-pages-per-host", type=int, help="Pages to fetch per host.")
@click.option("--max-depth", type=int, help="Link hops from a seed.")
@click.option("--user-agent", help="Full User-Agent string; its product token is matched against robots.txt.")
@click.option("--allow-private", is_flag=True, default=None, help="Allow hosts on private, loopback or link-local addresses.")
@click.option("--scope", type=click.Choice(["host", "domain", "any"]), help="Which links to follow.")
@click.option("--delay", "delay_s", type=float, help="Seconds between requests to one host (Crawl-delay wins if larger).")
@click.option("--no-politeness", "politeness", flag_value=False, default=None, help="No delays or per-host limits (loopback benchmarks only).")
@click.option("--skip-ai-optout", is_flag=True, default=None, help="Do not fetch URLs that robots.txt reserves from AI-training crawlers.")
@click.option("--resume", is_flag=True, help="Continue an interrupted crawl in --out without fetching completed URLs again.")
def crawl(seeds, out, config_path, resume, **flags):
    """Crawl SEED... (URLs, or files of URLs one per line) politely into WARC files and a fetch log.

    Every URL the crawler decides about gets a fetch-log row saying why it was or was not fetched.
    Exits 1 when nothing could be fetched.
    """
    from crawlers.crawl_process import CrawlDirectoryError, run_crawl

    try:
        config = load_config(config_path)
        base = config.crawl
        if resume and config_path is None:
            # Continue with the interrupted crawl's own settings; flags given now still win.
            base = _stored_crawl_config(out) or base
        crawl_config = apply_overrides(base, flags)
    except ConfigError as exc:
        _fail_usage(str(exc))
    seed_urls = read_seeds(seeds)
    if not seed_urls and not resume:
        _fail_usage("give at least one SEED (a URL or a file of URLs)")
    try:
        summary = run_crawl(seed_urls, out, crawl_config, resume, in_process=True)
    except CrawlDirectoryError as exc:
        _fail_usage(str(exc))
    for line in summary.lines():
        click.echo(line)
    if summary.exit_code != 0:
        click.echo(f"ernte: crawl process failed with exit code {summary.exit_code}", err=True)
        sys.exit(EXIT_FAILURE)
    if summary.pages_fetched == 0:
        why = ", ".join(f"{k}: {v}" for k, v in summary.decisions.items()) or "no decisions recorded"
        click.echo(f"ernte: nothing could be fetched ({why})", err=True)
        sys.exit(EXIT_FAILURE)


def _stored_config(path: Path, model, key: str, what: str):
    """The `model` stored under `key` of the JSON file `path` by an earlier run (None if there is
    no such file)."""
    import json

    if not path.is_file():
        return None
    try:
        return model.model_validate(json.loads(path.read_text(encoding="utf-8"))[key])
    except (ValueError, KeyError) as exc:
        raise ConfigError(f"{path}: cannot read the stored {what}: {exc}") from None


def _stored_crawl_config(out: Path):
    """The resolved configuration an earlier crawl into OUT ran with (None if there is none)."""
    from crawlers.crawl_process import SPEC_NAME
    from pipeline.config import CrawlConfig

    return _stored_config(out / "state" / SPEC_NAME, CrawlConfig, "config", "crawl configuration")


# Packages `ernte curate` never uses that its dependencies import when they are installed.
_UNUSED_BY_CURATE = ("pandas", "fsspec")


class _UnusedAbsent:
    """A meta-path finder for which the packages in _UNUSED_BY_CURATE are not installed."""

    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in _UNUSED_BY_CURATE:
            raise ImportError(f"{name} is not used by this command")
        return None


def _without_unused_packages() -> None:
    """pyarrow imports pandas, when it is installed, the first time it converts a Python list,
    only to ask whether the list is a pandas object: 0.25 s in this process and again in every
    worker; warcio imports fsspec (0.02 s) for its command-line tools' file opening. `ernte curate`
    uses neither, so this process (and the workers it forks) treat them as absent; pyarrow then
    skips the check, warcio opens files itself."""
    if not any(name in sys.modules for name in _UNUSED_BY_CURATE) and not any(isinstance(f, _UnusedAbsent) for f in sys.meta_path):
        sys.meta_path.insert(0, _UnusedAbsent())


@main.command()
@click.argument("inputs", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True, help="Curated directory (shards/, provenance/, manifest.json, ...).")
@click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path), help="YAML configuration file (section 'curate').")
@click.option("--workers", type=int, help="Processes working on WARC files in parallel (default: CPU count).")
@click.option("--keep-rejected", is_flag=True, default=None, help="Also write dropped documents' text to rejected/ for auditing.")
@click.option("--languages", help="Comma-separated ISO 639-1 codes to keep (default: all).")
def curate(inputs, out, config_path, workers, keep_rejected, languages):
    """Curate INPUT... (WARC/ARC files, directories of them, or `ernte crawl` directories) into
    filtered, deduplicated Parquet shards with a provenance row for every document.

    A later run into the same --out curates only new files and deduplicates them against
    everything curated there before. Exits 1 when no input yields a usable record.
    """
    _without_unused_packages()
    from pipeline.curate import CurateFailed, CurateInputError, run_curate

    try:
        config = load_config(config_path)
        langs = [code.strip() for code in languages.split(",") if code.strip()] if languages else None
        curate_config = apply_overrides(config.curate, {"workers": workers, "keep_rejected": keep_rejected, "languages": langs})
    except ConfigError as exc:
        _fail_usage(str(exc))
    try:
        summary = run_curate(list(inputs), out, curate_config)
    except CurateInputError as exc:
        _fail_usage(str(exc))
    except CurateFailed as exc:
        click.echo(f"ernte: error: {exc}", err=True)
        sys.exit(EXIT_FAILURE)
    for line in summary.lines():
        click.echo(line)
    if summary.run_id is None and not summary.no_usable_record:
        click.echo("nothing new to curate: every input is already in this directory", err=True)
        _exit_without_teardown(0)
    elif summary.documents == 0:
        click.echo("ernte: no usable record in the inputs (see the funnel above)", err=True)
        _exit_without_teardown(EXIT_FAILURE)
    _exit_without_teardown(EXIT_FAILURE if summary.failed_inputs else 0)


def _exit_without_teardown(code: int) -> None:
    """End `ernte curate` without the interpreter's teardown: freeing every module and object of the
    extraction stack takes about 0.1 s, 2 % of a small run, and nothing needs it (outputs are written,
    renamed and closed, the worker pool is shut down). Streams and logging are flushed first. Only
    when this process is the `ernte` program (or `python -m pipeline.cli`); inside another Python
    program (a test's CliRunner, a flow) it is an ordinary exit."""
    main_spec = getattr(sys.modules.get("__main__"), "__spec__", None)
    if os.path.basename(sys.argv[0]) != "ernte" and getattr(main_spec, "name", None) != "pipeline.cli":
        if code:
            sys.exit(code)
        return
    sys.stdout.flush()
    sys.stderr.flush()
    logging.shutdown()
    os._exit(code)


@main.command()
@click.argument("tokdir", type=click.Path(path_type=Path))
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True, help="Model directory (config.json, model.safetensors, metrics.jsonl, model_card.md, ...).")
@click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path), help="YAML configuration file (section 'train').")
@click.option("--preset", type=click.Choice(["tiny", "small", "gpt2-124m"]), help="Model shape (default: small).")
@click.option("--max-steps", type=int, help="Optimizer steps to train for.")
@click.option("--batch-size", type=int, help="Sequences per micro-batch.")
@click.option("--grad-accum", "grad_accum_steps", type=int, help="Micro-batches per optimizer step.")
@click.option("--lr", type=float, help="Peak learning rate.")
@click.option("--warmup-steps", type=int, help="Linear warm-up steps.")
@click.option("--lr-decay-steps", type=int, help="Length of the cosine decay (default: --max-steps of the first run).")
@click.option("--eval-interval", type=int, help="Validate every N steps.")
@click.option("--eval-batches", type=int, help="Validation micro-batches per evaluation.")
@click.option("--checkpoint-interval", type=int, help="Write a checkpoint every N steps.")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), help="auto: CUDA when available.")
@click.option("--seed", type=int, help="Seed for initialisation, batch order and dropout.")
@click.option("--compile/--no-compile", "compile", default=None, help="torch.compile the model (default: on CUDA only).")
@click.option("--resume", is_flag=True, help="Continue the run in --out from its last checkpoint, with its settings (options given now win).")
def train(tokdir, out, config_path, resume, **flags):
    """Train a GPT on TOKDIR's token shards (from `ernte tokenize`) into --out.

    On CUDA: bf16 autocast, torch.compile, fused AdamW, TF32; on CPU: fp32. The same seed on CPU
    gives the same loss curve, also across --resume. Exits 1 when training fails (e.g. the loss
    becomes NaN), 2 for unusable input or options.
    """
    from training.checkpoint import CheckpointError
    from training.train import TrainFailed, TrainInputError, run_train

    try:
        config = load_config(config_path)
        base = config.train
        if resume and config_path is None:
            base = _stored_train_config(out) or base
        train_config = apply_overrides(base, flags)
    except ConfigError as exc:
        _fail_usage(str(exc))
    command = " ".join(["ernte", *sys.argv[1:]]) if sys.argv and Path(sys.argv[0]).name == "ernte" else None
    try:
        summary = run_train(tokdir, out, train_config, resume=resume, command=command)
    except (TrainInputError, CheckpointError) as exc:
        _fail_usage(str(exc))
    except TrainFailed as exc:
        click.echo(f"ernte: error: {exc}", err=True)
        sys.exit(EXIT_FAILURE)
    except KeyboardInterrupt:
        click.echo("ernte: interrupted; continue with --resume", err=True)
        sys.exit(EXIT_FAILURE)
    for line in summary.lines():
        click.echo(line)


def _stored_train_config(out: Path):
    """The training settings an earlier run into OUT recorded (None if there are none)."""
    from pipeline.config import TrainConfig

    return _stored_config(out / "config.json", TrainConfig, "train", "training settings")


@main.command()
@click.argument("modeldir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--prompt", default="", help="Text to continue (default: start a new document).")
@click.option("--max-new-tokens", type=click.IntRange(min=0), default=200, show_default=True)
@click.option("--temperature", type=click.FloatRange(min=0), default=0.8, show_default=True, help="0: greedy decoding.")
@click.option("--top-k", type=click.IntRange(min=1), help="Sample from the K most likely tokens only.")
@click.option("--top-p", type=click.FloatRange(0, 1, min_open=True), help="Sample from the smallest set of tokens whose probability reaches P.")
@click.option("--seed", type=int, help="Seed for sampling (default: random, printed on stderr).")
@click.option("--num-samples", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True)
def sample(modeldir, prompt, max_new_tokens, temperature, top_k, top_p, seed, num_samples, device):
    """Generate text from the model in MODELDIR (from `ernte train`), continuing --prompt.

    Samples go to stdout, separated by a line '---' when there are several. Stops at the
    end-of-text token.
    """
    from training.checkpoint import CheckpointError
    from training.sample import sample_text
    from training.train import TrainInputError, resolve_device

    try:
        dev = resolve_device(device)
        samples = sample_text(modeldir, prompt, max_new_tokens, temperature, top_k, top_p, seed, num_samples, str(dev))
    except (TrainInputError, CheckpointError) as exc:
        _fail_usage(str(exc))
    click.echo(f"seed {samples.seed}; new tokens: {', '.join(map(str, samples.new_tokens))}", err=True)
    click.echo("\n---\n".join(samples.texts))


@main.command()
@click.argument("modeldir", type=click.Path(path_type=Path))
@click.option("--tokens", "tokens", multiple=True, metavar="[NAME=]DIR", help="Val split of a token directory made with the model's tokenizer (default: the model's own TOKDIR).")
@click.option("--parquet", "parquet", multiple=True, metavar="[NAME=]PATH", help="Parquet file or directory with a text column (e.g. CURATED/rejected).")
@click.option("--text-dir", "text_dirs", multiple=True, metavar="[NAME=]DIR", help="Directory of *.txt files, one document each.")
@click.option("--reference/--no-reference", default=True, show_default=True, help="Also score the bundled reference texts (training/reference_text, CC0).")
@click.option("--max-tokens", type=click.IntRange(min=1), default=1_000_000, show_default=True, help="Tokens scored per set at most.")
@click.option("--batch-size", type=click.IntRange(min=1), default=8, show_default=True)
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True)
def evaluate(modeldir, tokens, parquet, text_dirs, reference, max_tokens, batch_size, device):
    """Held-out loss and bits per byte of the model in MODELDIR on several text sets.

    Writes MODELDIR/eval.json and adds the results to the model card. Exits 2 for a missing model
    or input or a token set made with another tokenizer, 1 when a loss is not finite.
    """
    from training.evaluate import EvalSpec, EvaluateFailed, EvaluateInputError, evaluate_model, result_lines
    from training.train import TrainInputError, resolve_device

    try:
        dev = resolve_device(device)
        results = evaluate_model(modeldir, EvalSpec(tokens, parquet, text_dirs, reference), max_tokens, batch_size, str(dev))
    except (EvaluateInputError, TrainInputError) as exc:
        _fail_usage(str(exc))
    except EvaluateFailed as exc:
        click.echo(f"ernte: error: {exc}", err=True)
        sys.exit(EXIT_FAILURE)
    for line in result_lines(results):
        click.echo(line)


@main.command()
@click.argument("curated_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True, help="Token directory (tokenizer.json, train_*.bin, val_*.bin, documents.parquet, manifest.json).")
@click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path), help="YAML configuration file (section 'tokenize').")
@click.option("--vocab-size", type=int, help="Ids of the trained BPE, <|endoftext|> included (default 16384).")
@click.option("--tokenizer", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="Reuse this tokenizer.json instead of training one.")
@click.option("--workers", type=int, help="Encoding processes (default: CPU count).")
@click.option("--val-fraction", type=float, help="Share of documents held out for validation (default 0.01).")
@click.option("--shard-tokens", type=int, help="Tokens per shard (default 100,000,000).")
def tokenize(curated_dir, out, config_path, vocab_size, tokenizer, workers, val_fraction, shard_tokens):
    """Tokenize CURATED_DIR (an `ernte curate` directory) into llm.c token shards.

    Trains a byte-level BPE on the train documents (or reuses --tokenizer), splits documents into
    train and val by a hash of their id, drops val documents whose text is also in train, and
    writes uint16 shards (uint32 above 65,536 ids) with a manifest naming the dataset version.
    Exits 1 when there is no eligible document to train on.
    """
    from training.tokenize_dataset import TokenizeFailed, TokenizeInputError, run_tokenize

    try:
        config = load_config(config_path)
        flags = {"vocab_size": vocab_size, "tokenizer": tokenizer, "workers": workers, "val_fraction": val_fraction, "shard_tokens": shard_tokens}
        tokenize_config = apply_overrides(config.tokenize, flags)
    except ConfigError as exc:
        _fail_usage(str(exc))
    try:
        summary = run_tokenize(curated_dir, out, tokenize_config)
    except TokenizeInputError as exc:
        _fail_usage(str(exc))
    except TokenizeFailed as exc:
        click.echo(f"ernte: error: {exc}", err=True)
        sys.exit(EXIT_FAILURE)
    for line in summary.lines():
        click.echo(line)


@main.command()
@click.argument("directory", type=click.Path(path_type=Path))
@click.option("--sql", help="Run this DuckDB SQL over the views fetches, provenance and shards instead of the summaries.")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table", show_default=True, help="Output of --sql (json: an array of row objects).")
@click.option("--crawl", "crawl_dirs", multiple=True, type=click.Path(path_type=Path), help="Also read this crawl directory's fetch log into `fetches` (repeatable).")
def inspect(directory: Path, sql: str | None, fmt: str, crawl_dirs: tuple[Path, ...]):
    """Summarise a curated DIRECTORY (or a crawl directory), or query it with SQL.

    Views: `fetches` (fetch logs of the crawl directories the curated runs read, and --crawl),
    `provenance` (one row per document), `shards` (kept documents of the current version).
    """
    from pipeline.inspection import InspectError, connect, format_rows, open_target, query, summaries

    try:
        target = open_target(directory, crawl_dirs)
        for warning in target.warnings:
            click.echo(f"ernte: warning: {warning}", err=True)
        con = connect(target)
        if sql is None:
            click.echo(summaries(con, target))
        else:
            columns, rows = query(con, sql)
            click.echo(format_rows(columns, rows, fmt))
    except InspectError as exc:
        _fail_usage(str(exc))


@main.command()
@click.argument("directory", type=click.Path(path_type=Path))
@click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path), required=True, help="The HTML file to write.")
@click.option("--crawl", "crawl_dirs", multiple=True, type=click.Path(path_type=Path), help="Also read this crawl directory's fetch log (repeatable).")
def report(directory: Path, out: Path, crawl_dirs: tuple[Path, ...]):
    """Write one static HTML page about a curated DIRECTORY: the funnel, languages, licences,
    opt-out signals by host, quality-signal histograms. Every crawled string is escaped."""
    from pipeline.inspection import InspectError
    from pipeline.report import write_report

    try:
        path = write_report(directory, out, crawl_dirs)
    except InspectError as exc:
        _fail_usage(str(exc))
    click.echo(str(path))


@main.command()
@click.argument("directory", type=click.Path(path_type=Path))
@click.argument("key", metavar="URL_OR_DOC_ID")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--crawl", "crawl_dirs", multiple=True, type=click.Path(path_type=Path), help="Also read this crawl directory's fetch log (repeatable).")
def trace(directory: Path, key: str, fmt: str, crawl_dirs: tuple[Path, ...]):
    """Print one document's whole lineage: fetch (time, status, robots rule, signals), the WARC
    record re-read and its digests verified, extraction, opt-out signals, licence, filter signals
    and decision, dedup cluster, shard, withdrawal, and the token directories and models that used
    it. A URL fetched several times gives one lineage per capture. Exits 1 when nothing matches or
    a check fails (a digest mismatch, a missing file)."""
    import json

    from pipeline.inspection import InspectError
    from pipeline.trace import TraceNotFound
    from pipeline.trace import trace as trace_document

    try:
        traces = trace_document(directory, key, crawl_dirs)
    except InspectError as exc:
        _fail_usage(str(exc))
    except TraceNotFound as exc:
        click.echo(f"ernte: {exc}", err=True)
        sys.exit(EXIT_FAILURE)
    if fmt == "json":
        from pipeline.inspection import _plain

        click.echo(json.dumps(_plain([t.as_dict() for t in traces]), ensure_ascii=False, indent=1))
    else:
        click.echo("\n\n".join("\n".join(t.lines()) for t in traces))
    if any(t.problems for t in traces):
        sys.exit(EXIT_FAILURE)


@main.command()
@click.argument("directory", type=click.Path(path_type=Path))
@click.option("--host", "hosts", multiple=True, help="Withdraw every document from this host (exact host name; repeatable).")
@click.option("--url-prefix", "url_prefixes", multiple=True, help="Withdraw every document whose URL starts with this (repeatable).")
@click.option("--doc-id", "doc_ids", multiple=True, help="Withdraw this document (repeatable).")
@click.option("--reason", required=True, help="Why (recorded in the audit log DIR/withdrawals.jsonl).")
@click.option("--dry-run", is_flag=True, help="Say what would be withdrawn; change nothing.")
def withdraw(directory: Path, hosts, url_prefixes, doc_ids, reason: str, dry_run: bool):
    """Take documents out of a curated DIRECTORY: a new dataset version without them (shards
    rewritten atomically, text in rejected/ removed too), a line in the audit log, and models and
    token directories made from them marked stale. The withdrawal stands: later `ernte curate` runs
    leave matching documents out. Retrain a stale model with `ernte retrain MODELDIR`."""
    from pipeline.withdraw import Selector, WithdrawError
    from pipeline.withdraw import withdraw as withdraw_documents

    try:
        result = withdraw_documents(directory, Selector(hosts, url_prefixes, doc_ids), reason, dry_run=dry_run)
    except WithdrawError as exc:
        _fail_usage(str(exc))
    if dry_run:
        click.echo("dry run: nothing changed")
    for line in result.lines():
        click.echo(line)
    models = [c for c in result.stale if c["kind"] == "model"]
    if models and not dry_run:
        click.echo("retrain on the new version with:")
        for model in models:
            click.echo(f"  ernte retrain {model['path']}")


@main.command()
@click.argument("modeldir", type=click.Path(path_type=Path))
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), help="The new model directory (default: beside MODELDIR, named by the new dataset version).")
@click.option("--tokens-out", type=click.Path(file_okay=False, path_type=Path), help="The new token directory (default: beside the old one).")
def retrain(modeldir: Path, out: Path | None, tokens_out: Path | None):
    """Train MODELDIR's model again, with the same tokenize and train configuration, on the current
    version of its curated dataset (after `ernte withdraw`, say): one command."""
    from pipeline.retrain import RetrainError
    from pipeline.retrain import retrain as retrain_model
    from training.tokenize_dataset import TokenizeFailed, TokenizeInputError
    from training.train import TrainFailed, TrainInputError

    try:
        plan, token_summary, train_summary = retrain_model(modeldir, out, tokens_out, command=" ".join(["ernte", *sys.argv[1:]]))
    except (RetrainError, TokenizeInputError, TrainInputError) as exc:
        _fail_usage(str(exc))
    except (TokenizeFailed, TrainFailed) as exc:
        click.echo(f"ernte: error: {exc}", err=True)
        sys.exit(EXIT_FAILURE)
    click.echo(f"dataset version: {plan.version}")
    click.echo(f"tokens: {plan.tokens_out}{' (reused)' if token_summary is None else ''}")
    for line in train_summary.lines():
        click.echo(line)


@main.command()
@click.argument("robots_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("urls", nargs=-1, required=True)
@click.option("--agent", required=True, help="User agent (full string or product token) to evaluate for.")
def robots(robots_file: Path, urls, agent: str):
    """Evaluate ROBOTS_FILE for URL... as the crawler does.

    Prints one line per URL: 'allowed' or 'disallowed', the URL, and the rule that decided.
    """
    from crawlers.robots_policy import RobotsTxt

    parsed = RobotsTxt.parse(robots_file.read_bytes())
    for url in urls:
        decision = parsed.decide(url, agent)
        click.echo(f"{'allowed' if decision.allowed else 'disallowed'} {url} {decision.describe()}")


@main.command("serve-demo")
@click.option("--port", type=int, default=0, show_default=True, help="Port on 127.0.0.1 (0: a free port).")
@click.option("--request-log", type=click.Path(dir_okay=False, path_type=Path), help="Append one JSON line per request here.")
def serve_demo(port: int, request_log: Path | None):
    """Serve the bundled multilingual demo site on 127.0.0.1 until Ctrl-C."""
    from pipeline.demo_server import serve_forever

    def ready(url: str) -> None:
        click.echo(f"serving the demo site at {url}/ (Ctrl-C to stop)")
        sys.stdout.flush()

    try:
        serve_forever(port=port, request_log_path=request_log, on_ready=ready)
    except OSError as exc:
        click.echo(f"ernte: error: cannot serve on port {port}: {exc}", err=True)
        sys.exit(EXIT_FAILURE)


DEMO_OWNED = ("crawl", "crawls", "curated", "tokens", "models")  # what `ernte demo` may clear in --out


@main.command()
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("ernte-demo"), show_default=True, help="Where the demo writes its outputs.")
@click.option("--max-pages", type=click.IntRange(min=1), default=200, show_default=True)
@click.option("--train-steps", type=click.IntRange(min=1), default=200, show_default=True, help="Optimizer steps of the tiny model.")
def demo(out: Path, max_pages: int, train_steps: int):
    """Serve the bundled demo site and run the whole path on it as one Prefect flow: crawl
    (robots.txt, Crawl-delay and all), curate, tokenize, train the tiny preset; then sample from
    the model and print where everything is. Takes a few minutes on 2 cores, offline."""
    import os
    import shutil

    from pipeline.demo_server import DemoServer

    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    out = out.resolve()
    # The demo server gets a new port each time, so an earlier demo's data cannot be continued:
    # clear what an earlier demo wrote (only those folders).
    for name in DEMO_OWNED:
        if (out / name).is_dir():
            shutil.rmtree(out / name)
    (out / "report.html").unlink(missing_ok=True)
    from pipeline.flows import ernte_flow, prefect_api

    with DemoServer() as server:
        click.echo(f"demo site: {server.base_url}/ (a Prefect server starts next; 10-25 s)", err=True)
        # Loopback is private: the demo has to allow it. The site's own Crawl-delay (1 s) applies.
        config = {
            "run": {"data_dir": str(out), "seeds": [server.base_url + "/"]},
            "crawl": {"allow_private": True, "max_pages": max_pages, "delay_s": 0.0},
            "tokenize": {"vocab_size": 4096, "val_fraction": 0.1},
            "train": {"preset": "tiny", "max_steps": train_steps, "eval_interval": max(1, train_steps // 4), "checkpoint_interval": train_steps, "warmup_steps": min(20, train_steps // 10)},
        }
        try:
            with prefect_api():
                result = ernte_flow(config)
        except Exception as exc:  # the flow run is recorded as failed; say why here too
            click.echo(f"ernte: error: the demo flow failed: {type(exc).__name__}: {exc}", err=True)
            sys.exit(EXIT_FAILURE)
    version = result.get("dataset_version")
    model = out / "models" / str(version)
    from training.sample import sample_text

    samples = sample_text(model, "The Debian package", max_new_tokens=40, temperature=0.8, top_k=50, seed=1)
    bin_dir = Path(sys.executable).parent
    report = Path(str(result.get("report") or out / "report.html"))
    if report.is_file():
        click.echo(f"report:     {report}")
    click.echo(f"crawls:     {out / 'crawls'}")
    click.echo(f"shards:     {out / 'curated' / 'shards'}")
    click.echo(f"provenance: {out / 'curated' / 'provenance'}")
    click.echo(f"tokens:     {out / 'tokens' / str(version)}")
    click.echo(f"model card: {model / 'model_card.md'}")
    click.echo(f"sample:     {samples.texts[0]!r}")
    import pyarrow.parquet as pq

    first_shard = sorted((out / "curated" / "shards").glob("*.parquet"))[0]
    example_url = pq.read_table(first_shard, columns=["url"])["url"][0].as_py()
    click.echo("try:")
    click.echo(f"  {bin_dir / 'ernte'} inspect {out / 'curated'}")
    click.echo(f"  {bin_dir / 'ernte'} trace {out / 'curated'} {example_url}")
    click.echo(f"  {bin_dir / 'ernte'} inspect {out / 'curated'} --sql \"SELECT eligibility_reason, count(*) FROM provenance GROUP BY 1\"")
    click.echo(f"  {bin_dir / 'ernte'} sample {model} --prompt 'Debian'")


@main.group()
def policy() -> None:
    """Training eligibility of curated documents (the `curate.policy` config section)."""


@policy.command("apply")
@click.argument("curated", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path), help="YAML configuration file (section 'curate.policy').")
def policy_apply(curated, config_path):
    """Decide train_eligible again for every document in CURATED from its stored signals (no
    crawling, no extraction); provenance and shards are rewritten, the manifest records it."""
    from pipeline.policy_apply import apply_policy

    try:
        settings = load_config(config_path).curate.policy
    except ConfigError as exc:
        _fail_usage(str(exc))
    try:
        counts = apply_policy(curated, settings)
    except FileNotFoundError as exc:
        _fail_usage(str(exc))
    for key, value in counts.items():
        click.echo(f"{key:40s} {value}")


@main.command("run")
@click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path), required=True, help="YAML configuration (sections run, crawl, curate, tokenize, train).")
@click.option("--task-runner", type=click.Choice(["process", "dask"]), help="Where the curate tasks run (default: run.task_runner).")
@click.option("--dask-address", help="An existing Dask scheduler, e.g. tcp://HOST:8786 (implies --task-runner dask).")
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), help="Overrides run.data_dir.")
def run_command(config_path, task_runner, dask_address, data_dir):
    """Run the end-to-end Prefect flow: crawl the seeds, curate every new crawl, tokenize and
    train when the dataset has a new version.

    Runs on Prefect's embedded server (nothing to start by hand; it takes 10-25 s to come up), or
    on the server PREFECT_API_URL names. Exits 1 when the flow fails, naming the failing stage.
    """
    import os

    try:
        config = load_config(config_path)
        overrides = {"task_runner": "dask" if dask_address else task_runner, "dask_address": dask_address, "data_dir": data_dir}
        config = config.model_copy(update={"run": apply_overrides(config.run, overrides)})
    except ConfigError as exc:
        _fail_usage(str(exc))
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    from pipeline.flows import ernte_flow, prefect_api

    try:
        with prefect_api():
            result = ernte_flow(config.model_dump(mode="json"))
    except Exception as exc:  # the flow run is recorded as failed; say why here too
        click.echo(f"ernte: error: the flow failed: {type(exc).__name__}: {exc}", err=True)
        sys.exit(EXIT_FAILURE)
    for key, value in result.items():
        click.echo(f"{key}: {value}")


if __name__ == "__main__":
    main()
