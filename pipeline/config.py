"""Typed configuration for every stage: one YAML file, validated, recorded with every output.

Every model forbids unknown keys, so a typo in a config file is an error, not a silently
ignored setting. Defaults work: an empty file (or none) is a valid configuration.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from crawlers.robots_policy import AI_TRAINING_AGENTS
from pipeline import __version__

DEFAULT_USER_AGENT = f"ErnteBot/{__version__} (+https://pypi.org/project/ernte/)"


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class CrawlConfig(StrictModel):
    """What `ernte crawl` fetches, how politely, and how it archives."""

    user_agent: str = Field(DEFAULT_USER_AGENT, description="Full UA string; its product token is matched against robots.txt groups")
    operator: str = Field("", description="Who runs the crawl (contact); recorded in every warcinfo record")
    max_pages: int = Field(1000, ge=1, description="Pages fetched in total (robots.txt and bodies skipped for their content type not counted)")
    max_pages_per_host: int | None = Field(None, ge=1)
    max_depth: int = Field(20, ge=0, description="Link hops from a seed")
    scope: Literal["host", "domain", "any"] = Field("host", description="host: same host as a seed; domain: same registrable domain (last two labels); any: everything")
    allow_private: bool = Field(False, description="Allow hosts that resolve to private, loopback or link-local addresses")
    max_url_length: int = Field(2048, ge=16)
    allowed_content_types: list[str] = Field(default_factory=lambda: ["text/html", "application/xhtml+xml"], description="Empty list: keep every type")
    max_response_bytes: int = Field(10 * 1024 * 1024, ge=1024, description="Enforced on the received body and after decompression")
    download_timeout_s: float = Field(30.0, gt=0)
    concurrent_requests: int = Field(16, ge=1)
    per_host_concurrency: int = Field(1, ge=1)
    delay_s: float = Field(1.0, ge=0, description="Minimum delay between requests to one host; a larger Crawl-delay wins")
    max_crawl_delay_s: float = Field(60.0, ge=0, description="Cap on a robots.txt Crawl-delay (longer ones are recorded, capped)")
    autothrottle: bool = True
    politeness: bool = Field(True, description="false switches delays, Crawl-delay and per-host limits off (benchmarks on loopback only)")
    retry_times: int = Field(2, ge=0)
    max_retry_after_s: float = Field(300.0, ge=0, description="Longest Retry-After honoured on 429/503")
    robots_cache_ttl_s: float = Field(24 * 3600, gt=0, le=24 * 3600, description="RFC 9309: cache robots.txt at most 24 h")
    robots_error_ttl_s: float = Field(60.0, ge=0, description="How long an unreachable robots.txt keeps its host off limits before a retry")
    ai_agents: list[str] = Field(default_factory=lambda: list(AI_TRAINING_AGENTS), description="AI-training crawlers whose robots.txt groups are evaluated per URL")
    skip_ai_optout: bool = Field(False, description="Skip URLs that robots.txt reserves from AI-training crawlers (default: fetch and record)")
    fetch_tdmrep: bool = Field(True, description="Fetch each host's /.well-known/tdmrep.json (W3C TDMRep) before its first page and record the rule matching each URL")
    warc_prefix: str = Field("ernte", pattern=r"^[A-Za-z0-9_.-]+$")
    warc_max_bytes: int = Field(1_000_000_000, ge=1024, description="Rotate WARC files at about this size")
    revisit_duplicates: bool = Field(True, description="Write identical payloads as revisit records")
    fetch_log_rows_per_part: int = Field(1000, ge=1)

    @field_validator("user_agent")
    @classmethod
    def _has_product_token(cls, value: str) -> str:
        from crawlers.robots_policy import product_token

        if not product_token(value):
            raise ValueError("user_agent must start with a product token such as 'ErnteBot/1.0'")
        return value


class ExtractSettings(StrictModel):
    """trafilatura, with FineWeb's settings by default (favour precision, no comments)."""

    favor_precision: bool = True
    include_comments: bool = False
    deduplicate: bool = Field(
        True,
        description="trafilatura's memory of repeated text segments (FineWeb's setting); it makes a page's text depend on "
        "the pages before it in the same file or range. false makes extraction a pure function of the page",
    )
    fast: bool = Field(False, description="Skip trafilatura's fallback extractors: about 1.5x faster, lower recall, not FineWeb's text")
    short_text_fallback_chars: int = Field(
        1000, ge=0, description="When the favour-precision text is shorter, extract again in balanced mode and keep the longer text (0: FineWeb's text everywhere)"
    )
    max_input_chars: int = Field(2_000_000, ge=1000, description="Larger pages are not extracted (reason input_too_large)")
    timeout_s: float = Field(5.0, gt=0, description="Per-document time limit (reason extract_timeout)")


class DedupSettings(StrictModel):
    """FineWeb's MinHash parameters by default: word 5-grams, 14 bands x 8 rows."""

    exact: bool = True
    minhash: bool = True
    ngram: int = Field(5, ge=1)
    bands: int = Field(14, ge=1)
    rows: int = Field(8, ge=1)
    seed: int = 1


class PolicySettings(StrictModel):
    """Which documents are eligible for training (`train_eligible`; see filters/policy.py). The
    default honours every machine-readable reservation and has no licence rule."""

    honour_tdm_reservation: bool = Field(True, description="TDMRep tdm-reservation 1 (meta over header over tdmrep.json) makes a document ineligible")
    honour_noai: bool = Field(True, description="noai in robots meta or X-Robots-Tag (for any agent) makes a document ineligible")
    honour_content_usage: bool = Field(True, description="Content-Usage (header or robots.txt) train-genai/train-ai/bots=n makes a document ineligible")
    honour_robots_ai_optout: bool = Field(True, description="robots.txt disallowing the URL for an AI-training agent makes a document ineligible")
    exclude_licences: list[str] = Field(default_factory=list, description="SPDX id patterns (fnmatch, case-insensitive) that make a document ineligible, e.g. ['*-NC-*', '*-ND-*']")
    require_licence: bool = Field(False, description="Only documents with a detected licence are eligible")


class CurateConfig(StrictModel):
    """What `ernte curate` keeps, and how it writes shards."""

    languages: list[str] | None = Field(None, description="ISO 639-1 codes to keep; null keeps every language")
    min_lang_score: float = Field(0.65, ge=0, le=1, description="fastText lid.176 score below which a document is dropped")
    extract: ExtractSettings = Field(default_factory=ExtractSettings)
    quality: bool = Field(True, description="Apply FineWeb's quality filters (signals are measured either way)")
    signals_for_language_drops: bool = Field(
        False,
        description="Also measure quality signals of documents the language rules dropped (for auditing; about 1.5x the "
        "quality cost on multilingual input). Off: their signal columns are null, as the stage was never reached",
    )
    quality_thresholds: dict[str, float | int | bool | None] = Field(default_factory=dict, description="Overrides of filters.quality.QualityThresholds fields; null switches a rule off")
    pii: bool = Field(True, description="Replace e-mail and public IP addresses as FineWeb does")
    dedup: DedupSettings = Field(default_factory=DedupSettings)
    max_body_bytes: int = Field(10 * 1024 * 1024, ge=1024, description="Larger decoded bodies are dropped (reason too_large)")
    range_bytes: int = Field(
        16 * 1024 * 1024,
        ge=4096,
        description="Record-gzipped WARC files larger than this are curated in byte ranges of this size, in parallel. "
        "Part of the work configuration: trafilatura's repeated-segment memory starts afresh in each range",
    )
    shard_target_bytes: int = Field(128 * 1024 * 1024, ge=1024, description="Approximate text bytes per shard")
    workers: int = Field(default_factory=lambda: max(1, os.cpu_count() or 1), ge=1)
    keep_rejected: bool = False
    policy: PolicySettings = Field(default_factory=PolicySettings, description="Training eligibility (`train_eligible`); re-apply with `ernte policy apply`")

    @field_validator("quality_thresholds")
    @classmethod
    def _known_thresholds(cls, value: dict) -> dict:
        import dataclasses

        from filters.quality import QualityThresholds

        known = {f.name for f in dataclasses.fields(QualityThresholds)}
        unknown = sorted(set(value) - known)
        if unknown:
            raise ValueError(f"unknown quality threshold(s) {unknown}; known: {sorted(known)}")
        return value


class TokenizeConfig(StrictModel):
    """How `ernte tokenize` builds the tokenizer, splits documents and writes token shards."""

    vocab_size: int = Field(16384, ge=257, lt=2**31, description="Ids of a trained BPE: 256 bytes, merges, <|endoftext|> (fewer if the text runs out of pairs)")
    min_frequency: int = Field(2, ge=1, description="A pair seen fewer times is not merged")
    bpe_max_bytes: int | None = Field(None, ge=1, description="Train the BPE on at most this much text (the first train documents); null: all")
    tokenizer: Path | None = Field(None, description="Reuse this tokenizer.json instead of training one")
    val_fraction: float = Field(0.01, ge=0, lt=1, description="Share of documents held out for validation, chosen by a hash of doc_id")
    split_seed: int = Field(0, ge=0, description="Changes which documents the hash puts in validation")
    shard_tokens: int = Field(100_000_000, ge=1, lt=2**31, description="Tokens per shard (llm.c writes 10**8); the last shard of a split holds the rest")
    encoder: Literal["auto", "tiktoken", "hf"] = Field("auto", description="auto: tiktoken when it gives the same ids as tokenizers on the spot-check sample")
    spot_check_docs: int = Field(1000, ge=0, description="Documents encoded by both engines before tiktoken is used")
    spot_check_bytes: int = Field(1_000_000, ge=0)
    chunk_bytes: int = Field(1_000_000, ge=1024, description="Text per encoding task sent to a worker")
    workers: int = Field(default_factory=lambda: max(1, os.cpu_count() or 1), ge=1)


class TrainConfig(StrictModel):
    """What `ernte train` trains (a preset shape, optionally changed) and how (the training loop)."""

    preset: Literal["tiny", "small", "gpt2-124m"] = Field("small", description="Model shape: tiny (tests), small (CPU), gpt2-124m (GPT-2 small, a GPU)")
    n_layer: int | None = Field(None, ge=1, description="Overrides the preset")
    n_head: int | None = Field(None, ge=1, description="Overrides the preset")
    n_embd: int | None = Field(None, ge=1, description="Overrides the preset; a multiple of n_head")
    block_size: int | None = Field(None, ge=2, description="Context length in tokens; overrides the preset")
    dropout: float = Field(0.0, ge=0, lt=1)
    bias: bool = Field(False, description="Biases in Linear and LayerNorm layers")
    batch_size: int = Field(16, ge=1, description="Sequences per micro-batch")
    grad_accum_steps: int = Field(1, ge=1, description="Micro-batches per optimizer step (tokens per step: batch_size x grad_accum_steps x block_size)")
    max_steps: int = Field(2000, ge=1, description="Optimizer steps to train for")
    lr: float = Field(6e-4, gt=0, description="Peak learning rate")
    min_lr: float | None = Field(None, ge=0, description="Learning rate at the end of the cosine decay; null: lr / 10")
    warmup_steps: int = Field(100, ge=0, description="Linear warm-up steps")
    lr_decay_steps: int | None = Field(
        None, ge=1, description="Length of the cosine decay; null: max_steps of the first run (recorded, so --resume continues the same schedule)"
    )
    weight_decay: float = Field(0.1, ge=0)
    beta1: float = Field(0.9, ge=0, lt=1)
    beta2: float = Field(0.95, ge=0, lt=1)
    grad_clip: float = Field(1.0, ge=0, description="Clip the gradient norm to this; 0 switches clipping off")
    eval_interval: int = Field(250, ge=1, description="Validate every N steps (and after the last)")
    eval_batches: int = Field(20, ge=1, description="Validation micro-batches, the same ones every time (fewer if the split is smaller)")
    checkpoint_interval: int = Field(250, ge=1, description="Write a checkpoint every N steps (and after the last)")
    log_interval: int = Field(1, ge=1, description="Log and record metrics every N steps")
    batch_order: Literal["random", "sequential"] = Field("random", description="random: windows drawn from the seed and step; sequential: the split in order")
    seed: int = Field(1337, ge=0, description="Model initialisation, batch order and dropout")
    device: Literal["auto", "cpu", "cuda"] = Field("auto", description="auto: CUDA when available")
    compile: bool | None = Field(None, description="torch.compile the model; null: on CUDA only")
    peak_flops: float | None = Field(
        None, gt=0, description="Peak FLOP/s that MFU is reported against; null: datasheet bf16 dense peak of known GPUs (H100 SXM: 989e12), a measured fp32 matmul peak on CPU"
    )


class RunConfig(StrictModel):
    """What `ernte run` (the end-to-end Prefect flow) does, and where."""

    data_dir: Path = Field(Path("ernte-data"), description="crawls/, curated/, tokens/<version>/, models/<version>/ live here; point it at shared storage for workers on other machines")
    seeds: list[str] = Field(default_factory=list, description="Start URLs; each run crawls them into a new crawls/crawl-<time> directory (no seeds: no crawl)")
    stages: list[Literal["crawl", "curate", "tokenize", "train"]] = Field(default_factory=lambda: ["crawl", "curate", "tokenize", "train"])
    task_runner: Literal["process", "dask"] = Field("process", description="Where the per-WARC curate tasks run: a local process pool, or Dask")
    dask_address: str | None = Field(None, description="An existing Dask scheduler (tcp://HOST:8786); none: a LocalCluster of dask_workers processes")
    dask_workers: int = Field(2, ge=1)


class ErnteConfig(StrictModel):
    """The whole configuration file. Later stages add their sections here."""

    crawl: CrawlConfig = Field(default_factory=CrawlConfig)
    curate: CurateConfig = Field(default_factory=CurateConfig)
    tokenize: TokenizeConfig = Field(default_factory=TokenizeConfig)
    train: TrainConfig = Field(default_factory=TrainConfig)
    run: RunConfig = Field(default_factory=RunConfig)


class ConfigError(Exception):
    """A configuration file or option that cannot be used (exit code 2)."""


def load_config(path: Path | None) -> ErnteConfig:
    if path is None:
        return ErnteConfig()
    try:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level, got {type(raw).__name__}")
    try:
        return ErnteConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(f"{path}: invalid configuration:\n{format_validation_error(exc)}") from None


def apply_overrides(model: StrictModel, overrides: dict) -> StrictModel:
    """Command-line flags win over the file; None means the flag was not given."""
    given = {k: v for k, v in overrides.items() if v is not None}
    try:
        return model.model_validate({**model.model_dump(), **given})
    except ValidationError as exc:
        raise ConfigError(f"invalid option:\n{format_validation_error(exc)}") from None


def format_validation_error(exc: ValidationError) -> str:
    lines = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or "(top level)"
        lines.append(f"  {where}: {err['msg']}")
    return "\n".join(lines)


def config_hash(model: BaseModel) -> str:
    """sha256 of the canonical JSON of a resolved configuration."""
    canonical = json.dumps(model.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()
