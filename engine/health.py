"""One probe of vLLM's GET /health.

Before the engine is ready the socket is bound but not listening, so a refused connection means
"starting"; 200 means ready; 503 means the engine died while the HTTP server lives on.
Uses the standard library: it runs on a supervisor thread once or twice a second.
"""

from __future__ import annotations

import http.client
import urllib.parse
from enum import Enum


class Health(Enum):
    STARTING = "starting"  # refused or not yet answering
    READY = "ready"  # 200
    DEAD = "dead"  # 503: engine dead
    UNEXPECTED = "unexpected"  # some other status: not a healthy vLLM


def probe_health(base_url: str, timeout: float = 2.0) -> tuple[Health, int | None]:
    """Return the health and the HTTP status (None when no HTTP answer came)."""
    parts = urllib.parse.urlsplit(base_url)
    host = parts.hostname or "127.0.0.1"
    port = parts.port or (443 if parts.scheme == "https" else 80)
    conn_cls = (
        http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    )
    conn = conn_cls(host, port, timeout=timeout)
    try:
        conn.request("GET", parts.path.rstrip("/") + "/health")
        status = conn.getresponse().status
    except (TimeoutError, ConnectionError, OSError, http.client.HTTPException):
        return Health.STARTING, None
    finally:
        conn.close()
    if status == 200:
        return Health.READY, status
    if status == 503:
        return Health.DEAD, status
    return Health.UNEXPECTED, status
