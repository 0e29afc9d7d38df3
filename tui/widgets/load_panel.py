"""Load bursts: live progress while one runs, its key figures when it ends, earlier bursts in a
table for comparison (the full report is one key away)."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import ProgressBar, Static

from tui.load_views import BurstProgressView, BurstResultView
from tui.widgets.burst_table import BurstTable


class LoadPanel(Vertical):
    DEFAULT_CSS = """
    LoadPanel { border: round $primary 50%; height: auto; max-height: 16; }
    LoadPanel #load-status { height: auto; padding: 0 1; }
    LoadPanel ProgressBar { padding: 0 1; height: 1; display: none; }
    LoadPanel.active ProgressBar { display: block; }
    """

    ascii_only = False

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.runs = 0

    def compose(self) -> ComposeResult:
        yield Static(id="load-status")
        yield ProgressBar(id="load-progress", show_eta=False)
        yield BurstTable(id="burst-table")

    def on_mount(self) -> None:
        self.border_title = "Load"

    def show_idle(self, default: str) -> None:
        self.query_one("#load-status", Static).update(
            Text.assemble(
                ("b", "bold"),
                f" burst ({default})  ",
                ("1-9", "bold"),
                " presets  ",
                ("B", "bold"),
                " custom  ",
                ("x", "bold"),
                " cancel",
            )
        )

    def show_progress(self, view: BurstProgressView) -> None:
        # Shown only with a burst: an idle, indeterminate bar animates (and redraws) forever.
        self.add_class("active")
        self.query_one(ProgressBar).update(total=view.total, progress=view.done)
        text = Text(f"{'>' if self.ascii_only else '▶'} {view.label}: ", style="bold yellow")
        text.append(view.text)
        self.query_one("#load-status", Static).update(text)

    def show_result(self, view: BurstResultView) -> None:
        self.add_class("active")
        self.runs += 1
        ok_mark = "+" if self.ascii_only else "✓"
        head = f"{ok_mark} {view.label}: " if view.clean else f"! {view.label}: "
        text = Text(head, style="bold")
        text.append(view.figures)
        if view.cancelled:
            text.append("  (cancelled)", style="yellow")
        if view.first_error:
            text.append(f"\n{view.first_error}", style="red")
        if view.client_bound:
            text.append(f"\nCLIENT-BOUND: {view.client_bound}", style="yellow")
        text.append("   R: full report", style="dim")
        self.query_one("#load-status", Static).update(text)
        done = max(view.requests, 1)
        self.query_one(ProgressBar).update(total=done, progress=done)
        self.query_one(BurstTable).add_row(str(self.runs), *view.row)
