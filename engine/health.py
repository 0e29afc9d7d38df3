"""vLLM's GET /health, and what its answers mean for the server's state.

Before the engine is ready the socket is bound but not listening, so a refused connection means
"starting"; 200 means ready; 503 means the engine died while the HTTP server lives on. A server
that accepts the connection but does not answer within the timeout is hung (a deadlocked front
end, a stuck GIL, a stopped or paused process): that is SILENT, never "starting".

The two rules below are the only place probes become states, for a server we supervise and for
one we attach to, so the dashboard, the headless command and the snapshot agree.
"""

from __future__ import annotations

from enum import Enum
from typing import NamedTuple

from engine.events import ServerState
from engine.http import get


class Health(Enum):
    STARTING = "starting"  # refused, or no HTTP at all
    READY = "ready"  # 200
    DEAD = "dead"  # 503: engine dead
    UNEXPECTED = "unexpected"  # some other status: not a healthy vLLM
    SILENT = "silent"  # connected, but no answer within the timeout


class Probe(NamedTuple):
    health: Health
    status: int | None  # None when no HTTP answer came

    @property
    def answered(self) -> bool:
        return self.status is not None


def probe_health(base_url: str, timeout: float = 2.0) -> Probe:
    answer = get(base_url.rstrip("/") + "/health", timeout=timeout)
    if answer.status is None:
        return Probe(Health.SILENT if answer.timed_out else Health.STARTING, None)
    if answer.status == 200:
        return Probe(Health.READY, 200)
    if answer.status == 503:
        return Probe(Health.DEAD, 503)
    return Probe(Health.UNEXPECTED, answer.status)


def supervised_transition(current: ServerState, probe: Probe) -> ServerState | None:
    """The state a probe moves a server we supervise to, or None to stay.

    Its process is ours, so "refused" only ever means "not listening yet" (an exit is seen on
    the process itself). Only a server that was ready can be hung; it is ready again as soon
    as it answers.
    """
    if probe.health is Health.READY and current in (
        ServerState.STARTING,
        ServerState.DEAD,
        ServerState.UNRESPONSIVE,
    ):
        return ServerState.READY
    if probe.health is Health.DEAD and current is not ServerState.DEAD:
        return ServerState.DEAD
    if probe.health is Health.SILENT and current is ServerState.READY:
        return ServerState.UNRESPONSIVE
    return None


def attached_state(probe: Probe, base_url: str) -> tuple[ServerState, str | None]:
    """The state of a server started elsewhere, from one probe, and why when it is not ready."""
    if probe.health is Health.SILENT:
        return ServerState.UNRESPONSIVE, None  # the caller says for how long
    if probe.status is None:
        return (
            ServerState.UNREACHABLE,
            f"nothing answers HTTP at {base_url} (down, or a wrong URL?)",
        )
    if probe.health is Health.UNEXPECTED:
        return ServerState.UNKNOWN, f"/health answered HTTP {probe.status}: not a vLLM server?"
    if probe.health is Health.DEAD:
        return ServerState.DEAD, "engine dead: /health answered 503"
    return ServerState.READY, None


def silence(seconds: float) -> str:
    """How a hung server is described wherever it is shown."""
    return f"no answer to /health for {seconds:.0f} s"
