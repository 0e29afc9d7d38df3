"""Run a vLLM server as a child process and keep watch over it.

Threads, not asyncio: the supervisor must work the same under the headless command, a Textual
worker and a pytest fixture. One thread owns the child (it forks it and lives until it is gone,
so the child's parent-death signal fires only when vllm-top itself dies), two read its pipes.
The listener is called from those threads and must be thread-safe.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import re
import select
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import IO

import psutil

from engine.events import (
    ExitEvent,
    ExitReport,
    LogLinesEvent,
    PhaseEvent,
    ServerState,
    StateEvent,
    SupervisorEvent,
)
from engine.health import Health, probe_health
from engine.launch import LaunchSpec
from engine.linesplit import LineSplitter
from engine.logbuffer import DEFAULT_MAX_LINES, LogBuffer, Stream
from engine.loglines import failure_cause, notable_errors
from engine.paths import default_log_dir
from engine.reaper import Reaper, shared_reaper
from engine.redact import NO_SECRETS
from engine.startup import Phase, StartupTracker

Listener = Callable[[SupervisorEvent], None]
HealthProbe = Callable[[str], tuple[Health, int | None]]

_PR_SET_PDEATHSIG = 1
# Lines vLLM prints when its engine dies under a live HTTP server (/health turns 503 soon after).
_ENGINE_DEAD = re.compile(
    r"EngineDeadError|EngineCore encountered a fatal error|engine core exited unexpectedly"
    r"|Worker proc \S+ died unexpectedly"
)


def _open_pidfd(pid: int) -> int | None:
    """A descriptor that becomes readable when the process ends (Linux 5.3+), or None."""
    try:
        return os.pidfd_open(pid)
    except (AttributeError, OSError):
        return None


def _die_with_parent() -> None:  # pragma: no cover - runs in the forked child
    """Ask Linux to SIGTERM the server when the thread that forked it ends.

    That thread lives exactly as long as vllm-top watches the server, so even a SIGKILLed
    vllm-top leaves no server behind; vLLM's SIGTERM handler then takes its engine down.
    """
    with contextlib.suppress(Exception):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


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
        ready_health_interval: float = 2.0,
        health_probe: HealthProbe = probe_health,
        die_with_parent: bool = True,
        detach_output: bool = False,
        reaper: Reaper | None = None,
        redact: Callable[[str], str] = NO_SECRETS,
    ) -> None:
        """detach_output: the server writes its output straight into the log file, which is
        followed from there, so it can outlive vllm-top (--keep-server) without broken pipes.
        The price: stdout and stderr are no longer told apart."""
        self.spec = spec
        self.log_dir = log_dir or default_log_dir()
        self.buffer = LogBuffer(buffer_lines)
        self.tracker = StartupTracker(clock=clock)
        self._listener = listener
        self._clock = clock
        # Refused connections while starting cost nothing; once up, every probe is a line in
        # vLLM's access log, so probe less often and rely on the log and the exit for speed.
        self._health_interval = health_interval
        self._ready_health_interval = ready_health_interval
        self._health_probe = health_probe
        self._die_with_parent = die_with_parent and not detach_output
        self._detach_output = detach_output
        # The backstop for the parent-death signal: it reaches the whole session, engine
        # core and workers included, and SIGKILLs what ignores SIGTERM.
        self._reaper = reaper or (shared_reaper() if self._die_with_parent else None)
        # Every line is masked before it reaches the log file or the buffer, so nothing
        # downstream (log view, saved log, headless output) can show a secret.
        self._redact = redact

        self._state = ServerState.NOT_STARTED
        self._changed = threading.Condition()
        self._stop_requested = threading.Event()
        self._stop_lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None
        self._log_file: IO[bytes] | None = None
        self._owner: threading.Thread | None = None
        self._readers: list[threading.Thread] = []
        self._tree: dict[int, float] = {}  # pid -> create_time of every process seen in the tree
        self._spawn_error: BaseException | None = None
        self._report: ExitReport | None = None
        self._killed_after_grace = False
        self._death_cause: str | None = None  # read when the engine was seen dead
        self._death_tail: list[str] = []
        self._log_start = 0
        self.log_path: Path | None = None

    # ---- public API -------------------------------------------------------------------------

    @property
    def state(self) -> ServerState:
        return self._state

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    @property
    def base_url(self) -> str:
        return self.spec.base_url

    @property
    def report(self) -> ExitReport | None:
        return self._report

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

    def stop(self, grace: float = 15.0) -> ExitReport:
        """SIGTERM the process group, SIGKILL it after `grace` seconds; return the exit report."""
        if self._proc is None or self._owner is None:
            raise SupervisorError("the server was never started")
        # One stop at a time: a signal handler's thread and the main thread may both stop, and
        # a second SIGTERM makes uvicorn skip its graceful shutdown.
        with self._stop_lock:
            return self._stop(grace)

    def _stop(self, grace: float) -> ExitReport:
        assert self._proc is not None and self._owner is not None
        if self._report is None:
            self._stop_requested.set()
            if not self._state.is_final:
                self._set_state(ServerState.STOPPING)
            self._snapshot_tree()
            self._signal_group(signal.SIGTERM)
            self._owner.join(grace)
            if self._owner.is_alive():
                self._killed_after_grace = True
                self._signal_group(signal.SIGKILL)
                self._owner.join()
        assert self._report is not None
        return self._report

    def alive_tree(self) -> list[psutil.Process]:
        """Processes of the server's tree that are still running (empty after a clean stop)."""
        alive = []
        for pid, created in list(self._tree.items()):
            with contextlib.suppress(psutil.Error):
                p = psutil.Process(pid)
                if p.create_time() == created and p.status() != psutil.STATUS_ZOMBIE:
                    alive.append(p)
        return alive

    # ---- the owner thread -------------------------------------------------------------------

    def _own(self, spawned: threading.Event) -> None:
        assert self._log_file is not None
        out: int | IO[bytes] = self._log_file if self._detach_output else subprocess.PIPE
        try:
            self._proc = subprocess.Popen(
                self.spec.argv(),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=out,
                env=self.spec.child_env(),
                start_new_session=True,
                preexec_fn=_die_with_parent if self._die_with_parent else None,
            )
        except OSError as exc:
            self._spawn_error = exc
            spawned.set()
            return
        self._tree[self._proc.pid] = psutil.Process(self._proc.pid).create_time()
        if self._reaper is not None:
            self._reaper.watch_session(self._proc.pid)
        self._set_state(ServerState.STARTING)
        spawned.set()
        if self._detach_output:
            follower = threading.Thread(target=self._follow, name="vllm-top-follow", daemon=True)
            follower.start()
            self._readers.append(follower)
        else:
            assert self._proc.stdout is not None and self._proc.stderr is not None
            for stream, pipe in (("stdout", self._proc.stdout), ("stderr", self._proc.stderr)):
                reader = threading.Thread(
                    target=self._read, args=(stream, pipe), name=f"vllm-top-{stream}", daemon=True
                )
                reader.start()
                self._readers.append(reader)
        self._watch()
        self._finish()

    def _watch(self) -> None:
        assert self._proc is not None
        last_tree_scan = 0.0
        # Between health probes the thread sleeps on the process itself, so an exit is seen at
        # once (a pidfd is readable when the process ends), not at the next probe.
        pidfd = _open_pidfd(self._proc.pid)
        try:
            while self._proc.poll() is None:
                now = time.monotonic()
                if now - last_tree_scan > 2.0:
                    self._snapshot_tree()
                    last_tree_scan = now
                if not self._stop_requested.is_set():
                    self._check_health()
                ready = self._state is ServerState.READY
                interval = self._ready_health_interval if ready else self._health_interval
                if self._stop_requested.is_set():
                    interval = 0.1  # stopping: just wait for the exit, promptly
                self._wait_exit(pidfd, interval)
        finally:
            if pidfd is not None:
                os.close(pidfd)

    def _wait_exit(self, pidfd: int | None, timeout: float) -> None:
        assert self._proc is not None
        if pidfd is not None:
            select.select([pidfd], [], [], timeout)
            return
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._proc.wait(timeout)

    def _check_health(self) -> None:
        health, _ = self._health_probe(self.base_url)
        if health is Health.READY and self._state in (ServerState.STARTING, ServerState.DEAD):
            self._advance(Phase.READY)
            self._set_state(ServerState.READY)
        elif health is Health.DEAD and self._state is not ServerState.DEAD:
            self._engine_dead("/health answered 503")

    def _finish(self) -> None:
        assert self._proc is not None
        returncode = self._proc.returncode
        # The leader is gone; anything left of its tree is an orphan holding memory.
        self._snapshot_tree()
        self._signal_group(signal.SIGKILL)
        for p in self.alive_tree():
            with contextlib.suppress(psutil.Error):
                p.kill()
        if self._reaper is not None:
            self._reaper.release(self._proc.pid)
        for reader in self._readers:
            reader.join(5.0)
        if self._log_file is not None:
            self._log_file.close()
        tail = [ln.text for ln in self.buffer.tail(400)]
        stopped = self._stop_requested.is_set()
        self._report = ExitReport(
            returncode=returncode,
            stopped_by_us=stopped,
            cause=None
            if stopped and returncode in (0, -signal.SIGTERM)
            else (self._death_cause or failure_cause(tail)),
            last_errors=notable_errors(self._death_tail + tail, 10),
            log_path=self.log_path,
            killed_after_grace=self._killed_after_grace,
        )
        self._set_state(ServerState.STOPPED if stopped else ServerState.EXITED)
        self._emit(ExitEvent(self._report))

    # ---- helpers ----------------------------------------------------------------------------

    def _read(self, stream: Stream, pipe: IO[bytes]) -> None:
        splitter = LineSplitter()
        fd = pipe.fileno()
        while True:
            chunk = os.read(fd, 65536)
            lines = splitter.feed(chunk) if chunk else splitter.flush()
            if lines:
                self._take_lines(stream, lines)
            if not chunk:
                break
        pipe.close()

    def _follow(self) -> None:
        """Detached output: tail the log file the server writes, until it is gone."""
        assert self.log_path is not None and self._proc is not None
        splitter = LineSplitter()
        with open(self.log_path, "rb") as f:
            f.seek(self._log_start)
            while True:
                chunk = f.read(65536)
                if chunk:
                    if lines := splitter.feed(chunk):
                        self._take_lines("stdout", lines, write=False)
                elif self._proc.poll() is not None:
                    if lines := splitter.flush():
                        self._take_lines("stdout", lines, write=False)
                    return
                else:
                    time.sleep(0.05)

    def _take_lines(self, stream: Stream, texts: list[str], write: bool = True) -> None:
        texts = [self._redact(t) for t in texts]
        with self._write_lock:
            if write:
                assert self._log_file is not None
                self._log_file.write(("\n".join(texts) + "\n").encode("utf-8", "replace"))
                self._log_file.flush()
            added = self.buffer.extend(stream, texts, self._clock())
            moved = [p for t in texts if (p := self._feed_tracker(t)) is not None]
        self._emit(LogLinesEvent(added))
        if self._state is ServerState.READY:
            first = next((i for i, t in enumerate(texts) if _ENGINE_DEAD.search(t)), None)
            if first is not None:
                self._engine_dead("the log says so", later_lines=len(texts) - first - 1)
        for event in moved:
            self._emit(event)

    def _engine_dead(self, how: str, later_lines: int = 0) -> None:
        # The cause is read now, from the lines up to the first sign of death: by the time the
        # process exits (or even within the same read, when the reader was late), every request
        # that was in flight has printed its own EngineDeadError traceback over the root cause.
        tail = [ln.text for ln in self.buffer.tail(400 + later_lines)]
        tail = tail[: len(tail) - later_lines]
        self._death_cause = failure_cause(tail)
        self._death_tail = tail
        self._set_state(
            ServerState.DEAD, f"engine dead ({how}): {self._death_cause or 'see the log'}"
        )

    def _feed_tracker(self, text: str) -> PhaseEvent | None:
        before = self.tracker.entered_at.get(self.tracker.phase, 0.0)
        phase = self.tracker.feed(text)
        if phase is None:
            return None
        return PhaseEvent(phase, self.tracker.elapsed(), self.tracker.entered_at[phase] - before)

    def _advance(self, phase: Phase) -> None:
        with self._write_lock:
            before = self.tracker.entered_at.get(self.tracker.phase, 0.0)
            moved = self.tracker.advance(phase)
        if moved is not None:
            now = self.tracker.entered_at[moved]
            self._emit(PhaseEvent(moved, self.tracker.elapsed(), now - before))

    def _set_state(self, state: ServerState, detail: str = "") -> None:
        with self._changed:
            if self._state is state:
                return
            self._state = state
            self._changed.notify_all()
        self._emit(StateEvent(state, detail))

    def _emit(self, event: SupervisorEvent) -> None:
        if self._listener is None:
            return
        # A listener's bug must not take the supervision threads down with it.
        with contextlib.suppress(Exception):
            self._listener(event)

    def _signal_group(self, sig: signal.Signals) -> None:
        if self._proc is None:
            return
        # start_new_session made the leader's pid the group id.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self._proc.pid, sig)

    def _snapshot_tree(self) -> None:
        if self._proc is None:
            return
        with contextlib.suppress(psutil.Error):
            for child in psutil.Process(self._proc.pid).children(recursive=True):
                with contextlib.suppress(psutil.Error):
                    self._tree.setdefault(child.pid, child.create_time())
