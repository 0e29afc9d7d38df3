"""Top line: server state and phase, model, URL, version, uptime, API key, tunnel; under it, when
something is wrong, why and the last distinct errors."""

from __future__ import annotations

from rich.text import Text

from tui.view_models import StatusView
from tui.widgets.text_panel import TextPanel


class StatusPanel(TextPanel):
    DEFAULT_CSS = "StatusPanel { height: auto; padding: 0 1; background: $boost; }"
    ascii_only = False

    def show(self, view: StatusView) -> None:
        text = Text()
        dot = "*" if self.ascii_only else "●"
        text.append(f"{dot} {view.state}", style=view.style)
        if view.phase:
            text.append(f"  {view.phase}", style="yellow")
        text.append(f"  {view.model or 'model ?'}", style="bold")
        text.append(f"  {view.url}/v1")
        text.append(f"  vLLM {view.version or '?'}", style="dim")
        if view.uptime is not None:
            text.append(f"  up {view.uptime}", style="dim")
        text.append("  key " + ("on" if view.api_key_set else "off"), style="dim")
        text.append("  " + ("supervised" if view.supervised else "attached"), style="dim")
        if view.tunnel_url:
            text.append(f"  shared: {view.tunnel_url}", style="bold magenta")
        if view.detail:
            text.append(f"\n{view.detail}", style="bold red")
        # One row each: the cause above is the line to read whole; these are for recognition.
        width = max(20, self.size.width - 4)
        for error in view.errors:
            if len(error) > width:
                error = error[: width - 1] + ("~" if self.ascii_only else "…")
            text.append(f"\n  {error}", style="red")
        self.show_text(text)
