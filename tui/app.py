"""The cockpit: a Textual app that composes the panels and dispatches keys.

It does no I/O on its own loop. Scraping /metrics and probing /health run in a thread worker;
GPUs and processes are sampled by engine.DeviceSampler's thread; a burst runs in its own process
(loadgen.LoadProcess) watched by a thread worker; the log is pulled from the supervisor's
bounded buffer on a timer. Workers reach the UI only through messages.
"""

from __future__ import annotations

import asyncio
import gc
import os
import sys
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar

from textual import on, work
from textual.app import App, ComposeResult, ScreenStackError
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.css.query import NoMatches
from textual.message import Message
from textual.widgets import Footer
from textual.worker import Worker, WorkerState, get_current_worker

from engine.device_sampler import DeviceSampler
from engine.events import ExitEvent, LogLinesEvent, ServerState, StateEvent, SupervisorEvent
from engine.loglines import notable_errors
from engine.metrics import MetricsSample, ScrapeError, scrape
from engine.metrics_history import MetricsHistory
from engine.session import AttachedSession, Session, SupervisedSession
from engine.share import Share, generate_api_key
from engine.snapshot import ServerIdentity, fetch_identity, get_json
from engine.startup import Phase
from engine.statsline import StatsLine, parse_stats_line
from engine.tunnel import TOKEN_ENV, ssh_hint
from loadgen.config import DEFAULT_PROMPT, ConfigError, LoadConfig, load_payloads
from loadgen.process import LoadProcess
from loadgen.record import RequestRecord
from loadgen.report import render_report
from loadgen.runner import resolve_model
from loadgen.stats import Summary, summarize
from loadgen.window import Burst, client_token_rate_series, client_ttft_series, rolling
from tui.config import BurstPreset, UiConfig
from tui.format import duration, terminal_lacks_unicode
from tui.screens.modals import (
    BurstFormScreen,
    ConfirmScreen,
    HelpScreen,
    ReportScreen,
    ShareScreen,
)
from tui.sharing import ShareError, TunnelFactory, banner, open_share
from tui.widgets.chart_panel import ChartData, ChartPanel
from tui.widgets.device_panel import DevicePanel
from tui.widgets.kv_panel import KvPanel
from tui.widgets.load_panel import LoadPanel
from tui.widgets.log_panel import LogPanel
from tui.widgets.startup_panel import StartupPanel
from tui.widgets.status_panel import StatusPanel, StatusView

COMPACT_WIDTH = 120
COMPACT_HEIGHT = 36
SHORT_HEIGHT = 48  # below it, a full layout gives the log and the burst table fewer lines
IDLE_CHART_INTERVAL_S = 10.0
BURST_SCRAPE_INTERVAL_S = 0.25
ATTACHED_LOG_NOTE = (
    "log not available when attached: vllm-top sees only what the server exposes over HTTP "
    "(/health, /metrics, /v1/models)"
)


def _requires_key(base_url: str) -> bool:
    """Whether the server turns away /v1/models without a key (401)."""
    status, _ = get_json(f"{base_url}/v1/models", None, 5.0)
    return status == 401


def _port(base_url: str) -> int:
    return urllib.parse.urlsplit(base_url).port or 80


# ---- messages from workers ------------------------------------------------------------------


class MetricsSampled(Message):
    def __init__(self, sample: MetricsSample | None, error: str | None) -> None:
        super().__init__()
        self.sample = sample
        self.error = error


class IdentityFetched(Message):
    def __init__(self, identity: ServerIdentity) -> None:
        super().__init__()
        self.identity = identity


class ServerEventArrived(Message):
    def __init__(self, event: SupervisorEvent) -> None:
        super().__init__()
        self.event = event


class BurstProgress(Message):
    def __init__(
        self, label: str, t0: float | None, records: list[RequestRecord], total: int | None
    ) -> None:
        super().__init__()
        self.label = label
        self.t0 = t0
        self.records = records
        self.total = total

    def can_replace(self, message: Message) -> bool:
        # Only the newest progress matters: a slow frame never queues stale ones.
        return isinstance(message, BurstProgress)


class BurstFinished(Message):
    def __init__(
        self,
        label: str,
        t0: float | None,
        records: list[RequestRecord],
        summary: Summary | None,
        error: str | None,
    ) -> None:
        super().__init__()
        self.label = label
        self.t0 = t0
        self.records = records
        self.summary = summary
        self.error = error


class ShareOpened(Message):
    def __init__(self, share: Share) -> None:
        super().__init__()
        self.share = share


class ShareFailed(Message):
    def __init__(self, reason: str) -> None:
        super().__init__()
        self.reason = reason


# ---- the app --------------------------------------------------------------------------------


class CockpitApp(App[int]):
    TITLE = "vllm-top"
    CSS_PATH = "cockpit.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("b", "burst()", "Burst", id="fire-burst"),
        Binding("B", "burst_form", "Custom burst", id="burst-form"),
        Binding("x", "cancel_burst", "Cancel burst", id="cancel-burst"),
        *(
            Binding(str(i), f"burst({i})", f"Preset {i}", show=False, id=f"preset-{i}")
            for i in range(1, 10)
        ),
        Binding("R", "report", "Last report", show=False, id="show-report"),
        Binding("r", "restart", "Restart", id="restart-server"),
        Binding("p", "share", "Share", id="share"),
        Binding("w", "toggle_window", "60s/5m", show=False, id="chart-window"),
        Binding("c", "toggle_charts", "Charts/panels", show=False, id="toggle-charts"),
        Binding("f", "log('toggle_follow')", "Follow", show=False, id="log-follow"),
        Binding("slash", "log('open_search')", "Search", id="log-search"),
        Binding("n", "log_find(True)", "Next match", show=False, id="log-next"),
        Binding("N", "log_find(False)", "Prev match", show=False, id="log-prev"),
        Binding("l", "log('cycle_level')", "Level", show=False, id="log-level"),
        Binding("a", "log('toggle_access')", "Access log", show=False, id="log-access"),
        Binding("e", "log('jump_to_last_error')", "Last error", show=False, id="log-error"),
        Binding("s", "save_log", "Save log", show=False, id="log-save"),
        Binding("question_mark", "help", "Help", id="help"),
        Binding("q", "quit_app", "Quit", id="quit"),
    ]

    def __init__(
        self,
        session: Session,
        config: UiConfig,
        *,
        start_workers: bool = True,
        clock: Callable[[], float] = time.monotonic,
        device_sampler: DeviceSampler | None = None,
        share: Share | None = None,
        key_is_new: bool = False,
        make_tunnel: TunnelFactory | None = None,
    ) -> None:
        """share: a public URL opened at the command line (--share); key_is_new: its key was
        generated, so it is shown once; make_tunnel: how the share key opens one (None
        without an ngrok token)."""
        super().__init__()
        LoadProcess.prepare()
        self.session = session
        self.config = config
        self.start_workers = start_workers
        self.clock = clock
        self.history = self._new_history()
        self.metrics_error: str | None = None
        self.stats_from_log: StatsLine | None = None  # the newest periodic stats line
        self.version: str | None = None
        self.model: str | None = session.info.model
        self.max_model_len: int | None = None
        self.bursts: list[Burst] = []  # those still on a chart, on time.monotonic()'s clock
        self.last_report: str | None = None
        self.exit_detail: str | None = None  # why the server is dead or gone
        self.exit_errors: list[str] = []  # the last distinct errors it printed
        self.last_summary: Summary | None = None
        self.chart_window = config.chart_window
        self._charts_drawn_at = float("-inf")
        self._drawn_state: ServerState | None = None
        self._load: LoadProcess | None = None
        self.share = share
        self.key_is_new = key_is_new
        self.make_tunnel = make_tunnel
        self._share_to_show = share is not None  # shown once the server is ready
        self._device = device_sampler or DeviceSampler(
            root_pid=lambda: session.pid, interval=max(config.refresh_interval, 0.5), clock=clock
        )
        if isinstance(session, SupervisedSession):
            # Supervisor threads post to the app; the log itself is pulled, not pushed.
            session.listener = self._on_supervisor_event

    # ---- layout ---------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield StatusPanel(id="status")
        with Horizontal(id="body"):
            with Vertical(id="left"):
                yield StartupPanel(id="startup")
                yield KvPanel(id="kv")
                yield DevicePanel(id="device")
            with Vertical(id="right"):
                yield ChartPanel(id="charts")
                yield LoadPanel(id="load")
        yield LogPanel(id="log")
        yield Footer()

    def on_mount(self) -> None:
        self.set_keymap(self.config.keymap)
        ascii_only = (
            self.config.ascii
            if self.config.ascii is not None
            else terminal_lacks_unicode(dict(os.environ), getattr(sys.__stdout__, "encoding", None))
        )
        self.screen.set_class(ascii_only, "ascii")
        for panel in (
            self.query_one(KvPanel),
            self.query_one(DevicePanel),
            self.query_one(ChartPanel),
            self.query_one(StatusPanel),
            self.query_one(StartupPanel),
            self.query_one(LoadPanel),
        ):
            panel.ascii_only = ascii_only
        self.query_one(LoadPanel).show_idle(self.config.default_burst.describe())
        log = self.query_one(LogPanel)
        if self.session.log is None:
            log.attach(None, ATTACHED_LOG_NOTE)
        else:
            log.attach(self.session.log)
        self._apply_compact(self.size.width, self.size.height)
        if self.start_workers:
            self._start_session()
            self._device.start()
            self._poll_server()
            if self.session.log is not None:
                self.set_interval(0.1, self._pull_log)
            self.set_interval(self.config.refresh_interval, self.refresh_panels)
        self.refresh_panels()
        # Everything built so far lives as long as the app: keep full collections off it.
        gc.freeze()

    def on_unmount(self) -> None:
        # However the app ends (q, SIGTERM, a hang-up), the public URL does not outlive it.
        if self.share is not None:
            self.share.close()

    def on_resize(self, event: Any) -> None:
        self._apply_compact(event.size.width, event.size.height)

    def _apply_compact(self, width: int, height: int) -> None:
        compact = width < COMPACT_WIDTH or height < COMPACT_HEIGHT
        self.screen.set_class(compact, "compact")
        self.screen.set_class(not compact and height < SHORT_HEIGHT, "short")

    # ---- workers --------------------------------------------------------------------------

    @work(thread=True, exit_on_error=False, group="session", description="starting the server")
    def _start_session(self) -> None:
        try:
            self.session.start()
        except Exception as exc:  # reported, the app stays up
            self.exit_detail = f"could not start vLLM: {exc}"

    @work(thread=True, exclusive=True, exit_on_error=False, group="poll", description="scraping")
    def _poll_server(self) -> None:
        worker = get_current_worker()
        identity_known = False  # asked once each time the server comes up
        while not worker.is_cancelled:
            if isinstance(self.session, AttachedSession):
                before = self.session.state
                if self.session.check() is not before:
                    # Not vLLM, or not there: the panels say "unknown" and why.
                    known = self.session.state in (ServerState.READY, ServerState.DEAD)
                    self.post_message(MetricsSampled(None, None if known else self.session.detail))
            if self.session.state in (ServerState.READY, ServerState.DEAD):
                try:
                    sample = scrape(self.session.base_url, self.clock())
                    self.post_message(MetricsSampled(sample, None))
                except ScrapeError as exc:
                    self.post_message(MetricsSampled(None, str(exc)))
                if not identity_known:
                    identity_known = True
                    identity = fetch_identity(self.session.base_url, self.session.api_key, 3.0)
                    self.post_message(IdentityFetched(identity))
            else:
                identity_known = False
            # A demo burst can be over in 3 s: sample it 4 times a second, idle once a second.
            time.sleep(
                BURST_SCRAPE_INTERVAL_S if self._load is not None else self.config.refresh_interval
            )

    def _on_supervisor_event(self, event: SupervisorEvent) -> None:
        # Called on supervisor threads: hand over to the UI thread as a message. Log lines are
        # not sent this way (a flood would be a message per chunk); the log panel pulls them.
        if not isinstance(event, LogLinesEvent):
            self.post_message(ServerEventArrived(event))

    @work(thread=True, exclusive=True, exit_on_error=False, group="burst", description="burst")
    def _run_burst(self, preset: BurstPreset, label: str) -> None:
        try:
            payloads = load_payloads(Path(preset.payload).expanduser()) if preset.payload else ()
            config = LoadConfig(
                base_url=self.session.base_url,
                endpoint="chat" if preset.endpoint == "chat" else "completions",
                requests=preset.requests,
                concurrency=preset.concurrency,
                rate=preset.rate,
                max_tokens=preset.max_tokens,
                payloads=payloads,
                api_key=self.session.api_key,
                prompt=preset.prompt or DEFAULT_PROMPT,
            )
            config = asyncio.run(resolve_model(replace(config, model=self.model)))
        except ConfigError as exc:
            self.post_message(BurstFinished(label, None, [], None, str(exc)))
            return
        load = LoadProcess(config)
        self._load = load
        load.start()
        while not load.done:
            load.poll(timeout=0.25)
            self.post_message(
                BurstProgress(label, load.t0_monotonic, list(load.records), preset.requests)
            )
        load.join(10)
        self._load = None
        if load.failed is not None:
            self.post_message(
                BurstFinished(label, load.t0_monotonic, load.records, None, load.failed.error)
            )
            return
        assert load.finished is not None
        summary = summarize(config, load.records, load.finished.client, load.finished.cancelled)
        self.post_message(BurstFinished(label, load.t0_monotonic, load.records, summary, None))

    # ---- message handlers -------------------------------------------------------------------

    @on(Worker.StateChanged)
    def _worker_failed(self, event: Worker.StateChanged) -> None:
        # One place for every worker's failure: say it, keep the cockpit running.
        if event.state is WorkerState.ERROR:
            error = event.worker.error
            self.notify(
                f"{event.worker.description or event.worker.name}: {type(error).__name__}: {error}",
                title="error",
                severity="error",
                timeout=10,
            )

    @on(MetricsSampled)
    def _metrics_sampled(self, message: MetricsSampled) -> None:
        self.metrics_error = message.error
        if message.sample is not None:
            self.history.add(message.sample)
        # Drawn by the refresh timer, one frame a second, unless the server's state changed.
        if self.session.state is not self._drawn_state:
            self.refresh_panels()

    @on(IdentityFetched)
    def _identity_fetched(self, message: IdentityFetched) -> None:
        identity = message.identity
        self.version = identity.version
        self.max_model_len = identity.max_model_len
        if identity.models:
            self.model = identity.models[0]
            if isinstance(self.session, AttachedSession):
                self.session.model = self.model
        if identity.needs_api_key:
            self.notify("/v1/models answered 401: give --api-key", severity="warning")
        self.refresh_panels()

    @on(ServerEventArrived)
    def _server_event(self, message: ServerEventArrived) -> None:
        event = message.event
        if isinstance(event, ExitEvent):
            report = event.report
            if not report.stopped_by_us:
                self.exit_detail = report.describe() + "  (r restarts, e shows the last error)"
                self.exit_errors = report.last_errors[-3:]
                self.notify(report.describe(), title="vLLM exited", severity="error", timeout=10)
        elif isinstance(event, StateEvent) and event.state is ServerState.DEAD:
            self.exit_detail = event.detail + "  (r restarts, e shows the last error)"
            log = self.session.log
            self.exit_errors = notable_errors([ln.text for ln in log.tail(400)]) if log else []
            self.notify(event.detail, title="vLLM engine dead", severity="error", timeout=10)
        self.refresh_panels()

    @on(BurstProgress)
    def _burst_progress(self, message: BurstProgress) -> None:
        records = message.records
        ok = sum(1 for r in records if r.ok)
        now = max((r.end or 0.0 for r in records), default=0.0)
        window = rolling(records, now)
        self.query_one(LoadPanel).show_progress(
            message.label,
            len(records),
            message.total,
            ok,
            window.ttft_p50_ms,
            window.output_token_rate,
        )
        self._set_running_burst(message.t0, records)
        self.query_one(KvPanel).show(self.history, self.metrics_error, self.stats_from_log)

    @on(BurstFinished)
    def _burst_finished(self, message: BurstFinished) -> None:
        if message.error is not None:
            self.notify(message.error, title="burst failed", severity="error", timeout=8)
            self.query_one(LoadPanel).show_idle(self.config.default_burst.describe())
            return
        assert message.summary is not None
        self.last_summary = message.summary
        self._set_running_burst(message.t0, message.records, finished=True)
        self.query_one(LoadPanel).show_result(message.label, message.summary)
        self.last_report = render_report(message.summary, title=f"vllm-top burst: {message.label}")
        self.refresh_panels()
        self._refresh_charts()  # the burst's last points, whatever the idle chart cadence

    def _set_running_burst(
        self, t0: float | None, records: list[RequestRecord], finished: bool = False
    ) -> None:
        if t0 is None:
            return
        burst = Burst(t0, records, self.clock() if finished else None)
        if self.bursts and self.bursts[-1].t0 == t0:
            self.bursts[-1] = burst
        else:
            # Bursts that ended before the longest chart window hold their records for nothing
            # (100 requests of 128 tokens: about half a MiB).
            horizon = self.clock() - self._retain_s
            kept = [b for b in self.bursts if b.end is None or b.end >= horizon]
            self.bursts = [*kept[-49:], burst]

    # ---- periodic refresh -------------------------------------------------------------------

    def _pull_log(self) -> None:
        log = self.query_one(LogPanel)
        if self.session.log is not None and log.source is not self.session.log:
            log.attach(self.session.log)  # a restart brought a new buffer
        for line in reversed(log.pull()):
            # A substring test first: the regex runs only on stats lines.
            if "Avg prompt throughput" in line.text and (parsed := parse_stats_line(line.text)):
                self.stats_from_log = parsed
                break

    def refresh_panels(self) -> None:
        try:
            self.query_one(StatusPanel)
        except (NoMatches, ScreenStackError):
            return  # shutting down: a late message found the panels gone
        session = self.session
        tracker = session.tracker
        state = session.state
        self._drawn_state = state
        failed = state.is_final or state in (
            ServerState.DEAD,
            ServerState.UNREACHABLE,
            ServerState.UNKNOWN,
        )
        attached_detail = session.detail if isinstance(session, AttachedSession) else None
        phase = None
        if tracker is not None and state is ServerState.STARTING:
            phase = f"{tracker.phase.label} ({duration(tracker.elapsed())})"
        started = session.started_at
        ready_at = tracker.entered_at.get(Phase.READY) if tracker is not None else None
        self.query_one(StatusPanel).show(
            StatusView(
                state=state,
                phase=phase,
                model=self.model,
                url=session.base_url,
                version=self.version or (tracker.facts.version if tracker else None),
                uptime_s=(self.clock() - ready_at)
                if ready_at is not None
                else (
                    self.clock() - started
                    if started is not None and not session.supervised
                    else None
                ),
                api_key_set=session.info.api_key_set,
                supervised=session.supervised,
                tunnel_url=self.share.endpoint.url if self.share and self.share.endpoint else None,
                detail=(self.exit_detail or attached_detail) if failed else None,
                errors=tuple(self.exit_errors) if failed else (),
            )
        )
        if self._share_to_show and state is ServerState.READY:
            self._show_share()
        startup = self.query_one(StartupPanel)
        latest = self.history.latest
        if tracker is not None and state in (ServerState.STARTING, ServerState.NOT_STARTED):
            startup.show_phases(tracker.phase, tracker.durations(), tracker.elapsed())
        else:
            startup.show_summary(
                tracker.facts if tracker else None,
                (ready_at - tracker.started_at) if tracker and ready_at else None,
                latest.kv_capacity_tokens if latest else None,
                self.max_model_len,
            )
        self.query_one(KvPanel).show(self.history, self.metrics_error, self.stats_from_log)
        self.query_one(DevicePanel).show(self._device.latest)
        # Charts are the costliest frame. With nothing happening they only scroll: every 10 s
        # is enough then (it keeps an idle cockpit under 3% of a core).
        generating = self.history.rate("generation_tokens", 5.0)
        active = self.burst_running or bool(generating)
        if active or self.clock() - self._charts_drawn_at >= IDLE_CHART_INTERVAL_S:
            self._refresh_charts()

    def _refresh_charts(self) -> None:
        now = self.clock()
        self._charts_drawn_at = now
        span = self.chart_window
        client_p50, client_p95 = client_ttft_series(self.bursts, now - span)
        self.query_one(ChartPanel).show(
            ChartData(
                now=now,
                window_s=span,
                server_ttft_p50=self.history.quantile_series("ttft", 0.5, span),
                server_ttft_p95=self.history.quantile_series("ttft", 0.95, span),
                client_ttft_p50=client_p50,
                client_ttft_p95=client_p95,
                prompt_tps=self.history.rate_series("prompt_tokens", span),
                generation_tps=self.history.rate_series("generation_tokens", span),
                client_tps=client_token_rate_series(self.bursts, now - span, now),
                burst_marks=[t for b in self.bursts for t in (b.t0, b.end) if t is not None],
            )
        )

    # ---- actions ------------------------------------------------------------------------------

    @property
    def burst_running(self) -> bool:
        return any(w.group == "burst" and w.is_running for w in self.workers)

    def action_burst(self, preset_number: int = 0) -> None:
        if self.session.state is not ServerState.READY:
            self.notify(f"the server is {self.session.state.value}, not ready", severity="warning")
            return
        if preset_number:
            if preset_number > len(self.config.presets):
                self.notify(f"no preset {preset_number} in the config", severity="warning")
                return
            preset = self.config.presets[preset_number - 1]
            label = f"preset {preset_number}: {preset.describe()}"
        else:
            preset = self.config.default_burst
            label = preset.describe()
        self.fire(preset, label)

    def fire(self, preset: BurstPreset, label: str) -> None:
        if self.burst_running:
            self.notify("a burst is already running (x cancels it)", severity="warning")
            return
        self.query_one(LoadPanel).show_progress(label, 0, preset.requests, 0, None, 0.0)
        self._run_burst(preset, label)

    def action_burst_form(self) -> None:
        def fired(preset: BurstPreset | None) -> None:
            if preset is not None:
                self.fire(preset, preset.describe())

        self.push_screen(BurstFormScreen(self.config.default_burst), fired)

    def action_cancel_burst(self) -> None:
        if self._load is not None:
            self._load.cancel()
            self.notify("cancelling the burst")
        else:
            self.notify("no burst is running")

    def action_report(self) -> None:
        if self.last_report is None:
            self.notify("no burst has finished yet")
            return
        self.push_screen(ReportScreen(self.last_report))

    def action_restart(self) -> None:
        if not isinstance(self.session, SupervisedSession):
            self.notify("attached: this server is not ours to restart", severity="warning")
            return
        self.exit_detail = None
        self.exit_errors = []
        self.notify("restarting vLLM")
        self._restart_worker()

    @work(thread=True, exclusive=True, exit_on_error=False, group="session", description="restart")
    def _restart_worker(self) -> None:
        assert isinstance(self.session, SupervisedSession)
        self.session.restart()
        self.call_from_thread(self._forget_server)

    @property
    def _retain_s(self) -> float:
        # The longest chart (`w` toggles to 300 s) plus the 10 s step of its percentiles.
        return max(self.config.chart_window, 300.0) + 30.0

    def _new_history(self) -> MetricsHistory:
        return MetricsHistory(retain_s=self._retain_s)

    def _forget_server(self) -> None:
        """A restarted server is a new one: its counters start again, its identity is asked."""
        self.history = self._new_history()
        self.version = None
        self.max_model_len = None

    # ---- sharing ------------------------------------------------------------------------------

    def action_share(self) -> None:
        port = _port(self.session.base_url)
        if self.share is not None and self.share.endpoint is not None:
            self._share_to_show = True  # the URL again; a generated key is never shown twice
            self.key_is_new = False
            self._show_share()
            return
        if self.make_tunnel is None:
            self.notify(
                f"sharing needs an ngrok token in ${TOKEN_ENV}; or share over SSH: "
                f"{ssh_hint(port)}",
                severity="warning",
                timeout=15,
            )
            return
        if isinstance(self.session, AttachedSession):
            if self.session.api_key is None:
                self.notify(
                    "a tunnel opens only in front of a server that requires an API key: "
                    "attach with --api-key",
                    severity="warning",
                )
                return
            self._share_worker(None)
            return
        assert isinstance(self.session, SupervisedSession)
        if self.session.api_key is not None:
            self._share_worker(None)
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self.notify("restarting vLLM with a generated API key, then sharing it")
                self._share_worker(generate_api_key())

        self.push_screen(
            ConfirmScreen(
                "vLLM was started without an API key, and a public URL needs one. "
                "Restart it with a generated key and share it?"
            ),
            answered,
        )

    @work(thread=True, exclusive=True, exit_on_error=False, group="share", description="share")
    def _share_worker(self, new_key: str | None) -> None:
        session = self.session
        port = _port(session.base_url)
        if new_key is not None:
            assert isinstance(session, SupervisedSession)
            session.set_api_key(new_key)
            self.key_is_new = True
            self.call_from_thread(self._forget_server)
            session.restart()
        elif isinstance(session, AttachedSession) and not _requires_key(session.base_url):
            self.post_message(
                ShareFailed(
                    "the server answers /v1 without an API key: not sharing it "
                    "(start it with --api-key)"
                )
            )
            return
        assert session.api_key is not None
        make_tunnel = self.make_tunnel
        assert make_tunnel is not None
        try:
            share = open_share(session.base_url, session.api_key, port, make_tunnel)
        except ShareError as exc:
            self.post_message(ShareFailed(str(exc)))
            return
        self.post_message(ShareOpened(share))

    @on(ShareOpened)
    def _share_opened(self, message: ShareOpened) -> None:
        self.share = message.share
        self._share_to_show = True
        self.refresh_panels()

    @on(ShareFailed)
    def _share_failed(self, message: ShareFailed) -> None:
        self.notify(message.reason, title="not shared", severity="error", timeout=20)

    def _show_share(self) -> None:
        if self.share is None or self.share.endpoint is None:
            return
        self._share_to_show = False
        self.push_screen(ShareScreen(banner(self.share.endpoint, self.key_is_new)))

    def action_toggle_window(self) -> None:
        self.chart_window = 300.0 if self.chart_window <= 60 else 60.0
        self._refresh_charts()

    def action_toggle_charts(self) -> None:
        self.screen.toggle_class("show-charts")
        self._refresh_charts()

    def action_log(self, method: str) -> None:
        getattr(self.query_one(LogPanel), method)()

    def action_log_find(self, forward: bool) -> None:
        self.query_one(LogPanel).find(forward)

    def action_save_log(self) -> None:
        name = f"vllm-top-log-{datetime.now():%Y%m%d-%H%M%S}.txt"
        path = self.query_one(LogPanel).save(Path.cwd() / name)
        self.notify(f"log saved to {path}")

    def action_help(self) -> None:
        rows = []
        for binding in self.BINDINGS:
            assert isinstance(binding, Binding)
            keys = self._keys_for(binding)
            rows.append((keys, binding.description, binding.id or ""))
        self.push_screen(HelpScreen(rows))

    def _keys_for(self, binding: Binding) -> str:
        keys = self.config.keymap.get(binding.id or "", binding.key)
        return ",".join(self.get_key_display(Binding(k, "")) for k in keys.split(","))

    def action_quit_app(self) -> None:
        if self.burst_running:

            def answered(yes: bool | None) -> None:
                if yes:
                    self.action_cancel_burst()
                    self._quit_now()

            self.push_screen(ConfirmScreen("A burst is running. Cancel it and quit?"), answered)
            return
        self._quit_now()

    def _quit_now(self) -> None:
        # Stopping a supervised server is the caller's (tui.dashboard), whatever ended the app.
        self._device.stop()
        if self._load is not None:
            self._load.cancel()
        for worker in self.workers:
            worker.cancel()
        self.exit(0)
