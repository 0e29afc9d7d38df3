"""The fleet screen: every endpoint of the fleet on one table. `Enter` opens the single-server
dashboard of the selected endpoint (`Esc` there comes back), `b` opens it and fires the default
burst at it, `s` changes the order. The screen only draws and tells: the app owns the figures
and decides what an opened endpoint means."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import DataTable, Footer, Static

from tui.fleet_views import NODE_COLUMNS, NODE_WIDTHS, SORT_KEYS, WINDOW_S, FleetFigures
from tui.messages import FleetWatched, NodesWatched
from tui.screens.modals import HelpScreen
from tui.widgets.fleet_table import FleetTable

FLEET_KEYS: list[BindingType] = [
    Binding("enter", "open", "Open", id="fleet-open", priority=True),
    Binding("b", "open(True)", "Burst at it", id="fleet-burst"),
    Binding("B", "burst_all", "Burst at all", id="fleet-burst-all"),
    Binding("x", "cancel_burst", "Cancel", id="fleet-cancel-burst"),
    Binding("s", "sort", "Sort", id="fleet-sort"),
    Binding("question_mark", "help", "Help", id="fleet-help"),
    Binding("q", "app.quit_app", "Quit", id="fleet-quit"),
]


class FleetScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    FleetScreen { background: $background; }
    FleetScreen > #fleet-title { height: 1; padding: 0 1; text-style: bold; }
    FleetScreen > #fleet-detail { height: auto; max-height: 3; padding: 0 1; color: $text-muted; }
    FleetScreen > #nodes-title { height: 1; padding: 0 1; }
    FleetScreen > #node-table { height: auto; max-height: 40%; }
    """
    BINDINGS = FLEET_KEYS

    @dataclass
    class BurstAll(Message):
        """The default burst at every ready endpoint at once (x cancels it)."""

        cancel: bool = False

    @dataclass
    class Opened(Message):
        """The user chose an endpoint: show its dashboard (and fire a burst at it)."""

        endpoint: str
        burst: bool = False

    def __init__(
        self, figures: FleetFigures, with_nodes: bool = False, keymap: Mapping[str, str] = {}
    ) -> None:
        """with_nodes: the fleet watches a Ray cluster's nodes too (a second table); keymap:
        the config file's remapped keys, for `?`."""
        super().__init__()
        self.figures = figures
        self._keymap = keymap
        self.with_nodes = with_nodes
        self.sort_key = "name"

    def compose(self) -> ComposeResult:
        yield Static(id="fleet-title")
        yield FleetTable(list(self.figures.endpoints), id="fleet-table")
        yield Static(id="fleet-detail")
        if self.with_nodes:
            yield Static(id="nodes-title")
            yield FleetTable((), NODE_COLUMNS, NODE_WIDTHS, id="node-table")
        yield Footer()

    def on_mount(self) -> None:
        self.show()

    def on_screen_resume(self) -> None:
        self.show()

    def show(self) -> None:
        table = self.query_one("#fleet-table", FleetTable)
        table.show(self.figures.rows(self.sort_key))
        if self.with_nodes:
            self._show_nodes()
        count = len(self.figures.endpoints)
        self.query_one("#fleet-title", Static).update(
            f"vllm-top fleet: {count} endpoint{'s' * (count != 1)}, sorted by {self.sort_key},"
            f" figures over the last {WINDOW_S:g} s"
        )
        self._show_detail()

    def _show_nodes(self) -> None:
        nodes = self.figures.nodes
        if nodes is None:
            title = "Ray cluster: joining..."
        elif nodes.error is not None:
            title = f"Ray cluster: {nodes.error}"
        else:
            lost = sum(n.lost is not None for n in nodes.nodes)
            title = f"Ray cluster: {len(nodes.nodes)} nodes" + (f", {lost} lost" if lost else "")
        self.query_one("#nodes-title", Static).update(Text(title, style="bold"))
        self.query_one("#node-table", FleetTable).show(self.figures.node_rows())

    @on(NodesWatched)
    def _nodes_watched(self, message: NodesWatched) -> None:
        self.figures.nodes = message.report

    @on(FleetWatched)
    def _watched(self, message: FleetWatched) -> None:
        self.figures.take(message.report)  # drawn by the fleet's one-second timer

    @on(DataTable.RowHighlighted)
    def _show_detail(self) -> None:
        selected = self.query_one("#fleet-table", FleetTable).selected
        detail = self.figures.detail(selected.endpoint) if selected is not None else ""
        self.query_one("#fleet-detail", Static).update(Text(detail))

    def action_open(self, burst: bool = False) -> None:
        selected = self.query_one("#fleet-table", FleetTable).selected
        if selected is not None:
            self.post_message(self.Opened(selected.endpoint, burst))

    def action_burst_all(self) -> None:
        self.post_message(self.BurstAll())

    def action_cancel_burst(self) -> None:
        self.post_message(self.BurstAll(cancel=True))

    def action_help(self) -> None:
        app = self.app
        display = app.get_key_display
        app.push_screen(HelpScreen.of(FLEET_KEYS, self._keymap, lambda k: display(Binding(k, ""))))

    def action_sort(self) -> None:
        self.sort_key = SORT_KEYS[(SORT_KEYS.index(self.sort_key) + 1) % len(SORT_KEYS)]
        self.show()
