"""A burst's life in the cockpit: fired, followed, cancelled, finished, and kept while it is on
a chart.

Everything here runs on the UI thread except `_follow`, a thread worker that drives the load
process (loadgen.live) and answers only with messages: BurstProgress while it runs,
BurstFinished at the end. The running run is set and cleared on the UI thread alone.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from textual.app import App

from engine.events import ServerState
from engine.session import Session
from loadgen.config import DEFAULT_PROMPT, ConfigError, LoadConfig, load_payloads
from loadgen.live import LiveRun, LoadFailed, Progress
from loadgen.report import render_report
from loadgen.runner import resolve_model
from loadgen.stats import Summary
from loadgen.window import Burst
from tui.commands.dashboard_config import BurstPreset, UiConfig
from tui.messages import BurstFinished, BurstProgress

log = logging.getLogger(__name__)

KEPT_BURSTS = 50
POLL_S = 0.25


@dataclass(frozen=True)
class Fired:
    label: str
    total: int


class BurstController:
    def __init__(self, app: App[int], clock: Callable[[], float], retain_s: float) -> None:
        """retain_s: how long a finished burst stays (the longest chart and its step)."""
        self._app = app
        self._clock = clock
        self._retain_s = retain_s
        self._run: LiveRun | None = None
        self.bursts: list[Burst] = []  # those still on a chart, on time.monotonic()'s clock
        self.last_summary: Summary | None = None
        self.last_report: str | None = None

    @property
    def running(self) -> bool:
        return self._run is not None

    def press(self, number: int, session: Session, config: UiConfig) -> Fired | str:
        """`b` (number 0) or a preset key: what was fired, or why nothing was (one line)."""
        if session.state is not ServerState.READY:
            why = f" ({session.detail})" if session.detail else ""
            return f"the server is {session.state.value}, not ready{why}"
        if number > len(config.presets):
            return f"no preset {number} in the config"
        if number:
            preset = config.presets[number - 1]
            return self.fire(preset, f"preset {number}: {preset.describe()}", session)
        return self.fire(config.default_burst, config.default_burst.describe(), session)

    def fire(self, preset: BurstPreset, label: str, session: Session) -> Fired | str:
        """Start a burst at the session's server: what was fired, or why it cannot be."""
        if self._run is not None:
            return "a burst is already running (x cancels it)"
        try:
            payloads = load_payloads(Path(preset.payload).expanduser()) if preset.payload else ()
            config = LoadConfig(
                base_url=session.base_url,
                endpoint="chat" if preset.endpoint == "chat" else "completions",
                model=session.model,
                requests=preset.requests,
                concurrency=preset.concurrency,
                rate=preset.rate,
                max_tokens=preset.max_tokens,
                payloads=payloads,
                api_key=session.api_key,
                prompt=preset.prompt or DEFAULT_PROMPT,
            )
        except ConfigError as exc:
            return str(exc)
        run = LiveRun(config)
        self._run = run
        log.info("burst: %s (%s)", label, config.describe())
        self._app.run_worker(
            lambda: self._follow(run, label),
            name="burst",
            group="burst",
            description="burst",
            thread=True,
            exit_on_error=False,
        )
        return Fired(label, preset.requests)

    def cancel(self) -> bool:
        if self._run is None:
            return False
        self._run.cancel()
        return True

    def _follow(self, run: LiveRun, label: str) -> None:
        """The worker: check the server, run the load, report; never touches the app."""
        post = self._app.post_message
        try:
            run.start(resolve_model(run.config))
        except ConfigError as exc:
            post(BurstFinished(label, None, None, str(exc)))
            return
        if not run.started:
            post(BurstFinished(label, None, None, "cancelled before it started"))
            return
        for progress in run.follow(POLL_S):
            post(BurstProgress(label, progress))
        try:
            summary = run.finish()
        except LoadFailed as exc:
            post(BurstFinished(label, run.progress(), None, f"the load process failed: {exc}"))
            return
        post(BurstFinished(label, run.progress(), summary, None))

    # ---- on the UI thread, from the app's handlers ----------------------------------------------

    def progressed(self, message: BurstProgress) -> None:
        self._keep(message.progress, finished=False)

    def finished(self, message: BurstFinished) -> None:
        self._run = None
        if message.progress is not None:
            self._keep(message.progress, finished=True)
        summary = message.summary
        if summary is not None:
            self.last_summary = summary
            self.last_report = render_report(summary, title=f"vllm-top burst: {message.label}")
            log.info(
                "burst done: %s: %d ok, %d failed, %d retried",
                message.label,
                summary.succeeded,
                summary.failed,
                summary.retried,
            )
        else:
            log.warning("burst not run: %s: %s", message.label, message.error)

    def _keep(self, progress: Progress, finished: bool) -> None:
        if progress.t0_monotonic is None:
            return
        burst = Burst(progress.t0_monotonic, progress.records, self._clock() if finished else None)
        if self.bursts and self.bursts[-1].t0 == burst.t0:
            self.bursts[-1] = burst
            return
        # Bursts that ended before the longest chart window hold their records for nothing
        # (100 requests of 128 tokens: about half a MiB).
        horizon = self._clock() - self._retain_s
        kept = [b for b in self.bursts if b.end is None or b.end >= horizon]
        self.bursts = [*kept[-(KEPT_BURSTS - 1) :], burst]
