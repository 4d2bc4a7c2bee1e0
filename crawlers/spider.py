"""The spider: follows links breadth-first and decides, per discovered URL, whether to queue it.

Fetching policy lives in the middlewares; the spider only handles discovery: de-duplication,
scope, depth and the global page budget, each recorded as a fetch-log row.
"""

from __future__ import annotations

from scrapy import Request, Spider
from scrapy.exceptions import IgnoreRequest
from scrapy.http import TextResponse
from scrapy.linkextractors import LinkExtractor
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.internet.defer import CancelledError

from crawlers.crawl_session import CrawlSession
from crawlers.middlewares import AlreadyDecided
from crawlers.url_policy import canonical_url, scope_violation
from pipeline.schema import FetchDecision

try:
    from scrapy.exceptions import DownloadCancelledError
except ImportError:  # older Scrapy: the Twisted CancelledError reaches the errback
    DownloadCancelledError = CancelledError


class ErnteSpider(Spider):
    name = "ernte"
    custom_settings: dict = {}

    def __init__(self, *args, ernte_session: CrawlSession, **kwargs):
        super().__init__(*args, **kwargs)
        self.ernte_session = ernte_session
        # deny_extensions=(): no link is dropped silently for its extension (.pdf, .png, ...);
        # the response's Content-Type decides, and the fetch log records it.
        self.link_extractor = LinkExtractor(unique=True, canonicalize=False, tags=("a", "area", "link"), attrs=("href",), deny_extensions=())

    @property
    def session(self) -> CrawlSession:
        return self.ernte_session

    async def start(self):
        session = self.session
        for seed in session.seeds:
            request = self._consider(seed, depth=0, referrer=None)
            if request is not None:
                yield request
        for queued in session.previous.frontier():
            yield self._request(queued.url, queued.depth, queued.referrer)
        session.fetch_log.flush_queue()

    def _request(self, url: str, depth: int, referrer: str | None) -> Request:
        headers = {"Referer": referrer} if referrer else None
        return Request(url, callback=self.parse, errback=self.on_error, headers=headers, meta={"ernte_depth": depth, "ernte_referrer": referrer})

    def _consider(self, url: str, depth: int, referrer: str | None) -> Request | None:
        """Decide about a discovered URL: queue it (journal entry) or record why not."""
        session = self.session
        config = session.config
        if url in session.seen_raw:
            return None  # the same link again: nothing new to decide
        session.seen_raw.add(url)
        canonical = canonical_url(url)
        if canonical in session.seen_canonical:
            session.decide(url, FetchDecision.DUPLICATE_URL, depth=depth, referrer=referrer, reason="canonical form " + canonical)
            return None
        session.seen_canonical.add(canonical)
        problem = scope_violation(url, session.seed_hosts, config.scope, config.max_url_length)
        if problem:
            session.decide(url, FetchDecision.OUT_OF_SCOPE, depth=depth, referrer=referrer, reason=problem)
            return None
        if depth > config.max_depth:
            session.decide(url, FetchDecision.BUDGET_EXHAUSTED, depth=depth, referrer=referrer, reason=f"depth {depth} > max_depth {config.max_depth}")
            return None
        if session.pages_attempted >= config.max_pages:
            session.decide(url, FetchDecision.BUDGET_EXHAUSTED, depth=depth, referrer=referrer, reason=f"max_pages {config.max_pages} reached")
            return None
        session.fetch_log.queued(url, depth, referrer)
        return self._request(url, depth, referrer)

    def parse(self, response):
        if not isinstance(response, TextResponse):
            return
        depth = response.meta.get("ernte_depth", 0) + 1
        # Every link is decided and journaled (and the journal flushed) before Scrapy sees the
        # first request: as a lazy generator, the page's fetch row could reach the journal long
        # before its links did, and a kill -9 in between lost them for --resume.
        requests = []
        for link in self.link_extractor.extract_links(response):
            url = link.url.split("#", 1)[0]
            request = self._consider(url, depth, response.url)
            if request is not None:
                requests.append(request)
        self.session.fetch_log.flush_queue()
        return requests

    def on_error(self, failure):
        request = failure.request
        if failure.check(AlreadyDecided, HttpError):
            return  # row already written by the middleware that decided
        message = str(failure.value) or type(failure.value).__name__
        depth, referrer = request.meta.get("ernte_depth", 0), request.meta.get("ernte_referrer")
        if "max size" in message or "DOWNLOAD_MAXSIZE" in message:
            decision = FetchDecision.TOO_LARGE
        elif failure.check(DownloadCancelledError, CancelledError):
            # Scrapy cancels a download whose received bytes pass DOWNLOAD_MAXSIZE (no message when
            # no Content-Length announced the size); timeouts arrive as their own exception.
            decision = FetchDecision.TOO_LARGE
            message = f"body > {self.session.config.max_response_bytes} B (download cancelled at the size limit)"
        elif failure.check(IgnoreRequest):
            decision = FetchDecision.ERROR
        else:
            decision = FetchDecision.ERROR
            message = f"{type(failure.value).__name__}: {message}"
        self.session.decide(request.url, decision, depth=depth, referrer=referrer, reason=message[:500], **request.meta.get("ernte_policy", {}))
