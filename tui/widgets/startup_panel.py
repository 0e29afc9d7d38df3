"""Start-up phases as a progress list; afterwards a one-line summary."""

from __future__ import annotations

from rich.text import Text

from tui.view_models import StartupView
from tui.widgets.text_panel import TextPanel

_MARKS = {"done": ("✓", "+", "green"), "now": ("▶", ">", "bold yellow"), "later": ("·", "-", "dim")}


class StartupPanel(TextPanel):
    DEFAULT_CSS = "StartupPanel { height: auto; padding: 0 1; border: round $primary 50%; }"
    ascii_only = False

    def on_mount(self) -> None:
        self.border_title = "Startup"

    def show(self, view: StartupView) -> None:
        if not view.phases:
            self.show_text(Text((" - " if self.ascii_only else " · ").join(view.summary)))
            return
        text = Text()
        for row in view.phases:
            fancy, plain, style = _MARKS[row.status]
            spent = f" {row.took}" if row.took is not None else ""
            text.append(f"{plain if self.ascii_only else fancy} {row.label}{spent}\n", style=style)
        text.append(f"elapsed {view.elapsed}", style="dim")
        self.show_text(text)
