"""What the supervisor tells its listener. Plain dataclasses: the UI wraps them in messages."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from engine.logbuffer import LogLine
from engine.startup import Phase


class ServerState(Enum):
    NOT_STARTED = "not started"
    STARTING = "starting"
    READY = "ready"
    DEAD = "dead"  # process alive, engine dead (/health 503)
    UNRESPONSIVE = "unresponsive"  # was ready; now takes connections but /health never answers
    STOPPING = "stopping"
    EXITED = "exited"  # ended on its own
    UNREACHABLE = "unreachable"  # attached: no answer from /health (down, or wrong URL)
    UNKNOWN = "unknown"  # attached: something answers, but not as vLLM does
    STOPPED = "stopped"  # ended because we stopped it

    @property
    def is_final(self) -> bool:
        return self in (ServerState.EXITED, ServerState.STOPPED)


@dataclass(frozen=True)
class ExitReport:
    returncode: int | None
    stopped_by_us: bool
    cause: str | None
    last_errors: tuple[str, ...] = ()
    log_path: Path | None = None
    killed_after_grace: bool = False
    not_ready_after_s: float | None = None  # stopped by us because start-up took too long
    last_phase: str | None = None  # how far start-up got

    @property
    def failed(self) -> bool:
        """It ended on its own, or we gave up waiting for it: not a stop somebody asked for."""
        return not self.stopped_by_us or self.not_ready_after_s is not None

    def describe(self) -> str:
        if self.not_ready_after_s is not None:
            return (
                f"vLLM was not ready after {self.not_ready_after_s:.0f}s "
                f"(last phase: {self.last_phase or 'unknown'}); stopped it"
            )
        code = "unknown" if self.returncode is None else str(self.returncode)
        if self.returncode is not None and self.returncode < 0:
            code = f"{code} (signal {-self.returncode})"
        text = f"vLLM exited with code {code}"
        if self.cause:
            text += f": {self.cause}"
        return text


@dataclass(frozen=True)
class LogLinesEvent:
    lines: list[LogLine]


@dataclass(frozen=True)
class PhaseEvent:
    phase: Phase
    elapsed_s: float  # since launch
    previous_s: float  # time spent in the phase just left


@dataclass(frozen=True)
class StateEvent:
    state: ServerState
    detail: str = ""


@dataclass(frozen=True)
class ExitEvent:
    report: ExitReport


SupervisorEvent = LogLinesEvent | PhaseEvent | StateEvent | ExitEvent
