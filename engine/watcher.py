"""Watch a server over HTTP on a background thread: its state (for an attached server, from
/health), its /metrics, who it is (/version, /v1/models, asked once each time it comes up) and
the stats line of its log as the fallback when /metrics has no vLLM series.

Each round ends in one WatchReport handed to `on_report` (the dashboard posts it as a message);
the watcher keeps nothing a reader needs, so it never holds a lock a frame waits on. A demo
burst can be over in 3 s: while one runs, rounds come four times a second.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from engine.events import LogLinesEvent, ServerState, SupervisorEvent
from engine.metrics import MetricsReader, MetricsSample, ScrapeError, scrape
from engine.session import Session
from engine.snapshot import ServerIdentity, fetch_identity
from engine.statsline import StatsLine

log = logging.getLogger(__name__)

FAST_INTERVAL_S = 0.25
IDENTITY_TIMEOUT_S = 3.0
# States in which the server answers HTTP, so /metrics is worth asking.
UP = (ServerState.READY, ServerState.DEAD)


@dataclass(frozen=True)
class WatchReport:
    at: float
    state: ServerState
    server: int  # which server this is: a restart makes a new one, with new counters
    sample: MetricsSample | None
    metrics_error: str | None  # why there is no sample, in a few words
    identity: ServerIdentity | None  # only in the round that asked for it
    stats_line: StatsLine | None


class ServerWatcher:
    def __init__(
        self,
        session: Session,
        on_report: Callable[[WatchReport], object],
        on_event: Callable[[SupervisorEvent], object] | None = None,
        interval: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        scrape_timeout: float = 5.0,
    ) -> None:
        """on_event: what a supervised server's supervisor tells at once (a state, a phase, an
        exit), from its threads; log lines are not among them (a flood would be an event per
        chunk: they are pulled from the session's buffer)."""
        self.session = session
        self._on_report = on_report
        if on_event is not None:
            forward = on_event

            def news(event: SupervisorEvent) -> None:
                if not isinstance(event, LogLinesEvent):
                    forward(event)

            session.listener = news
        self._interval = interval
        self._clock = clock
        self._scrape_timeout = scrape_timeout
        self._stop = threading.Event()
        self._fast = threading.Event()
        self._paused = threading.Event()
        self._thread: threading.Thread | None = None
        self._identity_for: int | None = None  # the server whose identity was asked
        self._last_error: str | None = None
        self._reader = MetricsReader()

    def fast(self, on: bool) -> None:
        """Watch four times a second (while a burst runs) or at the normal interval."""
        if on:
            self._fast.set()
        else:
            self._fast.clear()

    def pause(self, paused: bool) -> None:
        """Skip rounds while nobody looks (the fleet screen covers this dashboard and watches
        the same server itself)."""
        if paused:
            self._paused.set()
        else:
            self._paused.clear()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="vllm-top-watch", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            if self._paused.is_set():
                self._stop.wait(self._interval)
                continue
            try:
                report = self.watch_once()
            except Exception:  # a bug here must not end the watching; it is logged
                log.exception("a watch round failed")
            else:
                if not self._stop.is_set():
                    self._on_report(report)
            self._stop.wait(FAST_INTERVAL_S if self._fast.is_set() else self._interval)

    def watch_once(self) -> WatchReport:
        session = self.session
        state = session.check()
        server = _server_id(session)
        sample = identity = None
        error = None
        if state in UP:
            try:
                sample = scrape(session.base_url, self._clock(), self._scrape_timeout, self._reader)
            except ScrapeError as exc:
                error = str(exc)
            if self._identity_for != server:
                self._identity_for = server
                identity = fetch_identity(session.base_url, session.api_key, IDENTITY_TIMEOUT_S)
                if identity.models:
                    session.model = identity.models[0]
        else:
            self._identity_for = None  # asked again when it comes (back) up
            error = session.detail or f"the server is {state.value}"
        if error != self._last_error:
            log.info("metrics of %s: %s", session.base_url, error or "readable again")
            self._last_error = error
        return WatchReport(
            at=self._clock(),
            state=state,
            server=server,
            sample=sample,
            metrics_error=error,
            identity=identity,
            stats_line=session.latest_stats,
        )


def _server_id(session: Session) -> int:
    # A supervised restart starts a new server process; an attached server is always one.
    return session.pid or 0
