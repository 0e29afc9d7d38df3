"""A Static that repaints only when its text changed, and re-lays out the screen only when its
shape did: most panels are rebuilt every second and most seconds nothing in them moved, and a
ticking uptime must not cost a layout of every widget (it was most of an idle second)."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static


def _shape(text: Text) -> tuple[int, ...]:
    """What the panel's size depends on: the width of each of its lines."""
    return tuple(line.cell_len for line in text.split("\n", allow_blank=True))


class TextPanel(Static):
    _shown: Text | None = None

    def show_text(self, text: Text) -> None:
        shown = self._shown
        if text == shown:  # rich compares the plain text and the styles
            return
        self._shown = text
        self.update(text, layout=shown is None or _shape(text) != _shape(shown))
