"""The cockpit's load jobs: a burst, or a search for the most load that meets an SLO (a burst per
probe). Each is fired, followed, cancelled and finished here; finished bursts are kept while they
are on a chart, and their summaries for comparisons.

Everything here runs on the UI thread except the two thread workers, `_burst` and `_search`:
they make a workload's prompts, drive load processes (loadgen.live), record the server's side of
every run (engine.recorder) and answer only with messages. The running job is set and cleared on
the UI thread alone; the worker tells the job which run is current, so `x` cancels that run.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

from textual.app import App

from engine.events import ServerState
from engine.recorder import MetricsRecorder
from engine.session import Session
from loadgen.config import DEFAULT_PROMPT, ConfigError, LoadConfig, load_payloads
from loadgen.live import LiveRun, LoadFailed, Progress
from loadgen.runner import resolve_model
from loadgen.search import Outcome, Probe, SearchSpec, find_max, probe_config
from loadgen.slo import Slo
from loadgen.stats import Summary
from loadgen.window import Burst
from tui.commands.bench_run import with_prompts, with_server_side
from tui.commands.dashboard_config import BurstPreset, UiConfig
from tui.messages import (
    BurstFinished,
    BurstPreparing,
    BurstProgress,
    ProbeStarted,
    SearchFinished,
    SearchProbed,
)

log = logging.getLogger(__name__)

KEPT_BURSTS = 50
POLL_S = 0.25


@dataclass(frozen=True)
class Fired:
    label: str
    total: int | None


@dataclass(frozen=True)
class KeptResult:
    """A finished burst, for comparisons and for A/B (its preset fires the same workload)."""

    number: int  # its row in the burst table
    label: str
    summary: Summary
    preset: BurstPreset


class Job:
    """One burst or one search: what `x` cancels. Its worker names the run that is current."""

    def __init__(self, kind: Literal["burst", "search"]) -> None:
        self.kind = kind
        self._cancelled = threading.Event()
        self._lock = threading.Lock()
        self._run: LiveRun | None = None

    @property
    def cancelled(self) -> bool:
        return self._cancelled.is_set()

    def cancel(self) -> None:
        with self._lock:
            self._cancelled.set()
            if self._run is not None:
                self._run.cancel()

    def adopt(self, run: LiveRun) -> None:
        with self._lock:
            self._run = run
            if self._cancelled.is_set():
                run.cancel()  # it will not start


def preset_config(preset: BurstPreset, session: Session) -> LoadConfig:
    """The load a preset asks for at the session's server; ConfigError in one line."""
    payloads = load_payloads(Path(preset.payload).expanduser()) if preset.payload else ()
    workload = preset.workload()
    return LoadConfig(
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
        seed=preset.seed,
        workload=workload if workload.shaped else None,
        workers=None,  # as many load processes as the streams need (loadgen.process)
    )


class BurstController:
    def __init__(self, app: App[int], clock: Callable[[], float], retain_s: float) -> None:
        """retain_s: how long a finished burst stays (the longest chart and its step)."""
        self._app = app
        self._clock = clock
        self._retain_s = retain_s
        self._job: Job | None = None
        self._presets: dict[str, BurstPreset] = {}  # by label, while it runs
        self.bursts: list[Burst] = []  # those still on a chart, on time.monotonic()'s clock
        self.results: deque[KeptResult] = deque(maxlen=KEPT_BURSTS)
        self.fired = 0

    @property
    def running(self) -> bool:
        return self._job is not None

    @property
    def searching(self) -> bool:
        return self._job is not None and self._job.kind == "search"

    @property
    def last_result(self) -> KeptResult | None:
        return self.results[-1] if self.results else None

    def result(self, number: int) -> KeptResult | None:
        return next((r for r in self.results if r.number == number), None)

    def press(self, number: int, session: Session, config: UiConfig) -> Fired | str:
        """`b` (number 0) or a preset key: what was fired, or why nothing was (one line)."""
        if number > len(config.presets):
            return f"no preset {number} in the config"
        if number:
            preset = config.presets[number - 1]
            return self.fire(preset, f"preset {number}: {preset.describe()}", session)
        return self.fire(config.default_burst, config.default_burst.describe(), session)

    def _refusal(self, session: Session) -> str | None:
        if session.state is not ServerState.READY:
            why = f" ({session.detail})" if session.detail else ""
            return f"the server is {session.state.value}, not ready{why}"
        if self._job is not None:
            what = "a search" if self._job.kind == "search" else "a burst"
            return f"{what} is already running (x cancels it)"
        return None

    def fire(self, preset: BurstPreset, label: str, session: Session) -> Fired | str:
        """Start a burst at the session's server: what was fired, or why it cannot be."""
        refusal = self._refusal(session)
        if refusal is not None:
            return refusal
        try:
            config = preset_config(preset, session)
            slo = preset.slo_spec()
        except ConfigError as exc:
            return str(exc)
        job = self._job = Job("burst")
        self._presets[label] = preset
        log.info("burst: %s (%s)", label, config.describe())
        self._start(lambda: self._burst(job, config, label, slo), "burst")
        return Fired(label, preset.requests)

    def search(
        self, spec: SearchSpec, slo: Slo, preset: BurstPreset, session: Session
    ) -> Fired | str:
        """Start the search with the preset's workload at each probe's load."""
        refusal = self._refusal(session)
        if refusal is not None:
            return refusal
        try:
            config = preset_config(preset, session)
        except ConfigError as exc:
            return str(exc)
        job = self._job = Job("search")
        label = f"find-max {spec.dimension}, SLO {slo.describe()} for {spec.target:.0%}"
        log.info("search: %s (%s)", label, config.describe())
        self._start(lambda: self._search(job, config, spec, slo, preset), "search")
        return Fired(label, None)

    def _start(self, work: Callable[[], None], name: str) -> None:
        self._app.run_worker(
            work, name=name, group="load", description=name, thread=True, exit_on_error=False
        )

    def cancel(self) -> bool:
        if self._job is None:
            return False
        self._job.cancel()
        return True

    # ---- the workers: they never touch the app, they post -------------------------------

    def _prepared(self, config: LoadConfig, requests: int, label: str) -> LoadConfig:
        """The model looked up and a workload's prompts made; ConfigError if they cannot be."""
        post = self._app.post_message
        config = resolve_model(config)

        def preparing(done: int, total: int) -> None:
            post(BurstPreparing(label, done, total))

        return with_prompts(config, requests, preparing)

    def _burst(self, job: Job, config: LoadConfig, label: str, slo: Slo | None) -> None:
        post = self._app.post_message
        try:
            config = self._prepared(config, config.requests or 1, label)
            self._measure(job, config, label, slo)
        except ConfigError as exc:
            post(BurstFinished(label, None, None, str(exc)))
        except Exception as exc:  # the burst ends whatever happens, or `x` would never free
            log.exception("the burst failed")
            post(BurstFinished(label, None, None, f"{type(exc).__name__}: {exc}"))

    def _measure(self, job: Job, config: LoadConfig, label: str, slo: Slo | None) -> Summary | None:
        """One run, followed; its summary with the server's side (None: it did not run)."""
        post = self._app.post_message
        run = LiveRun(config)
        job.adopt(run)
        recorder = MetricsRecorder(config.base_url)
        recorder.start()
        run.start()
        if not run.started:
            recorder.stop()
            post(BurstFinished(label, None, None, "cancelled before it started"))
            return None
        for progress in run.follow(POLL_S):
            post(BurstProgress(label, progress))
        try:
            summary = run.finish(slo)
        except LoadFailed as exc:
            recorder.stop()
            post(BurstFinished(label, run.progress(), None, f"the load process failed: {exc}"))
            return None
        summary = with_server_side(summary, recorder.stop())
        post(BurstFinished(label, run.progress(), summary, None))
        return summary

    def _search(
        self, job: Job, config: LoadConfig, spec: SearchSpec, slo: Slo, preset: BurstPreset
    ) -> None:
        post = self._app.post_message
        try:
            try:
                # Enough prompts that probes rarely send one twice (the prefix cache's).
                config = self._prepared(config, 2 * spec.max_requests, "find-max")
            except ConfigError as exc:
                post(SearchFinished(None, str(exc)))
                return
            sent = 0
            unit = "c" if spec.dimension == "concurrency" else "rate"

            def probe(load: float, requests: int) -> Outcome:
                nonlocal sent
                cfg = probe_config(config, spec.dimension, load, requests, sent)
                sent += requests
                label = f"probe {unit}={load:g}"
                concurrency = cfg.concurrency or preset.concurrency
                at_load = replace(preset, requests=requests, concurrency=concurrency, rate=cfg.rate)
                post(ProbeStarted(label, at_load))
                summary = self._measure(job, cfg, label, slo)
                if summary is None or summary.slo is None:
                    return Outcome(0, 0, cancelled=True)
                return Outcome(summary.slo.requests, summary.slo.met, summary.cancelled)

            def probed(done: Probe) -> None:
                post(SearchProbed(done))

            post(SearchFinished(find_max(spec, probe, on_probe=probed), None))
        except Exception as exc:  # the search ends whatever happens, or `x` would never free
            log.exception("the search failed")
            post(SearchFinished(None, f"{type(exc).__name__}: {exc}"))

    # ---- on the UI thread, from the app's handlers ----------------------------------------

    def probe_started(self, message: ProbeStarted) -> None:
        self._presets[message.label] = message.preset  # the search's workload at this load

    def progressed(self, message: BurstProgress) -> None:
        self._keep(message.progress, finished=False)

    def finished(self, message: BurstFinished) -> KeptResult | None:
        """The run is over: kept on the charts, and with a summary among the results."""
        if self._job is not None and self._job.kind == "burst":
            self._job = None
        if message.progress is not None:
            self._keep(message.progress, finished=True)
        preset = self._presets.pop(message.label, None)
        summary = message.summary
        if summary is None:
            log.warning("burst not run: %s: %s", message.label, message.error)
            return None
        log.info(
            "burst done: %s: %d ok, %d failed, %d retried",
            message.label,
            summary.succeeded,
            summary.failed,
            summary.retried,
        )
        self.fired += 1
        kept = KeptResult(self.fired, message.label, summary, preset or BurstPreset())
        self.results.append(kept)
        return kept

    def search_finished(self) -> None:
        self._job = None

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
