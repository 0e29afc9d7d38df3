"""The one helper for the small requests vllm-top makes of a server: GET /health, /metrics,
/version, /v1/models; POST /tokenize and /detokenize (exact prompt lengths).

http.client rather than urllib: no proxy from the environment is ever consulted for what is
nearly always a loopback address, and a timeout is told apart from a refusal (a server that
accepts connections but never answers is hung, not down). Blocking: call it from a thread.
"""

from __future__ import annotations

import http.client
import json
import urllib.parse
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Answer:
    """What a GET came back with. `status` is None when no HTTP answer came: then `error` says
    why in a few words and `timed_out` tells a silent server from a refused connection."""

    status: int | None
    body: bytes = b""
    content_type: str = ""
    error: str | None = None
    timed_out: bool = False

    def json(self) -> Any:
        """The body as JSON, or None when it is not JSON."""
        try:
            return json.loads(self.body)
        except ValueError:
            return None


def get(url: str, api_key: str | None = None, timeout: float = 5.0) -> Answer:
    return _request("GET", url, api_key, timeout, None)


def post_json(url: str, body: Any, api_key: str | None = None, timeout: float = 30.0) -> Answer:
    return _request("POST", url, api_key, timeout, json.dumps(body).encode())


def _request(
    method: str, url: str, api_key: str | None, timeout: float, body: bytes | None
) -> Answer:
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return Answer(None, error=f"not an http(s) URL: {url}")
    try:
        port = parts.port
    except ValueError:
        return Answer(None, error=f"invalid port in {url}")
    conn_cls = (
        http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    )
    conn = conn_cls(parts.hostname, port, timeout=timeout)
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    if body is not None:
        headers["Content-Type"] = "application/json"
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    try:
        conn.request(method, target, body=body, headers=headers)
        resp = conn.getresponse()
        return Answer(resp.status, resp.read(), resp.getheader("Content-Type") or "")
    except TimeoutError:
        return Answer(None, error=f"timed out after {timeout:g} s", timed_out=True)
    except (ConnectionError, OSError, http.client.HTTPException) as exc:
        return Answer(None, error=getattr(exc, "strerror", None) or str(exc) or type(exc).__name__)
    finally:
        conn.close()


def get_json(url: str, api_key: str | None = None, timeout: float = 5.0) -> tuple[int | None, Any]:
    """(status, parsed body); (None, None) when no answer came, a None body when not JSON."""
    answer = get(url, api_key, timeout)
    return answer.status, answer.json() if answer.status is not None else None
