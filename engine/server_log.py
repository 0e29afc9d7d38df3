"""What a vLLM server's log says, line by line: start-up phases, the periodic stats line, an
engine that died and why, and the cause of an exit.

Pure: no threads, no I/O, time from the injected clock. The supervisor feeds it every masked
line as it arrives (under its own lock) and passes the events on; tests feed it captured logs.
"""

from __future__ import annotations

import re
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from engine.events import PhaseEvent
from engine.loglines import failure_cause, notable_errors
from engine.startup import Phase, StartupTracker
from engine.statsline import StatsLine, parse_stats_line

# Lines vLLM prints when its engine dies under a live HTTP server (/health turns 503 soon after).
ENGINE_DEAD = re.compile(
    r"EngineDeadError|EngineCore encountered a fatal error|engine core exited unexpectedly"
    r"|Worker proc \S+ died unexpectedly"
)
# What a cause is read from: a dying server's last lines. Enough for a traceback and the
# error lines around it, not the flood of repeats that follows.
TAIL_LINES = 400


@dataclass(frozen=True)
class EngineDeath:
    """The engine died while the server was ready: the cause, read when it was first seen."""

    cause: str | None
    tail: tuple[str, ...]  # the lines up to the first sign of death
    errors: tuple[str, ...]  # the last distinct errors among them

    def describe(self, how: str) -> str:
        return f"engine dead ({how}): {self.cause or 'see the log'}"


LogEvent = PhaseEvent | EngineDeath


class ServerLog:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.tracker = StartupTracker(clock=clock)
        self.stats: StatsLine | None = None  # the newest periodic stats line
        self.death: EngineDeath | None = None
        self._tail: deque[str] = deque(maxlen=TAIL_LINES)
        self._watching_for_death = False  # only a server that was ready can die "at runtime"

    def feed(self, lines: list[str]) -> list[LogEvent]:
        """Read lines in the order they came; return the phases entered and a death, if any."""
        events: list[LogEvent] = []
        for text in lines:
            self._tail.append(text)
            if (phase := self._feed_tracker(text)) is not None:
                events.append(phase)
            # A substring test first: the regex runs on stats lines only.
            if "Avg prompt throughput" in text and (parsed := parse_stats_line(text)):
                self.stats = parsed
            if self._watching_for_death and ENGINE_DEAD.search(text):
                # The cause is read now, from the lines up to the first sign of death: by the
                # exit (or even later in this same batch, when the reader was late) every
                # request in flight has printed its own EngineDeadError over the root cause.
                events.append(self.died())
        return events

    def ready(self) -> PhaseEvent | None:
        """/health answered 200: start-up is over, and an engine death is now news."""
        self._watching_for_death = True
        return self._advance(Phase.READY)

    def died(self) -> EngineDeath:
        """The engine is dead (its log or a 503 says so): read the cause from the lines so far."""
        tail = tuple(self._tail)
        self.death = EngineDeath(
            failure_cause(list(tail)), tail, tuple(notable_errors(list(tail), 3))
        )
        self._watching_for_death = False
        return self.death

    def exit_cause(self) -> str | None:
        cause = self.death.cause if self.death is not None else None
        return cause or failure_cause(list(self._tail))

    def last_errors(self, limit: int = 10) -> tuple[str, ...]:
        before = list(self.death.tail) if self.death is not None else []
        return tuple(notable_errors(before + list(self._tail), limit))

    def _feed_tracker(self, text: str) -> PhaseEvent | None:
        before = self.tracker.entered_at.get(self.tracker.phase, 0.0)
        phase = self.tracker.feed(text)
        if phase is None:
            return None
        return PhaseEvent(phase, self.tracker.elapsed(), self.tracker.entered_at[phase] - before)

    def _advance(self, phase: Phase) -> PhaseEvent | None:
        before = self.tracker.entered_at.get(self.tracker.phase, 0.0)
        moved = self.tracker.advance(phase)
        if moved is None:
            return None
        return PhaseEvent(moved, self.tracker.elapsed(), self.tracker.entered_at[moved] - before)
