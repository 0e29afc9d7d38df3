"""The server's log as the log panel reads it: the lines that arrived since the last pull, from
the supervisor's bounded buffer, each classified once (level, access-log noise), and how many
fell out of the buffer in between (they are only on disk then)."""

from __future__ import annotations

from typing import NamedTuple

from engine.logbuffer import LogBuffer
from engine.loglines import Level, is_error_line, parse_line

__all__ = ["ATTACHED_LOG_NOTE", "LEVELS", "Level", "LogEntry", "LogFeed"]

ATTACHED_LOG_NOTE = (
    "log not available when attached: vllm-top sees only what the server exposes over HTTP "
    "(/health, /metrics, /v1/models)"
)
NOISY_PATHS = ("/health", "/metrics", "/ping", "/load")
LEVELS = (Level.NONE, Level.INFO, Level.WARNING, Level.ERROR)


class LogEntry(NamedTuple):
    level: Level
    noise: bool  # a /health or /metrics access line: hidden unless asked for
    text: str


class LogFeed:
    def __init__(self, source: LogBuffer | None, unavailable: str | None = None) -> None:
        """source None: there is no log to show (attached), `unavailable` says why."""
        self.source = source
        self.unavailable = unavailable
        self._next_seq = 0
        self._last_level = Level.INFO

    def pull(self) -> tuple[list[LogEntry], int]:
        """(new entries, lines dropped from the buffer before they could be read)."""
        if self.source is None:
            return [], 0
        new = self.source.since(self._next_seq)
        if not new:
            return [], 0
        dropped = max(0, new[0].seq - self._next_seq)
        self._next_seq = new[-1].seq + 1
        return [self._classify(line.text) for line in new], dropped

    def _classify(self, text: str) -> LogEntry:
        parsed = parse_line(text)
        if parsed.level is not Level.NONE:
            self._last_level = parsed.level
        elif text.startswith("Traceback") or is_error_line(text):
            self._last_level = Level.ERROR
        noise = parsed.access_path is not None and parsed.access_path.startswith(NOISY_PATHS)
        # Continuation lines (tracebacks, multi-line messages) share their head's level.
        level = self._last_level if parsed.level is Level.NONE else parsed.level
        return LogEntry(level, noise, text)
