"""A public URL for a vLLM server that is never open to everyone.

The tunnel (ngrok, or any `Tunnel`) points at engine.gateway, which lets only /v1 through and
only with the API key; vLLM itself requires the same key. Opened before vLLM starts (so a
missing network costs a second, not a model load), closed when vllm-top ends.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Protocol

from engine.gateway import Gateway


class Tunnel(Protocol):
    def open(self, port: int) -> str: ...

    def close(self) -> None: ...


def generate_api_key() -> str:
    """256 bits from the OS's CSPRNG, URL-safe (43 characters)."""
    return "vt-" + secrets.token_urlsafe(32)


@dataclass(frozen=True)
class SharedEndpoint:
    url: str  # the public base URL with /v1 appended: what a client's base_url wants
    api_key: str


class Share:
    def __init__(self, upstream: str, api_key: str, tunnel: Tunnel) -> None:
        self._gateway = Gateway(upstream, api_key)
        self._tunnel = tunnel
        self._api_key = api_key
        self.endpoint: SharedEndpoint | None = None

    def open(self) -> SharedEndpoint:
        """Start the gateway, then the tunnel to it (TunnelError when there is none)."""
        port = self._gateway.start()
        try:
            public = self._tunnel.open(port)
        except BaseException:
            self._gateway.close()
            raise
        self.endpoint = SharedEndpoint(public.rstrip("/") + "/v1", self._api_key)
        return self.endpoint

    def close(self) -> None:
        self._tunnel.close()
        self._gateway.close()
        self.endpoint = None
