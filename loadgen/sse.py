"""Incremental Server-Sent Events parser over raw bytes.

Network reads split and merge events anywhere: inside a JSON object, between "\\r" and "\\n",
inside a multi-byte UTF-8 character. The parser keeps bytes until an event is complete
(a blank line) and decodes only whole events, so none of those splits can corrupt text.
Comment lines (":") are skipped; multi-line data fields are joined with "\\n" as the spec says.
"""

from __future__ import annotations

import re

_EVENT_END = re.compile(rb"\r\n\r\n|\n\n|\r\r|\r\n\n|\n\r\n")
_LINE = re.compile(r"\r\n|\r|\n")

DONE = "[DONE]"


class SSEParser:
    def __init__(self) -> None:
        self._buf = bytearray()
        self._scanned = 0  # bytes already searched for an event end, less a 3-byte overlap

    @property
    def between_events(self) -> bool:
        """Nothing of a partial event is held."""
        return not self._buf

    def feed(self, chunk: bytes) -> list[str]:
        """Add bytes; return the data of every event completed by them, in order."""
        events: list[str] = []
        if not self._buf and chunk.endswith(b"\n\n") and b"\r" not in chunk:
            # The common case, as vLLM writes: whole events, one `data:` line each.
            for raw in chunk[:-2].split(b"\n\n"):
                if raw.startswith(b"data: ") and b"\n" not in raw:
                    events.append(raw[6:].decode("utf-8", errors="replace"))
                elif (data := _event_data(raw)) is not None:
                    events.append(data)
            return events
        self._buf += chunk
        start = 0
        # A long event arriving in many small reads must not be rescanned from its start.
        pos = max(self._scanned - 3, 0)
        while (m := _EVENT_END.search(self._buf, pos)) is not None:
            data = _event_data(bytes(self._buf[start : m.start()]))
            if data is not None:
                events.append(data)
            start = pos = m.end()
        if start:
            del self._buf[:start]
        self._scanned = len(self._buf)
        return events

    def flush(self) -> list[str]:
        """End of stream: a last event without its blank line still counts."""
        data = _event_data(bytes(self._buf))
        self._buf.clear()
        self._scanned = 0
        return [data] if data is not None else []


def _event_data(raw: bytes) -> str | None:
    if not raw.strip():
        return None
    text = raw.decode("utf-8", errors="replace")
    data: list[str] = []
    for line in _LINE.split(text):
        if not line or line.startswith(":"):
            continue
        field, _, value = line.partition(":")
        if field == "data":
            data.append(value[1:] if value.startswith(" ") else value)
    return "\n".join(data) if data else None
