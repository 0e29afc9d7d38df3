"""Run a vLLM server as a child process and keep watch over it.

Threads, not asyncio: the supervisor must work the same under the headless command, the
dashboard and a pytest fixture. One thread owns the child (engine.child: it spawns it and lives
until it is gone, so the parent-death signal fires only when vllm-top itself dies), two read
its pipes (engine.logpipe), one probes /health. The log's meaning is engine.server_log's; this
module keeps the state, the cadence, the stop and the exit report. The listener is called from
these threads and must be thread-safe.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import IO

import psutil

from engine.child import ChildProcess
from engine.events import (
    ExitEvent,
    ExitReport,
    LogLinesEvent,
    PhaseEvent,
    ServerState,
    StateEvent,
    SupervisorEvent,
)
from engine.health import Probe, probe_health, silence, supervised_transition
from engine.launch import LaunchSpec
from engine.logbuffer import DEFAULT_MAX_LINES, LogBuffer, LogLine
from engine.logpipe import LogPipe
from engine.paths import default_log_dir
from engine.reaper import Reaper, shared_reaper
from engine.redact import NO_SECRETS
from engine.server_log import EngineDeath, ServerLog
from engine.startup import StartupTracker
from engine.statsline import StatsLine

log = logging.getLogger(__name__)

Listener = Callable[[SupervisorEvent], None]
HealthProbe = Callable[[str, float], Probe]
TREE_SCAN_S = 2.0


class SupervisorError(RuntimeError):
    pass


class Supervisor:
    def __init__(
        self,
        spec: LaunchSpec,
        *,
        log_dir: Path | None = None,
        listener: Listener | None = None,
        clock: Callable[[], float] = time.monotonic,
        buffer_lines: int = DEFAULT_MAX_LINES,
        health_interval: float = 0.5,
        ready_health_interval: float = 1.0,
        health_timeout: float = 3.0,
        health_probe: HealthProbe = probe_health,
        die_with_parent: bool = True,
        detach_output: bool = False,
        reaper: Reaper | None = None,
        redact: Callable[[str], str] = NO_SECRETS,
        startup_timeout: float | None = None,
        stop_grace: float = 15.0,
    ) -> None:
        """detach_output: the server writes its output straight into the log file, which is
        followed from there, so it can outlive vllm-top (--keep-server) without broken pipes;
        stdout and stderr are then no longer told apart. startup_timeout: stop it (and say so)
        if it is not ready after that many seconds."""
        self.spec = spec
        self.log_dir = log_dir or default_log_dir()
        self.buffer = LogBuffer(buffer_lines)
        self.server_log = ServerLog(clock)
        self._listener = listener
        self._clock = clock
        # While starting a refused probe costs nothing; once up, every probe is a line in
        # vLLM's access log. A probe that times out is a hung server: its timeout plus the
        # interval bound how late that is seen (under 5 s).
        self._health_interval = health_interval
        self._ready_health_interval = ready_health_interval
        self._health_timeout = health_timeout
        self._health_probe = health_probe
        self._detach_output = detach_output
        self._child = ChildProcess(
            spec.argv(), spec.child_env(), die_with_parent=die_with_parent and not detach_output
        )
        # The backstop for the parent-death signal: it reaches the whole session, engine
        # core and workers included, and SIGKILLs what ignores SIGTERM.
        wants_reaper = die_with_parent and not detach_output
        self._reaper = reaper or (shared_reaper() if wants_reaper else None)
        self._pipe = LogPipe(self.buffer, redact, clock, self._lines_arrived)
        self._startup_timeout = startup_timeout
        self._stop_grace = stop_grace

        self._state = ServerState.NOT_STARTED
        self._changed = threading.Condition()
        self._stop_requested = threading.Event()
        self._gone = threading.Event()
        self._stop_lock = threading.Lock()
        self._log_lock = threading.Lock()  # ServerLog is fed by the pipes and the prober
        self._owner: threading.Thread | None = None
        self._spawn_error: BaseException | None = None
        self._report: ExitReport | None = None
        self._killed_after_grace = False
        self._not_ready_after: float | None = None
        self._log_file: IO[bytes] | None = None
        self._log_start = 0
        self.log_path: Path | None = None
        self.last_answer_at: float | None = None  # clock() of the last /health answer
        self.state_detail = ""  # why it is in its state, when that needs saying

    # ---- public API -------------------------------------------------------------------------

    @property
    def state(self) -> ServerState:
        return self._state

    @property
    def pid(self) -> int | None:
        return self._child.pid

    @property
    def base_url(self) -> str:
        return self.spec.base_url

    @property
    def report(self) -> ExitReport | None:
        return self._report

    @property
    def tracker(self) -> StartupTracker:
        return self.server_log.tracker

    @property
    def latest_stats(self) -> StatsLine | None:
        """vLLM's newest periodic stats line: the fallback when /metrics has no vLLM series."""
        return self.server_log.stats

    def silent_for(self) -> float | None:
        """Seconds since /health last answered, while the server is UNRESPONSIVE."""
        if self._state is not ServerState.UNRESPONSIVE or self.last_answer_at is None:
            return None
        return self._clock() - self.last_answer_at

    def start(self) -> None:
        if self._state is not ServerState.NOT_STARTED:
            raise SupervisorError("a supervisor starts its server once; make a new one to restart")
        self.log_dir.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        self.log_path = self.log_dir / f"vllm-{stamp}-{self.spec.port}-{os.getpid()}.log"
        self._log_file = open(self.log_path, "ab")  # noqa: SIM115 - closed by the owner thread
        self._log_start = self._log_file.tell()
        spawned = threading.Event()
        self._owner = threading.Thread(
            target=self._own, args=(spawned,), name="vllm-top-supervisor", daemon=True
        )
        self._owner.start()
        spawned.wait()
        if self._spawn_error is not None:
            self._log_file.close()
            raise SupervisorError(f"cannot start {self.spec.python}: {self._spawn_error}")

    def wait_ready(self, timeout: float | None = None) -> ServerState:
        """Block until the server is ready, dead or gone; return the state reached."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._changed:
            while self._state in (ServerState.NOT_STARTED, ServerState.STARTING):
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    break
                self._changed.wait(remaining)
            return self._state

    def wait_exit(self, timeout: float | None = None) -> ExitReport | None:
        if self._owner is not None:
            self._owner.join(timeout)
        return self._report

    def stop(self, grace: float | None = None) -> ExitReport:
        """SIGTERM the process group, SIGKILL it after `grace` seconds; return the exit report."""
        if self._owner is None or self.pid is None:
            raise SupervisorError("the server was never started")
        # One stop at a time: a signal handler's thread and the main thread may both stop, and
        # a second SIGTERM makes uvicorn skip its graceful shutdown.
        with self._stop_lock:
            if self._report is None:
                self._stop_requested.set()
                if not self._state.is_final:
                    self._set_state(ServerState.STOPPING)
                self._child.remember_tree()
                self._child.signal_group(signal.SIGTERM)
                self._owner.join(self._stop_grace if grace is None else grace)
                if self._owner.is_alive():
                    self._killed_after_grace = True
                    self._child.signal_group(signal.SIGKILL)
                    self._owner.join()
        assert self._report is not None
        return self._report

    def alive_tree(self) -> list[psutil.Process]:
        """Processes of the server's tree that are still running (empty after a clean stop)."""
        return self._child.alive_tree()

    # ---- the owner thread -------------------------------------------------------------------

    def _own(self, spawned: threading.Event) -> None:
        assert self._log_file is not None and self.log_path is not None
        try:
            self._child.spawn(self._log_file if self._detach_output else subprocess.PIPE)
        except OSError as exc:
            self._spawn_error = exc
            spawned.set()
            return
        pid = self._child.proc.pid
        if self._reaper is not None:
            self._reaper.watch_session(pid)
        log.info("started %s (pid %d)", " ".join(self.spec.argv()[:4]), pid)
        self._set_state(ServerState.STARTING)
        spawned.set()
        proc = self._child.proc
        if self._detach_output:
            self._pipe.follow(self.log_path, self._log_start, self._child.running)
        else:
            assert proc.stdout is not None and proc.stderr is not None
            self._pipe.read_pipes(self._log_file, proc.stdout, proc.stderr)
        threading.Thread(target=self._probe, name="vllm-top-health", daemon=True).start()
        try:
            self._watch()
        finally:
            self._gone.set()
            self._child.close()
        self._finish()

    def _watch(self) -> None:
        """Sleep on the process itself (an exit is seen at once); note its tree now and then;
        give up on a start-up that takes too long."""
        started = self._clock()
        last_scan = float("-inf")
        while self._child.running():
            now = self._clock()
            if now - last_scan > TREE_SCAN_S:
                self._child.remember_tree()
                last_scan = now
            if (
                self._startup_timeout is not None
                and self._state is ServerState.STARTING
                and now - started > self._startup_timeout
                and not self._stop_requested.is_set()
            ):
                self._not_ready_after = self._startup_timeout
                log.warning("not ready after %.0f s: stopping it", self._startup_timeout)
                threading.Thread(target=self.stop, name="vllm-top-timeout", daemon=True).start()
            self._child.wait_exit(0.1 if self._stop_requested.is_set() else 1.0)

    def _probe(self) -> None:
        """The health thread: probe /health until the server is gone or being stopped."""
        while not self._gone.is_set() and not self._stop_requested.is_set():
            probe = self._health_probe(self.base_url, self._health_timeout)
            if self._gone.is_set() or self._stop_requested.is_set():
                return
            self._observe(probe)
            up = self._state in (ServerState.READY, ServerState.UNRESPONSIVE, ServerState.DEAD)
            self._gone.wait(self._ready_health_interval if up else self._health_interval)

    def _observe(self, probe: Probe) -> None:
        now = self._clock()
        if probe.answered:
            self.last_answer_at = now
        target = supervised_transition(self._state, probe)
        if target is ServerState.READY:
            with self._log_lock:
                phase = self.server_log.ready()
            if phase is not None:
                self._emit(phase)
            self._set_state(ServerState.READY)
        elif target is ServerState.DEAD:
            with self._log_lock:
                death = self.server_log.died()
            self._set_state(ServerState.DEAD, death.describe("/health answered 503"))
        elif target is ServerState.UNRESPONSIVE:
            silent = now - (self.last_answer_at or now)
            self._set_state(ServerState.UNRESPONSIVE, silence(silent))

    def _finish(self) -> None:
        returncode = self._child.returncode
        self._child.kill_leftovers()
        if self._reaper is not None:
            self._reaper.release(self._child.proc.pid)
        self._pipe.join(5.0)
        if self._log_file is not None:
            self._log_file.close()
        stopped = self._stop_requested.is_set()
        clean = stopped and returncode in (0, -signal.SIGTERM)
        with self._log_lock:
            cause = None if clean else self.server_log.exit_cause()
            errors = self.server_log.last_errors(10)
            phase = self.server_log.tracker.phase.label
        self._report = ExitReport(
            returncode=returncode,
            stopped_by_us=stopped,
            cause=cause,
            last_errors=errors,
            log_path=self.log_path,
            killed_after_grace=self._killed_after_grace,
            not_ready_after_s=self._not_ready_after,
            last_phase=phase,
        )
        log.info("%s", self._report.describe())
        self._set_state(ServerState.STOPPED if stopped else ServerState.EXITED)
        self._emit(ExitEvent(self._report))

    # ---- helpers ----------------------------------------------------------------------------

    def _lines_arrived(self, added: list[LogLine]) -> None:
        """Called by the log pipe, in order, with lines already masked and kept."""
        with self._log_lock:
            events = self.server_log.feed([ln.text for ln in added])
        self._emit(LogLinesEvent(added))
        for event in events:
            if isinstance(event, EngineDeath):
                self._set_state(ServerState.DEAD, event.describe("the log says so"))
            elif isinstance(event, PhaseEvent):
                self._emit(event)

    def _set_state(self, state: ServerState, detail: str = "") -> None:
        with self._changed:
            current = self._state
            # Nothing moves a server out of its end, and only its end out of a stop.
            if current is state or current.is_final:
                return
            if current is ServerState.STOPPING and not state.is_final:
                return
            self._state = state
            self.state_detail = detail
            self._changed.notify_all()
        log.info("state %s -> %s%s", current.value, state.value, f": {detail}" if detail else "")
        self._emit(StateEvent(state, detail))

    def _emit(self, event: SupervisorEvent) -> None:
        if self._listener is None:
            return
        # A listener's bug must not take the supervision threads down with it, nor vanish.
        try:
            self._listener(event)
        except Exception:
            log.exception("the supervisor's listener failed on %s", type(event).__name__)
