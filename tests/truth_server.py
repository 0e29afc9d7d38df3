"""A streaming server with programmed timings: the ground truth the load generator is checked
against. It runs in its own process (python -m tests.truth_server --port P ...).

Timing: the first token is sent `ttft` after the request arrives, token k at ttft + k * itl,
each against an absolute target so there is no drift. Chat streams start with vLLM's
role-only chunk at once (it must not count as the first token).

Per-request faults, chosen by a marker in the prompt: "#status=500", "#drop=N" (close the
connection after N tokens), "#garbage" (a non-JSON event), "#nousage", "#html" (an HTML page
with status 200), "#split" (write every event in 3-byte pieces), "#echo-auth" (a 400 error
that quotes the Authorization header). `--metrics FILE` serves a captured /metrics text;
`--ttft-per-request S` adds S to the TTFT per request in progress (this one included).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import time
from pathlib import Path
from typing import Any

from aiohttp import web

PIECES = ["你", "好", " world", "🚀", "é", " KV", "缓存"]


def _prompt_text(body: dict[str, Any]) -> str:
    if "prompt" in body:
        return str(body["prompt"])
    return " ".join(str(m.get("content", "")) for m in body.get("messages", []))


class Truth:
    def __init__(self, args: argparse.Namespace) -> None:
        self.ttft: float = args.ttft
        # TTFT grows by this much per request in progress (this one included): a server whose
        # latency rises with load, so the most concurrency meeting a TTFT target is known.
        self.ttft_per_request: float = args.ttft_per_request
        self.in_progress = 0
        self.itl: float = args.itl
        self.tokens: int = args.tokens
        self.tokens_per_chunk: int = args.tokens_per_chunk
        self.api_key: str | None = args.api_key
        self.metrics_text = Path(args.metrics).read_text() if args.metrics else None
        # What really happened on this side: first-token write time minus arrival, per request,
        # and how many generation requests arrived at all.
        self.actual_ttfts: list[float] = []
        self.received = 0

    async def health(self, request: web.Request) -> web.StreamResponse:
        return web.Response(status=200)  # like vLLM's: no body, no key needed

    async def metrics(self, request: web.Request) -> web.StreamResponse:
        if self.metrics_text is None:
            return web.Response(status=404)
        return web.Response(text=self.metrics_text, content_type="text/plain")

    async def stats(self, request: web.Request) -> web.StreamResponse:
        ttfts, self.actual_ttfts = self.actual_ttfts, []
        received, self.received = self.received, 0
        return web.json_response({"ttfts": ttfts, "requests": received})

    def authorised(self, request: web.Request) -> bool:
        return self.api_key is None or (
            request.headers.get("Authorization") == f"Bearer {self.api_key}"
        )

    async def models(self, request: web.Request) -> web.StreamResponse:
        if not self.authorised(request):
            return web.json_response({"error": "Unauthorized"}, status=401)
        return web.json_response({"object": "list", "data": [{"id": "truth-model"}]})

    async def complete(self, request: web.Request) -> web.StreamResponse:
        self.in_progress += 1
        try:
            return await self._complete(request)
        except ConnectionResetError:  # the client went away (cancelled run): nothing to do
            return web.Response(status=499)
        finally:
            self.in_progress -= 1

    async def _complete(self, request: web.Request) -> web.StreamResponse:
        arrived = time.monotonic()
        self.received += 1
        ttft = self.ttft + self.ttft_per_request * self.in_progress
        if not self.authorised(request):
            return web.json_response({"error": "Unauthorized"}, status=401)
        body = await request.json()
        prompt = _prompt_text(body)
        chat = request.path.endswith("/chat/completions")
        if m := re.search(r"#status=(\d+)", prompt):
            status = int(m[1])
            return web.json_response(
                {"error": {"message": f"programmed failure {status}", "code": status}},
                status=status,
            )
        if "#echo-auth" in prompt:  # a careless server that quotes the request in its error
            auth = request.headers.get("Authorization", "")
            return web.json_response({"error": f"bad request from {auth}"}, status=400)
        if "#html" in prompt:
            return web.Response(
                text="<html><body>Bad gateway</body></html>", content_type="text/html"
            )
        n = int(body.get("max_completion_tokens") or body.get("max_tokens") or self.tokens)
        prompt_tokens = max(1, len(prompt.split()))
        if not body.get("stream"):
            await asyncio.sleep(ttft + self.itl * (n - 1))
            text = "".join(PIECES[i % len(PIECES)] for i in range(n))
            choice = (
                {"index": 0, "message": {"role": "assistant", "content": text}}
                if chat
                else {"index": 0, "text": text}
            )
            totals = {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": n,
                "total_tokens": prompt_tokens + n,
            }
            return web.json_response({"choices": [choice], "usage": totals})

        options = body.get("stream_options") or {}
        usage_on = options.get("include_usage") and "#nousage" not in prompt
        continuous = options.get("continuous_usage_stats") and usage_on
        drop_after = int(m[1]) if (m := re.search(r"#drop=(\d+)", prompt)) else None
        split = "#split" in prompt
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)

        async def send(event: dict[str, Any] | str) -> None:
            data = event if isinstance(event, str) else json.dumps(event, ensure_ascii=False)
            raw = f"data: {data}\n\n".encode()
            if split:
                for i in range(0, len(raw), 3):
                    await resp.write(raw[i : i + 3])
                    await asyncio.sleep(0)
            else:
                await resp.write(raw)

        def usage(done: int) -> dict[str, int]:
            return {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": done,
                "total_tokens": prompt_tokens + done,
            }

        if chat:  # vLLM's role chunk, at once and with no content
            await send({"choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]})
        if "#garbage" in prompt:
            await send("{this is not json")
        sent = 0
        k = 0
        while sent < n:
            target = arrived + ttft + k * self.itl
            delay = target - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            count = min(self.tokens_per_chunk, n - sent)
            text = "".join(PIECES[(sent + i) % len(PIECES)] for i in range(count))
            sent += count
            k += 1
            choice = (
                {"index": 0, "delta": {"content": text}} if chat else {"index": 0, "text": text}
            )
            event: dict[str, Any] = {"choices": [choice]}
            if continuous:
                event["usage"] = usage(sent)
            await send(event)
            if k == 1:
                self.actual_ttfts.append(time.monotonic() - arrived)
            if drop_after is not None and sent >= drop_after:
                assert request.transport is not None
                request.transport.close()
                return resp
        if usage_on:
            await send({"choices": [], "usage": usage(sent)})
        await send("[DONE]")
        await resp.write_eof()
        return resp


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--ttft", type=float, default=0.1)
    parser.add_argument("--ttft-per-request", type=float, default=0.0)
    parser.add_argument("--itl", type=float, default=0.01)
    parser.add_argument("--tokens", type=int, default=16)
    parser.add_argument("--tokens-per-chunk", type=int, default=1)
    parser.add_argument("--api-key")
    parser.add_argument("--keepalive", type=float, default=5.0, help="idle keep-alive, as vLLM's")
    parser.add_argument("--metrics", help="a captured /metrics text to serve")
    parser.add_argument("--vllm-version", help="what /version says (absent: 404, as a non-vLLM)")
    parser.add_argument(
        "--gpu-metrics", help="a GPU exporter's captured text, served at /gpu-metrics"
    )
    parser.add_argument(
        "--reuse-port", action="store_true", help="several server processes on one port"
    )
    args = parser.parse_args()
    truth = Truth(args)
    app = web.Application()
    app.router.add_get("/health", truth.health)
    app.router.add_get("/v1/models", truth.models)
    app.router.add_get("/metrics", truth.metrics)
    app.router.add_get("/truth/stats", truth.stats)
    if args.vllm_version:
        version = {"version": args.vllm_version}

        async def answer_version(request: web.Request) -> web.StreamResponse:
            return web.json_response(version)

        app.router.add_get("/version", answer_version)
    if args.gpu_metrics:
        gpu_text = Path(args.gpu_metrics).read_text()

        async def gpu_metrics(request: web.Request) -> web.StreamResponse:
            return web.Response(text=gpu_text, content_type="text/plain")

        app.router.add_get("/gpu-metrics", gpu_metrics)
    app.router.add_post("/v1/completions", truth.complete)
    app.router.add_post("/v1/chat/completions", truth.complete)
    print(f"truth server on port {args.port}", flush=True)
    web.run_app(
        app,
        host="127.0.0.1",
        port=args.port,
        print=None,
        access_log=None,
        keepalive_timeout=args.keepalive,
        reuse_port=args.reuse_port,
    )


if __name__ == "__main__":
    main()
