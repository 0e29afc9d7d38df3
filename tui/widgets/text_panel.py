"""A Static that repaints only when its text changed: most panels are rebuilt every second
and most seconds nothing in them moved."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static


class TextPanel(Static):
    _shown: Text | None = None

    def show_text(self, text: Text) -> None:
        if text != self._shown:  # rich compares the plain text and the styles
            self._shown = text
            self.update(text)
