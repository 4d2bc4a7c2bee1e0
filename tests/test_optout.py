"""filters.optout: TDMRep (meta, header, tdmrep.json and their precedence), noai, Content-Usage."""

from __future__ import annotations

import lxml.html
import pytest

from filters.optout import TdmRep, content_usage_reserves_training, parse_content_usage, read_optout, x_robots_directives


def page(head: str = "", body: str = "<p>text</p>"):
    return lxml.html.document_fromstring(f"<html><head>{head}</head><body>{body}</body></html>")


# TDMRep final report, section "HTML": the meta elements of its example.
TDM_META = '<meta name="tdm-reservation" content="1"><meta name="tdm-policy" content="https://provider.com/policies/policy.json">'


def test_tdmrep_spec_examples_meta_and_header():
    s = read_optout(page(TDM_META), {})
    assert (s.tdm_reservation, s.tdm_policy, s.tdm_source, s.ai_optout) == (1, "https://provider.com/policies/policy.json", "meta", True)
    s = read_optout(page(), {"tdm-reservation": "1", "tdm-policy": "https://provider.com/policies/policy.json"})
    assert (s.tdm_reservation, s.tdm_policy, s.tdm_source) == (1, "https://provider.com/policies/policy.json", "header")
    s = read_optout(page(), {"tdm-reservation": "0"})
    assert (s.tdm_reservation, s.tdm_source, s.ai_optout) == (0, "header", False)


def test_tdmrep_precedence_meta_over_header_over_file_and_absent_never_resets():
    file_rule = TdmRep(1, "https://example.org/file-policy.json")
    assert read_optout(page('<meta name="tdm-reservation" content="0">'), {"tdm-reservation": "1"}, file_rule).tdm_source == "meta"
    s = read_optout(page('<meta name="tdm-reservation" content="0">'), {"tdm-reservation": "1"}, file_rule)
    assert (s.tdm_reservation, s.ai_optout) == (0, False)
    s = read_optout(page(), {"tdm-reservation": "0"}, file_rule)
    assert (s.tdm_reservation, s.tdm_source) == (0, "header")
    s = read_optout(page(), {}, file_rule)
    assert (s.tdm_reservation, s.tdm_policy, s.tdm_source) == (1, "https://example.org/file-policy.json", "tdmrep.json")
    # Absent or invalid values at a higher level leave the lower one in force.
    s = read_optout(page('<meta name="tdm-policy" content="https://x/p.json">'), {"tdm-reservation": "yes"}, file_rule)
    assert (s.tdm_reservation, s.tdm_source) == (1, "tdmrep.json")
    s = read_optout(None, {"tdm-reservation": "1"})  # a page that was never parsed: headers still count
    assert (s.tdm_reservation, s.tdm_source) == (1, "header")
    assert read_optout(page(), {}).tdm_source is None


@pytest.mark.parametrize(
    ("head", "headers", "noai", "agents"),
    [
        ('<meta name="robots" content="noai, noimageai">', {}, True, []),
        ('<meta name="robots" content="noimageai">', {}, False, []),  # images only
        ('<meta name="robots" content="index, follow">', {}, False, []),
        ('<meta name="GPTBot" content="noai">', {}, True, ["gptbot"]),
        ("", {"x-robots-tag": "noai"}, True, []),
        ("", {"x-robots-tag": "googlebot: noai, noindex"}, True, ["googlebot"]),
        ("", {"x-robots-tag": "unavailable_after: 25 Jun 2030 15:00:00 PST, noarchive"}, False, []),
    ],
)
def test_noai_in_meta_and_x_robots_tag(head, headers, noai, agents):
    s = read_optout(page(head), headers)
    assert (s.noai, s.ai_optout_agents, s.ai_optout) == (noai, agents, noai)


def test_x_robots_tag_agent_applies_until_the_next_agent():
    assert x_robots_directives("googlebot: noai, otherbot: noindex, nofollow") == [("googlebot", "noai"), ("otherbot", "noindex"), ("otherbot", "nofollow")]


def test_content_usage_aipref_vocabulary():
    assert parse_content_usage("train-ai=n") == {"train-ai": "n"}
    assert parse_content_usage('Train-AI="n" ; q=1, search=y, bogus, =n, bots=maybe') == {"train-ai": "n", "search": "y"}
    assert parse_content_usage("train-ai=y, train-ai=n") == {"train-ai": "n"}  # the last wins (RFC 8941)
    assert content_usage_reserves_training("train-ai=n") is True
    assert content_usage_reserves_training("train-genai=n") is True
    assert content_usage_reserves_training("bots=n") is True
    assert content_usage_reserves_training("bots=n, train-ai=y") is False  # the more specific category wins
    assert content_usage_reserves_training("train-ai=n, train-genai=y") is False
    assert content_usage_reserves_training("search=n") is None
    assert content_usage_reserves_training(None) is None
    s = read_optout(page(), {"content-usage": "train-ai=n, search=y"})
    assert (s.content_usage, s.ai_optout, s.noai) == ("train-ai=n, search=y", True, False)


def test_robots_txt_ai_optout_counts_as_a_reservation():
    s = read_optout(page(), {}, robots_agents=["GPTBot", "CCBot"])
    assert (s.ai_optout, s.ai_optout_agents) == (True, ["GPTBot", "CCBot"])
