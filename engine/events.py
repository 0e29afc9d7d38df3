"""What the supervisor tells its listener. Plain dataclasses: the UI wraps them in messages."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

from engine.logbuffer import LogLine
from engine.startup import Phase


class ServerState(Enum):
    NOT_STARTED = "not started"
    STARTING = "starting"
    READY = "ready"
    DEAD = "dead"  # process alive, engine dead (/health 503)
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
    last_errors: list[str] = field(default_factory=list)
    log_path: Path | None = None
    killed_after_grace: bool = False

    def describe(self) -> str:
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
