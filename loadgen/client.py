"""Send one request and time it, on the lean HTTP/1.1 client of loadgen.wire.

- No connection-pool cap: concurrency is bounded by the runner's own slots, so time spent
  waiting for a slot is measured as queue delay instead of hidden in TTFT.
- No total timeout (a long generation is not a failure); a stall timeout catches a server
  that stops sending.
- Keep-alive shorter than vLLM's 5 s, so a burst after an idle pause rarely takes a socket the
  server has already closed.
- Rarely is not never: a client whose event loop stalls (seen: 4.3 s at p99 on 2 cores shared
  with vLLM) takes a connection that looked fresh and writes to it after the server closed it.
  Such a request never reached the server. When a connection taken from the pool (one that
  carried an earlier request, or was opened before the run) dies before a single byte of
  response, the request is sent once more on a new connection and counted as retried.
  Never after a response byte, never on a new connection, never twice: a server that may have
  read the request is never sent it again.
- Every chunk is handled inside the read callback (no future or task switch per chunk): llhttp
  (httptools) frames it, the sink checks for one whole `data:` event and msgspec decodes only
  the fields used (usage, whether there are choices; their text only when it is needed). The
  client must keep up with a GPU's stream of tokens.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import msgspec
import orjson

from engine.redact import Redactor
from loadgen.config import LoadConfig
from loadgen.record import RequestRecord
from loadgen.sse import DONE, SSEParser
from loadgen.wire import (
    ClosedBeforeResponse,
    ConnectFailed,
    Connection,
    DroppedMidResponse,
    Exchange,
    Pool,
    Stalled,
    Target,
    request_bytes,
)

CLIENT_KEEPALIVE_S = 4.0
ERROR_BODY_MAX = 64 * 1024
WARM_AT_ONCE = 64
DONE_BYTES = DONE.encode()


class Client:
    """The run's HTTP side: one pool of connections to the server."""

    def __init__(self, config: LoadConfig) -> None:
        self.config = config
        target = Target.of(config.url)
        parts = urlsplit(config.url)
        self._path = parts.path + (f"?{parts.query}" if parts.query else "")
        self._target = target
        self.pool = Pool(target, CLIENT_KEEPALIVE_S, config.connect_timeout, config.stall_timeout)

    def request(self, body: dict[str, Any]) -> bytes:
        return request_bytes(self._target, self._path, orjson.dumps(body), self.config.headers())

    async def warm(self, connections: int) -> None:
        """Open connections before the clock starts (a failure here is the run's to meet),
        WARM_AT_ONCE at a time: a server's listen backlog (128 for aiohttp and uvicorn)
        drops the SYNs past it, and a dropped SYN is retried only after a second."""

        async def one() -> None:
            with contextlib.suppress(ConnectFailed):
                self.pool.park(await self.pool.open())

        for start in range(0, connections, WARM_AT_ONCE):
            await asyncio.gather(*(one() for _ in range(min(WARM_AT_ONCE, connections - start))))

    async def close(self) -> None:
        await self.pool.close()

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


def error_message(status: int, text: str) -> str:
    """The server's own words for an HTTP error, in one short line."""
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if isinstance(data, dict):
        err = data.get("error", data.get("message", data.get("detail")))
        if isinstance(err, dict):
            err = err.get("message", err)
        if err:
            return f"HTTP {status}: {str(err)[:200]}"
    snippet = " ".join(text.split())[:120]
    return f"HTTP {status}: {snippet}" if snippet else f"HTTP {status}"


def _chunk_text(choice: dict[str, Any]) -> str:
    if "text" in choice:
        return str(choice.get("text") or "")
    delta = choice.get("delta") or {}
    return str(
        delta.get("content") or delta.get("reasoning_content") or delta.get("reasoning") or ""
    )


async def send_request(
    client: Client,
    record: RequestRecord,
    t0: float,
    clock: Callable[[], float] = time.perf_counter,
    body: dict[str, Any] | None = None,
    reply: list[str] | None = None,
) -> RequestRecord:
    """Fill in `record` with what happened; never raises for a request-level failure.
    body: what to send (default: the config's body for the record's index); reply: a list the
    generated text is appended to (a conversation needs it for its next turn)."""
    config = client.config
    request = client.request(body if body is not None else config.body(record.index))
    pool = client.pool
    record.sent = clock() - t0
    try:
        conn = pool.take_idle()
        try:
            await _exchange(client, conn or await pool.open(), request, record, t0, clock, reply)
        except ClosedBeforeResponse:
            if conn is None:
                raise
            # Sent again at once: the wait is the client's, so it counts as queue delay.
            record.retried = True
            record.sent = clock() - t0
            await _exchange(client, await pool.open(), request, record, t0, clock, reply)
    except Stalled as exc:
        record.error_kind, record.error = "timeout", str(exc)
    except ConnectFailed as exc:
        record.error_kind, record.error = "connect", str(exc)
    except ClosedBeforeResponse as exc:
        record.error_kind = "disconnected"
        why = str(exc)
        record.error = why if why.startswith("server closed") else f"connection lost: {why}"
    except DroppedMidResponse as exc:
        record.error_kind = "dropped"
        record.error = f"connection dropped mid-response ({exc})"[:200]
    if record.end is None:
        record.end = clock() - t0
    if record.error and config.api_key:
        # A server may quote the request back in its error (the Authorization header
        # included): errors end up in reports, JSON, CSV and on screen.
        record.error = _redactor(config.api_key)(record.error)
    return record


async def _exchange(
    client: Client,
    conn: Connection,
    request: bytes,
    record: RequestRecord,
    t0: float,
    clock: Callable[[], float],
    reply: list[str] | None,
) -> None:
    sink = StreamSink(record, reply) if client.config.stream else WholeSink(record, reply)
    exchange = Exchange(sink, clock, t0)
    conn.send(request, exchange)
    try:
        await exchange.done
    finally:
        client.pool.give_back(conn)  # closed unless the exchange ended cleanly
    sink.finish(clock() - t0)


@functools.lru_cache(maxsize=4)
def _redactor(api_key: str) -> Redactor:
    return Redactor([api_key])


class _ErrorBody:
    """A non-200 answer: its body, kept (up to 64 KiB) for the server's own words."""

    def __init__(self, record: RequestRecord) -> None:
        self.record = record
        self.error_body = bytearray()
        self.now = 0.0  # set by the exchange before each read is parsed

    def head(self, status: int) -> None:
        self.record.status = status
        if self.record.first_byte is None:
            self.record.first_byte = self.now

    def _keep(self, data: bytes) -> None:
        if len(self.error_body) < ERROR_BODY_MAX:
            self.error_body += data[: ERROR_BODY_MAX - len(self.error_body)]

    def _finish_error(self) -> bool:
        record = self.record
        if record.status == 200:
            return False
        record.error_kind = "http"
        text = self.error_body.decode("utf-8", errors="replace")
        record.error = error_message(record.status or 0, text)
        return True


class _Usage(msgspec.Struct):
    prompt_tokens: Any = None
    completion_tokens: Any = None


class _Event(msgspec.Struct):
    """The fields of a streamed event that are used; the rest (id, model, created, logprobs...)
    is skipped by the decoder without being built."""

    choices: list[msgspec.Raw] | None = None  # decoded only when their text is needed
    usage: _Usage | None = None
    error: Any = None


_decode_event = msgspec.json.Decoder(_Event).decode


def _loose_event(data: str | bytes) -> _Event | None:
    """An event of another shape than vLLM's (usage not an object, choices not a list...): what
    can be used of it."""
    event = msgspec.json.decode(data)
    if not isinstance(event, dict):
        return None
    usage, choices = event.get("usage"), event.get("choices")
    return _Event(
        choices=[msgspec.Raw(msgspec.json.encode(c)) for c in choices]
        if isinstance(choices, list)
        else None,
        usage=_Usage(usage.get("prompt_tokens"), usage.get("completion_tokens"))
        if isinstance(usage, dict)
        else None,
        error=event.get("error"),
    )


class StreamSink(_ErrorBody):
    """A streamed answer: every token-bearing event timed as it is read."""

    def __init__(self, record: RequestRecord, reply: list[str] | None) -> None:
        super().__init__(record)
        self._parser = SSEParser()
        self._whole = False  # 200, and no partial event held: an event per read can skip it
        self._done = False
        self._counted = 0  # tokens according to the running usage (continuous_usage_stats)
        self._reply = reply

    def head(self, status: int) -> None:
        super().head(status)
        self._whole = status == 200

    def body(self, data: bytes) -> None:
        # The hot path: one whole event of one data line per read, as vLLM writes them.
        if (
            self._whole
            and data.startswith(b"data: ")
            and data.find(b"\n", 6) == len(data) - 2
            and data.endswith(b"\n\n")
        ):
            self._event(data[6:-2])
        elif self.record.status != 200:
            self._keep(data)
        else:
            for event in self._parser.feed(data):
                self._event(event)
            self._whole = self._parser.between_events

    def _event(self, data: str | bytes) -> None:
        record = self.record
        if data in (DONE_BYTES, DONE):
            self._done = True
            return
        try:
            event = _decode_event(data)
        except msgspec.ValidationError:
            loose = _loose_event(data)
            if loose is None:
                return
            event = loose
        except msgspec.DecodeError:
            record.error_kind = "bad_sse"
            record.error = f"event is not JSON: {data[:80]!r}"
            return
        if event.error is not None:
            err = event.error
            record.error_kind = "stream_error"
            record.error = str(err.get("message", err) if isinstance(err, dict) else err)
            return
        usage = event.usage
        new_tokens = 0
        if usage is not None:
            completion = usage.completion_tokens
            if type(completion) is int:
                new_tokens = completion - self._counted
                self._counted = completion
                record.output_tokens = completion
            prompt = usage.prompt_tokens
            if type(prompt) is int:
                record.prompt_tokens = prompt
        choices = event.choices
        if not choices:
            return
        if new_tokens <= 0 or self._reply is not None:
            # No running usage (or the text is wanted): the text says whether it is a token.
            has_text = False
            for raw in choices:
                choice = msgspec.json.decode(raw)
                text = _chunk_text(choice) if isinstance(choice, dict) else ""
                if text:
                    has_text = True
                    if self._reply is not None:
                        self._reply.append(text)
            if new_tokens <= 0 and not has_text:
                return
        now = self.now
        if record.first_token is None:
            record.first_token = now
        elif record.last_token is not None:
            record.itl.append(now - record.last_token)
        record.last_token = now
        record.chunks += 1

    def finish(self, now: float) -> None:
        record = self.record
        record.end = now
        if self._finish_error():
            return
        if not self._done and record.error_kind is None:
            record.error_kind = "incomplete"
            record.error = "stream ended without [DONE]"
        if record.output_tokens is None:
            # No usage from this server: fall back to chunks, and say the count is approximate.
            record.output_tokens = record.chunks
            record.tokens_exact = False
        if record.first_token is None and record.error_kind is None:
            record.error_kind = "no_tokens"
            record.error = "the stream carried no generated tokens"


class WholeSink(_ErrorBody):
    """An answer read whole: no first token to time, only the end."""

    def __init__(self, record: RequestRecord, reply: list[str] | None) -> None:
        super().__init__(record)
        self._body = bytearray()
        self._reply = reply

    def body(self, data: bytes) -> None:
        if self.record.status != 200:
            self._keep(data)
        else:
            self._body += data

    def finish(self, now: float) -> None:
        record = self.record
        record.end = now
        if self._finish_error():
            return
        record.first_byte = now
        try:
            data = orjson.loads(self._body)
        except orjson.JSONDecodeError:
            record.error_kind = "bad_json"
            record.error = f"response is not JSON: {bytes(self._body[:80])!r}"
            return
        usage = data.get("usage") if isinstance(data, dict) else None
        if self._reply is not None and isinstance(data, dict):
            for choice in data.get("choices") or []:
                if isinstance(choice, dict):
                    message = choice.get("message") or {}
                    self._reply.append(str(choice.get("text") or message.get("content") or ""))
        if isinstance(usage, dict):
            record.output_tokens = usage.get("completion_tokens")
            record.prompt_tokens = usage.get("prompt_tokens")
        if record.output_tokens is None:
            record.tokens_exact = False
        # Without streaming the first token is only seen with the last: no TTFT, no ITL.
        record.last_token = now
