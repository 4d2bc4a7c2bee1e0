"""FineWeb's PII step (datatrove ``PIIFormatter``): replace e-mail addresses and public IP addresses.

FineWeb ran ``PIIFormatter()`` with its defaults on the deduplicated output (``examples/fineweb.py``
L18 and its last stage). Reference: huggingface/datatrove
``src/datatrove/pipeline/formatters/pii.py`` at 98f48ebd4791.

Same as datatrove
-----------------
* The e-mail regex (pii.py L77-79) and the IPv4 regex (L84), verbatim.
* E-mails first, then IPs, each a single ``re.sub`` pass over the text.
* Every e-mail match is replaced by one of ``email@example.com`` /
  ``firstname.lastname@example.org`` (L61).
* An IPv4 match is replaced only if ``ipaddress.ip_address(match).is_global`` (L34-39,
  ``only_remove_public_ips=True``): private (10/8, 172.16/12, 192.168/16), loopback (127/8),
  link-local (169.254/16), shared (100.64/10), documentation (192.0.2/24, ...), reserved
  (240/4), ``0.0.0.0/8`` and broadcast are kept. Python counts multicast (224/4) as global, so
  it is replaced, as in datatrove. A match that ``ipaddress`` rejects (octets with leading
  zeros such as ``01.02.03.04``) is kept. Replacements come from datatrove's six addresses
  (L63-70).
* Like datatrove, the IP regex has no word boundaries, so it also matches inside longer dotted
  number runs (``1.2.3.4.5`` -> ``1.2.3.4`` is replaced, ``.5`` stays) and version strings that
  look like public addresses (``2.10.3.1``) are replaced.

Deviations
----------
* **Deterministic choice of replacement.** datatrove cycles through the replacement tuple with a
  counter kept across documents (``_replace_i``, L27-28), so the replacement depends on which
  documents a worker processed before. Here the replacement is
  ``REPLACEMENTS[crc32(matched text) % len(REPLACEMENTS)]``: the same address always gets the
  same stand-in, in any process, order or run.
* Counts of what was replaced are returned (:class:`PiiResult`).
"""

from __future__ import annotations

import ipaddress
import re
import zlib
from dataclasses import dataclass

__all__ = ["EMAIL_REPLACEMENTS", "IP_REPLACEMENTS", "PiiResult", "is_public_ip", "replace_pii"]

# pii.py L61: example.com/org are reserved for examples.
EMAIL_REPLACEMENTS = ("email@example.com", "firstname.lastname@example.org")
# pii.py L63-70: "randomly generated list of ips. they did not respond to ping requests".
IP_REPLACEMENTS = (
    "22.214.171.124",
    "126.96.36.199",
    "188.8.131.52",
    "184.108.40.206",
    "220.127.116.11",
    "18.104.22.168",
)

# pii.py L77-79 (verbatim)
_EMAIL_RE = re.compile(
    r"\b[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*@(?:(?:[A-Za-z0-9](?:["
    r"A-Za-z0-9-]*[A-Za-z0-9])?\.)+[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?|\[(?:(?:25[0-5]|2[0-4][0-9]|["
    r"01]?[0-9][0-9]?)\.){3}(?:25[0-5]|2[0-4][0-9]|[01]?[0-9][0-9]?|[A-Za-z0-9-]*[A-Za-z0-9]:)])"
)
# pii.py L84 (verbatim)
_IP_RE = re.compile(r"(?:(?:25[0-5]|2[0-4][0-9]|[01]?[0-9][0-9]?)\.){3}(?:25[0-5]|2[0-4][0-9]|[01]?[0-9][0-9]?)")


@dataclass(frozen=True, slots=True)
class PiiResult:
    text: str
    emails_replaced: int
    ips_replaced: int


def _pick(replacements: tuple[str, ...], matched: str) -> str:
    return replacements[zlib.crc32(matched.encode("utf-8")) % len(replacements)]


def is_public_ip(candidate: str) -> bool:
    """datatrove's ``public_ip_validator``: a valid address that ``ipaddress`` calls global."""
    try:
        return ipaddress.ip_address(candidate).is_global
    except ValueError:
        return False


def replace_pii(text: str) -> PiiResult:
    """Replace e-mail addresses and public IPv4 addresses as FineWeb did (see module docstring)."""
    emails = ips = 0
    if "@" in text:  # every e-mail match contains '@'

        def email(m: re.Match[str]) -> str:
            nonlocal emails
            emails += 1
            return _pick(EMAIL_REPLACEMENTS, m.group(0))

        text = _EMAIL_RE.sub(email, text)
    if "." in text:  # every IP match contains '.'

        def ip(m: re.Match[str]) -> str:
            nonlocal ips
            matched = m.group(0)
            if not is_public_ip(matched):
                return matched
            ips += 1
            return _pick(IP_REPLACEMENTS, matched)

        text = _IP_RE.sub(ip, text)
    return PiiResult(text, emails, ips)
