"""Tests for filters.pii: FineWeb's e-mail and public-IP replacement (datatrove PIIFormatter)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from filters.pii import EMAIL_REPLACEMENTS, IP_REPLACEMENTS, PiiResult, is_public_ip, replace_pii

ROOT = Path(__file__).resolve().parent.parent


def test_emails_are_replaced_and_counted():
    text = (
        "Write to john.doe@uni-example.de or to Jane <jane_smith+news@mail.example.co.uk>.\n"
        "Press: press.office@company.org, support@[192.168.1.1]."
    )
    result = replace_pii(text)
    assert result.emails_replaced == 4
    assert result.ips_replaced == 0
    for address in ("john.doe@", "jane_smith", "press.office", "support@["):
        assert address not in result.text
    assert result.text.startswith("Write to ") and "Press: " in result.text
    replaced = [w.strip("<>.,") for w in result.text.split() if "@" in w]
    assert len(replaced) == 4 and set(replaced) <= set(EMAIL_REPLACEMENTS)


def test_things_that_are_not_emails_stay():
    text = "Follow @ernte on social media; price 5 @ 3 EUR; user@localhost; a@b"
    result = replace_pii(text)
    assert result == PiiResult(text, 0, 0)


@pytest.mark.parametrize(
    "address",
    ["10.0.0.1", "10.255.3.4", "192.168.0.1", "192.168.178.20", "172.16.5.4", "127.0.0.1",
     "169.254.10.1", "100.64.0.1", "0.0.0.0", "255.255.255.255", "192.0.2.15", "240.1.2.3"],
)  # fmt: skip
def test_private_and_reserved_ips_are_kept(address):
    text = f"The router listens on {address} by default."
    assert replace_pii(text) == PiiResult(text, 0, 0)
    assert not is_public_ip(address)


@pytest.mark.parametrize("address", ["8.8.8.8", "1.1.1.1", "93.184.216.34", "141.20.5.188", "203.0.114.9"])
def test_public_ips_are_replaced(address):
    result = replace_pii(f"Our server at {address} was down; 10.0.0.1 is the gateway.")
    assert result.ips_replaced == 1
    assert address not in result.text
    assert "10.0.0.1" in result.text  # the private one stays
    swapped = result.text.split()[3].rstrip(";")
    assert swapped in IP_REPLACEMENTS
    assert is_public_ip(address)


def test_ip_quirks_match_datatrove():
    # No word boundaries in the pattern: a public address inside a longer dotted run is replaced.
    result = replace_pii("version 1.2.3.4.5")
    assert result.ips_replaced == 1 and result.text.endswith(".5") and "1.2.3.4" not in result.text
    # ipaddress rejects leading zeros, so such a match is kept.
    assert replace_pii("code 01.02.03.04").text == "code 01.02.03.04"
    # Out-of-range octets are not IPs at all.
    assert replace_pii("999.1.1.1").ips_replaced == 1  # "99.1.1.1" inside it is public
    assert replace_pii("300.300.300.300") == PiiResult("300.300.300.300", 0, 0)


def test_replacement_is_deterministic_per_address():
    text = "a@example.net b@example.net a@example.net 8.8.8.8 9.9.9.9 8.8.8.8"
    first = replace_pii(text)
    assert replace_pii(text) == first  # no state carried between calls (datatrove cycles)
    words = first.text.split()
    assert words[0] == words[2] and words[3] == words[5]
    assert (first.emails_replaced, first.ips_replaced) == (3, 3)
    # The choice depends only on the address, not on its position or on earlier documents.
    replace_pii("x@example.net y@example.net 1.1.1.1")
    assert replace_pii("a@example.net").text == words[0]
    assert replace_pii("see 8.8.8.8").text == "see " + words[3]


def test_replacement_does_not_depend_on_the_process():
    # A stable hash (not Python's per-process salted hash()): same output under other hash seeds.
    code = "from filters.pii import replace_pii; print(replace_pii('mail me: max@mustermann.de at 8.8.4.4').text)"
    outputs = set()
    for seed in ("1", "2", "3"):
        env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(ROOT)}
        run = subprocess.run(
            [sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True, check=True
        )
        outputs.add(run.stdout)
    assert outputs == {replace_pii("mail me: max@mustermann.de at 8.8.4.4").text + "\n"}


def test_both_replacements_are_used():
    emails = {replace_pii(f"user{i}@example.net").text for i in range(50)}
    ips = {replace_pii(f"8.8.{i}.{i}").text for i in range(1, 60)}
    assert emails == set(EMAIL_REPLACEMENTS)
    assert ips == set(IP_REPLACEMENTS)


def test_replacements_are_datatrove_defaults():
    assert EMAIL_REPLACEMENTS == ("email@example.com", "firstname.lastname@example.org")
    assert IP_REPLACEMENTS == (
        "22.214.171.124", "126.96.36.199", "188.8.131.52", "184.108.40.206", "220.127.116.11", "18.104.22.168",
    )  # fmt: skip


def test_text_without_pii_is_returned_unchanged():
    for text in ("", "No personal data here.", "Version 3.11 and 2.0 released", "1.2.3", "日本語のテキスト"):
        assert replace_pii(text) == PiiResult(text, 0, 0)


def test_pii_is_fast():
    text = ("Contact me at someone@example.net, server 8.8.8.8, lan 10.0.0.1. " + "Plain words here. " * 200) * 20
    start = time.perf_counter()
    result = replace_pii(text)
    assert time.perf_counter() - start < 0.5
    assert (result.emails_replaced, result.ips_replaced) == (20, 20)
