"""The server a cockpit looks at: one we supervise, or one we attach to.

Both answer the same questions (where is it, what state is it in, what did its log say); only a
supervised one has a log, a process tree and can be restarted. No UI code: the dashboard and
its tests drive these directly.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from engine.events import ExitReport, ServerState, SupervisorEvent
from engine.health import Health, probe_health
from engine.launch import LaunchSpec
from engine.logbuffer import LogBuffer
from engine.redact import Redactor
from engine.startup import StartupTracker
from engine.supervisor import Supervisor
from engine.urls import normalize_base_url

Listener = Callable[[SupervisorEvent], None]


@dataclass(frozen=True)
class SessionInfo:
    base_url: str
    model: str | None
    api_key_set: bool
    supervised: bool


class SupervisedSession:
    supervised = True

    def __init__(
        self,
        spec: LaunchSpec,
        log_dir: Path | None = None,
        listener: Listener | None = None,
        api_key: str | None = None,
        keep_on_exit: bool = False,
        redact: Redactor | None = None,
    ) -> None:
        self.spec = spec
        self.redact = redact or Redactor([api_key])
        self.keep_on_exit = keep_on_exit
        self.api_key = api_key
        self._log_dir = log_dir
        self.listener = listener  # may be set later (the UI): events go through _dispatch
        self.supervisor = self._new_supervisor()
        self.started_at: float | None = None

    def _new_supervisor(self) -> Supervisor:
        return Supervisor(
            self.spec,
            log_dir=self._log_dir,
            listener=self._dispatch,
            detach_output=self.keep_on_exit,
            redact=self.redact,
        )

    def _dispatch(self, event: SupervisorEvent) -> None:
        if self.listener is not None:
            self.listener(event)

    @property
    def info(self) -> SessionInfo:
        return SessionInfo(
            base_url=self.spec.base_url,
            model=self.spec.served_model_name or self.spec.model,
            api_key_set=self.api_key is not None,
            supervised=True,
        )

    @property
    def base_url(self) -> str:
        return self.spec.base_url

    @property
    def state(self) -> ServerState:
        return self.supervisor.state

    @property
    def log(self) -> LogBuffer | None:
        return self.supervisor.buffer

    @property
    def tracker(self) -> StartupTracker | None:
        return self.supervisor.tracker

    @property
    def pid(self) -> int | None:
        return self.supervisor.pid

    @property
    def log_path(self) -> Path | None:
        return self.supervisor.log_path

    def start(self) -> None:
        self.started_at = time.monotonic()
        self.supervisor.start()

    def stop(self, grace: float = 15.0) -> ExitReport | None:
        if self.supervisor.state is ServerState.NOT_STARTED:
            return None
        return self.supervisor.stop(grace)

    def set_api_key(self, key: str) -> None:
        """Require `key` from the next start on (restart to apply): vLLM gets it, our own
        requests send it, and the log masks it."""
        self.api_key = key
        self.spec = self.spec.with_api_keys((key,))
        self.redact.add(key)

    def restart(self, grace: float = 15.0) -> None:
        """Stop the server (if running) and start a new one with the same spec."""
        self.stop(grace)
        self.supervisor = self._new_supervisor()
        self.start()


class AttachedSession:
    """A server started elsewhere: state comes from /health, there is no log to show."""

    supervised = False
    log: LogBuffer | None = None
    tracker: StartupTracker | None = None
    pid: int | None = None
    log_path: Path | None = None

    def __init__(self, url: str, api_key: str | None = None) -> None:
        self.base_url = normalize_base_url(url)
        self.api_key = api_key
        self.model: str | None = None
        self._state = ServerState.STARTING
        self.detail: str | None = None
        self.started_at: float | None = None

    @property
    def info(self) -> SessionInfo:
        return SessionInfo(self.base_url, self.model, self.api_key is not None, False)

    @property
    def state(self) -> ServerState:
        return self._state

    def start(self) -> None:
        self.started_at = time.monotonic()

    def check(self) -> ServerState:
        """Probe /health (call from a worker thread); `detail` says why when not ready."""
        health, status = probe_health(self.base_url)
        if status is None:
            self._state = ServerState.UNREACHABLE
            self.detail = f"nothing answers HTTP at {self.base_url} (down, or a wrong URL?)"
        elif health is Health.UNEXPECTED:
            self._state = ServerState.UNKNOWN
            self.detail = f"/health answered HTTP {status}: not a vLLM server?"
        else:
            self._state = {
                Health.READY: ServerState.READY,
                Health.DEAD: ServerState.DEAD,
            }.get(health, ServerState.STARTING)
            self.detail = "engine dead: /health answered 503" if health is Health.DEAD else None
        return self._state

    def stop(self, grace: float = 15.0) -> ExitReport | None:
        return None  # not ours to stop

    def restart(self, grace: float = 15.0) -> None:
        raise RuntimeError("an attached server is not ours to restart")


Session = SupervisedSession | AttachedSession
