"""Send one request and time it. aiohttp, with none of its defaults left to chance.

- No connection-pool cap (aiohttp's is 100): concurrency is bounded by our own semaphore, so
  time spent waiting for a slot is measured as queue delay instead of hidden in TTFT.
- No total timeout (aiohttp's is 300 s, which kills long generations); a read timeout catches
  stalls instead.
- Keep-alive shorter than vLLM's 5 s, so a burst after an idle pause rarely takes a socket the
  server has already closed.
- Rarely is not never: a client whose event loop stalls (seen: 4.3 s at p99 on 2 cores shared
  with vLLM) takes a connection that looked fresh and writes to it after the server closed it.
  Such a request never reached the server. When a *reused* connection fails before a single
  byte of response, the request is sent once more on a new connection and counted as retried.
  Never after a response byte, never on a new connection, never twice: a server that may have
  read the request is never sent it again.
"""

from __future__ import annotations

import contextvars
import functools
import json
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp.client_proto import ResponseHandler
from aiohttp.connector import Connection

from engine.redact import Redactor
from loadgen.config import LoadConfig
from loadgen.record import RequestRecord
from loadgen.sse import DONE, SSEParser

CLIENT_KEEPALIVE_S = 4.0
READ_BUFSIZE = 1 << 20


@dataclass
class _Attempt:
    reused: bool = False  # the connection had carried an earlier request


_ATTEMPT: contextvars.ContextVar[_Attempt] = contextvars.ContextVar("vllm_top_attempt")


class _ReuseAwareConnector(aiohttp.TCPConnector):
    """Tells the request being sent whether its connection is one that served another."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._served: weakref.WeakSet[ResponseHandler] = weakref.WeakSet()

    async def connect(self, req: Any, traces: Any, timeout: aiohttp.ClientTimeout) -> Connection:
        conn = await super().connect(req, traces, timeout)
        protocol = conn.protocol
        if protocol is not None:
            attempt = _ATTEMPT.get(None)
            if attempt is not None:
                attempt.reused = protocol in self._served
            self._served.add(protocol)
        return conn


def _timeout(config: LoadConfig) -> aiohttp.ClientTimeout:
    return aiohttp.ClientTimeout(
        total=None, sock_connect=config.connect_timeout, sock_read=config.stall_timeout
    )


def make_session(config: LoadConfig) -> aiohttp.ClientSession:
    connector = _ReuseAwareConnector(
        limit=0, limit_per_host=0, keepalive_timeout=CLIENT_KEEPALIVE_S, ttl_dns_cache=300
    )
    return aiohttp.ClientSession(
        connector=connector,
        timeout=_timeout(config),
        read_bufsize=READ_BUFSIZE,
        raise_for_status=False,
    )


class Client:
    """The run's HTTP side: the pooled session, and new connections for the rare retry."""

    def __init__(self, config: LoadConfig) -> None:
        self.config = config
        self.session = make_session(config)
        self._fresh: aiohttp.ClientSession | None = None

    def fresh(self) -> aiohttp.ClientSession:
        """A session that opens a new connection for every request (and closes it after)."""
        if self._fresh is None:
            self._fresh = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=0, force_close=True),
                timeout=_timeout(self.config),
                read_bufsize=READ_BUFSIZE,
                raise_for_status=False,
            )
        return self._fresh

    async def close(self) -> None:
        await self.session.close()
        if self._fresh is not None:
            await self._fresh.close()

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


# Failures of a connection the server closed: on a reused connection before any response byte,
# the request cannot have been read (a server closes only idle keep-alive connections).
_STALE_CONNECTION = (
    aiohttp.ServerDisconnectedError,
    aiohttp.ClientConnectionResetError,
    aiohttp.ClientOSError,
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
    if body is None:
        body = config.body(record.index)
    attempt = _Attempt()
    _ATTEMPT.set(attempt)
    record.sent = clock() - t0
    try:
        try:
            await _post(client.session, config, body, record, t0, clock, reply)
        except _STALE_CONNECTION as exc:
            if not attempt.reused or record.status is not None or record.first_byte is not None:
                raise exc
            # Sent again at once: the wait is the client's, so it counts as queue delay.
            record.retried = True
            record.sent = clock() - t0
            await _post(client.fresh(), config, body, record, t0, clock, reply)
    except TimeoutError:
        record.error_kind = "timeout"
        record.error = f"no data for {config.stall_timeout:g} s"
    except aiohttp.ServerDisconnectedError:
        record.error_kind = "disconnected"
        record.error = "server closed the connection"
    except aiohttp.ClientConnectorError as exc:
        record.error_kind = "connect"
        record.error = str(exc.os_error.strerror or exc.os_error)
    except (aiohttp.ClientConnectionResetError, aiohttp.ClientOSError) as exc:
        # The server went away under an open connection (reset by peer, broken pipe).
        record.error_kind = "disconnected"
        record.error = f"connection lost: {getattr(exc, 'strerror', None) or exc}"[:200]
    except aiohttp.ClientPayloadError as exc:
        record.error_kind = "dropped"
        record.error = f"connection dropped mid-response ({type(exc.__cause__ or exc).__name__})"
    except aiohttp.ClientError as exc:
        record.error_kind = "client"
        record.error = f"{type(exc).__name__}: {exc}"[:200]
    if record.end is None:
        record.end = clock() - t0
    if record.error and config.api_key:
        # A server may quote the request back in its error (the Authorization header
        # included): errors end up in reports, JSON, CSV and on screen.
        record.error = _redactor(config.api_key)(record.error)
    return record


async def _post(
    session: aiohttp.ClientSession,
    config: LoadConfig,
    body: dict[str, Any],
    record: RequestRecord,
    t0: float,
    clock: Callable[[], float],
    reply: list[str] | None,
) -> None:
    async with session.post(config.url, json=body, headers=config.headers()) as resp:
        record.status = resp.status
        if resp.status != 200:
            record.error_kind = "http"
            record.error = error_message(resp.status, await resp.text(errors="replace"))
        elif config.stream:
            await _read_stream(resp, record, t0, clock, reply)
        else:
            await _read_whole(resp, record, t0, clock, reply)


@functools.lru_cache(maxsize=4)
def _redactor(api_key: str) -> Redactor:
    return Redactor([api_key])


async def _read_stream(
    resp: aiohttp.ClientResponse,
    record: RequestRecord,
    t0: float,
    clock: Callable[[], float],
    reply: list[str] | None = None,
) -> None:
    parser = SSEParser()
    done = False
    counted = 0  # tokens according to the running usage (continuous_usage_stats)
    async for raw in resp.content.iter_any():
        now = clock() - t0
        if record.first_byte is None:
            record.first_byte = now
        for data in parser.feed(raw):
            if data == DONE:
                done = True
                continue
            try:
                event = json.loads(data)
            except ValueError:
                record.error_kind = "bad_sse"
                record.error = f"event is not JSON: {data[:80]!r}"
                continue
            if not isinstance(event, dict):
                continue
            if "error" in event:
                err = event["error"]
                record.error_kind = "stream_error"
                record.error = str(err.get("message", err) if isinstance(err, dict) else err)
                continue
            usage = event.get("usage")
            new_tokens = 0
            if isinstance(usage, dict):
                completion = usage.get("completion_tokens")
                if isinstance(completion, int):
                    new_tokens = completion - counted
                    counted = completion
                    record.output_tokens = completion
                if isinstance(usage.get("prompt_tokens"), int):
                    record.prompt_tokens = usage["prompt_tokens"]
            choices = event.get("choices") or []
            texts = [_chunk_text(c) for c in choices if isinstance(c, dict)]
            has_text = any(texts)
            if reply is not None:
                reply.extend(texts)
            if choices and (new_tokens > 0 or has_text):
                _token_chunk(record, now)
    record.end = clock() - t0
    if not done and record.error_kind is None:
        record.error_kind = "incomplete"
        record.error = "stream ended without [DONE]"
    if record.output_tokens is None:
        # No usage from this server: fall back to chunks, and say the count is approximate.
        record.output_tokens = record.chunks
        record.tokens_exact = False
    if record.first_token is None and record.error_kind is None:
        record.error_kind = "no_tokens"
        record.error = "the stream carried no generated tokens"


def _token_chunk(record: RequestRecord, now: float) -> None:
    if record.first_token is None:
        record.first_token = now
    elif record.last_token is not None:
        record.itl.append(now - record.last_token)
    record.last_token = now
    record.chunks += 1


async def _read_whole(
    resp: aiohttp.ClientResponse,
    record: RequestRecord,
    t0: float,
    clock: Callable[[], float],
    reply: list[str] | None = None,
) -> None:
    text = await resp.text(errors="replace")
    now = clock() - t0
    record.first_byte = record.end = now
    try:
        data = json.loads(text)
    except ValueError:
        record.error_kind = "bad_json"
        record.error = f"response is not JSON: {text[:80]!r}"
        return
    usage = data.get("usage") if isinstance(data, dict) else None
    if reply is not None and isinstance(data, dict):
        for choice in data.get("choices") or []:
            if isinstance(choice, dict):
                message = choice.get("message") or {}
                reply.append(str(choice.get("text") or message.get("content") or ""))
    if isinstance(usage, dict):
        record.output_tokens = usage.get("completion_tokens")
        record.prompt_tokens = usage.get("prompt_tokens")
    if record.output_tokens is None:
        record.tokens_exact = False
    # Without streaming the first token is only seen with the last: no TTFT, no ITL.
    record.last_token = now
