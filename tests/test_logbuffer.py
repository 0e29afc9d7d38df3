from __future__ import annotations

import pytest

from engine.logbuffer import LogBuffer


def test_buffer_is_bounded_and_keeps_the_newest_lines() -> None:
    buf = LogBuffer(max_lines=100)
    for i in range(10):
        buf.extend("stdout", [f"line {i}-{j}" for j in range(25)], at=float(i))
    assert len(buf) == 100
    assert buf.total == 250
    assert buf.tail(1)[0].text == "line 9-24"
    assert buf.tail(100)[0].seq == 150


def test_since_skips_what_was_dropped_and_returns_the_rest() -> None:
    buf = LogBuffer(max_lines=10)
    buf.extend("stderr", [str(i) for i in range(30)], at=0.0)
    assert [ln.text for ln in buf.since(25)] == ["25", "26", "27", "28", "29"]
    # Asking for lines already dropped returns what is still held.
    assert [ln.seq for ln in buf.since(3)] == list(range(20, 30))
    assert buf.since(30) == []


def test_zero_capacity_is_refused() -> None:
    with pytest.raises(ValueError):
        LogBuffer(0)
