"""The fleet's table: one row per endpoint, its engines under it, the cursor kept on the same
endpoint whatever the order. A frame changes only the cells that changed: a DataTable's render
cache takes a new entry for every changed cell, so rebuilding every row every second would
churn it for nothing."""

from __future__ import annotations

from collections.abc import Sequence

from textual.widgets import DataTable

from tui.fleet_views import COLUMNS, WIDTHS, FleetRow


class FleetTable(DataTable[str]):
    DEFAULT_CSS = """
    FleetTable { height: 1fr; }
    """

    def __init__(
        self,
        names: Sequence[str],
        columns: Sequence[str] = COLUMNS,
        widths: Sequence[int | None] = WIDTHS,
        *,
        id: str | None = None,
    ) -> None:
        """names: what the first column will show (its width); a None width: the first's."""
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)
        self._shown: list[FleetRow] = []
        self._names = names
        self._columns = list(zip(columns, widths, strict=True))

    def on_mount(self) -> None:
        name_width = max((len(n) for n in self._names), default=8)
        for i, (title, width) in enumerate(self._columns):
            self.add_column(title, key=str(i), width=width or max(name_width, len(" └ 00")))

    @property
    def selected(self) -> FleetRow | None:
        if not self._shown or not 0 <= self.cursor_row < len(self._shown):
            return None
        return self._shown[self.cursor_row]

    def show(self, rows: Sequence[FleetRow]) -> None:
        if [r.key for r in rows] == [r.key for r in self._shown]:
            for old, new in zip(self._shown, rows, strict=True):
                for i, (was, now) in enumerate(zip(old.cells, new.cells, strict=True)):
                    if was != now:
                        self.update_cell(new.key, str(i), now)
            self._shown = list(rows)
            return
        keep = self.selected.key if self.selected is not None else None
        self.clear()
        for row in rows:
            self.add_row(*row.cells, key=row.key)
        self._shown = list(rows)
        keys = [r.key for r in rows]
        if keep in keys:
            self.move_cursor(row=keys.index(keep), animate=False)
