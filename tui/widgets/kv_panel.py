"""KV cache and scheduler: usage bar in tokens, running / waiting, preemptions, prefix hits,
with short history sparklines."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Label, Sparkline

from engine.metrics_history import MetricsHistory
from engine.statsline import StatsLine
from tui.format import bar, count, percent
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

    def show(
        self,
        history: MetricsHistory,
        unavailable: str | None = None,
        from_log: StatsLine | None = None,
    ) -> None:
        """`from_log`: vLLM's periodic stats line, shown when /metrics has no vLLM series."""
        latest = history.latest
        text = Text()
        if unavailable:
            text.append(f"unknown: {unavailable}\n", style="yellow")
        if from_log is not None and (latest is None or not latest.has_vllm_series):
            self.query_one("#kv-text", TextPanel).show_text(text + self._from_log(from_log))
            return
        if latest is None:
            self.query_one("#kv-text", TextPanel).show_text(text or Text("waiting for /metrics…"))
            return
        usage = latest.kv_usage
        cap, used = latest.kv_capacity_tokens, latest.kv_used_tokens
        style = "red" if usage is not None and usage >= 0.95 else "green"
        text.append(f"[{bar(usage, 16, self.ascii_only)}]", style=style)
        text.append(f" {percent(usage)}  {count(used)} / {count(cap)} tok\n")
        preempt = latest.total("preemptions")
        recent = history.increase("preemptions", 10.0)
        text.append(
            f"running {count(latest.total('running'))}  waiting {count(latest.total('waiting'))}"
        )
        text.append(f"  preempted {count(preempt)}")
        if recent:
            text.append(f" (+{recent:.0f}/10s)", style="bold red")
        text.append(f"\nprefix cache hits {percent(latest.prefix_cache_hit_rate, 1)}")
        if not latest.has_vllm_series:
            text.append("\nno vllm:* series (--disable-log-stats?)", style="yellow")
        self.query_one("#kv-text", TextPanel).show_text(text)
        self._sparklines(history)

    def _from_log(self, line: StatsLine) -> Text:
        text = Text()
        text.append(f"[{bar(line.kv_usage, 16, self.ascii_only)}]")
        text.append(f" {percent(line.kv_usage)}  (tokens unknown)\n")
        text.append(f"running {count(line.running)}  waiting {count(line.waiting)}")
        text.append(f"  preempted {count(line.preemptions)}")
        text.append(f"\nprefix cache hits {percent(line.prefix_hit_rate, 1)}")
        text.append("\nfrom the log's stats line: /metrics has no vllm:* series", style="yellow")
        return text

    def _sparklines(self, history: MetricsHistory) -> None:
        for name, value in (
            ("kv", lambda s: s.kv_usage),
            ("running", lambda s: s.total("running")),
            ("waiting", lambda s: s.total("waiting")),
        ):
            points = [v for _, v in history.series(value, 120.0) if v is not None][-60:] or [0.0]
            spark = self.query_one(f"#spark-{name}", Sparkline)
            if spark.data != points:
                spark.data = points
