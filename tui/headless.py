"""`vllm-top serve --headless`: the supervisor with no UI.

Prints phase changes, one line with the word "ready" and the base URL, then the server log as
it comes. SIGINT, SIGTERM and SIGHUP stop vLLM and exit 0; a server that fails exits 1 with the
cause in one line on stderr.
"""

from __future__ import annotations

import signal
import sys
import threading
import time
from types import FrameType
from typing import TextIO

from engine.events import (
    LogLinesEvent,
    PhaseEvent,
    ServerState,
    StateEvent,
    SupervisorEvent,
)
from engine.share import Share
from engine.startup import Phase
from engine.supervisor import Supervisor, SupervisorError
from tui.settings import ServeSettings, UsageError, build_launch_spec
from tui.sharing import banner, share_for

EXIT_OK = 0
EXIT_SERVER_FAILED = 1


class _Printer:
    """Serialises output from the supervisor's threads."""

    def __init__(self, out: TextIO) -> None:
        self._out = out
        self._lock = threading.Lock()

    def line(self, text: str) -> None:
        with self._lock:
            try:
                self._out.write(text + "\n")
                self._out.flush()
            except (OSError, ValueError):
                pass  # stdout closed (piped into head, or the terminal hung up): keep going

    def __call__(self, event: SupervisorEvent) -> None:
        if isinstance(event, LogLinesEvent):
            with self._lock:
                try:
                    self._out.write("".join(ln.text + "\n" for ln in event.lines))
                    self._out.flush()
                except (OSError, ValueError):
                    pass
        elif isinstance(event, PhaseEvent) and event.phase is not Phase.READY:
            self.line(f"[vllm-top] phase: {event.phase.label} (t+{event.elapsed_s:.1f}s)")
        elif isinstance(event, StateEvent) and event.state is ServerState.DEAD:
            self.line(f"[vllm-top] {event.detail}")


def _build_supervisor(settings: ServeSettings, printer: _Printer) -> Supervisor:
    spec = build_launch_spec(settings, say=printer.line)
    return Supervisor(spec, log_dir=settings.log_dir, listener=printer, redact=settings.redactor())


def run_headless(settings: ServeSettings, out: TextIO = sys.stdout) -> int:
    printer = _Printer(out)
    stop_requested = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        stop_requested.set()

    previous = {
        sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    }
    share: Share | None = None
    try:
        share = share_for(settings)
        supervisor = _build_supervisor(settings, printer)
        try:
            supervisor.start()
        except SupervisorError as exc:
            raise UsageError(str(exc)) from None
        printer.line(f"[vllm-top] started vLLM (pid {supervisor.pid}), log: {supervisor.log_path}")
        return _supervise(supervisor, settings, printer, stop_requested, share)
    finally:
        if share is not None:
            share.close()
            printer.line("[vllm-top] public URL closed")
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _supervise(
    supervisor: Supervisor,
    settings: ServeSettings,
    printer: _Printer,
    stop_requested: threading.Event,
    share: Share | None = None,
) -> int:
    deadline = time.monotonic() + settings.startup_timeout
    announced = False
    while not stop_requested.wait(0.2):
        state = supervisor.state
        if state is ServerState.READY and not announced:
            announced = True
            elapsed = supervisor.tracker.elapsed()
            printer.line(f"[vllm-top] ready: {supervisor.base_url}/v1 (started in {elapsed:.1f}s)")
            if share is not None and share.endpoint is not None:
                # Printed once, here, and never into the log file.
                for line in banner(share.endpoint, settings.generated_key):
                    printer.line(f"[vllm-top] {line}")
        if state.is_final:
            report = supervisor.wait_exit()
            assert report is not None
            when = "after start-up" if announced else "before it was ready"
            print(f"vllm-top: vLLM failed {when}: {report.describe()}", file=sys.stderr)
            print(f"vllm-top: full log: {report.log_path}", file=sys.stderr)
            return EXIT_SERVER_FAILED
        if not announced and time.monotonic() > deadline:
            supervisor.stop(settings.stop_grace)
            print(
                f"vllm-top: vLLM was not ready after {settings.startup_timeout:.0f}s "
                f"(last phase: {supervisor.tracker.phase.label}); stopped it",
                file=sys.stderr,
            )
            return EXIT_SERVER_FAILED
    printer.line("[vllm-top] stopping vLLM")
    report = supervisor.stop(settings.stop_grace)
    how = " (killed after grace period)" if report.killed_after_grace else ""
    printer.line(f"[vllm-top] vLLM stopped, exit code {report.returncode}{how}")
    return EXIT_OK
