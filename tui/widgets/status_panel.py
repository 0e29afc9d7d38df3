"""Top line: server state and phase, model, URL, version, uptime, API key, tunnel."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text

from engine.events import ServerState
from tui.format import duration
from tui.widgets.text_panel import TextPanel

_STYLE = {
    ServerState.READY: "bold green",
    ServerState.STARTING: "bold yellow",
    ServerState.DEAD: "bold red",
    ServerState.EXITED: "bold red",
    ServerState.UNREACHABLE: "bold red",
    ServerState.UNKNOWN: "bold yellow",
    ServerState.STOPPING: "yellow",
    ServerState.STOPPED: "dim",
    ServerState.NOT_STARTED: "dim",
}


@dataclass(frozen=True)
class StatusView:
    state: ServerState
    phase: str | None  # while starting: "loading weights (12.3 s)"
    model: str | None
    url: str
    version: str | None
    uptime_s: float | None
    api_key_set: bool
    supervised: bool
    tunnel_url: str | None = None
    detail: str | None = None  # e.g. the exit code and cause
    errors: tuple[str, ...] = ()  # the last distinct error lines of a dead server


class StatusPanel(TextPanel):
    DEFAULT_CSS = "StatusPanel { height: auto; padding: 0 1; background: $boost; }"
    ascii_only = False

    def show(self, view: StatusView) -> None:
        text = Text()
        dot = "*" if self.ascii_only else "●"
        text.append(f"{dot} {view.state.value.upper()}", style=_STYLE.get(view.state, ""))
        if view.phase and view.state is ServerState.STARTING:
            text.append(f"  {view.phase}", style="yellow")
        text.append(f"  {view.model or 'model ?'}", style="bold")
        text.append(f"  {view.url}/v1")
        text.append(f"  vLLM {view.version or '?'}", style="dim")
        if view.uptime_s is not None and view.state is ServerState.READY:
            text.append(f"  up {duration(view.uptime_s)}", style="dim")
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
