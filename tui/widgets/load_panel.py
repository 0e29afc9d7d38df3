"""Load bursts: live progress while one runs, its key figures when it ends, earlier bursts in a
table for comparison (the full report is one key away)."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import ProgressBar, Static

from loadgen.stats import Summary
from tui.format import ms
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

    def show_progress(
        self,
        label: str,
        done: int,
        total: int | None,
        ok: int,
        ttft_p50: float | None,
        tokens_per_s: float,
    ) -> None:
        # Shown only with a burst: an idle, indeterminate bar animates (and redraws) forever.
        self.add_class("active")
        bar = self.query_one(ProgressBar)
        bar.update(total=total, progress=done)
        text = Text(f"{'>' if self.ascii_only else '▶'} {label}: ", style="bold yellow")
        text.append(f"{done}/{total or '?'}  ok {ok}  failed {done - ok}  ")
        text.append(f"TTFT p50 {ms(ttft_p50)}  {tokens_per_s:,.0f} tok/s")
        self.query_one("#load-status", Static).update(text)

    def show_result(self, label: str, summary: Summary) -> None:
        self.add_class("active")
        self.runs += 1
        s = summary
        ok_mark = "+" if self.ascii_only else "✓"
        text = Text(f"{ok_mark} {label}: " if s.failed == 0 else f"! {label}: ", style="bold")
        text.append(f"{s.succeeded} ok, {s.failed} failed  {s.request_throughput:.2f} req/s  ")
        text.append(f"{s.output_token_throughput:,.0f} tok/s  TTFT p50 {ms(s.ttft.p50)} ")
        text.append(f"p99 {ms(s.ttft.p99)}  TPOT p50 {ms(s.tpot.p50)}  E2E p50 {ms(s.e2e.p50)}")
        if s.cancelled:
            text.append("  (cancelled)", style="yellow")
        if s.errors:
            first = next(iter(s.errors))
            text.append(f"\n{first}", style="red")
        if s.client is not None and s.client.bound:
            text.append(f"\nCLIENT-BOUND: {s.client.reason}", style="yellow")
        text.append("   R: full report", style="dim")
        self.query_one("#load-status", Static).update(text)
        bar = self.query_one(ProgressBar)
        bar.update(total=max(s.requests, 1), progress=max(s.requests, 1))
        self.query_one(BurstTable).add_row(
            str(self.runs),
            label,
            f"{s.success_rate:.0%}",
            f"{s.request_throughput:.2f}",
            f"{s.output_token_throughput:,.0f}",
            ms(s.ttft.p50),
            ms(s.ttft.p99),
            ms(s.tpot.p50),
        )
