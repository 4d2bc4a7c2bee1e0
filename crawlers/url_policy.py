"""Which URLs the crawler may consider at all: canonical form, scheme, length, scope, addresses.

Pure functions over strings and IP addresses; the Scrapy middleware calls them.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from w3lib.url import canonicalize_url

ALLOWED_SCHEMES = ("http", "https")


def canonical_url(url: str) -> str:
    """The form URLs are de-duplicated by: sorted query, no fragment, normalised escapes, lower-case host."""
    return canonicalize_url(url, keep_fragments=False)


def url_host(url: str) -> str:
    return (urlsplit(url).hostname or "").lower()


def registrable_domain(host: str) -> str:
    """Last two labels (example.co.uk is treated as co.uk; good enough for scoping, not for security)."""
    try:
        ipaddress.ip_address(host)
        return host
    except ValueError:
        labels = host.rstrip(".").split(".")
        return ".".join(labels[-2:])


def scope_violation(url: str, seed_hosts: frozenset[str], scope: str, max_url_length: int) -> str | None:
    """Why a URL is out of scope, or None when it is in scope."""
    if len(url) > max_url_length:
        return f"url longer than {max_url_length} characters"
    parts = urlsplit(url)
    if parts.scheme not in ALLOWED_SCHEMES:
        return f"scheme {parts.scheme or '(none)'} not crawled"
    host = (parts.hostname or "").lower()
    if not host:
        return "no host"
    if scope == "host" and host not in seed_hosts:
        return f"host {host} is not a seed host"
    if scope == "domain" and registrable_domain(host) not in {registrable_domain(h) for h in seed_hosts}:
        return f"host {host} is outside the seed domains"
    return None


def non_public_address(address: str) -> str | None:
    """Why an IP address must not be crawled from the internet side, or None if it is public."""
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    for kind in ("loopback", "private", "link_local", "multicast", "reserved", "unspecified"):
        if getattr(ip, f"is_{kind}"):
            return f"{address} is a {kind.replace('_', '-')} address"
    if not ip.is_global:
        return f"{address} is not a global address"
    return None


def is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
        return True
    except ValueError:
        return False


def media_type(content_type: str | None) -> str:
    """'text/html; charset=utf-8' -> 'text/html'."""
    return (content_type or "").split(";", 1)[0].strip().lower()
