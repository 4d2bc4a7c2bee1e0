"""Scrapy components that make the crawl polite, scoped and archived.

- `CrawlPolicyMiddleware` (early in the downloader chain): address safety, robots.txt per RFC 9309
  with our own parser, AI-crawler opt-outs, page budgets, Crawl-delay and Retry-After back-off,
  and the host's /.well-known/tdmrep.json (fetched once per host, before its first page).
- `ArchiveMiddleware` (last before the network, so it sees the body with its content-encoding
  intact): content-type and size limits, retries on 429/5xx, WARC records and the fetch-log row.
- `CrawlDelayAutoThrottle`: Scrapy's AutoThrottle, but never below a host's Crawl-delay.

Each decision is written to the fetch log where it is made; the request is then dropped with
`AlreadyDecided` so the spider's errback does not record it twice.
"""

from __future__ import annotations

import email.utils
import logging
import socket
import time
import zlib
from urllib.parse import urlsplit

from scrapy import signals
from scrapy.exceptions import IgnoreRequest, StopDownload
from scrapy.extensions.throttle import AutoThrottle
from scrapy.http import Request, Response
from scrapy.http.request import NO_CALLBACK
from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet.defer import Deferred
from twisted.internet.task import deferLater
from twisted.internet.threads import deferToThread

from crawlers.crawl_session import CrawlSession, HostState
from crawlers.robots_policy import MAX_ROBOTS_BYTES, RobotsTxt, ai_optout_agents
from crawlers.tdmrep import MAX_TDMREP_BYTES, TDMREP_PATH, TdmRep
from crawlers.url_policy import canonical_url, is_ip_literal, media_type, non_public_address, scope_violation, url_host
from crawlers.warc_writer import Capture
from pipeline.schema import OPTOUT_HEADERS, FetchDecision, header_column

logger = logging.getLogger(__name__)

# Statuses retried with back-off. 429 and 503 honour Retry-After.
RETRY_STATUSES = {429, 500, 502, 503, 504, 522, 524, 408}
BACKOFF_STATUSES = {429, 503}


class AlreadyDecided(IgnoreRequest):
    """The request was dropped and its fetch-log row is already written."""


def _session(crawler) -> CrawlSession:
    # Handed to the spider as a constructor argument; settings would deep-copy it.
    return crawler.spider.ernte_session


async def _sleep(seconds: float) -> None:
    if seconds > 0:
        from twisted.internet import reactor  # imported late: Scrapy installs the reactor it wants first

        await maybe_deferred_to_future(deferLater(reactor, seconds, lambda: None))


def parse_retry_after(value: bytes | None, now: float) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date)."""
    if not value:
        return None
    text = value.decode("latin-1").strip()
    if text.isdigit():
        return float(text)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - now)


def _request_fields(request: Request) -> dict:
    return {"depth": request.meta.get("ernte_depth", 0), "referrer": request.meta.get("ernte_referrer")}


class CrawlPolicyMiddleware:
    def __init__(self, crawler):
        self.crawler = crawler
        self.session = _session(crawler)
        self.config = self.session.config

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    async def process_request(self, request: Request, spider=None) -> None:
        if request.meta.get("ernte_robots"):
            return None
        session, config = self.session, self.config
        host = url_host(request.url)
        state = session.host(host)
        fields = _request_fields(request)

        # Retries keep the admission; a redirect (same meta, new URL) is judged afresh.
        if request.meta.get("ernte_admitted_url") != request.url:
            if request.meta.get("redirect_urls"):
                self._check_redirect_target(request, fields)
            problem = await self._address_problem(host, state)
            if problem:
                self._drop(request, FetchDecision.OUT_OF_SCOPE, fields, reason=problem)
            budget = session.budget_problem(host)
            if budget:  # checked before robots.txt: no robots fetch for a host we will not crawl
                self._drop(request, FetchDecision.BUDGET_EXHAUSTED, fields, reason=budget)
            await self._ensure_robots(request, host, state)
            policy = self._robots_fields(request, state)
            request.meta["ernte_policy"] = policy
            if state.robots_status.startswith("unavailable"):
                self._drop(request, FetchDecision.ROBOTS_UNAVAILABLE, fields, reason=f"robots.txt {state.robots_status}", **policy)
            decision = state.robots.decide(request.url, config.user_agent)
            if not decision.allowed:
                self._drop(request, FetchDecision.ROBOTS_DISALLOWED, fields, **policy)
            if config.skip_ai_optout and policy["ai_optout"]:
                self._drop(request, FetchDecision.AI_OPTOUT, fields, reason="robots.txt reserves it from " + ", ".join(policy["ai_optout_agents"]), **policy)
            if config.fetch_tdmrep:
                self._apply_crawl_delay(host, state)  # the TDMRep file keeps the host's pace too
                await self._ensure_tdmrep(request, host, state)
                policy.update(state.tdmrep.fields(request.url))
            budget = session.budget_problem(host)  # again: other requests may have taken slots while robots.txt was fetched
            if budget:
                self._drop(request, FetchDecision.BUDGET_EXHAUSTED, fields, reason=budget, **policy)
            session.take_page_slot(host)
            request.meta["ernte_admitted_url"] = request.url
            self._apply_crawl_delay(host, state)

        wait = state.not_before - time.time()
        if wait > 0:
            await _sleep(wait)
        return None

    # -- helpers -------------------------------------------------------------------------------
    def _drop(self, request: Request, decision: FetchDecision, fields: dict, **extra) -> None:
        self.session.decide(request.url, decision, **fields, **extra)
        raise AlreadyDecided(f"{decision.value}: {request.url}")

    def _check_redirect_target(self, request: Request, fields: dict) -> None:
        problem = scope_violation(request.url, self.session.seed_hosts, self.config.scope, self.config.max_url_length)
        if problem:
            self._drop(request, FetchDecision.OUT_OF_SCOPE, fields, reason="redirect target: " + problem)
        canonical = canonical_url(request.url)
        if canonical in self.session.seen_canonical:
            self._drop(request, FetchDecision.DUPLICATE_URL, fields, reason="redirect target already queued")
        self.session.seen_canonical.add(canonical)

    async def _address_problem(self, host: str, state: HostState) -> str | None:
        if self.config.allow_private:
            return None
        if not state.address_checked:
            state.address_checked = True
            if is_ip_literal(host):
                state.address_problem = non_public_address(host.strip("[]"))
            else:
                try:
                    infos = await maybe_deferred_to_future(deferToThread(socket.getaddrinfo, host, None))
                except OSError:
                    return None  # let the download fail and record the DNS error as 'error'
                for info in infos:
                    problem = non_public_address(info[4][0])
                    if problem:
                        state.address_problem = f"{host} resolves to {problem} (use --allow-private for local sites)"
                        break
        return state.address_problem

    async def _download_host_file(self, url: str, name: str, max_bytes: int) -> Response:
        """robots.txt or tdmrep.json: ahead of the queued pages, through the host's downloader slot;
        ArchiveMiddleware archives and logs it (reason `name`) and never retries or stops it."""
        meta = {"ernte_robots": True, "ernte_host_file": name, "handle_httpstatus_all": True, "download_maxsize": 4 * max_bytes + 1024 * 1024}
        return await self.crawler.engine.download_async(Request(url, priority=1000, dont_filter=True, callback=NO_CALLBACK, meta=meta))

    async def _ensure_robots(self, request: Request, host: str, state: HostState) -> None:
        while state.robots_pending is not None:
            await maybe_deferred_to_future(state.robots_pending)
        if state.robots is not None and time.time() < state.robots_expires:
            return
        pending: Deferred = Deferred()
        state.robots_pending = pending
        parts = urlsplit(request.url)
        robots_url = f"{parts.scheme}://{parts.netloc}/robots.txt"
        config = self.config
        try:
            response = await self._download_host_file(robots_url, "robots.txt", MAX_ROBOTS_BYTES)
            status = response.status
            if 200 <= status < 300:
                state.robots, state.robots_status = RobotsTxt.parse(response.body[:MAX_ROBOTS_BYTES]), f"ok {status}"
                ttl = config.robots_cache_ttl_s
            elif 400 <= status < 500 and status != 429:
                # RFC 9309 2.3.1.3: "unavailable" means no restrictions.
                state.robots, state.robots_status = RobotsTxt.allow_all(), f"allow-all {status}"
                ttl = config.robots_cache_ttl_s
            elif 300 <= status < 400:
                # More redirects than the redirect middleware follows: treated like 4xx, as Google does.
                state.robots, state.robots_status = RobotsTxt.allow_all(), f"allow-all {status} (too many redirects)"
                ttl = config.robots_cache_ttl_s
            else:
                # 5xx and 429 ("unreachable"): the whole host is off limits until a retry.
                state.robots, state.robots_status = RobotsTxt.disallow_all(), f"unavailable {status}"
                ttl = config.robots_error_ttl_s
        except Exception as exc:  # network errors, timeouts, DNS: unreachable
            state.robots, state.robots_status = RobotsTxt.disallow_all(), f"unavailable ({type(exc).__name__}: {exc})"[:300]
            ttl = config.robots_error_ttl_s
        finally:
            state.robots_pending = None
            pending.callback(None)
        state.robots_expires = time.time() + ttl
        delay = state.robots.crawl_delay(config.user_agent)
        state.crawl_delay = delay
        logger.info("robots.txt for %s: %s, crawl-delay %s", host, state.robots_status, delay)

    async def _ensure_tdmrep(self, request: Request, host: str, state: HostState) -> None:
        """Fetch /.well-known/tdmrep.json once per host (cached as long as robots.txt), through the
        same downloader slot as the pages, so Crawl-delay and back-off apply to it."""
        while state.tdmrep_pending is not None:
            await maybe_deferred_to_future(state.tdmrep_pending)
        if state.tdmrep is not None and time.time() < state.tdmrep_expires:
            return
        pending: Deferred = Deferred()
        state.tdmrep_pending = pending
        parts = urlsplit(request.url)
        url = f"{parts.scheme}://{parts.netloc}{TDMREP_PATH}"
        try:
            decision = state.robots.decide(url, self.config.user_agent)
            if not decision.allowed:
                state.tdmrep = TdmRep.absent("not fetched: robots.txt disallows it")
                self.session.decide(url, FetchDecision.ROBOTS_DISALLOWED, reason=f"tdmrep.json: {state.tdmrep.status}", robots_rule=f"disallowed: {decision.describe()}")
            else:
                wait = state.not_before - time.time()
                if wait > 0:
                    await _sleep(wait)
                response = await self._download_host_file(url, "tdmrep.json", MAX_TDMREP_BYTES)
                # ArchiveMiddleware parsed it when it logged the fetch (its row says what the file held).
                state.tdmrep = response.meta.get("ernte_tdmrep") or TdmRep.parse(response.body, response.status)
        except Exception as exc:  # network errors, timeouts: no reservation known from this source
            state.tdmrep = TdmRep.absent(f"unavailable ({type(exc).__name__}: {exc})"[:300])
            self.session.decide(url, FetchDecision.ERROR, reason=f"tdmrep.json: {state.tdmrep.status}")
        finally:
            state.tdmrep_pending = None
            pending.callback(None)
        state.tdmrep_expires = time.time() + self.config.robots_cache_ttl_s
        logger.info("tdmrep.json for %s: %s", host, state.tdmrep.status)

    def _robots_fields(self, request: Request, state: HostState) -> dict:
        decision = state.robots.decide(request.url, self.config.user_agent)
        agents = ai_optout_agents(state.robots, request.url, self.config.ai_agents)
        usage = state.robots.content_usage_for(request.url, self.config.user_agent)
        return {
            "robots_rule": f"{'allowed' if decision.allowed else 'disallowed'}: {decision.describe()}",
            "crawl_delay": state.crawl_delay,
            "ai_optout": bool(agents),
            "ai_optout_agents": agents,
            "robots_content_usage": usage.value if usage is not None else None,
        }

    def _apply_crawl_delay(self, host: str, state: HostState) -> None:
        if not self.config.politeness:
            return
        floor = max(self.config.delay_s, min(state.crawl_delay or 0.0, self.config.max_crawl_delay_s))
        downloader = self.crawler.engine.downloader
        slot_settings = downloader.per_slot_settings.setdefault(host, {})
        slot_settings["delay"] = floor
        slot_settings["randomize_delay"] = False
        slot = downloader.slots.get(host)
        if slot is not None and slot.delay < floor:
            slot.delay = floor


class ArchiveMiddleware:
    def __init__(self, crawler):
        self.crawler = crawler
        self.session = _session(crawler)
        self.config = self.session.config
        self.allowed_types = {t.lower() for t in self.config.allowed_content_types}
        crawler.signals.connect(self._headers_received, signal=signals.headers_received)

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def _headers_received(self, headers, body_length, request, spider) -> None:
        # Stop non-HTML bodies before they are downloaded; the response comes back flagged.
        if request.meta.get("ernte_robots") or not self.allowed_types:
            return
        content_type = headers.get(b"Content-Type")
        if content_type is not None and media_type(content_type.decode("latin-1")) not in self.allowed_types:
            request.meta["ernte_stopped_type"] = True
            raise StopDownload(fail=False)

    def process_request(self, request: Request, spider=None) -> None:
        request.meta["ernte_started_at"] = time.time()
        # Headers as they leave the middleware chain; the HTTP client adds Host itself.
        request.meta["ernte_request_headers"] = [(k.decode("latin-1"), b", ".join(v).decode("latin-1")) for k, v in request.headers.items()]
        return None

    def process_response(self, request: Request, response: Response, spider=None):
        is_robots = bool(request.meta.get("ernte_robots"))
        fields = _request_fields(request)
        policy = request.meta.get("ernte_policy", {})
        content_type = response.headers.get(b"Content-Type", b"").decode("latin-1") or None
        base = dict(fields, http_status=response.status, content_type=content_type, bytes=len(response.body), **policy)
        base.update(self._optout_headers(response))

        if request.meta.get("ernte_stopped_type") and 200 <= response.status < 300:
            self.session.decide(request.url, FetchDecision.SKIPPED_CONTENT_TYPE, reason=f"content type {media_type(content_type)}", **base)
            self.session.return_page_slot(url_host(request.url))
            raise AlreadyDecided(request.url)
        too_large = self._decompressed_too_large(response)
        if too_large:
            self.session.decide(request.url, FetchDecision.TOO_LARGE, reason=too_large, **base)
            raise AlreadyDecided(request.url)
        if not self.config.allow_private and response.ip_address is not None:
            problem = non_public_address(str(response.ip_address))
            if problem:  # DNS changed between our check and the fetch
                self.session.decide(request.url, FetchDecision.OUT_OF_SCOPE, reason=f"connected to {problem}", **base)
                raise AlreadyDecided(request.url)

        archived = self.session.warc.archive(self._capture(request, response, fields))
        retry = self._retry(request, response, is_robots)
        if retry is not None:
            return retry
        reason = request.meta.get("ernte_host_file", "robots.txt") if is_robots else None
        if reason == "tdmrep.json":
            body = _decoded_body(response, MAX_TDMREP_BYTES)  # we are before the decompression middleware
            if body is not None:  # other encodings: parsed after decompression, in _ensure_tdmrep
                tdmrep = request.meta["ernte_tdmrep"] = TdmRep.parse(body, response.status)
                reason = f"tdmrep.json: {tdmrep.status}"
        row = self.session.decide(
            request.url,
            FetchDecision.FETCHED,
            **base,
            reason=reason,
            fetch_ms=(time.time() - request.meta["ernte_started_at"]) * 1000,
            ip_address=str(response.ip_address) if response.ip_address else None,
            redirect_to=response.headers.get(b"Location", b"").decode("latin-1") or None,
            warc_file=archived.warc_file,
            warc_offset=archived.offset,
            warc_length=archived.length,
            warc_record_id=archived.record_id,
            warc_record_type=archived.record_type,
            payload_digest=archived.payload_digest,
            warc_date=archived.date,  # journal only (not a fetch-log column): revisits after --resume
        )
        request.meta["ernte_row_seq"] = row["seq"]
        return response

    def _retry(self, request: Request, response: Response, is_robots: bool) -> Request | None:
        if is_robots or response.status not in RETRY_STATUSES:
            return None
        attempt = request.meta.get("ernte_attempt", 0) + 1
        if attempt > self.config.retry_times:
            return None
        host = self.session.host(url_host(request.url))
        now = time.time()
        wait = None
        if response.status in BACKOFF_STATUSES:
            wait = parse_retry_after(response.headers.get(b"Retry-After"), now)
        if wait is None:
            wait = max(self.config.delay_s, 1.0) * (2 ** (attempt - 1))
        wait = min(wait, self.config.max_retry_after_s)
        host.not_before = max(host.not_before, now + wait)
        logger.info("HTTP %s for %s: retry %d in %.1f s", response.status, request.url, attempt, wait)
        retry = request.replace(dont_filter=True)
        retry.meta["ernte_attempt"] = attempt
        retry.meta.pop("ernte_stopped_type", None)  # that flag was about this response, not the retry's
        return retry

    def _decompressed_too_large(self, response: Response) -> str | None:
        limit = self.config.max_response_bytes
        if len(response.body) > limit:
            return f"body {len(response.body)} B > {limit} B"
        encoding = response.headers.get(b"Content-Encoding", b"").decode("latin-1").strip().lower()
        if encoding not in ("gzip", "x-gzip", "deflate"):
            return None
        if len(response.body) * 1032 <= limit:
            return None  # deflate expands at most 1032:1: this body cannot exceed the limit
        # Decompress in bounded steps: a gzip bomb is detected without ever holding it whole.
        wbits = 16 + zlib.MAX_WBITS if "gzip" in encoding else zlib.MAX_WBITS
        inflater = zlib.decompressobj(wbits)
        total, data = 0, response.body
        try:
            while data:
                chunk = inflater.decompress(data, 1 << 20)
                total += len(chunk)
                if total > limit:
                    return f"decompressed body > {limit} B ({len(response.body)} B compressed)"
                data = inflater.unconsumed_tail
        except zlib.error:
            return None  # corrupt encoding: archived as received, extraction will report it
        return None

    def _optout_headers(self, response: Response) -> dict:
        out = {}
        for name in OPTOUT_HEADERS:
            values = response.headers.getlist(name)
            if values:
                out[header_column(name)] = ", ".join(v.decode("latin-1") for v in values)
        return out

    def _capture(self, request: Request, response: Response, fields: dict) -> Capture:
        parts = urlsplit(request.url)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        headers = [("Host", parts.netloc)] + request.meta.get("ernte_request_headers", [])
        policy = request.meta.get("ernte_policy", {})
        metadata = {
            "depth": str(fields["depth"]),
            "via": fields["referrer"] or "",
            "robots": request.meta.get("ernte_host_file", "robots.txt") + " request" if request.meta.get("ernte_robots") else policy.get("robots_rule", ""),
            "crawlDelay": "" if policy.get("crawl_delay") is None else str(policy["crawl_delay"]),
            "aiOptOutAgents": ",".join(policy.get("ai_optout_agents", [])),
            "attempt": str(request.meta.get("ernte_attempt", 0) + 1),
        }
        raw_headers = []
        for key, values in response.headers.items():
            for value in values:
                raw_headers.append((key, value))
        return Capture(
            url=request.url,
            method=request.method,
            request_target=target,
            request_headers=headers,
            protocol=response.protocol or "HTTP/1.1",
            status=response.status,
            reason=_reason_phrase(response.status),
            response_headers=raw_headers,
            body=response.body,
            started_at=request.meta.get("ernte_started_at", time.time()),
            finished_at=time.time(),
            ip_address=str(response.ip_address) if response.ip_address else None,
            metadata=metadata,
            # Stopped after the headers (unwanted type on a non-2xx answer): only part of the body.
            truncated="unspecified" if "download_stopped" in response.flags else None,
        )


def _decoded_body(response: Response, limit: int) -> bytes | None:
    """The first `limit` bytes of the body with gzip/deflate content-encoding undone; None for an
    encoding this does not handle. Corrupt data gives what could be inflated."""
    encoding = response.headers.get(b"Content-Encoding", b"").decode("latin-1").strip().lower()
    if encoding in ("", "identity"):
        return response.body[:limit]
    if encoding not in ("gzip", "x-gzip", "deflate"):
        return None
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS if "gzip" in encoding else zlib.MAX_WBITS)
    try:
        return inflater.decompress(response.body, limit)
    except zlib.error:
        return b""


def _reason_phrase(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


class CrawlDelayAutoThrottle(AutoThrottle):
    """AutoThrottle that may slow a host down but never below its Crawl-delay / minimum delay."""

    def _adjust_delay(self, slot, latency, response) -> None:
        super()._adjust_delay(slot, latency, response)
        settings = self.crawler.engine.downloader.per_slot_settings.get(url_host(response.url), {})
        floor = settings.get("delay")
        if floor is not None and slot.delay < floor:
            slot.delay = floor
