"""`vllm-top serve --headless`: the supervised server with no UI.

Prints phase changes, one line with the word "ready" and the base URL, then the server log as
it comes, and a line whenever the server stops answering /health and when it answers again.
SIGINT, SIGTERM and SIGHUP stop vLLM (unless --keep-server) and exit 0; a server that fails, or
is not ready within --startup-timeout, exits 1 with the cause in one line on stderr.
"""

from __future__ import annotations

import signal
import sys
import threading
from types import FrameType
from typing import TextIO

from engine.events import (
    LogLinesEvent,
    PhaseEvent,
    ServerState,
    StateEvent,
    SupervisorEvent,
)
from engine.session import SupervisedSession
from engine.share import Share
from engine.startup import Phase
from engine.supervisor import SupervisorError
from tui.commands.errors import UsageError
from tui.commands.settings import ServeSettings, supervised_session
from tui.commands.sharing import banner, share_for

EXIT_OK = 0
EXIT_SERVER_FAILED = 1


class _Printer:
    """Serialises output from the supervisor's threads."""

    def __init__(self, out: TextIO) -> None:
        self._out = out
        self._lock = threading.Lock()
        self._silent = False  # the server was last said to be unresponsive

    def line(self, text: str) -> None:
        self.write(text + "\n")

    def write(self, text: str) -> None:
        with self._lock:
            try:
                self._out.write(text)
                self._out.flush()
            except (OSError, ValueError):
                pass  # stdout closed (piped into head, or the terminal hung up): keep going

    def __call__(self, event: SupervisorEvent) -> None:
        if isinstance(event, LogLinesEvent):
            self.write("".join(ln.text + "\n" for ln in event.lines))
        elif isinstance(event, PhaseEvent) and event.phase is not Phase.READY:
            self.line(f"[vllm-top] phase: {event.phase.label} (t+{event.elapsed_s:.1f}s)")
        elif isinstance(event, StateEvent):
            self._state(event)

    def _state(self, event: StateEvent) -> None:
        if event.state is ServerState.DEAD:
            self.line(f"[vllm-top] {event.detail}")
        elif event.state is ServerState.UNRESPONSIVE:
            self._silent = True
            self.line(f"[vllm-top] UNRESPONSIVE: {event.detail} (its process is alive)")
        elif event.state is ServerState.READY and self._silent:
            self._silent = False
            self.line("[vllm-top] answering /health again: ready")


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
        session = supervised_session(settings, listener=printer, say=printer.line)
        try:
            session.start()
        except SupervisorError as exc:
            raise UsageError(str(exc)) from None
        printer.line(f"[vllm-top] started vLLM (pid {session.pid}), log: {session.log_path}")
        return _supervise(session, settings, printer, stop_requested, share)
    finally:
        if share is not None:
            share.close()
            printer.line("[vllm-top] public URL closed")
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _supervise(
    session: SupervisedSession,
    settings: ServeSettings,
    printer: _Printer,
    stop_requested: threading.Event,
    share: Share | None = None,
) -> int:
    announced = False
    while not stop_requested.wait(0.2):
        state = session.state
        if state is ServerState.READY and not announced:
            announced = True
            elapsed = session.tracker.elapsed()
            printer.line(f"[vllm-top] ready: {session.base_url}/v1 (started in {elapsed:.1f}s)")
            if share is not None and share.endpoint is not None:
                # Printed once, here, and never into the log file.
                for line in banner(share.endpoint, settings.generated_key):
                    printer.line(f"[vllm-top] {line}")
        if state.is_final:
            report = session.supervisor.wait_exit()
            assert report is not None
            when = "after start-up" if announced else "before it was ready"
            print(f"vllm-top: vLLM failed {when}: {report.describe()}", file=sys.stderr)
            print(f"vllm-top: full log: {report.log_path}", file=sys.stderr)
            return EXIT_SERVER_FAILED
    if settings.keep_server:
        printer.line(f"[vllm-top] vLLM keeps running (pid {session.pid}) at {session.base_url}/v1")
        printer.line(f"[vllm-top] its log goes on in {session.log_path}")
        return EXIT_OK
    printer.line("[vllm-top] stopping vLLM")
    report = session.supervisor.stop()
    how = " (killed after grace period)" if report.killed_after_grace else ""
    printer.line(f"[vllm-top] vLLM stopped, exit code {report.returncode}{how}")
    return EXIT_OK
