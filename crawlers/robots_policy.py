"""robots.txt parsing and matching with the semantics of Google's reference parser.

RFC 9309 leaves room for interpretation; Google's open-source parser (github.com/google/robotstxt,
robots.cc) is the de-facto reference, so this module reproduces its behaviour decision for decision
(tests/data/google_robotstxt_cases.json holds every allow/deny check of its test suite). Parsing works
on bytes, as robots.cc does, so that line splitting, the line-length cap, BOM skipping and
percent-escaping of patterns see exactly the octets Google sees. No I/O and no Scrapy here: the
crawler fetches robots.txt and hands the body to RobotsTxt.parse().

Ernte-only extras (ignored by Google, so they never change allow/deny): Crawl-delay per group and the
IETF aipref Content-Usage lines.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Iterable

MAX_ROBOTS_BYTES = 500 * 1024  # RFC 9309 section 2.5: parse at least 500 KiB; we stop there.

# robots.cc ignores the characters of a line past kMaxLineLen - 1 (the buffer keeps a final NUL).
_MAX_LINE_BYTES = 2083 * 8 - 1
_UTF8_BOM = b"\xef\xbb\xbf"
_ASCII_WS = b" \t\n\v\f\r"  # absl::StripAsciiWhitespace and C isspace() in the "C" locale
_LINE_BREAK = re.compile(rb"\r\n|\r|\n")  # \n, \r and \r\n all end a line (and \r\n counts once)
_ESCAPE = re.compile(rb"%[0-9A-Fa-f]{2}|[\x80-\xff]")
_PRODUCT_TOKEN = re.compile(r"[A-Za-z_-]*")
_CRAWL_DELAY = re.compile(r"(?:\d+(?:\.\d*)?|\.\d+)\Z")

# Key prefixes, matched case-insensitively with startswith() as robots.cc does, so "Disallowed:" or
# "User-agents:" count too. The typo list is kAllowFrequentTypos in robots.cc; order matters
# (user-agent is tested first, then allow, then disallow, then sitemap).
_USER_AGENT_KEYS = (b"user-agent", b"useragent", b"user agent")
_ALLOW_KEYS = (b"allow",)
_DISALLOW_KEYS = (b"disallow", b"dissallow", b"dissalow", b"disalow", b"diasllow", b"disallaw")
_SITEMAP_KEYS = (b"sitemap", b"site-map")


def product_token(user_agent: str) -> str:
    """The product token robots.txt groups are matched against: the leading run of [A-Za-z_-]
    characters of a full UA string, e.g. 'ErnteBot/0.1 (+https://x)' -> 'ErnteBot' (as Google's
    ExtractUserAgent)."""
    return _PRODUCT_TOKEN.match(user_agent).group(0)


def _agent_key(user_agent: str) -> str | None:
    """What decide() compares against the tokens in robots.txt (ASCII case-folded).

    Google compares the caller's string verbatim, which is exactly the product token when the caller
    passes one. A full HTTP User-Agent ('ErnteBot/0.1 (+https://x)': token, '/', version) is reduced
    to its token. Anything else ('Foo Bar', ' Foo') is kept verbatim like Google does, so it matches no
    named group (Google's GoogleOnly_AcceptUserAgentUpToFirstSpace test) and only '*' applies.
    None means: cannot equal any robots.txt token (they are ASCII letters, '-' and '_' only)."""
    token = product_token(user_agent)
    rest = user_agent[len(token):]
    agent = token if rest == "" or rest.startswith("/") else user_agent
    return agent.lower() if agent.isascii() else None


def get_path_params_query(url: str) -> str:
    """Path, params and query of a URL, no fragment, always starting with '/'.

    A line-by-line port of robots.cc GetPathParamsQuery: the URL is not parsed strictly ('a/b' gives
    '/b', '' gives '/'), and it is not re-escaped (callers pass URLs in escaped form)."""
    npos = len(url) + 1  # stands in for std::string::npos; larger than any index

    def first_of(chars: str, start: int) -> int:
        hits = [i for i in (url.find(c, start) for c in chars) if i >= 0]
        return min(hits) if hits else npos

    search_start = 2 if url.startswith("//") else 0  # initial two slashes are ignored
    early_path = first_of("/?;", search_start)
    protocol_end = url.find("://", search_start)
    if protocol_end < 0 or early_path < protocol_end:
        protocol_end = search_start  # no scheme, or '://' inside path/query does not mark one
    else:
        protocol_end += 3
    path_start = first_of("/?;", protocol_end)
    if path_start == npos:
        return "/"
    hash_pos = url.find("#", search_start)
    if 0 <= hash_pos < path_start:
        return "/"
    path = url[path_start : hash_pos if hash_pos >= 0 else len(url)]
    return path if path.startswith("/") else "/" + path


def escape_pattern(value: bytes) -> str:
    """robots.cc MaybeEscapePattern: upper-case %xx escapes and %-encode octets >= 0x80.
    ('/SanJoséSellers' -> '/SanJos%C3%A9Sellers', '%aa' -> '%AA'.) The URL path is deliberately
    not normalised: Google expects it already escaped, and its tests check exactly that."""

    def fix(m: re.Match[bytes]) -> bytes:
        s = m.group(0)
        return s.upper() if len(s) == 3 else b"%%%02X" % s[0]

    return _ESCAPE.sub(fix, value).decode("ascii")


def pattern_matches(path: str, pattern: str) -> bool:
    """robots.cc Matches(): prefix match where '*' is any run of characters and a final '$' anchors
    the end ('$' elsewhere is literal). Greedy leftmost placement of the '*'-separated literals is
    exact for this pattern language and linear-ish, so hostile patterns cannot blow up."""
    anchored = pattern.endswith("$")
    parts = (pattern[:-1] if anchored else pattern).split("*")
    if not path.startswith(parts[0]):
        return False
    if len(parts) == 1:
        return len(path) == len(parts[0]) if anchored else True
    pos = len(parts[0])
    for literal in parts[1:-1]:
        pos = path.find(literal, pos)
        if pos < 0:
            return False
        pos += len(literal)
    last = parts[-1]
    if anchored:
        return len(path) - len(last) >= pos and path.endswith(last)
    return path.find(last, pos) >= 0


@dataclass(frozen=True)
class RobotsRule:
    kind: str  # 'allow' or 'disallow'
    pattern: str  # the path pattern as written in the file
    line: int  # 1-based line number in robots.txt (0: synthetic, see RobotsTxt.disallow_all)


@dataclass(frozen=True)
class RobotsDecision:
    allowed: bool
    rule: RobotsRule | None  # the rule that decided; None when no rule matched (allowed by default)
    group: str  # product token as written in the file, '*', or '' when no group applied

    def describe(self) -> str:
        if self.rule is None:
            return "no matching rule" + (f" (group {self.group})" if self.group else "")
        where = f"line {self.rule.line}" if self.rule.line else "implied"
        return f"{self.rule.kind}: {self.rule.pattern} ({where}, group {self.group})"


@dataclass(frozen=True)
class _Rule:
    rule: RobotsRule
    escaped: str  # the pattern as matched (after escape_pattern); its length is the priority
    # Google-specific: an Allow for '.../index.htm*' that does not match is retried as '.../$', so
    # allowing /dir/index.html also allows /dir/ (robots.cc HandleAllow).
    index_fallback: str | None


@dataclass(frozen=True)
class ContentUsageRule:
    """One IETF aipref 'Content-Usage: [path] usage-prefs' line of robots.txt."""

    scope: str  # the path pattern as written; '/' when the line names none
    value: str  # the usage preferences, raw ('train-ai=n, search=y')
    line: int
    escaped: str  # the scope as matched (escape_pattern)


@dataclass
class _Group:
    agents: list[str] = field(default_factory=list)  # tokens as written ('' possible), '*' for global
    rules: list[_Rule] = field(default_factory=list)
    crawl_delays: list[float] = field(default_factory=list)
    content_usage: list[ContentUsageRule] = field(default_factory=list)
    closed: bool = False  # an allow/disallow was seen; the next user-agent line starts a new group


def _split_key_value(line: bytes) -> tuple[bytes, bytes] | None:
    """robots.cc GetKeyAndValueFrom: strip '#' comments and whitespace, split at ':'; without a colon
    accept whitespace as separator if the line is exactly two words ('Disallow /x')."""
    line = line.split(b"#", 1)[0].strip(_ASCII_WS)
    sep = line.find(b":")
    if sep < 0:
        m = re.search(rb"[ \t]", line)
        if m is None:
            return None
        sep = m.start()
        if re.search(rb"[ \t]", line[sep:].lstrip(b" \t")):
            return None  # more than two words: not a key/value line
    key = line[:sep].strip(_ASCII_WS)
    if not key:
        return None
    return key, line[sep + 1 :].strip(_ASCII_WS)


def _iter_lines(data: bytes) -> Iterable[tuple[int, bytes]]:
    # Skip a (possibly partial) UTF-8 BOM prefix exactly as robots.cc does: leading bytes are dropped
    # while they match EF, BB, BF in order, so b'\xef\xbbUser-agent' still parses.
    skip = 0
    while skip < 3 and skip < len(data) and data[skip] == _UTF8_BOM[skip]:
        skip += 1
    for number, line in enumerate(_LINE_BREAK.split(data[skip:]), start=1):
        # The C parser handles each line as a NUL-terminated string and drops bytes past its buffer.
        yield number, line.split(b"\0", 1)[0][:_MAX_LINE_BYTES]


class RobotsTxt:
    def __init__(self, groups: list[_Group], sitemaps: list[str], content_usage: list[ContentUsageRule]):
        self._groups = groups
        self._sitemaps = sitemaps
        self._content_usage = content_usage
        self._by_agent: dict[str | None, tuple[str, list[_Group]]] = {}

    @classmethod
    def parse(cls, content: bytes | str) -> "RobotsTxt":
        """Parse a robots.txt body; never raises. Content beyond MAX_ROBOTS_BYTES is ignored."""
        data = content.encode("utf-8", "surrogatepass") if isinstance(content, str) else bytes(content)
        data = data[:MAX_ROBOTS_BYTES]
        groups: list[_Group] = []
        sitemaps: list[str] = []
        content_usage: list[ContentUsageRule] = []  # lines before any user-agent line: every agent
        current: _Group | None = None
        for number, line in _iter_lines(data):
            kv = _split_key_value(line)
            if kv is None:
                continue  # blank, comment-only or unparseable: does not end a group
            key, value = kv[0].lower(), kv[1]
            text = value.decode("utf-8", "replace")
            if key.startswith(_USER_AGENT_KEYS):
                # Consecutive user-agent lines share a group; lines other than allow/disallow
                # (sitemap, unknown, crawl-delay) do not close it (robots_test.cc
                # ID_LineSyntax_Groups_OtherRules).
                if current is None or current.closed:
                    current = _Group()
                    groups.append(current)
                # Google-specific: '*' followed by whitespace and more text is still the global agent.
                if value[:1] == b"*" and (len(value) == 1 or value[1] in _ASCII_WS):
                    current.agents.append("*")
                else:  # 'Googlebot/2.1' or 'Foo Bar' name the token 'Googlebot' / 'Foo'
                    current.agents.append(product_token(value.decode("ascii", "replace")))
            elif key.startswith(_ALLOW_KEYS) or key.startswith(_DISALLOW_KEYS):
                if current is None:
                    continue  # rules before any user-agent line belong to no group
                kind = "allow" if key.startswith(_ALLOW_KEYS) else "disallow"
                escaped = escape_pattern(value)
                fallback = None
                slash = escaped.rfind("/")
                if kind == "allow" and slash >= 0 and escaped.startswith("/index.htm", slash):
                    fallback = escaped[: slash + 1] + "$"
                current.rules.append(_Rule(RobotsRule(kind, text, number), escaped, fallback))
                current.closed = True
            elif key.startswith(_SITEMAP_KEYS):
                if text:
                    sitemaps.append(text)
            elif key == b"crawl-delay":
                if current is not None and _CRAWL_DELAY.match(text):
                    current.crawl_delays.append(float(text))
            elif key == b"content-usage" and text:
                # aipref (draft-ietf-aipref-attach): 'Content-Usage: [path] usage-prefs', a rule of
                # the group it stands in; no path means the whole site. Like crawl-delay it does not
                # close the group, so it never changes allow/disallow.
                scope, prefs = "/", text
                if text.startswith("/"):
                    scope, *rest = text.split(None, 1)
                    prefs = rest[0] if rest else ""
                rule = ContentUsageRule(scope, prefs, number, escape_pattern(scope.encode("utf-8", "surrogatepass")))
                (current.content_usage if current is not None else content_usage).append(rule)
        return cls(groups, sitemaps, content_usage)

    @classmethod
    def allow_all(cls) -> "RobotsTxt":
        """For a 4xx robots.txt (RFC 9309 2.3.1.3): crawl as if there were no robots.txt."""
        return cls([], [], [])

    @classmethod
    def disallow_all(cls) -> "RobotsTxt":
        """For a 5xx or unreachable robots.txt (RFC 9309 2.3.1.4): assume complete disallow."""
        rule = RobotsRule("disallow", "/", 0)
        return cls([_Group(agents=["*"], rules=[_Rule(rule, "/", None)], closed=True)], [], [])

    def _applicable(self, user_agent: str) -> tuple[str, list[_Group]]:
        """The groups that apply to this agent and the name to report: every group naming the
        agent's token (merged), else every '*' group, else none. Mirrors Google, where a group
        listing both the agent and '*' counts as the agent's."""
        key = _agent_key(user_agent)
        if key not in self._by_agent:
            named = [g for g in self._groups if key is not None and any(a.lower() == key for a in g.agents if a != "*")]
            if named:
                label = next(a for g in named for a in g.agents if a != "*" and a.lower() == key)
                self._by_agent[key] = (label, named)
            else:
                star = [g for g in self._groups if "*" in g.agents]
                self._by_agent[key] = ("*" if star else "", star)
        return self._by_agent[key]

    def decide(self, url: str, user_agent: str) -> RobotsDecision:
        label, groups = self._applicable(user_agent)
        path = get_path_params_query(url)
        # Longest match wins: priority is the escaped pattern's length; the first rule reaching the
        # best priority is reported (robots.cc keeps a match only if strictly better).
        best: dict[str, tuple[int, RobotsRule | None]] = {"allow": (-1, None), "disallow": (-1, None)}
        for group in groups:
            for r in group.rules:
                if pattern_matches(path, r.escaped):
                    priority = len(r.escaped)
                elif r.index_fallback is not None and pattern_matches(path, r.index_fallback):
                    priority = len(r.index_fallback)
                else:
                    continue
                if priority > best[r.rule.kind][0]:
                    best[r.rule.kind] = (priority, r.rule)
        allow_p, allow_rule = best["allow"]
        disallow_p, disallow_rule = best["disallow"]
        # Only non-empty matches decide; an empty pattern ('Disallow:') matches with priority 0 and
        # so allows. Ties go to allow.
        if allow_p <= 0 and disallow_p <= 0:
            return RobotsDecision(True, None, label)
        if disallow_p > allow_p:
            return RobotsDecision(False, disallow_rule, label)
        return RobotsDecision(True, allow_rule, label)

    def is_allowed(self, url: str, user_agent: str) -> bool:
        return self.decide(url, user_agent).allowed

    def crawl_delay(self, user_agent: str) -> float | None:
        """First valid Crawl-delay of the groups that apply to this agent (its own, else '*')."""
        for group in self._applicable(user_agent)[1]:
            if group.crawl_delays:
                return group.crawl_delays[0]
        return None

    @property
    def sitemaps(self) -> list[str]:
        return list(self._sitemaps)

    @property
    def content_usage(self) -> list[tuple[str, str]]:
        """Every IETF aipref 'Content-Usage:' line as (path_scope, raw value), in file order."""
        rules = self._content_usage + [r for g in self._groups for r in g.content_usage]
        return [(r.scope, r.value) for r in sorted(rules, key=lambda r: r.line)]

    def content_usage_for(self, url: str, user_agent: str) -> ContentUsageRule | None:
        """The Content-Usage rule that applies to this URL for this agent: among the lines of the
        agent's groups (chosen as for allow/disallow) the one whose path matches longest,
        robots-style, the first such line on a tie; lines before any user-agent line (outside every
        group, which the draft does not define) only when no group line matches. None: no line."""
        path = get_path_params_query(url)
        grouped = sorted((r for g in self._applicable(user_agent)[1] for r in g.content_usage), key=lambda r: r.line)
        for candidates in (grouped, self._content_usage):
            best: ContentUsageRule | None = None
            for rule in candidates:
                if pattern_matches(path, rule.escaped) and (best is None or len(rule.escaped) > len(best.escaped)):
                    best = rule
            if best is not None:
                return best
        return None


AI_TRAINING_AGENTS: tuple[str, ...] = ("GPTBot", "CCBot", "Google-Extended", "ClaudeBot", "Applebot-Extended")


def ai_optout_agents(robots: RobotsTxt, url: str, agents: Iterable[str] = AI_TRAINING_AGENTS) -> list[str]:
    """The AI-training agents (in the given order) for which robots.txt disallows this URL, evaluated
    exactly as for any agent (most specific group, else '*')."""
    return [agent for agent in agents if not robots.is_allowed(url, agent)]
