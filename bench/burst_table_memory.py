"""What a table of earlier bursts holds after N bursts: Textual's DataTable against ours.

    python -m bench.burst_table_memory              # 300 rows, a line every 50
    python -m bench.burst_table_memory --rows 600

Each row is added as the cockpit adds one when a burst ends, then the screen is drawn, as it
is once a burst ends. Memory is traced with tracemalloc after a full collection, so the figures
are what the table keeps, not the allocator's slack.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import tracemalloc

from textual.app import App, ComposeResult
from textual.widget import Widget
from textual.widgets import DataTable

from tui.widgets.burst_table import COLUMNS, BurstTable

ROW = ("100 x c10", "100%", "25.00", "3,200", "22.1 ms", "24.9 ms", "2.0 ms")


class TableApp(App[None]):
    CSS = "DataTable { height: auto; max-height: 7; }"

    def __init__(self, kind: str) -> None:
        super().__init__()
        self.kind = kind

    def compose(self) -> ComposeResult:
        if self.kind == "DataTable":
            # As the load panel had it.
            table: DataTable[str] = DataTable(cursor_type="row", zebra_stripes=True)
            table.add_columns(*COLUMNS)
            yield table
        else:
            yield BurstTable()


async def measure(kind: str, rows: int, every: int) -> list[tuple[int, float]]:
    app = TableApp(kind)
    figures: list[tuple[int, float]] = []
    async with app.run_test(size=(120, 36)) as pilot:
        table: Widget = app.query_one(DataTable if kind == "DataTable" else BurstTable)
        await pilot.pause()
        gc.collect()
        base = tracemalloc.get_traced_memory()[0]
        for n in range(1, rows + 1):
            table.add_row(str(n), *ROW)  # type: ignore[attr-defined]
            await pilot.pause()
            if n % every == 0:
                gc.collect()
                figures.append((n, (tracemalloc.get_traced_memory()[0] - base) / 2**20))
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=300)
    parser.add_argument("--every", type=int, default=50)
    args = parser.parse_args()
    tracemalloc.start()
    results = {
        kind: asyncio.run(measure(kind, args.rows, args.every))
        for kind in ("DataTable", "BurstTable")
    }
    print(f"{'bursts':>7}  {'DataTable MiB':>13}  {'BurstTable MiB':>14}")
    for (n, old), (_, new) in zip(results["DataTable"], results["BurstTable"], strict=True):
        print(f"{n:>7}  {old:>13.2f}  {new:>14.2f}")


if __name__ == "__main__":
    main()
