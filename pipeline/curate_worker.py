"""The unit of curation work: one WARC file (or a byte range of a large one) in, one Parquet file
of per-document results out.

`curate_file` is a plain function over picklable arguments, so any executor can call it: a
process pool here, Prefect tasks on Dask later. It runs every per-document stage up to
deduplication (read, extract, language, quality, dedup signals, PII) and writes
DIR/work/<key>.parquet atomically; deduplication across files happens afterwards, in one place.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pyarrow as pa
import pyarrow.parquet as pq

from filters import quality
from filters.dedup import DedupConfig, dedup_signals
from filters.extract import ExtractConfig, extract, extractor_version, publication_date, reset_dedup_state
from filters.langid import identify
from filters.licence import detect_licence
from filters.optout import TdmRep, content_usage_reserves_training, read_optout
from filters.pii import replace_pii
from pipeline.config import CurateConfig
from pipeline.schema import OPTOUT_HEADERS, WORK_DOCS, header_column
from pipeline.warc_input import HtmlDocument, OriginalRef, Skipped, WarcDocumentReader


@dataclass(frozen=True)
class FetchInfo:
    """What an Ernte fetch log says about one capture (joined by WARC file and offset)."""

    crawl_id: str | None
    depth: int | None
    robots_rule: str | None
    ai_optout: bool | None  # robots.txt disallows the URL for some AI-training agent
    ai_optout_agents: list[str] | None
    robots_content_usage: str | None = None  # aipref Content-Usage of robots.txt for the URL
    tdmrep_reservation: int | None = None  # the host's tdmrep.json rule for the URL
    tdmrep_policy: str | None = None


@dataclass(frozen=True)
class FileTask:
    input_path: str
    work_path: str  # where to write the per-document Parquet file
    config: dict  # CurateConfig.model_dump()
    fetch_info: dict[int, FetchInfo] = field(default_factory=dict)  # by WARC offset
    originals: dict[str, tuple[str, int]] = field(default_factory=dict)  # payload digest -> (path, offset)
    start: int = 0  # byte range of a record-gzipped WARC: records whose member starts in [start, end)
    end: int | None = None


@dataclass(frozen=True)
class FileResult:
    input_path: str
    work_path: str
    documents: int
    counts: dict[str, int]  # the funnel for this file
    errors: list[str]
    stage_seconds: dict[str, float]
    tdmrep_files: dict[str, dict] = field(default_factory=dict)  # host -> archived tdmrep.json (warc_input)


class _Timer:
    def __init__(self):
        self.seconds: Counter[str] = Counter()

    def __call__(self, stage: str, started: float) -> float:
        now = time.perf_counter()
        self.seconds[stage] += now - started
        return now


def _thresholds(config: CurateConfig) -> quality.QualityThresholds:
    return dataclasses.replace(quality.QualityThresholds(), **config.quality_thresholds)


def curate_file(task: FileTask) -> FileResult:
    config = CurateConfig.model_validate(task.config)
    extract_config = ExtractConfig(
        favor_precision=config.extract.favor_precision,
        short_text_fallback_chars=config.extract.short_text_fallback_chars,
        include_comments=config.extract.include_comments,
        deduplicate=config.extract.deduplicate,
        fast=config.extract.fast,
        max_input_chars=config.extract.max_input_chars,
        timeout_s=config.extract.timeout_s,
        extract_date=False,  # asked for below, once the language rules pass
    )
    dedup_config = DedupConfig(ngram=config.dedup.ngram, bands=config.dedup.bands, rows=config.dedup.rows, seed=config.dedup.seed)
    thresholds = _thresholds(config)
    version = extractor_version(dataclasses.replace(extract_config, extract_date=True))  # the date comes later, same htmldate
    # trafilatura's segment deduplication is stateful: start each file (range) afresh, so its
    # result does not depend on what this worker process handled before (same output, any worker
    # count; ranges depend only on the file size and range_bytes).
    reset_dedup_state()
    logging.getLogger("trafilatura").setLevel(logging.ERROR)  # one "discarding data" line per empty page otherwise
    originals = {d: OriginalRef(Path(p), o) for d, (p, o) in task.originals.items()}
    reader = WarcDocumentReader(Path(task.input_path), max_body_bytes=config.max_body_bytes, originals=originals, start=task.start, end=task.end)
    timer = _Timer()
    counts: Counter[str] = Counter()
    rows: list[dict] = []
    t = time.perf_counter()
    for item in reader:
        t = timer("read", t)
        if isinstance(item, Skipped):
            if item.doc_id is not None:
                rows.append(_skipped_row(item, task))
                counts[f"dropped_{item.reason}"] += 1
            continue
        row, t = _document_row(item, task, config, extract_config, dedup_config, thresholds, version, timer, t)
        counts["documents"] += 1
        counts["kept_before_dedup" if row["pre_dedup_decision"] == "kept" else f"dropped_{row['pre_dedup_drop_reason']}"] += 1
        rows.append(row)
    timer("read", t)
    for key, value in reader.counts.items():
        counts[f"records_{key}"] += value
    result = FileResult(task.input_path, task.work_path, len(rows), dict(counts), reader.errors, dict(timer.seconds), reader.tdmrep_files)
    _write_atomically(rows, Path(task.work_path), result)
    return result


_RESULT_KEY = b"ernte.file_result"


def read_work_result(work_path: str) -> FileResult | None:
    """The FileResult stored with a finished work file (a rerun after a kill reuses it), or None
    for a work file written without one."""
    metadata = pq.read_schema(work_path).metadata or {}
    if _RESULT_KEY not in metadata:
        return None
    stored = json.loads(metadata[_RESULT_KEY])
    return FileResult(stored["input_path"], work_path, stored["documents"], stored["counts"], stored["errors"], stored["stage_seconds"], stored.get("tdmrep_files", {}))


def _base_row(task: FileTask, doc) -> dict:
    row = {name: None for name in WORK_DOCS.names}
    row.update(
        doc_id=doc.doc_id,
        url=doc.url,
        host=(urlsplit(doc.url).hostname or "").lower() if doc.url else None,
        input_file=task.input_path,
        warc_file=doc.warc_file,
        warc_offset=doc.warc_offset,
        warc_record_id=doc.warc_record_id,
        warc_record_type=doc.record_type,
        payload_digest=doc.payload_digest,
        http_status=doc.http_status,
        content_type=doc.content_type,
        fetched_at=doc.fetched_at,
    )
    info = task.fetch_info.get(doc.warc_offset)
    if info is not None:
        row.update(
            crawl_id=info.crawl_id,
            depth=info.depth,
            robots_rule=info.robots_rule,
            robots_ai_optout_agents=info.ai_optout_agents or [],
            robots_content_usage=info.robots_content_usage,
            tdmrep_reservation=info.tdmrep_reservation,
            tdmrep_policy=info.tdmrep_policy,
        )
    return row


def _add_consent(row: dict, tree, headers: dict[str, str] | None) -> None:
    """Reservations (page + headers + crawl-time signals) into the row, for every document."""
    tdmrep = TdmRep(row["tdmrep_reservation"], row["tdmrep_policy"]) if row.get("tdmrep_reservation") is not None else None
    signals = read_optout(tree, headers, tdmrep, row.get("robots_ai_optout_agents"))
    row.update(
        tdm_reservation=signals.tdm_reservation,
        tdm_policy=signals.tdm_policy,
        tdm_source=signals.tdm_source,
        noai=signals.noai,
        content_usage=signals.content_usage,
        ai_optout=signals.ai_optout or content_usage_reserves_training(row.get("robots_content_usage")) is True,
        ai_optout_agents=signals.ai_optout_agents,
    )


def _add_licence(row: dict, tree, headers: dict[str, str] | None) -> None:
    """The page's licence, for documents that passed every filter before deduplication: only they
    can reach a training set, and detection costs about half an extraction on long pages."""
    licence = detect_licence(tree, headers)
    if licence is not None:
        row.update(
            licence_spdx=licence.spdx,
            licence_evidence=licence.evidence,
            licence_source=licence.source,
            licence_location=licence.location,
            licence_confidence=licence.confidence,
        )


def _skipped_row(item: Skipped, task: FileTask) -> dict:
    row = _base_row(task, item)
    row.update(pre_dedup_decision="dropped", pre_dedup_drop_reason=item.reason)
    _add_consent(row, None, None)  # no page: crawl-time signals only
    return row


def _document_row(doc: HtmlDocument, task, config, extract_config, dedup_config, thresholds, version, timer, t):
    row = _base_row(task, doc)
    row.update(charset=doc.charset, decode_errors=doc.decode_errors, body_bytes=doc.body_bytes, extractor_version=version)
    for name in OPTOUT_HEADERS:
        row[header_column(name)] = doc.response_headers.get(name)

    extraction = extract(doc.html, doc.url, extract_config)
    t = timer("extract", t)
    _add_consent(row, extraction.tree, doc.response_headers)  # tree None (too large, timeout): headers only
    t = timer("consent", t)
    row.update(title=extraction.title, pub_date=extraction.date, canonical_url=extraction.canonical_url, html_lang=extraction.html_lang)
    if extraction.error or not extraction.text:
        reason = (extraction.error or "no_text").split(":", 1)[0]
        row.update(pre_dedup_decision="dropped", pre_dedup_drop_reason=reason, text_chars=0)
        return row, t
    text = extraction.text
    row["text_chars"] = len(text)

    lang, score = identify(text)
    t = timer("langid", t)
    row.update(lang=lang, lang_score=score)
    drop = None
    if config.languages is not None and lang not in config.languages:
        drop = "lang_not_selected"
    elif score < config.min_lang_score:
        drop = "lang_score_low"

    if drop is not None and not config.signals_for_language_drops:
        row.update(pre_dedup_decision="dropped", pre_dedup_drop_reason=drop, text=text)
        return row, t
    row["pub_date"] = publication_date(extraction.tree, doc.url)
    signals, c4_cleaned = quality.measure_and_clean(text, lang)
    row.update(dataclasses.asdict(signals))
    if drop is None and config.quality:
        decision = quality.decide(signals, thresholds)
        if not decision.kept:
            drop = decision.drop_reason
    t = timer("quality", t)

    if drop is None:
        _add_licence(row, extraction.tree, doc.response_headers)
        t = timer("consent", t)
        # FineWeb passes the C4-cleaned text on: it is what the shard holds.
        text = c4_cleaned
        if config.pii:
            pii = replace_pii(text)
            text = pii.text
            row.update(pii_emails_replaced=pii.emails_replaced, pii_ips_replaced=pii.ips_replaced)
        t = timer("pii", t)
        signals_d = dedup_signals(text, dedup_config)
        row.update(exact_hash=signals_d.exact_hash if config.dedup.exact else None, band_keys=list(signals_d.band_keys) if config.dedup.minhash else [])
        t = timer("dedup_signals", t)
    row.update(pre_dedup_decision="kept" if drop is None else "dropped", pre_dedup_drop_reason=drop, text=text)
    return row, t


def _write_atomically(rows: list[dict], path: Path, result: FileResult) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + f".tmp-{os.getpid()}")
    stored = json.dumps(dataclasses.asdict(result) | {"work_path": None})
    table = pa.Table.from_pylist(rows, schema=WORK_DOCS.with_metadata({**(WORK_DOCS.metadata or {}), _RESULT_KEY: stored.encode()}))
    pq.write_table(table, tmp, compression="zstd")
    os.replace(tmp, path)
