"""Every table Ernte writes, in one place: column names, Arrow types and what they mean.

Readers and writers import these schemas instead of repeating column names, so a renamed or
retyped column is one edit here and a test failure everywhere it matters.
"""

from __future__ import annotations

from enum import Enum

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
        *[pa.field(header_column(h), pa.string()) for h in OPTOUT_HEADERS],
        pa.field("crawl_id", pa.string()),  # one per `ernte crawl` invocation (resumes get their own)
    ]
)

FETCH_LOG_COLUMNS = tuple(FETCH_LOG.names)


def empty_fetch_row() -> dict:
    """A fetch-log row with every column present (None), so writers never forget one."""
    return {name: None for name in FETCH_LOG_COLUMNS}
