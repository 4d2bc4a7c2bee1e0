"""filters.policy: the first rule that applies names the reason; licence rules are optional."""

from __future__ import annotations

import pytest

from filters.policy import EligibilitySignals, decide_eligibility, signals_from_row
from pipeline.config import PolicySettings

DEFAULT = PolicySettings()


@pytest.mark.parametrize(
    ("signals", "licence", "expected"),
    [
        (EligibilitySignals(), None, (True, "eligible")),
        (EligibilitySignals(tdm_reservation=0), "CC-BY-4.0", (True, "eligible")),
        (EligibilitySignals(tdm_reservation=1), None, (False, "tdm_reservation")),
        (EligibilitySignals(noai=True), None, (False, "noai")),
        (EligibilitySignals(content_usage_reserved=True), None, (False, "content_usage")),
        (EligibilitySignals(robots_ai_optout_agents=("GPTBot",)), None, (False, "robots_ai_optout")),
        (EligibilitySignals(tdm_reservation=1, noai=True, robots_ai_optout_agents=("CCBot",)), None, (False, "tdm_reservation")),
        (EligibilitySignals(), "CC-BY-NC-4.0", (True, "eligible")),  # no licence rule by default
    ],
)
def test_default_policy_honours_every_reservation(signals, licence, expected):
    assert decide_eligibility(signals, licence, DEFAULT) == expected


def test_licence_rules():
    policy = PolicySettings(exclude_licences=["*-NC-*", "*-ND-*"], require_licence=True)
    assert decide_eligibility(EligibilitySignals(), "CC-BY-NC-SA-4.0", policy) == (False, "licence_excluded")
    assert decide_eligibility(EligibilitySignals(), "cc-by-nd-4.0", policy) == (False, "licence_excluded")
    assert decide_eligibility(EligibilitySignals(), "CC-BY-SA-4.0", policy) == (True, "eligible")
    assert decide_eligibility(EligibilitySignals(), None, policy) == (False, "licence_missing")
    assert decide_eligibility(EligibilitySignals(noai=True), "CC-BY-NC-4.0", policy) == (False, "noai")  # reservations first


def test_switching_a_rule_off():
    policy = PolicySettings(honour_robots_ai_optout=False)
    assert decide_eligibility(EligibilitySignals(robots_ai_optout_agents=("GPTBot",)), None, policy) == (True, "eligible")


def test_signals_from_a_provenance_row():
    row = {"tdm_reservation": None, "noai": False, "content_usage": None, "robots_content_usage": "train-ai=n", "robots_ai_optout_agents": None}
    assert decide_eligibility(signals_from_row(row), None, DEFAULT) == (False, "content_usage")
    assert decide_eligibility(signals_from_row({}), None, DEFAULT) == (True, "eligible")


def test_policy_config_forbids_unknown_keys():
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        PolicySettings.model_validate({"exclude_licenses": ["*-NC-*"]})
