"""Whether a document may be used for training: raw signals + a declarative policy -> a decision.

`decide_eligibility` is a pure function over the stored signals (the provenance columns), so a
changed policy can be applied again to a curated directory without crawling or extracting again.
Rules run in a fixed order; the first that applies names the reason:

  tdm_reservation   TDMRep tdm-reservation = 1 (meta, header or tdmrep.json)
  noai              a noai directive in robots meta or X-Robots-Tag
  content_usage     Content-Usage (IETF aipref) reserves AI training (train-genai / train-ai / bots = n)
  robots_ai_optout  robots.txt disallows the URL for an AI-training agent (crawl fetch log)
  licence_excluded  the licence matches an exclude_licences pattern (e.g. `*-NC-*`)
  licence_missing   require_licence is on and no licence was detected
"""

from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Protocol

ELIGIBLE = "eligible"
ELIGIBILITY_REASONS = (ELIGIBLE, "tdm_reservation", "noai", "content_usage", "robots_ai_optout", "licence_excluded", "licence_missing")


class EligibilityPolicy(Protocol):
    """The fields `decide_eligibility` reads (pipeline.config.PolicySettings has them)."""

    honour_tdm_reservation: bool
    honour_noai: bool
    honour_content_usage: bool
    honour_robots_ai_optout: bool
    exclude_licences: list[str]
    require_licence: bool


@dataclass(frozen=True)
class EligibilitySignals:
    """What the rules read: the provenance columns of one document."""

    tdm_reservation: int | None = None
    noai: bool | None = None
    content_usage_reserved: bool | None = None  # filters.optout.content_usage_reserves_training
    robots_ai_optout_agents: tuple[str, ...] = ()  # AI-training agents robots.txt disallows for the URL


def decide_eligibility(signals: EligibilitySignals, licence_spdx: str | None, policy: EligibilityPolicy) -> tuple[bool, str]:
    """(eligible, reason): reason is the first rule that made the document ineligible, or 'eligible'."""
    if policy.honour_tdm_reservation and signals.tdm_reservation == 1:
        return False, "tdm_reservation"
    if policy.honour_noai and signals.noai:
        return False, "noai"
    if policy.honour_content_usage and signals.content_usage_reserved:
        return False, "content_usage"
    if policy.honour_robots_ai_optout and signals.robots_ai_optout_agents:
        return False, "robots_ai_optout"
    if licence_spdx is not None and any(fnmatchcase(licence_spdx.upper(), p.upper()) for p in policy.exclude_licences):
        return False, "licence_excluded"
    if policy.require_licence and licence_spdx is None:
        return False, "licence_missing"
    return True, ELIGIBLE


def signals_from_row(row: dict) -> EligibilitySignals:
    """The rule inputs from a provenance (or work) row: the stored raw and interpreted signals."""
    from filters.optout import content_usage_reserves_training

    usage = any(content_usage_reserves_training(row.get(c)) is True for c in ("content_usage", "robots_content_usage"))
    return EligibilitySignals(
        tdm_reservation=row.get("tdm_reservation"),
        noai=row.get("noai"),
        content_usage_reserved=usage,
        robots_ai_optout_agents=tuple(row.get("robots_ai_optout_agents") or ()),
    )
