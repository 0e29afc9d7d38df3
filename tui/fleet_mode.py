"""The cockpit over a fleet: the fleet screen on top, each endpoint's dashboard under it.

The fleet's watcher reports every endpoint's rounds to the fleet screen (as messages, from its
threads), which keeps them in FleetFigures; it is redrawn once a second while it is shown.
Opening an endpoint makes the app's dashboard watch that server; `Esc` brings the fleet back.
"""

from __future__ import annotations

import contextlib
import threading
from typing import TYPE_CHECKING

from textual.css.query import NoMatches
from textual.message import Message

from engine.events import ServerState
from engine.fleet_watch import FleetReport, FleetWatcher
from engine.node_watch import NodesReport
from engine.session import AttachedSession
from loadgen.config import ConfigError
from loadgen.fleet_load import FleetOutcome, run_across
from loadgen.report import render_report
from tui import messages as msg
from tui.bursts import preset_config
from tui.fleet_views import FleetFigures
from tui.screens.fleet import FleetScreen
from tui.screens.modals import ReportScreen

if TYPE_CHECKING:
    from tui.app import CockpitApp


class FleetMode:
    def __init__(self, app: CockpitApp, watcher: FleetWatcher, interval: float) -> None:
        self._app = app
        self.watcher = watcher
        self.figures = FleetFigures(watcher.members)
        self.screen = FleetScreen(self.figures, watcher.watches_nodes, app.config.keymap)
        screen = self.screen

        def tell(report: FleetReport | NodesReport) -> None:
            # Rounds go to the fleet screen, which keeps them whether it is shown or not.
            if isinstance(report, FleetReport):
                screen.post_message(msg.FleetWatched(report))
            else:
                screen.post_message(msg.NodesWatched(report))

        watcher.set_listener(tell)
        self._interval = interval
        self._shown: str = watcher.members[0].name
        self._fleet_burst: threading.Event | None = None  # set: cancel the running fleet burst

    def open(self, start: bool) -> None:
        self._app.install_screen(self.screen, name="fleet")
        self._app.push_screen("fleet")
        self._app.rest_watcher(True)
        if start:
            self.watcher.start()
        self._app.set_interval(self._interval, self.redraw)

    def close(self) -> None:
        self.watcher.stop()
        self.cancel_burst()

    def redraw(self) -> None:
        # Not before it is composed: a push makes it the app's screen a frame before that.
        if self._app.screen is self.screen and self.screen.is_mounted:
            with contextlib.suppress(NoMatches):
                self.screen.show()

    def show(self) -> None:
        if self._app.screen is not self.screen:
            self._app.push_screen("fleet")
            self._app.rest_watcher(True)

    def take(self, message: Message) -> None:
        """What the fleet screen asked for, or a fleet burst's end (from the app's handler)."""
        if isinstance(message, FleetScreen.Opened):
            self.opened(message.endpoint, message.burst)
        elif isinstance(message, FleetScreen.BurstAll):
            self.cancel_burst() if message.cancel else self.burst_all()
        elif isinstance(message, msg.FleetBurstFinished):
            self.burst_finished(message.outcome)

    def burst_all(self) -> None:
        """The default burst at every ready endpoint at once: a report per endpoint and one
        for the whole (loadgen.fleet_load), in a thread of its own."""
        app = self._app
        if self._fleet_burst is not None:
            app.notify("a fleet burst is running: x stops it", severity="warning")
            return
        ready = {
            name: self.watcher.sessions[name]
            for name, e in self.figures.endpoints.items()
            if e.state is ServerState.READY
        }
        if not ready:
            app.notify("no endpoint is ready", severity="warning")
            return
        try:
            preset = app.config.default_burst
            configs = {name: preset_config(preset, session) for name, session in ready.items()}
        except ConfigError as exc:
            app.notify(str(exc), severity="error")
            return
        cancel = self._fleet_burst = threading.Event()
        skipped = len(self.figures.endpoints) - len(ready)
        app.notify(
            f"{preset.describe()} at {len(ready)} endpoints"
            + (f" ({skipped} not ready, left out)" if skipped else "")
        )

        def work() -> None:
            outcome = run_across(configs, cancel)
            self.screen.post_message(msg.FleetBurstFinished(outcome))

        app.run_worker(work, thread=True, description="fleet burst", group="fleet-burst")

    def cancel_burst(self) -> None:
        if self._fleet_burst is not None:
            self._fleet_burst.set()

    def burst_finished(self, outcome: FleetOutcome) -> None:
        self._fleet_burst = None
        report = "\n".join(outcome.report_lines())
        if outcome.whole is not None:
            report += "\n\n" + render_report(outcome.whole, title="the whole fleet")
        self._app.push_screen(ReportScreen(report))

    def opened(self, endpoint: str, burst: bool) -> None:
        app = self._app
        if endpoint != self._shown:
            if app.bursts_ctl.running:
                app.notify(
                    f"a burst is running on {self._shown}: x stops it first", severity="warning"
                )
                return
            member = self.figures.endpoints[endpoint].member
            app.show_server(AttachedSession(member.base_url, api_key=member.api_key))
            self._shown = endpoint
        app.pop_screen()
        app.rest_watcher(False)
        app.sub_title = endpoint
        if burst:
            app.action_burst()
