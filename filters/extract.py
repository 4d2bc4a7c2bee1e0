"""Main-text extraction with trafilatura, FineWeb's settings by default, as one pure-ish function.

:func:`extract` takes a decoded HTML page and returns an :class:`Extraction`: the main text and
a few cheap metadata fields, or the reason nothing was extracted. It never raises.

The trafilatura call
--------------------
FineWeb (``examples/fineweb.py`` in huggingface/datatrove at 5c254fa5bfa3) runs
``Trafilatura(favour_precision=True)``; datatrove's extractor
(``src/datatrove/pipeline/extractors/trafilatura.py`` at 4f7d08e5f612, ``extract()``) calls::

    trafilatura.extract(text, favor_precision=True, include_comments=False, deduplicate=True)

(``deduplicate=True`` is that class's default; no URL, tables and everything else at
trafilatura's defaults, so ``include_tables=True``, full fallback cascade, ``output_format="txt"``).
We make the same call; :data:`ExtractConfig` defaults reproduce it. The differences are in what
goes around it, none of which changes the text:

* We parse the page once with trafilatura's own ``load_html`` (the parser and repairs it would
  apply to the string), read title, canonical URL and ``lang`` from that tree with cheap
  lookups, and pass the tree: trafilatura copies it instead of parsing the string again.
  Measured on 110 real web pages (trafilatura's test pages, 117 K characters on average):
  ``extract(tree)`` 19.6 ms/doc against ``extract(string)`` 19.5 ms, i.e. the copy costs what
  the parse would; our parse and lookups take 2.0 ms, which passing the string would add.
  The text is identical either way (all 231 demo-site pages and the 110 test pages).
* Deduplication state is ours, not trafilatura's module-level LRU: see below.
* The time limit is enforced in-process with ``SIGALRM``, not with datatrove's worker
  subprocess. The pipe round trip of that subprocess costs little (measured: same docs/s as
  in-process), but every timeout kills it and starts a fresh one, warm-up included.

``with_metadata=True`` is not used: trafilatura's metadata pass (title heuristics, author,
sitename, categories, htmldate in extensive mode) costs more than the fields we need.

Deduplication makes extraction stateful
---------------------------------------
With ``deduplicate=True`` trafilatura remembers every text segment it has seen (an LRU cache of
4096 entries) and drops a segment, or the whole document, from its 4th occurrence on, so site
boilerplate that slipped past the extractor disappears after a few pages. The output of one
document therefore depends on the documents extracted before it *in the same process*, as in
FineWeb. (In trafilatura 2.3.1 the balanced mode, ``favor_precision=False``, counts segments
once per internal pass, so with deduplication it can drop a page the first time it sees it.)
We keep that cache in this module (``_DEDUP_CACHE``, trafilatura's own class and size)
instead of trafilatura's global one, so :func:`reset_dedup_state` can start it afresh: call it
when a worker starts a new input file, and the result for a file no longer depends on which
files the worker process handled before (reruns and resumed runs give the same output).
With ``deduplicate=False`` :func:`extract` is a pure function of its arguments.

Short pages
-----------
FineWeb's call alone scores F1 0.913 on trafilatura's own evaluation set (BENCHMARKS.md), below
the 0.92 we hold ourselves to: of the snippets it misses, 8 are lost to ``favor_precision``, which
skips trafilatura's fallback extractors and link-heavy paragraphs on short pages. So when the
precision text is shorter than ``short_text_fallback_chars`` (1000), the page is extracted again in
balanced mode (without segment deduplication, so the second pass leaves the cache as it was) and
the longer text is kept: F1 0.923 on that set, at no measurable cost on the demo site (20 of 231
pages are retried). Longer pages get FineWeb's text unchanged; ``short_text_fallback_chars: 0``
gives FineWeb's text everywhere.

Time limit
----------
trafilatura can spend seconds on pathological markup. ``timeout_s`` is enforced with
``signal.setitimer(ITIMER_REAL)`` and a ``SIGALRM`` handler that raises a private exception,
only when :func:`extract` runs in the main thread (curation runs one worker process per WARC
file and extracts in its main thread). The previous handler and any running timer are restored
afterwards. The exception derives from ``BaseException`` so that trafilatura's own
``except Exception`` fallbacks cannot swallow it. Python runs signal handlers between bytecodes,
so one long C call (an lxml parse or XPath query) finishes before the limit takes effect; with
``max_input_chars`` bounding the input, such calls take tens of milliseconds at most. In any
other thread (Dask and Prefect run tasks in worker threads) one watchdog thread per process raises
the same exception in the working thread with ``PyThreadState_SetAsyncExc`` once its deadline has
passed; it looks every 0.1 s, so there the limit holds to within 0.1 s.

Date
----
The publication date comes from htmldate in fast mode (``extensive_search=False``,
``original_date=True``), only for pages with text. Measured per document: 1.3 ms on 110 real web
pages (it found a date on 94), 2.0 ms on the demo site's DocBook pages, against 20–27 ms for the
extraction itself (throughput 5–8 % lower with it). Extensive mode costs 3.9 ms and 22 ms: not
worth it. ``extract_date=False`` switches it off. htmldate rejects dates after "today", so the same page
can yield a date later that it did not yield before.
"""

from __future__ import annotations

import ctypes
import os
import re
import signal
import threading
import time
from dataclasses import dataclass, field
from importlib.metadata import version as _package_version
from urllib.parse import urljoin, urlsplit

import trafilatura
from htmldate import find_date
from lxml.html import HtmlElement
from trafilatura.deduplication import LRUCache
from trafilatura.settings import LRU_SIZE
from trafilatura.utils import load_html


@dataclass(frozen=True)
class ExtractConfig:
    """How pages are extracted; the defaults are FineWeb's (see the module docstring)."""

    favor_precision: bool = True  # datatrove Trafilatura(favour_precision=True) in examples/fineweb.py
    include_comments: bool = False  # datatrove passes include_comments=False
    include_tables: bool = True  # not passed by datatrove: trafilatura's default
    deduplicate: bool = True  # datatrove Trafilatura(deduplicate=True) default; makes extraction stateful
    fast: bool = False  # True skips trafilatura's readability/justext fallbacks: ~1.5x faster, not FineWeb's output
    extract_date: bool = True  # htmldate fast mode: 5-8 % of the extraction time
    max_input_chars: int = 2_000_000  # larger inputs are not parsed: reason 'input_too_large'
    timeout_s: float = 5.0  # per document, main thread only; <= 0 disables it
    # Precision mode skips trafilatura's fallbacks on short pages and drops link-only paragraphs:
    # when its text is shorter than this, balanced mode is tried too and the longer text kept.
    # 0 gives FineWeb's exact text. See "Short pages" in the module docstring.
    short_text_fallback_chars: int = 1000


@dataclass(frozen=True)
class Extraction:
    text: str | None  # None when nothing was extracted
    title: str | None  # <title> (else og:title), whitespace collapsed
    date: str | None  # publication date as htmldate finds it, YYYY-MM-DD
    canonical_url: str | None  # <link rel=canonical href> resolved against <base href> and the page URL
    html_lang: str | None  # primary subtag of <html lang> (or xml:lang), lower case: 'de' from 'de-DE'
    error: str | None  # None, 'input_too_large', 'extract_timeout', 'no_text', 'empty_input', 'extract_error: <ExcType>'
    # The parsed page, for a later `publication_date` (extract_date=False defers the date).
    tree: HtmlElement | None = field(default=None, repr=False, compare=False)


# trafilatura's own cache class and size (settings.LRU_SIZE), owned here so it can be reset.
_DEDUP_CACHE = LRUCache(maxsize=LRU_SIZE)


def reset_dedup_state() -> None:
    """Forget the text segments seen so far (call when a worker starts a new input file)."""
    _DEDUP_CACHE.clear()


def extract(html: str, url: str | None = None, config: ExtractConfig = ExtractConfig()) -> Extraction:
    """Main text and metadata of one decoded HTML page. No I/O; never raises.

    Enforces ``config.max_input_chars`` before anything else and ``config.timeout_s`` (main
    thread only). Stateful when ``config.deduplicate`` is on (see the module docstring).
    """
    try:
        if not html:
            return _failure("empty_input")
        if len(html) > config.max_input_chars:
            return _failure("input_too_large")
        if html.isspace():
            return _failure("empty_input")
        return _with_time_limit(config.timeout_s, lambda: _extract(html, url, config))
    except _ExtractTimeout:
        return _failure("extract_timeout")
    except Exception as err:  # a bug or an lxml/trafilatura corner case must not stop a worker
        return _failure(f"extract_error: {type(err).__name__}")


def extractor_version(config: ExtractConfig = ExtractConfig()) -> str:
    """What produced the text, for provenance: package versions and the settings that matter."""
    flags = [
        "favor_precision" if config.favor_precision else "balanced",
        "comments" if config.include_comments else "no comments",
        "tables" if config.include_tables else "no tables",
        "deduplicate" if config.deduplicate else "no deduplicate",
        "fast" if config.fast else "full cascade",
    ]
    if config.favor_precision and config.short_text_fallback_chars:
        flags.append(f"balanced retry under {config.short_text_fallback_chars} chars")
    parts = [f"trafilatura {trafilatura.__version__} ({', '.join(flags)})", f"lxml {_package_version('lxml')}"]
    if config.extract_date:
        parts.append(f"htmldate {_package_version('htmldate')} (fast)")
    return "; ".join(parts)


def _failure(reason: str) -> Extraction:
    return Extraction(text=None, title=None, date=None, canonical_url=None, html_lang=None, error=reason)


def _extract(html: str, url: str | None, config: ExtractConfig) -> Extraction:
    # trafilatura's own loader: same parser, encoding-declaration fallback and repairs as
    # trafilatura.extract(html) would apply, so passing the tree gives the same text.
    tree = load_html(html)
    if tree is None:  # not HTML at all (trafilatura's "dubious HTML" check)
        return _failure("no_text")
    root = tree.getroottree().getroot()  # load_html may return a body child for fragments
    title, canonical_url, html_lang = _title(root), _canonical_url(root, url), _html_lang(root)

    # datatrove's call, and no url= like datatrove (with txt output it only feeds link and image
    # resolution: same text with and without it on the 341 pages we tried).
    text = trafilatura.extract(
        tree,
        favor_precision=config.favor_precision,
        include_comments=config.include_comments,
        include_tables=config.include_tables,
        deduplicate=_DEDUP_CACHE if config.deduplicate else False,
        fast=config.fast,
    )
    if config.short_text_fallback_chars and config.favor_precision and len(text or "") < config.short_text_fallback_chars:
        retry = trafilatura.extract(tree, favor_precision=False, include_comments=config.include_comments, include_tables=config.include_tables, deduplicate=False, fast=config.fast)
        if retry and len(retry) > len(text or ""):
            text = retry
    if not text:
        return Extraction(None, title, None, canonical_url, html_lang, "no_text", tree=root)  # its meta tags still count
    date = publication_date(root, url) if config.extract_date else None
    return Extraction(text, title, date, canonical_url, html_lang, None, tree=root)


def _collapse(value: str | None) -> str | None:
    value = " ".join(value.split()) if value else ""
    return value or None


def _title(root: HtmlElement) -> str | None:
    element = root.find(".//title")
    title = _collapse(element.text_content()) if element is not None else None
    if title is None:
        for meta in root.iter("meta"):
            if meta.get("property", "").strip().lower() == "og:title":
                return _collapse(meta.get("content"))
    return title


def _canonical_url(root: HtmlElement, url: str | None) -> str | None:
    href = None
    for link in root.iter("link"):
        if "canonical" in link.get("rel", "").lower().split() and link.get("href", "").strip():
            href = link.get("href").strip()
            break
    if href is None:
        return None
    try:
        base = url or ""
        for element in root.iter("base"):  # HTML: the first <base href> sets the document base URL
            if element.get("href", "").strip():
                base = urljoin(base, element.get("href").strip())
                break
        resolved = urljoin(base, href)
        parts = urlsplit(resolved)
    except ValueError:  # e.g. an unbalanced '[' in a host
        return None
    # Relative without a page URL, or not a web address (javascript:, mailto:): unusable.
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    return resolved


_PRIMARY_SUBTAG = re.compile(r"\s*([A-Za-z]{2,3})(?:[-_]|\s*$)")


def _html_lang(root: HtmlElement) -> str | None:
    if root.tag != "html":
        return None
    value = root.get("lang") or root.get("xml:lang") or root.get("{http://www.w3.org/XML/1998/namespace}lang")
    match = _PRIMARY_SUBTAG.match(value or "")
    return match.group(1).lower() if match else None


def publication_date(root: HtmlElement | None, url: str | None) -> str | None:
    """htmldate's publication date (fast mode) of a parsed page, e.g. ``Extraction.tree``.
    Curation asks only for pages that pass the language rules: 5-8 % of extraction time saved on
    the others."""
    if root is None:
        return None
    # htmldate copies a tree it is given, so the shared tree is not modified.
    try:
        return find_date(root, extensive_search=False, original_date=True, outputformat="%Y-%m-%d", url=url)
    except Exception:  # a date is nice to have: an htmldate corner case must not cost the text
        return None


class _ExtractTimeout(BaseException):
    """Raised by the SIGALRM handler; a BaseException so `except Exception` cannot swallow it."""


def _on_alarm(signum, frame):
    raise _ExtractTimeout


def _with_time_limit(seconds: float, work):
    """work() under a time limit: SIGALRM in the main thread (where setitimer exists), an
    asynchronous exception sent by a timer thread in any other thread (Dask and Prefect run
    tasks in worker threads)."""
    if seconds <= 0:
        return work()
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "setitimer"):
        return _with_thread_time_limit(seconds, work)
    # Pause any running timer first, so it cannot fire into our handler before ours is armed.
    previous_delay, previous_interval = signal.setitimer(signal.ITIMER_REAL, 0)
    started = time.monotonic()
    try:
        previous_handler = signal.signal(signal.SIGALRM, _on_alarm)
    except ValueError:  # main thread of a sub-interpreter: no signals, no time limit
        if previous_delay > 0:
            signal.setitimer(signal.ITIMER_REAL, previous_delay, previous_interval)
        return work()
    try:
        try:
            signal.setitimer(signal.ITIMER_REAL, seconds)
            return work()
        finally:
            # If the alarm fires just before this line it raises here instead, but the timer
            # is one-shot and already expired, so there is nothing left to disarm.
            signal.setitimer(signal.ITIMER_REAL, 0)
    finally:
        signal.signal(signal.SIGALRM, previous_handler if previous_handler is not None else signal.SIG_DFL)
        if previous_delay > 0:  # someone else's timer was running: give it back what is left of it
            remaining = previous_delay - (time.monotonic() - started)
            signal.setitimer(signal.ITIMER_REAL, max(remaining, 1e-6), previous_interval)


def _with_thread_time_limit(seconds: float, work):
    """work() in this thread, interrupted after `seconds` by _ExtractTimeout raised in it with
    CPython's PyThreadState_SetAsyncExc. Like SIGALRM, it takes effect between bytecodes."""
    entry = _WATCHDOG.arm(seconds)
    try:
        return work()
    finally:
        if _WATCHDOG.disarm(entry):
            # Still pending if work() returned just as the limit passed: withdraw it, so it cannot
            # go off later in the caller's code.
            ctypes.pythonapi.PyThreadState_SetAsyncExc(entry.thread, None)


@dataclass
class _Deadline:
    thread: ctypes.c_ulong
    at: float  # time.monotonic()
    done: bool = False
    fired: bool = False


class _Watchdog:
    """One thread per process that raises _ExtractTimeout in threads whose deadline has passed.

    A timer thread per document (threading.Timer) costs a thread start and stop and the GIL
    hand-overs they need: 2-3 % of extraction in a worker thread. The watchdog instead looks every
    POLL_S seconds at the deadlines armed (so a limit holds to within POLL_S) and sleeps when none is.
    """

    POLL_S = 0.1

    def __init__(self):
        self._reset()
        if hasattr(os, "register_at_fork"):
            # A forked child has no watchdog thread, and the lock may have been held when it forked.
            os.register_at_fork(after_in_child=self._reset)

    def _reset(self) -> None:
        self._lock = threading.Lock()
        self._armed: dict[int, _Deadline] = {}  # by id(entry)
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def arm(self, seconds: float) -> _Deadline:
        entry = _Deadline(ctypes.c_ulong(threading.get_ident()), time.monotonic() + seconds)
        with self._lock:
            self._armed[id(entry)] = entry
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="extract-time-limit", daemon=True)
                self._thread.start()
            elif not self._wake.is_set():
                self._wake.set()
        return entry

    def disarm(self, entry: _Deadline) -> bool:
        """Whether the limit fired (its exception may still be pending)."""
        with self._lock:
            entry.done = True
            self._armed.pop(id(entry), None)
            return entry.fired

    def _run(self) -> None:
        while True:
            with self._lock:
                now = time.monotonic()
                for key, entry in list(self._armed.items()):
                    if not entry.done and now >= entry.at:
                        entry.fired = True
                        del self._armed[key]
                        ctypes.pythonapi.PyThreadState_SetAsyncExc(entry.thread, ctypes.py_object(_ExtractTimeout))
                idle = not self._armed
                if idle:
                    self._wake.clear()
            if idle:
                self._wake.wait()  # until a deadline is armed
            else:
                time.sleep(self.POLL_S)


_WATCHDOG = _Watchdog()
