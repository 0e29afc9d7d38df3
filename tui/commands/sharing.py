"""`--share` and the share key: open a public URL in front of a keyed server, say it once.

The same steps for the headless command and the dashboard: a gateway that checks the key, a
tunnel to it, one line instead of a traceback when there is no tunnel to be had.
"""

from __future__ import annotations

from collections.abc import Callable

from engine.share import Share, SharedEndpoint, Tunnel
from engine.tunnel import TunnelError, ssh_hint
from tui.commands.errors import UsageError
from tui.commands.settings import ServeSettings

TunnelFactory = Callable[[], Tunnel]


class ShareError(Exception):
    """No public URL: one line, the reason and the SSH alternative."""


def ngrok_factory(token: str) -> TunnelFactory:
    def make() -> Tunnel:
        from engine.reaper import shared_reaper
        from engine.tunnel import NgrokTunnel

        return NgrokTunnel(token, reaper=shared_reaper())

    return make


def open_share(upstream: str, api_key: str, port: int, make_tunnel: TunnelFactory) -> Share:
    """Open the gateway and the tunnel (blocking: seconds); ShareError in one line if not."""
    share = Share(upstream, api_key, make_tunnel())
    try:
        share.open()
    except TunnelError as exc:
        hint = ssh_hint(port)
        raise ShareError(f"no public URL: {exc}; share over SSH instead: {hint}") from None
    return share


def banner(endpoint: SharedEndpoint, key_is_new: bool) -> list[str]:
    """What to tell the user once: the URL (with /v1) and, if vllm-top made it, the key."""
    if key_is_new:
        key = f"API key: {endpoint.api_key}   (generated for this server; shown only now)"
    else:
        key = "API key: the one the server was given (VLLM_API_KEY or --api-key)"
    return [
        f"public URL: {endpoint.url}   (only /v1, and only with the key)",
        key,
        f'try: curl {endpoint.url}/models -H "Authorization: Bearer $KEY"',
    ]


def share_for(settings: ServeSettings) -> Share | None:
    """--share: the public URL is opened before vLLM starts, so no network costs a second,
    not a model load; its failure is one line (exit 2) with the SSH alternative."""
    if not settings.share:
        return None
    assert settings.api_key is not None and settings.ngrok_token is not None  # validate()
    try:
        return open_share(
            settings.base_url, settings.api_key, settings.port, ngrok_factory(settings.ngrok_token)
        )
    except ShareError as exc:
        raise UsageError(str(exc)) from None
