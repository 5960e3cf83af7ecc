"""Genesys Cloud regions and the login host of an API host."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

REGIONS = {
    "us_east_1": "https://api.mypurecloud.com",
    "us_east_2": "https://api.use2.us-gov-pure.cloud",
    "us_west_2": "https://api.usw2.pure.cloud",
    "ca_central_1": "https://api.cac1.pure.cloud",
    "sa_east_1": "https://api.sae1.pure.cloud",
    "eu_west_1": "https://api.mypurecloud.ie",
    "eu_west_2": "https://api.euw2.pure.cloud",
    "eu_central_1": "https://api.mypurecloud.de",
    "eu_central_2": "https://api.euc2.pure.cloud",
    "me_central_1": "https://api.mec1.pure.cloud",
    "ap_south_1": "https://api.aps1.pure.cloud",
    "ap_northeast_1": "https://api.mypurecloud.jp",
    "ap_northeast_2": "https://api.apne2.pure.cloud",
    "ap_northeast_3": "https://api.apne3.pure.cloud",
    "ap_southeast_2": "https://api.mypurecloud.com.au",
}
_GENESYS_DOMAINS = ("mypurecloud.com", "mypurecloud.ie", "mypurecloud.de", "mypurecloud.jp", "mypurecloud.com.au",
                    "pure.cloud", "us-gov-pure.cloud")


def api_host(host: str | None, region: str | None) -> str:
    """The base URL for ``host`` or ``region`` (exactly one of them)."""
    if (host is None) == (region is None):
        raise ValueError("give exactly one of host= or region=")
    if region is not None:
        try:
            return REGIONS[region]
        except KeyError:
            raise ValueError(f"unknown region {region!r}; known: {', '.join(sorted(REGIONS))}") from None
    assert host is not None  # exactly one of the two was given
    return host.rstrip("/")


def login_host(api: str) -> str:
    """Genesys hosts log in at ``login.<domain>``; any other host on itself."""
    parts = urlsplit(api)
    name = parts.hostname or ""
    if name.startswith("api.") and any(name == d or name.endswith("." + d) for d in _GENESYS_DOMAINS):
        netloc = "login." + parts.netloc[len("api."):]
        return urlunsplit((parts.scheme, netloc, "", "", ""))
    return api
