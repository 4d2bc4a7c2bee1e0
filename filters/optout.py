"""Machine-readable reservations of one page: what its HTML and its response headers say.

Pure functions over a parsed page (lxml) and a dict of lower-case response headers; the crawler
stores the raw headers and the robots.txt decision, this module interprets them, and
`filters.policy` decides what a reservation means for training.

What is read:
- TDMRep (W3C TDM Reservation Protocol, CG final report): `<meta name="tdm-reservation">` and
  `<meta name="tdm-policy">`, the `tdm-reservation` / `tdm-policy` response headers, and a
  tdmrep.json result for the URL when one is given. Precedence as the spec says: meta over header
  over tdmrep.json, decided on `tdm-reservation`; `tdm-policy` is taken from the same source. A
  source that does not state `tdm-reservation` (or states a value other than 0 or 1) is absent and
  never resets a present one.
- `noai` in `<meta name="robots">`, in agent-specific robots meta (`<meta name="GPTBot">`,
  `<meta name="googlebot">`, ...) and in `X-Robots-Tag` (also `X-Robots-Tag: googlebot: noai`).
  `noimageai` reserves images only: it is recorded in `robots_directives` but does not set `noai`,
  as Ernte trains on text. A `noai` addressed to any agent is honoured: it states the
  rightsholder's intent about AI use, whichever crawler it names (the agents are listed).
- `Content-Usage` (IETF aipref, draft-ietf-aipref-attach / -vocab): a structured-field dictionary
  such as `train-ai=n, search=y`. For training a language model the most specific category
  stated decides: `train-genai`, else `train-ai`, else `bots` (automated processing); `n` is a
  reservation, `y` an explicit allowance, anything else is ignored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from lxml.html import HtmlElement

# Agent-specific robots meta names that are read (lower case); `robots` addresses every agent.
ROBOTS_META_AGENTS = ("robots", "googlebot", "bingbot", "gptbot", "ccbot", "google-extended", "claudebot", "applebot-extended", "ernte", "erntebot")
_NOAI = ("noai",)
# Content-Usage categories that cover training a generative language model, most specific first.
_TRAINING_CATEGORIES = ("train-genai", "train-ai", "bots")


@dataclass(frozen=True)
class TdmRep:
    """What a tdmrep.json rule (or any one TDMRep source) says for a URL."""

    reservation: int | None
    policy: str | None = None


@dataclass(frozen=True)
class OptoutSignals:
    tdm_reservation: int | None  # 1 reserved, 0 not reserved, None not stated anywhere
    tdm_policy: str | None
    tdm_source: str | None  # meta | header | tdmrep.json | None
    noai: bool  # a noai directive (meta robots or X-Robots-Tag), for any agent
    content_usage: str | None  # the raw Content-Usage header
    ai_optout: bool  # any of: tdm-reservation 1, noai, Content-Usage training n, robots.txt AI opt-out
    ai_optout_agents: list[str] = field(default_factory=list)  # agents named by an agent-specific noai or robots.txt
    robots_directives: list[str] = field(default_factory=list)  # every robots meta / X-Robots-Tag directive, 'agent: directive' when addressed


def _tdm_value(raw: str | None) -> int | None:
    if raw is None:
        return None
    value = raw.strip().strip('"')
    return int(value) if value in ("0", "1") else None


def meta_values(tree: HtmlElement | None) -> dict[str, str]:
    """First `content` of each `<meta name>` (names lower case), across head and body."""
    out: dict[str, str] = {}
    if tree is None:
        return out
    for meta in tree.iter("meta"):
        name = (meta.get("name") or "").strip().lower()
        content = meta.get("content")
        if name and content is not None and name not in out:
            out[name] = content
    return out


def robots_meta_directives(tree: HtmlElement | None) -> list[tuple[str | None, str]]:
    """(agent or None for all, directive) from `<meta name="robots|AGENT" content="...">`."""
    out: list[tuple[str | None, str]] = []
    if tree is None:
        return out
    for meta in tree.iter("meta"):
        name = (meta.get("name") or "").strip().lower()
        if name not in ROBOTS_META_AGENTS:
            continue
        for directive in (meta.get("content") or "").split(","):
            directive = directive.strip().lower()
            if directive:
                out.append((None if name == "robots" else name, directive))
    return out


_AGENT_PREFIX = re.compile(r"^\s*([A-Za-z][A-Za-z0-9_.-]*)\s*:\s*(.*)$")
_RULE_WITH_COLON = ("unavailable_after", "max-snippet", "max-image-preview", "max-video-preview")


def x_robots_directives(value: str | None) -> list[tuple[str | None, str]]:
    """(agent or None, directive) from an X-Robots-Tag value. `googlebot: noai, noindex` addresses
    both directives to googlebot (Google's syntax: the agent applies until the next agent)."""
    out: list[tuple[str | None, str]] = []
    if not value:
        return out
    agent: str | None = None
    for part in value.split(","):
        part = part.strip()
        match = _AGENT_PREFIX.match(part)
        if match and match.group(1).lower() not in _RULE_WITH_COLON:
            agent, part = match.group(1).lower(), match.group(2).strip()
        if part:
            out.append((agent, part.lower()))
    return out


def parse_content_usage(value: str | None) -> dict[str, str]:
    """Category -> y | n from a Content-Usage value (RFC 8941 dictionary-like). Tolerant: keys lower
    case, tokens or quoted strings, parameters (`;...`) dropped; a key given twice keeps the last, as
    RFC 8941 says; members that do not parse are skipped."""
    out: dict[str, str] = {}
    if not value:
        return out
    for member in value.split(","):
        member = member.split(";", 1)[0].strip()
        if not member:
            continue
        key, _, val = member.partition("=")
        key = key.strip().lower()
        val = val.strip().strip('"').lower()
        if not re.fullmatch(r"[a-z*][a-z0-9_.*-]*", key):
            continue
        if val in ("y", "n"):
            out[key] = val
    return out


def content_usage_reserves_training(value: str | None) -> bool | None:
    """True when Content-Usage reserves training a generative model, False when it allows it
    explicitly, None when it says nothing about it."""
    prefs = parse_content_usage(value)
    for category in _TRAINING_CATEGORIES:
        if category in prefs:
            return prefs[category] == "n"
    return None


def tdmrep_fallback(current: TdmRep | None, source: str | None, archived: TdmRep | None) -> tuple[TdmRep | None, str | None]:
    """TDMRep precedence when the host's tdmrep.json is only known after the page was read (an
    archived file in a WARC Ernte did not write): it decides only where neither meta nor header
    did, since an absent value never resets a present one."""
    if source is None and archived is not None and archived.reservation in (0, 1):
        return archived, "tdmrep.json"
    return current, source


def read_optout(
    tree: HtmlElement | None,
    headers: dict[str, str] | None,
    tdmrep: TdmRep | None = None,
    robots_agents: list[str] | None = None,
) -> OptoutSignals:
    """All reservations of one page. `tree` may be None (the page was not parsed: headers only);
    `tdmrep` is the host's tdmrep.json rule for this URL, if any; `robots_agents` the AI-training
    agents robots.txt disallows for this URL (from the fetch log)."""
    headers = {k.lower(): v for k, v in (headers or {}).items()}
    metas = meta_values(tree)

    reservation, policy, source = None, None, None
    for name, candidate in (
        ("meta", TdmRep(_tdm_value(metas.get("tdm-reservation")), metas.get("tdm-policy"))),
        ("header", TdmRep(_tdm_value(headers.get("tdm-reservation")), headers.get("tdm-policy"))),
        ("tdmrep.json", tdmrep),
    ):
        if candidate is not None and candidate.reservation in (0, 1):
            reservation, policy, source = candidate.reservation, (candidate.policy or "").strip() or None, name
            break

    directives = robots_meta_directives(tree) + x_robots_directives(headers.get("x-robots-tag"))
    noai = any(d in _NOAI for _, d in directives)
    agents: list[str] = []
    for agent, directive in directives:
        if directive in _NOAI and agent is not None and agent not in agents:
            agents.append(agent)
    for agent in robots_agents or []:
        if agent not in agents:
            agents.append(agent)

    content_usage = headers.get("content-usage")
    usage_reserved = content_usage_reserves_training(content_usage) is True
    ai_optout = reservation == 1 or noai or usage_reserved or bool(robots_agents)
    return OptoutSignals(
        tdm_reservation=reservation,
        tdm_policy=policy,
        tdm_source=source,
        noai=noai,
        content_usage=content_usage,
        ai_optout=ai_optout,
        ai_optout_agents=agents,
        robots_directives=[d if a is None else f"{a}: {d}" for a, d in directives],
    )
