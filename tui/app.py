"""The cockpit: a Textual app that composes the panels, binds the keys and routes messages.

No I/O on its own loop and no domain logic: the server watcher (engine.watcher) and the device
sampler run on their own threads, a burst is driven by tui.bursts in a thread worker, sharing is
tui.share_flow's, and every panel is drawn from a view model (tui.view_models). Threads reach
the app only through messages (tui.messages), handled here on the UI thread.
"""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import Callable
from typing import Literal

from textual import events, on
from textual.app import App, ComposeResult, ScreenStackError
from textual.binding import Binding
from textual.css.query import NoMatches
from textual.message import Message
from textual.widgets import Footer
from textual.worker import Worker, WorkerState

from engine.device_sampler import DeviceSampler
from engine.events import ExitEvent, ServerState, StateEvent
from engine.fleet_watch import FleetWatcher
from engine.session import Session
from engine.share import Share
from engine.watcher import ServerWatcher
from loadgen.process import LoadWorkers
from tui import messages as msg
from tui.bursts import BurstController
from tui.commands.dashboard_config import UiConfig
from tui.commands.sharing import TunnelFactory
from tui.fleet_mode import FleetMode
from tui.keys import COCKPIT_KEYS
from tui.layout import apply_layout, wants_ascii
from tui.load_desk import LoadDesk
from tui.load_views import chart_data
from tui.log_feed import ATTACHED_LOG_NOTE, LogFeed
from tui.screens.fleet import FleetScreen
from tui.screens.modals import ConfirmScreen, HelpScreen
from tui.server_figures import ServerFigures
from tui.share_flow import ShareFlow
from tui.view_models import kv_view, panels_view
from tui.widgets.dashboard import Dashboard
from tui.widgets.kv_panel import KvPanel
from tui.widgets.load_panel import LoadPanel
from tui.widgets.log_panel import LogKey, LogPanel

log = logging.getLogger(__name__)
DeskAction = Literal["burst_form", "cancel", "search", "compare", "ab", "report"]

IDLE_CHART_S = 10.0


class CockpitApp(App[int]):
    TITLE = "vllm-top"
    CSS_PATH = "cockpit.tcss"
    BINDINGS = COCKPIT_KEYS

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
        fleet: FleetWatcher | None = None,
    ) -> None:
        """start_workers False: nothing is started or watched (seeded snapshots). fleet: the
        app opens on the fleet screen, `session` being the first of its endpoints."""
        super().__init__()
        LoadWorkers.prepare()
        self.config = config
        self.start_workers = start_workers
        self.clock = clock
        # The longest chart (`w` toggles to 300 s) plus the 10 s step of its percentiles.
        self._retain_s = max(config.chart_window, 300.0) + 30.0
        self.sharing = ShareFlow(self, session, share, key_is_new, make_tunnel)
        self.chart_window = config.chart_window
        self._charts_drawn_at, self._charts_flat = float("-inf"), False
        self._drawn_state: ServerState | None = None
        self._device = device_sampler or DeviceSampler(
            root_pid=lambda: self.session.pid,
            interval=max(config.refresh_interval, 0.5),
            clock=clock,
        )
        self.fleet = FleetMode(self, fleet, config.refresh_interval) if fleet else None
        self._bind(session)

    def _bind(self, session: Session) -> None:
        """Watch this server: its figures, its watcher, its bursts (the fleet's Enter rebinds)."""
        self.session = session
        self.figures = ServerFigures(self._retain_s)
        self.bursts_ctl = BurstController(self, self.clock, self._retain_s)
        self._watcher = ServerWatcher(
            session,
            on_report=lambda report: self.post_message(msg.ServerWatched(report, session)),
            on_event=lambda event: self.post_message(msg.ServerEventArrived(event)),
            interval=self.config.refresh_interval,
            clock=self.clock,
        )
        self.desk = LoadDesk(self, session, self.config, self.bursts_ctl, self._watcher.fast)

    def rest_watcher(self, paused: bool) -> None:
        """The dashboard's watcher rests while the fleet screen covers it."""
        self._watcher.pause(paused)

    def show_server(self, session: Session) -> None:
        """Show another server's dashboard (from the fleet); its charts start empty."""
        self._watcher.stop()
        self._bind(session)
        self.sharing.rebind(session)
        self._charts_flat = False
        self.query_one(LoadPanel).show_idle(self.config.default_burst.describe())
        if self.start_workers:
            self._watcher.start()
        self.refresh_panels()
        self._refresh_charts(force=True)

    # ---- layout ---------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Dashboard()
        yield Footer()

    def on_mount(self) -> None:
        self.set_keymap(self.config.keymap)
        ascii_only = wants_ascii(self.config.ascii)
        self.screen.set_class(ascii_only, "ascii")
        self.query_one(Dashboard).set_ascii(ascii_only)
        self.query_one(LoadPanel).show_idle(self.config.default_burst.describe())
        self.query_one(LogPanel).attach(LogFeed(self.session.log, ATTACHED_LOG_NOTE))
        apply_layout(self.screen, self.size.width, self.size.height)
        if self.start_workers:
            self.run_worker(self.session.start, group="session", thread=True, exit_on_error=False)
            self._device.start()
            self._watcher.start()
            if self.session.log is not None:
                self.set_interval(0.1, self._pull_log)
            self.set_interval(self.config.refresh_interval, self.refresh_panels)
        self.refresh_panels()
        if self.fleet is not None:
            self.fleet.open(start=self.start_workers)
        # Everything built so far lives as long as the app: keep full collections off it.
        gc.freeze()

    def on_unmount(self) -> None:
        # However the app ends (q, SIGTERM, a hang-up), the public URL and a running burst's
        # load processes do not outlive it.
        self.sharing.close()
        self._watcher.stop()
        self.bursts_ctl.cancel()
        if self.fleet is not None:
            self.fleet.close()

    def on_resize(self, event: events.Resize) -> None:
        # The dashboard's screen, even under the fleet's: it is laid out for when it comes back.
        apply_layout(self.screen_stack[0], event.size.width, event.size.height)

    # ---- messages -------------------------------------------------------------------------

    @on(Worker.StateChanged)
    def _worker_failed(self, event: Worker.StateChanged) -> None:
        # One place for every worker's failure: say it, log it, keep the cockpit running.
        if event.state is WorkerState.ERROR:
            error = event.worker.error
            what = event.worker.description or event.worker.name
            log.error("worker %s failed", what, exc_info=error)
            self.notify(f"{what}: {type(error).__name__}: {error}", title="error", severity="error")

    @on(msg.ServerWatched)
    def _watched(self, message: msg.ServerWatched) -> None:
        if message.session is not None and message.session is not self.session:
            return  # a late round of a server the fleet's Enter has just left
        identity = message.report.identity
        if self.figures.take(message.report):
            if identity is not None and identity.needs_api_key:
                self.notify("/v1/models answered 401: give --api-key", severity="warning")
            self.refresh_panels()
        # Drawn by the refresh timer, one frame a second, unless the server's state changed.
        elif self.session.state is not self._drawn_state:
            self.refresh_panels()

    @on(msg.ServerEventArrived)
    def _server_event(self, message: msg.ServerEventArrived) -> None:
        event = message.event
        if isinstance(event, ExitEvent) and event.report.failed:
            self.notify(event.report.describe(), title="vLLM exited", severity="error")
        elif isinstance(event, StateEvent) and event.state is ServerState.DEAD:
            self.notify(event.detail, title="vLLM engine dead", severity="error")
        self.refresh_panels()

    @on(msg.LoadNews)
    def _load_news(self, message: msg.LoadNews) -> None:
        self.desk.take(message)
        if isinstance(message, msg.BurstProgress):
            self._show_kv()
        elif isinstance(message, msg.BurstFinished | msg.SearchFinished):
            self.refresh_panels()
            self._refresh_charts()  # the burst's last points, whatever the idle chart cadence

    @on(msg.ShareOpened)
    def _share_opened(self, message: msg.ShareOpened) -> None:
        self.sharing.opened(message)
        self.refresh_panels()

    @on(msg.ShareFailed)
    def _share_failed(self, message: msg.ShareFailed) -> None:
        self.sharing.failed(message)

    @on(FleetScreen.Opened)
    @on(FleetScreen.BurstAll)
    @on(msg.FleetBurstFinished)
    def _fleet_news(self, message: Message) -> None:
        if self.fleet is not None:
            self.fleet.take(message)

    # ---- drawing --------------------------------------------------------------------------

    def refresh_panels(self) -> None:
        try:
            self._draw_panels(self.query_one(Dashboard))
        except (NoMatches, ScreenStackError):
            return  # shutting down: a late message found the panels (or some of them) gone

    def _draw_panels(self, dashboard: Dashboard) -> None:
        now, state = self.clock(), self.session.state
        self._drawn_state = state
        device = self._device.latest
        url = self.sharing.url_of(self.session)
        dashboard.show(panels_view(self.session, self.figures, device, now, url))
        self.sharing.show_when_ready(state)
        self.desk.server_changed()
        # Charts are the costliest frame. With nothing happening they only scroll: every 10 s
        # is enough then.
        generating = self.figures.history.rate("generation_tokens", 5.0)
        if self.bursts_ctl.running or generating or now - self._charts_drawn_at >= IDLE_CHART_S:
            self._refresh_charts()

    def _show_kv(self) -> None:
        f = self.figures
        self.query_one(KvPanel).show(kv_view(f.history, f.metrics_error, f.stats_line))

    def _refresh_charts(self, force: bool = False) -> None:
        now = self.clock()
        data = chart_data(self.figures.history, self.bursts_ctl.bursts, now, self.chart_window)
        if data.flat and self._charts_flat and not force:
            self._charts_drawn_at = now  # flat at zero, already drawn: the same picture again
        elif self.query_one(Dashboard).show_charts(data):  # not before they are laid out
            self._charts_drawn_at, self._charts_flat = now, data.flat

    def _pull_log(self) -> None:
        try:
            panel = self.query_one(LogPanel)
        except (NoMatches, ScreenStackError):
            return  # shutting down
        if panel.feed.source is not self.session.log:  # a restart brought a new buffer
            panel.attach(LogFeed(self.session.log))
        panel.pull()

    # ---- actions --------------------------------------------------------------------------

    def action_burst(self, preset_number: int = 0) -> None:
        self.desk.burst(preset_number)

    def action_desk(self, what: DeskAction) -> None:
        """The load's keys other than a preset: the form, x, S, M, A and R (tui.load_desk)."""
        getattr(self.desk, what)()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return self.fleet is not None if action == "fleet" else True  # Esc: with a fleet only

    def action_fleet(self) -> None:
        if self.fleet is not None:
            self.fleet.show()

    def action_restart(self) -> None:
        if not self.session.supervised:
            self.notify("attached: this server is not ours to restart", severity="warning")
            return
        self.notify("restarting vLLM")
        self.run_worker(self.session.restart, group="session", description="restart", thread=True)

    def action_share(self) -> None:
        self.sharing.start()

    def action_toggle_window(self) -> None:
        self.chart_window = 300.0 if self.chart_window <= 60 else 60.0
        self._refresh_charts(force=True)

    def action_toggle_charts(self) -> None:
        self.screen.toggle_class("show-charts")
        self._refresh_charts(force=True)

    def action_log(self, key: LogKey) -> None:
        self.query_one(LogPanel).press(key)

    def action_help(self) -> None:
        display = self.get_key_display
        help_screen = HelpScreen.of(
            self.BINDINGS, self.config.keymap, lambda k: display(Binding(k, ""))
        )
        self.push_screen(help_screen)

    def action_quit_app(self) -> None:
        if not self.bursts_ctl.running:
            self._quit_now()
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self._quit_now()

        self.push_screen(ConfirmScreen("A burst is running. Cancel it and quit?"), answered)

    def _quit_now(self) -> None:
        # Stopping a supervised server is the caller's (tui.dashboard), whatever ended the app.
        self._device.stop()
        self._watcher.stop()
        self.bursts_ctl.cancel()
        for worker in self.workers:
            worker.cancel()
        self.exit(0)
