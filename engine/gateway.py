"""The local door a public tunnel opens onto: only /v1, and only with the API key.

vLLM's --api-key guards the paths under /v1 and nothing else: /invocations (SageMaker's
generation route), /tokenize, /pause, /metrics and the rest answer anyone. Pointing a tunnel at
vLLM itself would publish those. The tunnel points here instead: a small reverse proxy on
127.0.0.1 that answers 404 outside /v1, 401 without the key, and streams everything else
(server-sent events included) to and from vLLM unchanged.

It runs its own asyncio loop on a thread, so it works under the headless command and the
dashboard alike.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import socket
import threading
import urllib.parse

import aiohttp
from aiohttp import web

# Headers that describe one hop, not the message (RFC 9110 7.6.1), plus what aiohttp sets.
_HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
    }
)


def _is_shared(raw_path: str) -> bool:
    """Plainly under /v1. Dot segments are refused outright, encoded or not: the client below
    would resolve `/v1/../invocations` to `/invocations` on the way to vLLM."""
    path = urllib.parse.unquote(raw_path.split("?", 1)[0])
    if "\\" in path or "//" in path or any(seg in (".", "..") for seg in path.split("/")):
        return False
    return path == "/v1" or path.startswith("/v1/")


class Gateway:
    def __init__(self, upstream: str, api_key: str, host: str = "127.0.0.1", port: int = 0):
        """upstream: the server's base URL (http://127.0.0.1:8000), without /v1."""
        if not api_key:
            raise ValueError("a gateway without a key would publish an open server")
        self.upstream = upstream.rstrip("/")
        self._expected = f"Bearer {api_key}".encode()
        self._host = host
        self._port = port
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._client: aiohttp.ClientSession | None = None
        self._thread: threading.Thread | None = None
        self.port: int | None = None

    @property
    def url(self) -> str:
        return f"http://{self._host}:{self.port}"

    def start(self) -> int:
        """Listen (on a free port unless one was given); return the port."""
        started = threading.Event()
        errors: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            try:
                loop.run_until_complete(self._open())
            except BaseException as exc:  # reported to start()'s caller
                errors.append(exc)
                started.set()
                loop.close()
                return
            started.set()
            loop.run_forever()
            loop.run_until_complete(self._close())
            loop.close()

        self._thread = threading.Thread(target=run, name="vllm-top-gateway", daemon=True)
        self._thread.start()
        started.wait()
        if errors:
            raise errors[0]
        assert self.port is not None
        return self.port

    def close(self) -> None:
        if self._loop is not None and self._thread is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)

    async def _open(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        # No total timeout: a generation may stream for minutes.
        self._client = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=10),
            auto_decompress=False,
        )
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        sock = socket.socket(socket.AF_INET6 if ":" in self._host else socket.AF_INET)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self._host, self._port))
        self.port = sock.getsockname()[1]
        await web.SockSite(self._runner, sock).start()

    async def _close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        if self._client is not None:
            await self._client.close()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        if not _is_shared(request.raw_path):
            return web.json_response({"error": "not found: only /v1 is shared"}, status=404)
        given = request.headers.get("Authorization", "").encode()
        if not hmac.compare_digest(given, self._expected):
            return web.json_response({"error": "Unauthorized"}, status=401)
        assert self._client is not None
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP_BY_HOP}
        body = await request.read()
        try:
            upstream = await self._client.request(
                request.method, self.upstream + request.path_qs, headers=headers, data=body
            )
        except aiohttp.ClientError:
            return web.json_response(
                {"error": "vLLM is not answering (starting, or stopped)"}, status=502
            )
        async with upstream:
            response = web.StreamResponse(status=upstream.status, reason=upstream.reason)
            for name, value in upstream.headers.items():
                if name.lower() not in _HOP_BY_HOP:
                    response.headers.add(name, value)
            await response.prepare(request)
            # A client that goes away cancels this handler, which closes the upstream request:
            # vLLM then aborts the generation instead of finishing it for nobody.
            with contextlib.suppress(ConnectionResetError):
                async for chunk in upstream.content.iter_any():
                    await response.write(chunk)
                await response.write_eof()
        return response
