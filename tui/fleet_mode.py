"""The cockpit over a fleet: the fleet screen on top, each endpoint's dashboard under it.

The fleet's watcher reports every endpoint's rounds to the fleet screen (as messages, from its
threads), which keeps them in FleetFigures; it is redrawn once a second while it is shown.
Opening an endpoint makes the app's dashboard watch that server; `Esc` brings the fleet back.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from engine.fleet_watch import FleetReport, FleetWatcher, NodesReport
from engine.session import AttachedSession
from tui import messages as msg
from tui.fleet_views import FleetFigures
from tui.screens.fleet import FleetScreen

if TYPE_CHECKING:
    from tui.app import CockpitApp


class FleetMode:
    def __init__(self, app: CockpitApp, watcher: FleetWatcher, interval: float) -> None:
        self._app = app
        self.watcher = watcher
        self.figures = FleetFigures(watcher.members)
        self.screen = FleetScreen(self.figures, with_nodes=watcher.watches_nodes)
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

    def open(self, start: bool) -> None:
        self._app.install_screen(self.screen, name="fleet")
        self._app.push_screen("fleet")
        if start:
            self.watcher.start()
        self._app.set_interval(self._interval, self.redraw)

    def close(self) -> None:
        self.watcher.stop()

    def redraw(self) -> None:
        if self._app.screen is self.screen:
            self.screen.show()

    def show(self) -> None:
        if self._app.screen is not self.screen:
            self._app.push_screen("fleet")

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
        app.sub_title = endpoint
        if burst:
            app.action_burst()
