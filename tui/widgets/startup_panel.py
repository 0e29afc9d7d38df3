"""Start-up phases as a progress list; afterwards a one-line summary."""

from __future__ import annotations

from rich.text import Text

from engine.startup import Phase, StartupFacts
from tui.format import count, duration
from tui.widgets.text_panel import TextPanel


class StartupPanel(TextPanel):
    DEFAULT_CSS = "StartupPanel { height: auto; padding: 0 1; border: round $primary 50%; }"
    ascii_only = False

    def on_mount(self) -> None:
        self.border_title = "Startup"

    def show_phases(self, current: Phase, durations: dict[Phase, float], elapsed: float) -> None:
        text = Text()
        done, now, later = ("+", ">", "-") if self.ascii_only else ("✓", "▶", "·")
        for phase in Phase:
            if phase is Phase.LAUNCHING:
                continue
            if phase < current:
                mark, style = done, "green"
            elif phase == current:
                mark, style = now, "bold yellow"
            else:
                mark, style = later, "dim"
            took = durations.get(phase)
            spent = f" {duration(took)}" if took is not None and phase <= current else ""
            text.append(f"{mark} {phase.label}{spent}\n", style=style)
        text.append(f"elapsed {duration(elapsed)}", style="dim")
        self.show_text(text)

    def show_summary(
        self,
        facts: StartupFacts | None,
        elapsed: float | None,
        capacity_tokens: int | None = None,
        max_model_len: int | None = None,
    ) -> None:
        kv = facts.kv_cache_tokens if facts and facts.kv_cache_tokens else capacity_tokens
        parts = [f"KV {count(kv)} tokens"]
        if facts and facts.max_concurrency is not None:
            parts.append(
                f"max concurrency {facts.max_concurrency:.2f}x "
                f"@ {count(facts.max_concurrency_tokens)} tok"
            )
        elif max_model_len:
            parts.append(f"max model len {max_model_len:,}")
        if facts and facts.init_engine_s is not None:
            parts.append(f"engine init {facts.init_engine_s:.1f}s")
        if facts and facts.weights_load_s is not None:
            parts.append(f"weights {facts.weights_load_s:.2f}s")
        if elapsed is not None:
            parts.append(f"ready after {duration(elapsed)}")
        self.show_text(Text((" - " if self.ascii_only else " · ").join(parts)))
