"""Server URLs as users type them."""

from __future__ import annotations

import socket
import urllib.parse


def normalize_base_url(url: str) -> str:
    """Accept the server root or its /v1 base, with or without a trailing slash or scheme."""
    url = url.strip().rstrip("/")
    if not url.startswith(("http://", "https://")):
        url = "http://" + url
    return url.removesuffix("/v1")


def is_local(base_url: str) -> bool:
    """Whether the server runs on this machine (so this machine's NVML sees its GPUs)."""
    host = urllib.parse.urlsplit(normalize_base_url(base_url)).hostname or ""
    return host in ("localhost", "127.0.0.1", "::1", socket.gethostname())
