"""A streaming chat server fast enough that the client, not the server, is what a benchmark
of clients measures.

    python -m bench.step_server --port P [--ttft 0.2] [--itl 0.05] [--tokens 64]

The truth server (tests/truth_server.py, aiohttp) writes about 12,000 chunks a second on one
core: at 256-512 streams it is the bottleneck, its writes spread over the whole step, and every
client then wakes up once per chunk whatever its own cost. This one does what vLLM's engine and
API server do on a GPU: every `itl` seconds (one engine step, on a grid of the monotonic clock)
every running stream gets its next token, and the step's chunks are written together, so a
client sees them arrive in a burst. A stream's first token goes out at the first step at or
after `ttft` from its request's arrival; that time is recorded (GET /truth/stats answers and
resets the list, as the truth server does). Chunks are vLLM 0.32's: the role-only chunk at
once, one token per chunk with the running usage when `continuous_usage_stats` is asked for,
the usage chunk, `[DONE]`. HTTP/1.1 keep-alive, chunked; POST /v1/chat/completions and GET
/truth/stats only. `--reuse-port`: several of them on one port, a core each.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import math
import time
from typing import Any

import httptools
import orjson
import uvloop

# The servers a client benchmark can run against, by the name its --server option takes.
SERVERS = {"step": "bench.step_server", "truth": "tests.truth_server"}
MODEL = "truth-model"
PIECES = [" the", " KV", " cache", " 缓存", " é", " 🚀"]
_HEAD = (
    b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
    b"transfer-encoding: chunked\r\ncache-control: no-cache\r\n\r\n"
)


def _chunk(payload: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(payload), payload)


def _event(obj: dict[str, Any]) -> bytes:
    return _chunk(b"data: " + orjson.dumps(obj) + b"\n\n")


class Stream:
    """One request being answered, a token per step."""

    __slots__ = ("arrived", "due", "final_usage", "id", "n", "prompt_tokens", "running_usage",
                 "sent", "transport")  # fmt: skip

    def __init__(self, transport: asyncio.Transport, body: dict[str, Any], arrived: float,
                 ttft: float, tokens: int, number: int) -> None:  # fmt: skip
        self.transport = transport
        self.id = f"chatcmpl-{number}"
        self.n = int(body.get("max_completion_tokens") or body.get("max_tokens") or tokens)
        options = body.get("stream_options") or {}
        self.final_usage = bool(options.get("include_usage"))
        self.running_usage = self.final_usage and bool(options.get("continuous_usage_stats"))
        self.prompt_tokens = max(1, sum(len(str(m.get("content", "")).split())
                                        for m in body.get("messages", [])))  # fmt: skip
        self.arrived = arrived
        self.due = arrived + ttft
        self.sent = 0
        transport.write(_HEAD + self._delta({"role": "assistant", "content": ""}, 0))

    def _delta(self, delta: dict[str, str], done: int, finish: str | None = None) -> bytes:
        event: dict[str, Any] = {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": 1764770000,
            "model": MODEL,
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
        }
        if self.running_usage:
            event["usage"] = self._totals(done)
        return _event(event)

    def _totals(self, done: int) -> dict[str, int]:
        return {"prompt_tokens": self.prompt_tokens, "total_tokens": self.prompt_tokens + done,
                "completion_tokens": done}  # fmt: skip

    def step(self) -> bool:
        """Write the next token; True when the stream has ended."""
        self.sent += 1
        last = self.sent >= self.n
        out = self._delta(
            {"content": PIECES[self.sent % len(PIECES)]}, self.sent, "length" if last else None
        )
        if last:
            if self.final_usage:
                out += _event({"id": self.id, "object": "chat.completion.chunk",
                               "created": 1764770000, "model": MODEL, "choices": [],
                               "usage": self._totals(self.sent)})  # fmt: skip
            out += _chunk(b"data: [DONE]\n\n") + b"0\r\n\r\n"
        self.transport.write(out)
        return last


class Engine:
    """The steps: every `itl` seconds every running stream gets its token."""

    def __init__(self, ttft: float, itl: float, tokens: int) -> None:
        self.ttft, self.itl, self.tokens = ttft, itl, tokens
        self.running: list[Stream] = []
        self.ttfts: list[float] = []
        self._numbers = itertools.count()
        self._loop = asyncio.get_running_loop()
        self._schedule()

    def _schedule(self) -> None:
        now = time.monotonic()
        at = math.floor(now / self.itl + 1) * self.itl
        self._loop.call_at(self._loop.time() + (at - now), self._step)

    def add(self, transport: asyncio.Transport, body: dict[str, Any]) -> None:
        arrived = time.monotonic()
        self.running.append(
            Stream(transport, body, arrived, self.ttft, self.tokens, next(self._numbers))
        )

    def _step(self) -> None:
        now = time.monotonic()
        still: list[Stream] = []
        for stream in self.running:
            if stream.transport.is_closing():
                continue
            if stream.due > now:
                still.append(stream)
                continue
            if stream.sent == 0:
                self.ttfts.append(now - stream.arrived)
            if not stream.step():
                still.append(stream)
        self.running = still
        self._schedule()


class Connection(asyncio.Protocol):
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport | None = None
        self.url = b""
        self.body = bytearray()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            assert self.transport is not None
            self.transport.close()

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_body(self, body: bytes) -> None:
        self.body += body

    def on_message_complete(self) -> None:
        assert self.transport is not None
        url, body = self.url, bytes(self.body)
        self.url, self.body = b"", bytearray()
        if url == b"/truth/stats":
            payload = orjson.dumps({"ttfts": self.engine.ttfts})
            self.engine.ttfts = []
            self.transport.write(
                b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                b"content-length: %d\r\n\r\n%s" % (len(payload), payload)
            )
        elif url.endswith(b"/chat/completions"):
            self.engine.add(self.transport, orjson.loads(body))
        else:
            self.transport.write(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n")


async def serve(port: int, ttft: float, itl: float, tokens: int, reuse_port: bool) -> None:
    engine = Engine(ttft, itl, tokens)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: Connection(engine), "127.0.0.1", port, backlog=4096, reuse_port=reuse_port
    )
    print(f"step server on port {port}", flush=True)
    await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--ttft", type=float, default=0.2)
    parser.add_argument("--itl", type=float, default=0.05)
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument(
        "--reuse-port", action="store_true", help="several server processes on one port"
    )
    args = parser.parse_args()
    uvloop.run(serve(args.port, args.ttft, args.itl, args.tokens, args.reuse_port))


if __name__ == "__main__":
    main()
