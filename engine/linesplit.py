"""Turn the byte chunks a pipe delivers into text lines.

A chunk can end in the middle of a line or of a UTF-8 character; both are carried over to the
next chunk. tqdm redraws its bars with bare carriage returns, so "\\r" ends a line too: every
redraw becomes a line of its own rather than being lost.
"""

from __future__ import annotations

import codecs
import re

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_BREAK = re.compile(r"\r\n|\r|\n")


def strip_ansi(text: str) -> str:
    return _ANSI.sub("", text)


class LineSplitter:
    """Incremental splitter: feed() chunks, get complete lines; flush() at end of stream."""

    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._pending = ""

    def feed(self, chunk: bytes) -> list[str]:
        text = self._pending + self._decoder.decode(chunk)
        # A trailing "\r" may be the first half of "\r\n": keep it until the next chunk.
        if text.endswith("\r"):
            text, carry = text[:-1], "\r"
        else:
            carry = ""
        parts = _BREAK.split(text)
        self._pending = parts.pop() + carry
        return [strip_ansi(p) for p in parts]

    def flush(self) -> list[str]:
        text = self._pending + self._decoder.decode(b"", final=True)
        self._pending = ""
        if not text:
            return []
        if text.endswith("\r"):  # a complete line whose "\r" we held back
            text = text[:-1]
        return [strip_ansi(p) for p in _BREAK.split(text)]
