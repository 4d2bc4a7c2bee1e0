"""Every table Ernte writes, in one place: column names, Arrow types and what they mean.

Readers and writers import these schemas instead of repeating column names, so a renamed or
retyped column is one edit here and a test failure everywhere it matters.
"""

from __future__ import annotations

from enum import Enum
from functools import lru_cache

import pyarrow as pa

TIMESTAMP = pa.timestamp("ms", tz="UTC")


class FetchDecision(str, Enum):
    """Why the crawler did or did not fetch a URL: one per fetch-log row."""

    FETCHED = "fetched"  # a response was received and archived (any HTTP status)
    ROBOTS_DISALLOWED = "robots_disallowed"  # robots.txt disallows it for our agent
    ROBOTS_UNAVAILABLE = "robots_unavailable"  # robots.txt 5xx / timeout / network error: host off limits
    AI_OPTOUT = "ai_optout"  # skipped because robots.txt opts out of AI training (only with skip_ai_optout)
    OUT_OF_SCOPE = "out_of_scope"  # other host, not http(s), too long, private address, ...
    TOO_LARGE = "too_large"  # body over the size limit, before or after decompression
    SKIPPED_CONTENT_TYPE = "skipped_content_type"  # headers said it is not a wanted type; body not fetched
    ERROR = "error"  # DNS, connection, timeout, TLS, ... after retries
    BUDGET_EXHAUSTED = "budget_exhausted"  # max pages, pages per host or depth reached
    DUPLICATE_URL = "duplicate_url"  # canonicalises to a URL already decided


FETCH_DECISIONS = tuple(d.value for d in FetchDecision)

# Response headers that carry machine-readable reservations, stored raw (consent issue parses them).
OPTOUT_HEADERS = ("tdm-reservation", "tdm-policy", "x-robots-tag", "content-usage", "link")


def header_column(header: str) -> str:
    return "header_" + header.replace("-", "_")


# Fetch-log `reason` of the per-host files the crawler fetches for itself (not pages): robots.txt
# and the TDMRep file, whose reason continues with what it held ('tdmrep.json: absent 404').
HOST_FILE_REASONS = ("robots.txt", "tdmrep.json")


def is_host_file_row(row: dict) -> bool:
    reason = row.get("reason") or ""
    return row.get("decision") == FetchDecision.FETCHED.value and reason.split(":", 1)[0] in HOST_FILE_REASONS


FETCH_LOG = pa.schema(
    [
        pa.field("seq", pa.int64(), nullable=False),  # order of decisions within the crawl directory
        pa.field("url", pa.string(), nullable=False),
        pa.field("host", pa.string()),
        pa.field("depth", pa.int32()),
        pa.field("referrer", pa.string()),
        pa.field("decision", pa.string(), nullable=False),  # one of FETCH_DECISIONS
        pa.field("reason", pa.string()),  # detail: the error, the scope rule, the size, ...
        pa.field("http_status", pa.int16()),
        pa.field("fetched_at", TIMESTAMP),  # when the decision was made / the response arrived
        pa.field("fetch_ms", pa.float64()),  # request sent to response complete
        pa.field("content_type", pa.string()),
        pa.field("bytes", pa.int64()),  # payload bytes as received (content-encoding intact)
        pa.field("ip_address", pa.string()),
        pa.field("redirect_to", pa.string()),  # Location of a 3xx response
        pa.field("warc_file", pa.string()),  # file name inside DIR/warc/
        pa.field("warc_offset", pa.int64()),  # offset of the response (or revisit) record
        pa.field("warc_length", pa.int64()),  # compressed length of that record
        pa.field("warc_record_id", pa.string()),
        pa.field("warc_record_type", pa.string()),  # response | revisit
        pa.field("payload_digest", pa.string()),  # sha1:BASE32, as in WARC-Payload-Digest
        pa.field("robots_rule", pa.string()),  # the robots.txt rule that decided, human-readable
        pa.field("crawl_delay", pa.float64()),  # the Crawl-delay that applied to our agent
        pa.field("ai_optout", pa.bool_()),
        pa.field("ai_optout_agents", pa.list_(pa.string())),
        pa.field("robots_content_usage", pa.string()),  # aipref Content-Usage value that applies (longest path match)
        pa.field("tdmrep_reservation", pa.int8()),  # from the host's /.well-known/tdmrep.json: 1, 0, or none matched
        pa.field("tdmrep_policy", pa.string()),
        pa.field("tdmrep_location", pa.string()),  # the location pattern that matched (first in file order)
        *[pa.field(header_column(h), pa.string()) for h in OPTOUT_HEADERS],
        pa.field("crawl_id", pa.string()),  # one per `ernte crawl` invocation (resumes get their own)
    ]
)

FETCH_LOG_COLUMNS = tuple(FETCH_LOG.names)


def empty_fetch_row() -> dict:
    """A fetch-log row with every column present (None), so writers never forget one."""
    return {name: None for name in FETCH_LOG_COLUMNS}


# -- curation ------------------------------------------------------------------------------------


def _quality_fields() -> list[pa.Field]:
    """One column per FineWeb quality signal, typed from the signals dataclass."""
    import dataclasses

    from filters.quality import QualitySignals

    arrow = {int: pa.int64(), float: pa.float64(), "int": pa.int64(), "float": pa.float64()}
    return [pa.field(f.name, arrow[f.type]) for f in dataclasses.fields(QualitySignals)]


class DocDecision(str, Enum):
    KEPT = "kept"
    DROPPED = "dropped"
    WITHDRAWN = "withdrawn"  # kept, then taken out by `ernte withdraw` (or matched a standing withdrawal)


# Drop reasons that are not quality rules (those come from filters.quality.DROP_REASONS), in
# pipeline order: reading, extraction, language, [quality], deduplication.
READ_DROP_REASONS = ("too_large", "empty_body", "revisit_unresolved")
EXTRACT_DROP_REASONS = ("input_too_large", "extract_timeout", "no_text", "empty_input", "extract_error")
LANG_DROP_REASONS = ("lang_not_selected", "lang_score_low")
DEDUP_DROP_REASONS = ("exact_duplicate", "near_duplicate")

@lru_cache(maxsize=1)
def _curation_schemas() -> dict[str, pa.Schema]:
    """Built on first use: the quality columns come from filters.quality, which the crawler never
    needs to import (it runs in its own short-lived process, where import time counts)."""
    # What a worker produces per input document (DIR/work/*.parquet): provenance before dedup, plus
    # the text and the dedup signals.
    _DOC_FIELDS = [
        pa.field("doc_id", pa.string(), nullable=False),
        pa.field("url", pa.string()),
        pa.field("host", pa.string()),
        pa.field("input_file", pa.string()),  # path of the WARC file as given to curate
        pa.field("warc_file", pa.string()),  # its file name (as in the fetch log)
        pa.field("warc_offset", pa.int64()),
        pa.field("warc_record_id", pa.string()),
        pa.field("warc_record_type", pa.string()),
        pa.field("payload_digest", pa.string()),
        pa.field("http_status", pa.int16()),
        pa.field("content_type", pa.string()),
        pa.field("fetched_at", TIMESTAMP),
        pa.field("charset", pa.string()),
        pa.field("decode_errors", pa.int64()),
        pa.field("body_bytes", pa.int64()),
        pa.field("extractor_version", pa.string()),
        pa.field("title", pa.string()),
        pa.field("pub_date", pa.string()),
        pa.field("canonical_url", pa.string()),
        pa.field("html_lang", pa.string()),
        pa.field("text_chars", pa.int64()),
        pa.field("lang", pa.string()),
        pa.field("lang_score", pa.float64()),
        *_quality_fields(),
        pa.field("pii_emails_replaced", pa.int32()),
        pa.field("pii_ips_replaced", pa.int32()),
        # Raw opt-out signals from the response headers (the consent issue interprets them).
        *[pa.field(header_column(h), pa.string()) for h in OPTOUT_HEADERS],
        # Joined from an Ernte fetch log when the input is a crawl directory (raw crawl-time signals).
        pa.field("crawl_id", pa.string()),
        pa.field("depth", pa.int32()),
        pa.field("robots_rule", pa.string()),
        pa.field("robots_ai_optout_agents", pa.list_(pa.string())),  # AI-training agents robots.txt disallows for the URL
        pa.field("robots_content_usage", pa.string()),  # aipref Content-Usage line of robots.txt that applies
        pa.field("tdmrep_reservation", pa.int8()),  # the host's tdmrep.json rule for the URL
        pa.field("tdmrep_policy", pa.string()),
        # Reservations as interpreted by filters.optout (TDMRep: meta over header over tdmrep.json).
        pa.field("tdm_reservation", pa.int8()),  # 1 reserved, 0 not, null not stated
        pa.field("tdm_policy", pa.string()),
        pa.field("tdm_source", pa.string()),  # meta | header | tdmrep.json
        pa.field("noai", pa.bool_()),  # noai in robots meta or X-Robots-Tag, for any agent
        pa.field("content_usage", pa.string()),  # Content-Usage response header, raw
        pa.field("ai_optout", pa.bool_()),  # any machine-readable reservation of AI training (incl. robots.txt)
        pa.field("ai_optout_agents", pa.list_(pa.string())),  # agents named by robots.txt or an agent-specific noai
        # The licence the page states for itself (filters.licence).
        pa.field("licence_spdx", pa.string()),
        pa.field("licence_evidence", pa.string()),  # matched markup or sentence, <= 500 characters
        pa.field("licence_source", pa.string()),  # link_header | link_rel | a_rel | ccrel | meta | json_ld | label_link | footer_link | text
        pa.field("licence_location", pa.string()),  # header (HTTP Link) | head | footer | body
        pa.field("licence_confidence", pa.string()),  # high | medium | low
    ]

    WORK_DOCS = pa.schema(
        _DOC_FIELDS
        + [
            pa.field("pre_dedup_decision", pa.string()),  # kept | dropped, before deduplication
            pa.field("pre_dedup_drop_reason", pa.string()),
            pa.field("text", pa.string()),  # the text the shard would hold (None when dropped before extraction)
            pa.field("exact_hash", pa.string()),
            pa.field("band_keys", pa.list_(pa.binary())),
        ]
    )

    PROVENANCE = pa.schema(
        _DOC_FIELDS
        + [
            pa.field("decision", pa.string(), nullable=False),  # DocDecision
            pa.field("drop_reason", pa.string()),  # the first rule that failed
            pa.field("dedup_cluster", pa.string()),  # doc_id of the cluster's representative
            pa.field("dedup_cluster_size", pa.int32()),
            pa.field("shard", pa.string()),  # file name in DIR/shards/ for kept documents
            pa.field("run_id", pa.string()),
            pa.field("train_eligible", pa.bool_()),  # filters.policy with the run's curate.policy
            pa.field("eligibility_reason", pa.string()),  # eligible, or the first rule that made it ineligible
            pa.field("withdrawal_id", pa.string()),  # `ernte withdraw` record that took it out (DIR/withdrawals.jsonl)
        ]
    )

    SHARD = pa.schema(
        [
            pa.field("doc_id", pa.string(), nullable=False),
            pa.field("text", pa.string(), nullable=False),
            pa.field("url", pa.string()),
            pa.field("host", pa.string()),
            pa.field("lang", pa.string()),
            pa.field("lang_score", pa.float64()),
            pa.field("fetched_at", TIMESTAMP),
            pa.field("title", pa.string()),
            pa.field("canonical_url", pa.string()),
            pa.field("dedup_cluster", pa.string()),
            pa.field("run_id", pa.string()),
            pa.field("licence_spdx", pa.string()),
            pa.field("train_eligible", pa.bool_()),  # tokenize leaves ineligible documents out
        ]
    )

    REJECTED = pa.schema(
        [
            pa.field("doc_id", pa.string(), nullable=False),
            pa.field("url", pa.string()),
            pa.field("text", pa.string()),
            pa.field("drop_reason", pa.string()),
            pa.field("run_id", pa.string()),
        ]
    )

    DEDUP_INDEX = pa.schema(
        [
            pa.field("doc_id", pa.string(), nullable=False),
            pa.field("fetched_at", TIMESTAMP),
            pa.field("exact_hash", pa.string()),
            pa.field("band_keys", pa.list_(pa.binary())),
            pa.field("cluster_id", pa.string()),
            pa.field("representative", pa.bool_()),
            pa.field("run_id", pa.string()),
        ]
    )
    return {"WORK_DOCS": WORK_DOCS, "PROVENANCE": PROVENANCE, "SHARD": SHARD, "REJECTED": REJECTED, "DEDUP_INDEX": DEDUP_INDEX}


# DIR/withdrawals/<withdrawal id>.parquet: the documents one `ernte withdraw` took out (no text).
WITHDRAWN_DOCS = pa.schema(
    [
        pa.field("doc_id", pa.string(), nullable=False),
        pa.field("url", pa.string()),
        pa.field("host", pa.string()),
        pa.field("run_id", pa.string()),  # the curate run that had added it
        pa.field("decision_before", pa.string()),  # kept | dropped
        pa.field("shard", pa.string()),  # the shard it was removed from (kept documents)
    ]
)


# -- tokenization --------------------------------------------------------------------------------

# TOKDIR/documents.parquet: where every document of the curated dataset went (`ernte tokenize`).
TOKEN_DOCS = pa.schema(
    [
        pa.field("doc_id", pa.string(), nullable=False),
        pa.field("source_shard", pa.string()),  # file name in the curated DIR/shards/
        pa.field("split", pa.string(), nullable=False),  # train | val | excluded
        pa.field("drop_reason", pa.string()),  # for excluded: not_train_eligible | val_duplicate_of_train | val_duplicate
        pa.field("shard", pa.string()),  # token shard holding the document's end-of-text token
        pa.field("offset", pa.int64()),  # position of that end-of-text token in the shard
        pa.field("tokens", pa.int64()),  # the document's ids, its end-of-text token not counted
        pa.field("text_bytes", pa.int64()),  # UTF-8 bytes of its text
    ]
)


def __getattr__(name: str):
    schemas = _curation_schemas()
    if name in schemas:
        return schemas[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
