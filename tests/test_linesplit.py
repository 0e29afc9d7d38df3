from __future__ import annotations

from hypothesis import assume, given
from hypothesis import strategies as st

from engine.linesplit import LineSplitter, strip_ansi

_TEXT = st.lists(
    st.sampled_from([*"ab xyz=:,.", "é", "你", "好", "🚀", "\x1b[32m"]), max_size=30
).map("".join)


def _split_all(data: bytes, cuts: list[int]) -> list[str]:
    splitter = LineSplitter()
    out: list[str] = []
    prev = 0
    for cut in sorted(set(cuts)):
        out += splitter.feed(data[prev:cut])
        prev = cut
    out += splitter.feed(data[prev:])
    return out + splitter.flush()


@given(
    lines=st.lists(_TEXT, min_size=1, max_size=20),
    ends=st.lists(st.sampled_from(["\n", "\r\n", "\r"]), min_size=20, max_size=20),
    cuts=st.lists(st.integers(min_value=0, max_value=2000), max_size=30),
)
def test_any_split_of_the_byte_stream_gives_the_same_lines(
    lines: list[str], ends: list[str], cuts: list[int]
) -> None:
    # "\r" then an empty line ended by "\n" is the bytes "\r\n": one line end, not two.
    assume(
        not any(
            ends[i] == "\r" and lines[i + 1] == "" and ends[i + 1].startswith("\n")
            for i in range(len(lines) - 1)
        )
    )
    data = "".join(line + ends[i] for i, line in enumerate(lines)).encode()
    got = _split_all(data, [c for c in cuts if c <= len(data)])
    assert got == [strip_ansi(line) for line in lines]


def test_unterminated_last_line_comes_out_on_flush() -> None:
    splitter = LineSplitter()
    assert splitter.feed(b"one\ntw") == ["one"]
    assert splitter.feed(b"o") == []
    assert splitter.flush() == ["two"]


def test_tqdm_redraws_become_separate_lines() -> None:
    splitter = LineSplitter()
    got = splitter.feed(b"Loading:   0% 0/1\rLoading: 100% 1/1\n")
    assert got == ["Loading:   0% 0/1", "Loading: 100% 1/1"]


def test_invalid_utf8_is_replaced_not_raised() -> None:
    assert LineSplitter().feed(b"bad \xff byte\n") == ["bad \ufffd byte"]
