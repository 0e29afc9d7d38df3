"""Earlier bursts, one row each, for comparison: the newest in view, the oldest dropped.

Not a DataTable: every added row bumps the DataTable's update count, which makes each visible
cell a new entry in its 10,000-cell render cache. A burst a minute filled it for hours (13 MiB
traced at 200 bursts: bench/burst_table_memory.py); this table keeps MAX_ROWS rows and one render.
"""

from __future__ import annotations

from collections import deque

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

COLUMNS = ("#", "load", "ok", "req/s", "tok/s", "TTFT p50", "TTFT p99", "TPOT p50")
MAX_ROWS = 50
# What a narrow panel keeps first; the load's label takes whatever width is left.
PRIORITY = ("#", "ok", "tok/s", "TTFT p50", "req/s", "TTFT p99", "TPOT p50")
LABEL_MIN_WIDTH = 8


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

    def on_resize(self) -> None:
        self._draw()

    def _draw(self) -> None:
        shown = self._columns_that_fit(self.scrollable_content_region.width)
        table = Table(box=None, padding=(0, 1), pad_edge=False, header_style="bold")
        for i in shown:
            # The load's label is the one column rich may shrink ("wrap"), and the label itself
            # never wraps: a burst stays one line and a narrow panel shortens only its label.
            name = COLUMNS[i]
            table.add_column(name, no_wrap=name != "load", justify="left" if i < 2 else "right")
        for n, row in enumerate(self.rows, 1):
            cells = [Text(row[i], no_wrap=True, overflow="ellipsis") for i in shown]
            table.add_row(*cells, style="bold" if n == len(self.rows) else "")
        self.query_one(Static).update(table)

    def _columns_that_fit(self, width: int) -> list[int]:
        """The columns, in table order, that fit in `width`: figures by PRIORITY, then the
        load's label if at least LABEL_MIN_WIDTH of it fits."""
        if width <= 0:  # not laid out yet
            return list(range(len(COLUMNS)))
        needs = [
            max([len(name)] + [len(row[i]) for row in self.rows]) for i, name in enumerate(COLUMNS)
        ]
        shown: list[int] = []
        used = -2  # two spaces between columns, none at the edges
        for name in PRIORITY:
            i = COLUMNS.index(name)
            if used + 2 + needs[i] <= width:
                shown.append(i)
                used += 2 + needs[i]
        if used + 2 + LABEL_MIN_WIDTH <= width:
            shown.append(COLUMNS.index("load"))
        return sorted(shown)
