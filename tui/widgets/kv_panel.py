"""KV cache and scheduler: usage bar in tokens, running / waiting, preemptions, prefix hits,
with short history sparklines."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Label, Sparkline

from tui.format import bar
from tui.view_models import KvView
from tui.widgets.text_panel import TextPanel


class KvPanel(Vertical):
    DEFAULT_CSS = """
    KvPanel { height: auto; padding: 0 1; border: round $primary 50%; }
    KvPanel .spark-row { height: 1; }
    KvPanel .spark-row Label { width: 9; color: $text-muted; }
    KvPanel Sparkline { height: 1; width: 1fr; }
    """
    ascii_only = False

    def compose(self) -> ComposeResult:
        yield TextPanel(id="kv-text")
        for name in ("kv", "running", "waiting"):
            with Horizontal(classes="spark-row"):
                yield Label(name)
                yield Sparkline([], id=f"spark-{name}")

    def on_mount(self) -> None:
        self.border_title = "KV cache & scheduler"

    def show(self, view: KvView) -> None:
        text = Text()
        for note in view.notes:
            text.append(f"{note}\n", style="yellow")
        if view.waiting_for_data:
            self.query_one("#kv-text", TextPanel).show_text(text or Text("waiting for /metrics…"))
            return
        style = "" if view.from_log else "red" if view.full else "green"
        text.append(f"[{bar(view.usage, 16, self.ascii_only)}]", style=style)
        text.append(f" {view.usage_text}\n{view.queue_text}")
        if view.recent_preemptions:
            text.append(f" {view.recent_preemptions}", style="bold red")
        text.append(f"\n{view.prefix_text}")
        if view.footer:
            text.append(f"\n{view.footer}", style="yellow")
        self.query_one("#kv-text", TextPanel).show_text(text)
        for name, points in view.sparks:
            spark = self.query_one(f"#spark-{name}", Sparkline)
            if not _looks_the_same(spark.data or (), points):
                spark.data = list(points)


def _looks_the_same(drawn: Sequence[float], points: Sequence[float]) -> bool:
    """A flat line is drawn the same at any length: an idle series growing by a point a second
    need not be drawn again (three sparklines redrawn every second of an idle first minute)."""
    if list(drawn) == list(points):
        return True
    return bool(drawn) and bool(points) and len({*drawn, *points}) == 1
