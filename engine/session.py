"""The server a cockpit looks at: one we supervise, or one we attach to.

Both answer the same questions (where is it, what state is it in and why, what did its log
say); only a supervised one has a log, a process tree and can be restarted. The same
SupervisedSession runs the server for the dashboard and for `serve --headless`, so every serve
option means the same in both. No UI code.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Protocol

from engine.events import ExitReport, ServerState, SupervisorEvent
from engine.health import attached_state, probe_health, silence
from engine.launch import LaunchSpec
from engine.logbuffer import LogBuffer
from engine.redact import Redactor
from engine.startup import StartupTracker
from engine.statsline import StatsLine
from engine.supervisor import Supervisor, SupervisorError
from engine.urls import normalize_base_url

Listener = Callable[[SupervisorEvent], None]
ATTACHED_HEALTH_TIMEOUT_S = 3.0


class Session(Protocol):
    supervised: bool
    api_key: str | None
    model: str | None  # the served name, once known
    started_at: float | None
    listener: Listener | None  # told what the supervisor sees (only a supervised one has news)

    @property
    def base_url(self) -> str:
        """The server's root URL, without /v1."""

    @property
    def state(self) -> ServerState: ...

    @property
    def detail(self) -> str | None:
        """Why the server is not simply up (an exit, a death, silence), else None."""

    @property
    def errors(self) -> tuple[str, ...]:
        """The last distinct errors a failed server printed."""

    @property
    def log(self) -> LogBuffer | None: ...

    @property
    def tracker(self) -> StartupTracker | None: ...

    @property
    def pid(self) -> int | None: ...

    @property
    def log_path(self) -> Path | None: ...

    @property
    def latest_stats(self) -> StatsLine | None: ...

    def check(self) -> ServerState:
        """Bring the state up to date where that takes a probe (call from a thread)."""

    def start(self) -> None: ...

    def stop(self, grace: float | None = None) -> ExitReport | None: ...

    def restart(self, grace: float | None = None) -> None: ...


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
        startup_timeout: float | None = None,
        stop_grace: float = 15.0,
    ) -> None:
        self.spec = spec
        self.redact = redact or Redactor([api_key])
        self.keep_on_exit = keep_on_exit
        self.api_key = api_key
        self.model: str | None = spec.served_model_name or spec.model
        self.startup_timeout = startup_timeout
        self.stop_grace = stop_grace
        self._log_dir = log_dir
        self.listener = listener  # may be set later (the UI): events go through _dispatch
        self.supervisor = self._new_supervisor()
        self.started_at: float | None = None
        self.start_error: str | None = None

    def _new_supervisor(self) -> Supervisor:
        return Supervisor(
            self.spec,
            log_dir=self._log_dir,
            listener=self._dispatch,
            detach_output=self.keep_on_exit,
            redact=self.redact,
            startup_timeout=self.startup_timeout,
            stop_grace=self.stop_grace,
        )

    def _dispatch(self, event: SupervisorEvent) -> None:
        if self.listener is not None:
            self.listener(event)

    @property
    def base_url(self) -> str:
        return self.spec.base_url

    @property
    def state(self) -> ServerState:
        return self.supervisor.state

    @property
    def detail(self) -> str | None:
        sup = self.supervisor
        if self.start_error is not None:
            return self.start_error
        if sup.report is not None:
            return sup.report.describe() if sup.report.failed else None
        if sup.state is ServerState.UNRESPONSIVE:
            return silence(sup.silent_for() or 0.0)
        if sup.state is ServerState.DEAD:
            return sup.state_detail or None
        return None

    @property
    def errors(self) -> tuple[str, ...]:
        sup = self.supervisor
        if sup.report is not None:
            return sup.report.last_errors[-3:] if sup.report.failed else ()
        death = sup.server_log.death
        return death.errors if death is not None and sup.state is ServerState.DEAD else ()

    @property
    def log(self) -> LogBuffer:
        return self.supervisor.buffer

    @property
    def tracker(self) -> StartupTracker:
        return self.supervisor.tracker

    @property
    def pid(self) -> int | None:
        return self.supervisor.pid

    @property
    def log_path(self) -> Path | None:
        return self.supervisor.log_path

    @property
    def latest_stats(self) -> StatsLine | None:
        return self.supervisor.latest_stats

    def check(self) -> ServerState:
        return self.supervisor.state  # the supervisor's own threads keep it current

    def start(self) -> None:
        """Start the server; a failure to start it at all is kept in `detail`, and raised."""
        self.started_at = time.monotonic()
        self.start_error = None
        try:
            self.supervisor.start()
        except SupervisorError as exc:
            self.start_error = f"could not start vLLM: {exc}"
            raise

    def stop(self, grace: float | None = None) -> ExitReport | None:
        if self.supervisor.state is ServerState.NOT_STARTED:
            return None
        return self.supervisor.stop(grace)

    def set_api_key(self, key: str) -> None:
        """Require `key` from the next start on (restart to apply): vLLM gets it, our own
        requests send it, and the log masks it."""
        self.api_key = key
        self.spec = self.spec.with_api_keys((key,))
        self.redact.add(key)

    def restart(
        self, grace: float | None = None, extra_args: tuple[str, ...] | None = None
    ) -> None:
        """Stop the server (if running) and start a new one with the same spec, or with
        these vLLM arguments instead of its own (an A/B run)."""
        self.stop(grace)
        if extra_args is not None:
            self.spec = replace(self.spec, extra_args=extra_args)
        self.supervisor = self._new_supervisor()
        self.start()


class AttachedSession:
    """A server started elsewhere: state comes from /health, there is no log to show."""

    supervised = False
    listener: Listener | None = None  # nothing to tell: its state comes from check()
    log: LogBuffer | None = None
    tracker: StartupTracker | None = None
    pid: int | None = None
    log_path: Path | None = None
    latest_stats: StatsLine | None = None

    def __init__(
        self,
        url: str,
        api_key: str | None = None,
        clock: Callable[[], float] = time.monotonic,
        state: ServerState = ServerState.STARTING,
    ) -> None:
        """state: what it is taken to be until the first probe says otherwise."""
        self.base_url = normalize_base_url(url)
        self.api_key = api_key
        self.model: str | None = None
        self._state = state
        self._why: str | None = None
        self._clock = clock
        self.last_answer_at: float | None = None
        self.started_at: float | None = None

    @property
    def state(self) -> ServerState:
        return self._state

    @property
    def detail(self) -> str | None:
        if self._state is ServerState.UNRESPONSIVE:
            since = self.last_answer_at if self.last_answer_at is not None else self.started_at
            return silence(self._clock() - since if since is not None else 0.0)
        return self._why

    @property
    def errors(self) -> tuple[str, ...]:
        return ()

    def start(self) -> None:
        self.started_at = self._clock()

    def check(self) -> ServerState:
        """Probe /health (call from a worker thread)."""
        probe = probe_health(self.base_url, ATTACHED_HEALTH_TIMEOUT_S)
        if probe.answered:
            self.last_answer_at = self._clock()
        self._state, self._why = attached_state(probe, self.base_url)
        return self._state

    def stop(self, grace: float | None = None) -> ExitReport | None:
        return None  # not ours to stop

    def restart(self, grace: float | None = None) -> None:
        raise RuntimeError("an attached server is not ours to restart")
