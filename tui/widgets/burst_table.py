"""Earlier bursts, one row each, for comparison: the newest in view, the oldest dropped.

Not a DataTable: every added row bumps the DataTable's update count, which makes each visible
cell a new entry in its 10,000-cell render cache. A burst a minute filled it for hours (15 MiB
traced at 200 rows: bench/burst_table_memory.py); this table keeps MAX_ROWS rows and one render.
"""

from __future__ import annotations

from collections import deque

from rich.table import Table
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

COLUMNS = ("#", "load", "ok", "req/s", "tok/s", "TTFT p50", "TTFT p99", "TPOT p50")
MAX_ROWS = 50


class BurstTable(VerticalScroll, can_focus=False):
    DEFAULT_CSS = """
    BurstTable { height: auto; max-height: 7; padding: 0 1; }
    BurstTable > Static { height: auto; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.rows: deque[tuple[str, ...]] = deque(maxlen=MAX_ROWS)

    def compose(self) -> ComposeResult:
        yield Static()

    @property
    def row_count(self) -> int:
        return len(self.rows)

    def add_row(self, *cells: str) -> None:
        if len(cells) != len(COLUMNS):
            raise ValueError(f"a burst row has {len(COLUMNS)} cells, not {len(cells)}")
        self.rows.append(cells)
        self._draw()
        self.call_after_refresh(self.scroll_end, animate=False)

    def on_mount(self) -> None:
        self._draw()  # the header alone, so the panel does not jump at the first burst

    def _draw(self) -> None:
        table = Table(*COLUMNS, box=None, padding=(0, 1), pad_edge=False, header_style="bold")
        for column in table.columns[2:]:
            column.justify = "right"
        for n, row in enumerate(self.rows, 1):
            table.add_row(*row, style="bold" if n == len(self.rows) else "")
        self.query_one(Static).update(table)
