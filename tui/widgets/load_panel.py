"""Load bursts: live progress while one runs, its key figures when it ends, earlier bursts in a
table for comparison (the full report is one key away)."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import ProgressBar, Static

from tui.load_views import BurstProgressView, BurstResultView, SearchView
from tui.widgets.burst_table import BurstTable


class LoadPanel(Vertical):
    DEFAULT_CSS = """
    LoadPanel { border: round $primary 50%; height: auto; max-height: 16; }
    LoadPanel #load-status { height: auto; padding: 0 1; }
    LoadPanel ProgressBar { padding: 0 1; height: 1; display: none; }
    LoadPanel.active ProgressBar { display: block; }
    LoadPanel #search-status { height: auto; padding: 0 1; display: none; }
    LoadPanel.searched #search-status { display: block; }
    """

    ascii_only = False

    def compose(self) -> ComposeResult:
        yield Static(id="search-status")
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
                ("S", "bold"),
                " find max  ",
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

    def show_result(self, view: BurstResultView, number: int) -> None:
        self.add_class("active")
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
        text.append("   R: full report  M: compare two", style="dim")
        self.query_one("#load-status", Static).update(text)
        done = max(view.requests, 1)
        self.query_one(ProgressBar).update(total=done, progress=done)
        self.query_one(BurstTable).add_row(str(number), *view.row)

    def show_failed(self, label: str, why: str) -> None:
        """A burst that did not run (or whose load process failed): nothing for the table."""
        self.remove_class("active")
        text = Text(f"! {label}: ", style="bold red")
        text.append(why)
        self.query_one("#load-status", Static).update(text)

    def show_search(self, view: SearchView) -> None:
        """The search stays above the bursts (its probes are bursts) until the next one."""
        self.add_class("searched")
        text = Text(f"{view.title}\n", style="bold")
        text.append(f"probes: {view.probes}")
        if view.answer is not None:
            text.append(f"\n{view.answer}", style="bold red" if view.failed else "bold green")
        self.query_one("#search-status", Static).update(text)
