"""The dashboard's panels in their places: status on top, start-up, KV cache and device on the
left, charts and load on the right, the log below. Drawn from view models, one frame at a time."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical

from tui.load_views import ChartData
from tui.view_models import PanelsView
from tui.widgets.chart_panel import ChartPanel
from tui.widgets.device_panel import DevicePanel
from tui.widgets.kv_panel import KvPanel
from tui.widgets.load_panel import LoadPanel
from tui.widgets.log_panel import LogPanel
from tui.widgets.startup_panel import StartupPanel
from tui.widgets.status_panel import StatusPanel


class Dashboard(Vertical):
    DEFAULT_CSS = "Dashboard { height: 1fr; }"

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

    def set_ascii(self, ascii_only: bool) -> None:
        """Plain ASCII marks, bars and charts (no Unicode in the terminal)."""
        panels: tuple[
            StatusPanel | StartupPanel | KvPanel | DevicePanel | ChartPanel | LoadPanel, ...
        ] = (
            self.query_one(StatusPanel),
            self.query_one(StartupPanel),
            self.query_one(KvPanel),
            self.query_one(DevicePanel),
            self.query_one(ChartPanel),
            self.query_one(LoadPanel),
        )
        for panel in panels:
            panel.ascii_only = ascii_only

    def show(self, view: PanelsView) -> None:
        self.query_one(StatusPanel).show(view.status)
        self.query_one(StartupPanel).show(view.startup)
        self.query_one(KvPanel).show(view.kv)
        self.query_one(DevicePanel).show(view.device)

    def show_charts(self, data: ChartData) -> bool:
        """False when the charts are hidden or not laid out yet: nothing was drawn."""
        return self.query_one(ChartPanel).show(data)
