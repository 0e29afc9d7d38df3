"""The hot path's HTTP/1.1 parsing (loadgen.wire) fed the bytes a server writes, split anywhere:
the same record whatever the reads, every framing, and broken framing as a dropped response."""

from __future__ import annotations

import asyncio
import itertools
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loadgen.client import StreamSink, WholeSink
from loadgen.record import RequestRecord
from loadgen.wire import DroppedMidResponse, Exchange, Target, request_bytes

HEAD = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"


def _event(obj: object) -> bytes:
    return b"data: " + json.dumps(obj, ensure_ascii=False).encode() + b"\n\n"


def _chunk(payload: bytes) -> bytes:
    return b"%x\r\n" % len(payload) + payload + b"\r\n"


def _stream(texts: list[str]) -> bytes:
    events = [b": keep-alive\n\n", _event({"choices": [{"delta": {"role": "assistant"}}]})]
    for n, text in enumerate(texts, 1):
        usage = {"prompt_tokens": 3, "completion_tokens": n}
        events.append(_event({"choices": [{"delta": {"content": text}}], "usage": usage}))
    events.append(b"data: [DONE]\n\n")
    return HEAD + b"".join(_chunk(e) for e in events) + b"0\r\n\r\n"


def _feed(pieces: list[bytes], reply: list[str] | None = None) -> RequestRecord:
    async def run() -> RequestRecord:
        record = RequestRecord(0, 0.0)
        sink = StreamSink(record, reply)
        exchange = Exchange(sink, lambda: 1.0, 0.0)
        for piece in pieces:
            exchange.feed(piece)
        await asyncio.wait_for(exchange.done, 1)
        sink.finish(2.0)
        return record

    return asyncio.run(run())


@settings(max_examples=60, deadline=None)
@given(
    texts=st.lists(st.sampled_from(["a", " b", "你好", "🚀", "é", ""]), min_size=1, max_size=8),
    cuts=st.lists(st.integers(min_value=0, max_value=2000), max_size=30),
)
def test_any_split_of_the_wire_gives_the_same_record(texts: list[str], cuts: list[int]) -> None:
    data = _stream(texts)
    bounds = [0, *sorted({c for c in cuts if c < len(data)}), len(data)]
    pieces = [data[a:b] for a, b in itertools.pairwise(bounds) if b > a]
    reply: list[str] = []
    record = _feed(pieces, reply)
    assert record.ok or record.error_kind == "no_tokens"
    assert record.status == 200 and record.output_tokens == len(texts)
    assert record.chunks == len(texts)  # the role-only chunk and the comment are not tokens
    assert "".join(reply) == "".join(texts)


def test_a_byte_at_a_time() -> None:
    data = _stream(["你好", "世界"])
    record = _feed([data[i : i + 1] for i in range(len(data))])
    assert record.ok and record.output_tokens == 2 and record.chunks == 2


def test_content_length_and_read_until_close_bodies() -> None:
    body = json.dumps({"choices": [{"message": {"content": "hi"}}], "usage": {
        "prompt_tokens": 2, "completion_tokens": 5}}).encode()  # fmt: skip

    async def run(head: bytes, close: bool) -> RequestRecord:
        record = RequestRecord(0, 0.0)
        sink = WholeSink(record, None)
        exchange = Exchange(sink, lambda: 1.0, 0.0)
        exchange.feed(head + body[:7])
        exchange.feed(body[7:])
        if close:
            exchange.lost(None)
        await asyncio.wait_for(exchange.done, 1)
        sink.finish(2.0)
        return record

    sized = b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n" % len(body)
    record = asyncio.run(run(sized, close=False))
    assert record.ok and record.output_tokens == 5 and record.prompt_tokens == 2
    # HTTP/1.0 without a length: the body ends with the connection, which is not kept.
    record = asyncio.run(run(b"HTTP/1.0 200 OK\r\n\r\n", close=True))
    assert record.ok and record.output_tokens == 5


def test_interim_responses_are_skipped_and_errors_keep_the_servers_words() -> None:
    async def run() -> RequestRecord:
        record = RequestRecord(0, 0.0)
        sink = StreamSink(record, None)
        exchange = Exchange(sink, lambda: 1.0, 0.0)
        error = b'{"error": {"message": "max_tokens is too large"}}'
        exchange.feed(b"HTTP/1.1 100 Continue\r\n\r\n")
        exchange.feed(b"HTTP/1.1 400 Bad Request\r\ncontent-length: %d\r\n\r\n" % len(error))
        exchange.feed(error)
        await asyncio.wait_for(exchange.done, 1)
        sink.finish(1.0)
        return record

    record = asyncio.run(run())
    assert record.status == 400 and record.error_kind == "http"
    assert record.error == "HTTP 400: max_tokens is too large"


@pytest.mark.parametrize(
    "broken",
    [
        HEAD + b"zz\r\ndata: x\n\n\r\n",  # a chunk size that is not hex
        HEAD + _chunk(b"data: [DONE]\n\n")[:-2] + b"XX0\r\n\r\n",  # no CRLF after the chunk
    ],
)
def test_broken_framing_is_a_dropped_response(broken: bytes) -> None:
    async def run() -> BaseException | None:
        exchange = Exchange(StreamSink(RequestRecord(0, 0.0), None), lambda: 1.0, 0.0)
        exchange.feed(broken)
        with pytest.raises(DroppedMidResponse):
            await asyncio.wait_for(exchange.done, 1)
        return None

    asyncio.run(run())


def test_a_connection_lost_mid_stream_is_dropped_and_before_any_byte_is_not() -> None:
    from loadgen.wire import ClosedBeforeResponse

    async def run() -> None:
        early = Exchange(StreamSink(RequestRecord(0, 0.0), None), lambda: 1.0, 0.0)
        early.lost(ConnectionResetError(104, "Connection reset by peer"))
        with pytest.raises(ClosedBeforeResponse, match="reset by peer"):
            await early.done
        late = Exchange(StreamSink(RequestRecord(0, 0.0), None), lambda: 1.0, 0.0)
        late.feed(HEAD + _chunk(_event({"choices": [{"delta": {"content": "a"}}]})))
        late.lost(None)
        with pytest.raises(DroppedMidResponse):
            await late.done

    asyncio.run(run())


def test_a_request_sent_on_a_connection_already_lost_ends_at_once() -> None:
    """The server died after accepting but before the request went out: connection_lost came
    first, so the exchange must end now (it waited for the 600 s stall timeout before)."""
    from loadgen.wire import ClosedBeforeResponse, Connection

    class Transport:
        written: list[bytes] = []

        def write(self, data: bytes) -> None:
            self.written.append(data)

    async def run() -> None:
        conn = Connection()
        conn.connection_made(Transport())  # type: ignore[arg-type]
        conn.connection_lost(ConnectionResetError(104, "Connection reset by peer"))
        exchange = Exchange(StreamSink(RequestRecord(0, 0.0), None), lambda: 1.0, 0.0)
        conn.send(b"GET / HTTP/1.1\r\n\r\n", exchange)
        with pytest.raises(ClosedBeforeResponse):
            await asyncio.wait_for(exchange.done, 1.0)
        assert Transport.written == []

    asyncio.run(run())


def test_the_request_on_the_wire() -> None:
    target = Target.of("https://example.com:8443/base/v1/chat/completions")
    assert (target.host, target.port, target.tls) == ("example.com", 8443, True)
    wire = request_bytes(target, "/base/v1/chat/completions", b"{}", {"Authorization": "B k"})
    head, _, body = wire.partition(b"\r\n\r\n")
    assert head.split(b"\r\n")[:3] == [
        b"POST /base/v1/chat/completions HTTP/1.1",
        b"Host: example.com:8443",
        b"Content-Length: 2",
    ]
    assert b"Authorization: B k" in head and body == b"{}"
    assert Target.of("http://[::1]/v1").host_header == "[::1]"
