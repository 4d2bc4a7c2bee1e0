"""W3C TDM Reservation Protocol (TDMRep, Community Group final report): the per-host
/.well-known/tdmrep.json file.

The file is a JSON array of rules `{"location": PATTERN, "tdm-reservation": 0|1, "tdm-policy": URL}`.
Locations are path patterns matched as in robots.txt ('*' any run of characters, final '$' anchors
the end, otherwise a prefix), and unlike robots.txt the *first* matching rule in file order wins.
A missing file (4xx), a server error or a body that is not such an array means: no reservation from
this source. The crawler records why (`TdmRep.status`) so the absence is itself evidence.
No I/O here: the crawler fetches the file and hands the body to TdmRep.parse().
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from crawlers.robots_policy import (
    escape_pattern,
    get_path_params_query,
    pattern_matches,
)

TDMREP_PATH = "/.well-known/tdmrep.json"
MAX_TDMREP_BYTES = 500 * 1024  # like robots.txt: a policy file, not a data set


@dataclass(frozen=True)
class TdmRepRule:
    location: str  # as written in the file
    reservation: int | None  # 1 reserved, 0 not reserved; None when the rule gives no valid value
    policy: str | None
    escaped: str  # location as matched (escape_pattern), always starting with '/'


@dataclass(frozen=True)
class TdmRep:
    rules: tuple[TdmRepRule, ...]
    status: str  # 'ok 200 (3 rules)', 'absent 404', 'invalid JSON ...', 'unavailable ...'

    @classmethod
    def absent(cls, status: str) -> TdmRep:
        return cls((), status)

    @classmethod
    def parse(cls, body: bytes, http_status: int = 200) -> TdmRep:
        """Rules from a tdmrep.json body; never raises. Invalid entries are skipped, an invalid file
        gives no rules (and says why in status)."""
        if not 200 <= http_status < 300:
            return cls.absent(f"absent {http_status}")
        try:
            data = json.loads(body[:MAX_TDMREP_BYTES].decode("utf-8-sig"))
        except (UnicodeDecodeError, ValueError) as exc:
            return cls.absent(f"invalid JSON ({type(exc).__name__}: {str(exc)[:120]})")
        if isinstance(data, dict):
            data = [data]  # seen in the wild: a single rule without the enclosing array
        if not isinstance(data, list):
            return cls.absent(f"invalid: top level is {type(data).__name__}, not an array")
        rules, skipped = [], 0
        for item in data:
            location = item.get("location") if isinstance(item, dict) else None
            if not isinstance(location, str) or not location:
                skipped += 1
                continue
            reservation = item.get("tdm-reservation")
            if isinstance(reservation, str) and reservation.strip() in ("0", "1"):
                reservation = int(reservation)
            if isinstance(reservation, bool) or reservation not in (0, 1):
                reservation = None
            policy = item.get("tdm-policy")
            policy = policy if isinstance(policy, str) and policy else None
            pattern = location if location.startswith(("/", "*")) else "/" + location
            rules.append(TdmRepRule(location, reservation, policy, escape_pattern(pattern.encode("utf-8", "surrogatepass"))))
        status = f"ok {http_status} ({len(rules)} rules" + (f", {skipped} invalid skipped)" if skipped else ")")
        return cls(tuple(rules), status)

    def match(self, url: str) -> TdmRepRule | None:
        """The first rule in file order whose location matches the URL's path (and query)."""
        path = get_path_params_query(url)
        for rule in self.rules:
            if pattern_matches(path, rule.escaped):
                return rule
        return None

    def fields(self, url: str) -> dict:
        """The fetch-log columns for one URL."""
        rule = self.match(url)
        if rule is None:
            return {"tdmrep_reservation": None, "tdmrep_policy": None, "tdmrep_location": None}
        return {"tdmrep_reservation": rule.reservation, "tdmrep_policy": rule.policy, "tdmrep_location": rule.location}
