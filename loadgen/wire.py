"""A lean HTTP/1.1 client for the load's hot path: one request at a time per connection, its
response handed to a sink as it arrives, inside the event loop's own read callback.

Why not aiohttp here: a streamed token cost aiohttp ~60 us of CPU on its way to us (its
protocol, a StreamReader, a future woken per chunk, a task switched to per chunk), the same
as vLLM's own client; a client that cannot keep up reports its own queueing as the server's
TTFT. Here a chunk is parsed where it is read: the HTTP framing by llhttp (httptools, C, as
uvicorn uses it), then the SSE event and its JSON in the sink, with no future, no task switch
and no copy of the stream. Measured in place (a wake-up per chunk, caches cold), the framing
in Python cost more than its whole C replacement. Everything else (model lookup, /metrics,
the share gateway) stays on urllib or aiohttp.

What it does: http and https, keep-alive with a pool that hands out the most recently used
connection (LIFO: the idle ones age out first), Content-Length, chunked and read-until-close
bodies, a stall timeout checked once a second for every response in flight, and the
difference between a connection that died before any response byte (safe to send again
when the connection was an old one) and one that died mid-response (never sent again).
What it does not: redirects, proxies, HTTP/2, 1xx other than skipping them, compression
(it asks for none).
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Protocol, cast
from urllib.parse import urlsplit

import httptools

WATCH_INTERVAL_S = 1.0


class ConnectFailed(Exception):
    """No connection could be opened (refused, unreachable, timed out)."""


class ClosedBeforeResponse(Exception):
    """The connection ended before a single byte of response."""


class DroppedMidResponse(Exception):
    """The connection ended, or the framing broke, in the middle of a response."""


class Stalled(Exception):
    """No byte for longer than the stall timeout."""


class Sink(Protocol):
    """Where a response goes, piece by piece."""

    now: float  # when the bytes handed over were read: set before each read is parsed

    def head(self, status: int) -> None: ...

    def body(self, data: bytes) -> None: ...


@dataclass(frozen=True)
class Target:
    host: str
    port: int
    tls: bool
    prefix: str  # the URL's path before the endpoint's, without the trailing slash

    @classmethod
    def of(cls, base_url: str) -> Target:
        parts = urlsplit(base_url)
        tls = parts.scheme == "https"
        host = parts.hostname or "127.0.0.1"
        return cls(host, parts.port or (443 if tls else 80), tls, parts.path.rstrip("/"))

    @property
    def host_header(self) -> str:
        default = 443 if self.tls else 80
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == default else f"{host}:{self.port}"


def request_bytes(target: Target, path: str, body: bytes, headers: dict[str, str]) -> bytes:
    lines = [
        f"POST {path} HTTP/1.1",
        f"Host: {target.host_header}",
        f"Content-Length: {len(body)}",
        "Accept-Encoding: identity",
        *(f"{k}: {v}" for k, v in headers.items()),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


class Exchange:
    """One request's response, parsed as its bytes arrive (llhttp, through httptools).

    The body goes from the C parser straight to the sink's `body`: no Python frame of ours in
    between. The sink's `now` is set before every read is parsed."""

    __slots__ = (
        "_clock",
        "_delimited",
        "_parser",
        "_sink",
        "_t0",
        "done",
        "ended",
        "got_byte",
        "keep_alive",
        "last_seen",
    )  # fmt: skip

    def __init__(self, sink: Sink, clock: Callable[[], float], t0: float) -> None:
        self._sink = sink
        self._clock = clock
        self._t0 = t0
        self._delimited = False  # a length or chunks say where the body ends (else: the close)
        # httptools looks its callbacks up once, here: the body's is the sink's own method.
        callbacks = SimpleNamespace(
            on_message_begin=self._on_message_begin,
            on_header=self._on_header,
            on_headers_complete=self._on_headers_complete,
            on_body=sink.body,
            on_message_complete=self._on_message_complete,
        )
        self._parser: httptools.HttpResponseParser | None = httptools.HttpResponseParser(callbacks)
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.ended = False
        self.got_byte = False
        self.keep_alive = True
        self.last_seen = clock() - t0

    def stalled(self, limit: float) -> bool:
        return self._clock() - self._t0 - self.last_seen > limit

    def feed(self, data: bytes) -> None:
        parser = self._parser
        if parser is None:  # bytes after the response: the connection cannot be trusted
            self.keep_alive = False
            return
        now = self._clock() - self._t0
        self.last_seen = self._sink.now = now
        self.got_byte = True
        try:
            parser.feed_data(data)
        except (httptools.HttpParserError, httptools.HttpParserUpgrade) as exc:
            cause = exc.__context__  # what a callback raised, for a callback error
            if isinstance(cause, _AfterTheResponse):
                self.keep_alive = False
            else:
                self.fail(DroppedMidResponse(f"malformed response ({cause or exc})"))

    def _on_message_begin(self) -> None:
        if self.ended:
            raise _AfterTheResponse

    def _on_header(self, name: bytes, value: bytes) -> None:
        name = name.lower()
        if name == b"content-length" or (
            name == b"transfer-encoding" and b"chunked" in value.lower()
        ):
            self._delimited = True

    def _on_headers_complete(self) -> None:
        assert self._parser is not None  # only called while it parses
        status = self._parser.get_status_code()
        if status < 200:  # an interim response: the real one follows
            self._delimited = False
            return
        self.keep_alive = self._parser.should_keep_alive()
        self._sink.head(status)

    def _on_message_complete(self) -> None:
        assert self._parser is not None
        if self._parser.get_status_code() >= 200:
            self._finish()

    def _finish(self) -> None:
        self.ended = True
        self._parser = None  # it holds our callbacks: a cycle the collector would have to find
        if not self.done.done():
            self.done.set_result(None)

    def lost(self, exc: BaseException | None) -> None:
        """The connection ended."""
        if self.ended:
            return
        if self.got_byte and exc is None and not self._delimited and self._headed:
            self._finish()  # a body without a length ends with the connection
        elif not self.got_byte:
            self.fail(ClosedBeforeResponse(_why(exc, "server closed the connection")))
        else:
            self.fail(DroppedMidResponse(_why(exc, "connection closed")))

    @property
    def _headed(self) -> bool:
        parser = self._parser
        return parser is not None and (parser.get_status_code() or 0) >= 200

    def fail(self, exc: BaseException) -> None:
        self.ended = True
        self.keep_alive = False
        self._parser = None
        if not self.done.done():
            self.done.set_exception(exc)

    @property
    def complete(self) -> bool:
        return self.ended and self.done.done() and self.done.exception() is None


class _AfterTheResponse(Exception):
    """Bytes of a second response where one was asked for."""


def _why(exc: BaseException | None, default: str) -> str:
    if exc is None:
        return default
    return str(getattr(exc, "strerror", None) or exc) or type(exc).__name__


class Connection(asyncio.Protocol):
    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.exchange: Exchange | None = None
        self.closed = False
        self.served = 0  # requests it has carried
        self.idle_since = 0.0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, only alike.
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        if self.exchange is not None:
            self.exchange.feed(data)
        else:  # bytes nobody asked for: the connection cannot be trusted
            self.close()

    def eof_received(self) -> bool:
        return False  # close our side too

    def connection_lost(self, exc: BaseException | None) -> None:
        self.closed = True
        if self.exchange is not None:
            self.exchange.lost(exc)

    def send(self, request: bytes, exchange: Exchange) -> None:
        assert self.transport is not None
        self.exchange = exchange
        self.served += 1
        if self.closed:
            # Lost between being opened (or taken from the pool) and now: nothing will ever
            # call connection_lost again, and a write would vanish. Seen when the server died
            # just after accepting: the request then waited for the stall timeout (600 s).
            exchange.lost(None)
            return
        self.transport.write(request)

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.abort()


class Pool:
    """Connections to one server, reused while the server keeps them open."""

    def __init__(
        self, target: Target, keepalive_s: float, connect_timeout: float, stall_timeout: float
    ) -> None:
        self.target = target
        self._keepalive_s = keepalive_s
        self._connect_timeout = connect_timeout
        self._stall_timeout = stall_timeout
        self._idle: list[Connection] = []
        self._busy: set[Connection] = set()
        self._watch: asyncio.Task[None] | None = None
        self._ssl = ssl.create_default_context() if target.tls else None

    async def open(self) -> Connection:
        """A new connection, counted as busy."""
        loop = asyncio.get_running_loop()
        try:
            _, conn = await asyncio.wait_for(
                loop.create_connection(
                    Connection,
                    self.target.host,
                    self.target.port,
                    ssl=self._ssl,
                    server_hostname=self.target.host if self._ssl else None,
                ),
                self._connect_timeout,
            )
        except TimeoutError:
            raise ConnectFailed(f"no connection after {self._connect_timeout:g} s") from None
        except OSError as exc:
            raise ConnectFailed(str(exc.strerror or exc)) from None
        self._busy.add(conn)
        self._start_watch()
        return conn

    def take_idle(self) -> Connection | None:
        """The most recently used idle connection that is still open and young enough."""
        now = time.monotonic()
        while self._idle:
            conn = self._idle.pop()
            if not conn.closed and now - conn.idle_since < self._keepalive_s:
                self._busy.add(conn)
                return conn
            conn.close()
        return None

    def give_back(self, conn: Connection) -> None:
        """After an exchange: kept when it ended cleanly and the server allows, else closed."""
        self._busy.discard(conn)
        exchange = conn.exchange
        conn.exchange = None
        if conn.closed or exchange is None or not exchange.complete or not exchange.keep_alive:
            conn.close()
            return
        conn.idle_since = time.monotonic()
        self._idle.append(conn)

    def park(self, conn: Connection) -> None:
        """A warm connection that carried nothing yet."""
        self._busy.discard(conn)
        conn.idle_since = time.monotonic()
        self._idle.append(conn)

    def _start_watch(self) -> None:
        if self._watch is None:
            self._watch = asyncio.get_running_loop().create_task(self._watch_stalls())

    async def _watch_stalls(self) -> None:
        while True:
            await asyncio.sleep(min(WATCH_INTERVAL_S, self._stall_timeout / 4))
            for conn in list(self._busy):
                exchange = conn.exchange
                if exchange is not None and exchange.stalled(self._stall_timeout):
                    exchange.fail(Stalled(f"no data for {self._stall_timeout:g} s"))
                    conn.close()

    async def close(self) -> None:
        if self._watch is not None:
            self._watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watch
        for conn in [*self._idle, *self._busy]:
            conn.close()
        self._idle.clear()
        self._busy.clear()
