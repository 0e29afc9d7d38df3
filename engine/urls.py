"""Server URLs as users type them."""

from __future__ import annotations


def normalize_base_url(url: str) -> str:
    """Accept the server root or its /v1 base, with or without a trailing slash or scheme."""
    url = url.strip().rstrip("/")
    if not url.startswith(("http://", "https://")):
        url = "http://" + url
    return url.removesuffix("/v1")
