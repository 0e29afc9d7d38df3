from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from loadgen.sse import DONE, SSEParser

_CONTENT = st.lists(
    st.sampled_from([*'abc {}:\\"', "é", "你好", "大型语言模型", "🚀", "\n", ":"]), max_size=12
).map("".join)


def _stream(contents: list[str], newline: str) -> bytes:
    out = ": keep-alive comment" + newline * 2
    for c in contents:
        chunk = {"choices": [{"index": 0, "delta": {"content": c}}]}
        out += f"data: {json.dumps(chunk, ensure_ascii=False)}{newline}{newline}"
    out += f"data: {DONE}{newline}{newline}"
    return out.encode("utf-8")


@given(
    contents=st.lists(_CONTENT, max_size=15),
    newline=st.sampled_from(["\n", "\r\n"]),
    cuts=st.lists(st.integers(min_value=0, max_value=4000), max_size=40),
)
def test_random_splits_of_the_byte_stream_give_the_same_events(
    contents: list[str], newline: str, cuts: list[int]
) -> None:
    data = _stream(contents, newline)
    parser = SSEParser()
    events: list[str] = []
    prev = 0
    for cut in sorted({c for c in cuts if c <= len(data)}):
        events += parser.feed(data[prev:cut])
        prev = cut
    events += parser.feed(data[prev:]) + parser.flush()
    assert events[-1] == DONE
    got = [json.loads(e)["choices"][0]["delta"]["content"] for e in events[:-1]]
    assert got == contents


def test_byte_at_a_time_through_a_multibyte_character() -> None:
    data = _stream(["你好世界"], "\n")
    parser = SSEParser()
    events = [e for i in range(len(data)) for e in parser.feed(data[i : i + 1])]
    assert json.loads(events[0])["choices"][0]["delta"]["content"] == "你好世界"


def test_multi_line_data_and_other_fields() -> None:
    parser = SSEParser()
    got = parser.feed(b"event: x\nid: 3\ndata: one\ndata:two\n\nretry: 5\n\n")
    assert got == ["one\ntwo"]


def test_last_event_without_blank_line_is_kept_on_flush() -> None:
    parser = SSEParser()
    assert parser.feed(b"data: a\n\ndata: b") == ["a"]
    assert parser.flush() == ["b"]
