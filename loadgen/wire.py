"""A lean HTTP/1.1 client for the load's hot path: one request at a time per connection, its
response handed to a sink as it arrives, inside the event loop's own read callback.

Why not aiohttp here: a streamed token cost aiohttp ~60 us of CPU on its way to us (its
protocol, a StreamReader, a future woken per chunk, a task switched to per chunk), the same
as vLLM's own client; a client that cannot keep up reports its own queueing as the server's
TTFT. Here a chunk is parsed where it is read: the chunked framing, then the SSE event, then
the sink, with no future, no task switch and no copy of the stream. Everything else (model
lookup, /metrics, the share gateway) stays on urllib or aiohttp.

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
from typing import Protocol, cast
from urllib.parse import urlsplit

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

    def head(self, status: int, now: float) -> None: ...

    def body(self, data: bytes, now: float) -> None: ...


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


_HEAD, _SIZE, _DATA, _CRLF, _TRAILER, _LENGTH, _UNTIL_CLOSE, _DONE = range(8)


class Exchange:
    """One request's response, parsed as its bytes arrive."""

    __slots__ = (
        "_clock",
        "_need",
        "_rest",
        "_sink",
        "_state",
        "_t0",
        "done",
        "got_byte",
        "keep_alive",
        "last_seen",
        "status",
    )  # fmt: skip

    def __init__(self, sink: Sink, clock: Callable[[], float], t0: float) -> None:
        self._sink = sink
        self._clock = clock
        self._t0 = t0
        self._state = _HEAD
        self._rest = b""
        self._need = 0
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.got_byte = False
        self.keep_alive = True
        self.last_seen = clock() - t0

    def stalled(self, limit: float) -> bool:
        return self._clock() - self._t0 - self.last_seen > limit

    def feed(self, data: bytes) -> None:
        now = self._clock() - self._t0
        self.last_seen = now
        self.got_byte = True
        if self._rest:
            data = self._rest + data
            self._rest = b""
        elif self._state == _SIZE:
            # The common case, as vLLM streams: one whole chunk (one SSE event) per read.
            eol = data.find(b"\r\n")
            if 0 < eol < 9 and data.endswith(b"\r\n"):
                try:
                    size = int(data[:eol], 16)
                except ValueError:
                    size = 0
                if size and len(data) == eol + size + 4:
                    self._sink.body(data[eol + 2 : -2], now)
                    return
        try:
            self._parse(data, now)
        except (ValueError, IndexError) as exc:
            self.fail(DroppedMidResponse(f"malformed response ({exc})"))

    def _parse(self, data: bytes, now: float) -> None:
        pos, end, sink = 0, len(data), self._sink
        while pos < end and self._state != _DONE:
            state = self._state
            if state == _SIZE:
                eol = data.find(b"\r\n", pos)
                if eol < 0:
                    break
                size = int(data[pos:eol].split(b";", 1)[0], 16)
                pos = eol + 2
                self._state, self._need = (_TRAILER, 0) if size == 0 else (_DATA, size)
            elif state in (_DATA, _LENGTH):
                take = min(self._need, end - pos)
                sink.body(data[pos : pos + take] if pos or take < end else data, now)
                pos += take
                self._need -= take
                if self._need == 0:
                    if state == _DATA:
                        self._state = _CRLF
                    else:
                        self._finish()
            elif state == _CRLF:
                if end - pos < 2:
                    break
                if data[pos : pos + 2] != b"\r\n":
                    raise ValueError("chunk not followed by CRLF")
                pos += 2
                self._state = _SIZE
            elif state == _TRAILER:
                eol = data.find(b"\r\n", pos)
                if eol < 0:
                    break
                if eol == pos:
                    pos += 2
                    self._finish()
                pos = eol + 2
            elif state == _UNTIL_CLOSE:
                sink.body(data[pos:], now)
                pos = end
            else:  # _HEAD
                eoh = data.find(b"\r\n\r\n", pos)
                if eoh < 0:
                    break
                self._head(data[pos:eoh], now)
                pos = eoh + 4
        if pos < end and self._state != _DONE:
            self._rest = data[pos:]

    def _head(self, raw: bytes, now: float) -> None:
        lines = raw.decode("latin-1").split("\r\n")
        version, code, *_ = lines[0].split(" ", 2)
        status = int(code)
        if 100 <= status < 200:  # an interim response: the real one follows
            return
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        connection = headers.get("connection", "").lower()
        self.keep_alive = version == "HTTP/1.1" and connection != "close"
        self._sink.head(status, now)
        if "chunked" in headers.get("transfer-encoding", "").lower():
            self._state = _SIZE
        elif "content-length" in headers:
            self._need = int(headers["content-length"])
            self._state = _LENGTH
            if self._need == 0:
                self._finish()
        else:
            self.keep_alive = False
            self._state = _UNTIL_CLOSE

    def _finish(self) -> None:
        self._state = _DONE
        if not self.done.done():
            self.done.set_result(None)

    def lost(self, exc: BaseException | None) -> None:
        """The connection ended."""
        if self._state == _UNTIL_CLOSE and exc is None:
            self._finish()
        elif not self.got_byte:
            self.fail(ClosedBeforeResponse(_why(exc, "server closed the connection")))
        else:
            self.fail(DroppedMidResponse(_why(exc, "connection closed")))

    def fail(self, exc: BaseException) -> None:
        self._state = _DONE
        self.keep_alive = False
        if not self.done.done():
            self.done.set_exception(exc)

    @property
    def complete(self) -> bool:
        return self._state == _DONE and self.done.done() and self.done.exception() is None


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
