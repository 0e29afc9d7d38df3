"""Rolling charts with axes: TTFT (client p50/p95 from our bursts, server p50/p95 from
histogram deltas) and throughput (server prompt / generation tok/s, client output tok/s).
Burst starts and ends are marked. Hidden charts are not redrawn."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual_plotext import PlotextPlot

from tui.load_views import ChartData, Series


class ChartPanel(Vertical):
    DEFAULT_CSS = """
    ChartPanel { border: round $primary 50%; height: 1fr; }
    ChartPanel PlotextPlot { height: 1fr; }
    """
    ascii_only = False

    def compose(self) -> ComposeResult:
        yield PlotextPlot(id="ttft-chart")
        yield PlotextPlot(id="tps-chart")

    def on_mount(self) -> None:
        self.border_title = "Charts"

    def _draw(
        self,
        widget_id: str,
        title: str,
        ylabel: str,
        lines: list[tuple[str, Series, str]],
        data: ChartData,
    ) -> None:
        plot = self.query_one(f"#{widget_id}", PlotextPlot)
        plt = plot.plt
        plt.clear_data()
        plt.clear_figure()
        plt.title(title)
        plt.xlabel(f"seconds (last {data.window_s:.0f})")
        plt.ylabel(ylabel)
        plt.xlim(-data.window_s, 0)
        marker = "*" if self.ascii_only else "braille"
        drawn = False
        for label, series, color in lines:
            # Only what lies on the axis: plotext drops points beyond xlim, and a labelled
            # series left with none crashes its legend (a client bucket's midpoint can be
            # a second in the future just after a burst starts).
            points = [(x, v) for t, v in series if -data.window_s <= (x := t - data.now) <= 0]
            if points:
                drawn = True
                xs, ys = zip(*points, strict=True)
                plt.plot(list(xs), list(ys), label=label, color=color, marker=marker)
        for mark in data.burst_marks:
            if data.now - data.window_s <= mark <= data.now:
                plt.vline(mark - data.now, color="gray")
        if not drawn:
            plt.text("no data yet: press b for a burst", x=-data.window_s * 0.8, y=0.5)
            plt.ylim(0, 1)
        plot.refresh()

    def show(self, data: ChartData) -> bool:
        """Draw both charts; False when hidden or not laid out yet (nothing was drawn)."""
        if not self.display or self.size.area == 0:
            return False  # hidden: not worth a redraw
        self._draw(
            "ttft-chart",
            "TTFT",
            "ms",
            [
                ("server p50", data.server_ttft_p50, "cyan"),
                ("server p95", data.server_ttft_p95, "blue"),
                ("client p50", data.client_ttft_p50, "green"),
                ("client p95", data.client_ttft_p95, "red"),
            ],
            data,
        )
        self._draw(
            "tps-chart",
            "Throughput",
            "tok/s",
            [
                ("server gen", data.generation_tps, "green"),
                ("server prompt", data.prompt_tps, "cyan"),
                ("client out", data.client_tps, "magenta"),
            ],
            data,
        )
        return True
