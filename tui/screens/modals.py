"""Modal screens: help, the custom burst form, the full report, quit confirmation."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Grid, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select, Static

from tui.commands.dashboard_config import BurstPreset

_MODAL_CSS = """
{name} {{ align: center middle; }}
{name} > Vertical, {name} > VerticalScroll {{
    width: 90; max-width: 95%; height: auto; max-height: 90%;
    border: thick $primary; background: $surface; padding: 1 2;
}}
"""


class HelpScreen(ModalScreen[None]):
    DEFAULT_CSS = _MODAL_CSS.format(name="HelpScreen")
    BINDINGS = [Binding("escape,q,question_mark", "dismiss", "Close")]

    def __init__(self, rows: list[tuple[str, str, str]]) -> None:
        super().__init__()
        self.rows = rows

    @classmethod
    def of(
        cls,
        bindings: Iterable[BindingType],
        keymap: Mapping[str, str],
        key_display: Callable[[str], str],
    ) -> HelpScreen:
        """A row per binding: its keys (as remapped by the config), what it does, its id."""
        rows = []
        for binding in bindings:
            assert isinstance(binding, Binding)
            keys = keymap.get(binding.id or "", binding.key)
            shown = ",".join(key_display(k) for k in keys.split(","))
            rows.append((shown, binding.description, binding.id or ""))
        return cls(rows)

    def compose(self) -> ComposeResult:
        lines = ["[b]vllm-top keys[/b]  (remap any id in [keymap] of the config file)", ""]
        lines += [f"[b]{keys:<12}[/b] {desc:<34} [dim]{bid}[/dim]" for keys, desc, bid in self.rows]
        with VerticalScroll():
            yield Static("\n".join(lines))


class ReportScreen(ModalScreen[None]):
    DEFAULT_CSS = _MODAL_CSS.format(name="ReportScreen")
    BINDINGS = [Binding("escape,q,R", "dismiss", "Close")]

    def __init__(self, report: str) -> None:
        super().__init__()
        self.report = report

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Static(self.report, markup=False)


class ConfirmScreen(ModalScreen[bool]):
    DEFAULT_CSS = _MODAL_CSS.format(name="ConfirmScreen")
    BINDINGS = [Binding("y", "answer(True)", "Yes"), Binding("n,escape", "answer(False)", "No")]

    def __init__(self, question: str) -> None:
        super().__init__()
        self.question = question

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self.question)
            yield Label("[b]y[/b] yes   [b]n[/b] no")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)


class BurstFormScreen(ModalScreen[BurstPreset | None]):
    """Requests, concurrency, rate, max tokens, prompt or payload file, endpoint."""

    DEFAULT_CSS = (
        _MODAL_CSS.format(name="BurstFormScreen")
        + """
    BurstFormScreen Grid { grid-size: 2; grid-columns: 16 1fr; height: auto; grid-rows: 3; }
    BurstFormScreen Label { padding: 1 0 0 0; }
    BurstFormScreen #form-error { color: $error; height: auto; }
    """
    )
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, start: BurstPreset) -> None:
        super().__init__()
        self.start = start

    def compose(self) -> ComposeResult:
        s = self.start
        with Vertical():
            yield Label("[b]Custom burst[/b]  (Enter fires, Esc cancels)")
            with Grid():
                yield Label("requests")
                yield Input(str(s.requests), id="requests", type="integer")
                yield Label("concurrency")
                yield Input(str(s.concurrency), id="concurrency", type="integer")
                yield Label("rate (req/s)")
                yield Input(
                    "" if s.rate is None else str(s.rate),
                    id="rate",
                    type="number",
                    placeholder="empty: as fast as concurrency allows",
                )
                yield Label("max tokens")
                yield Input(str(s.max_tokens), id="max_tokens", type="integer")
                yield Label("prompt")
                yield Input(s.prompt or "", id="prompt", placeholder="default prompt")
                yield Label("payload file")
                yield Input(s.payload or "", id="payload", placeholder="JSON body (optional)")
                yield Label("endpoint")
                yield Select(
                    [("chat", "chat"), ("completions", "completions")],
                    value=s.endpoint,
                    allow_blank=False,
                    id="endpoint",
                )
            yield Static(id="form-error")
            yield Button("Fire", variant="primary", id="fire")

    def _value(self, name: str) -> str:
        return self.query_one(f"#{name}", Input).value.strip()

    def _build(self) -> BurstPreset:
        try:
            requests = int(self._value("requests"))
            concurrency = int(self._value("concurrency"))
            max_tokens = int(self._value("max_tokens"))
            rate = float(self._value("rate")) if self._value("rate") else None
        except ValueError:
            raise ValueError("requests, concurrency and max tokens are whole numbers") from None
        if min(requests, concurrency, max_tokens) <= 0 or (rate is not None and rate <= 0):
            raise ValueError("every number must be greater than 0")
        payload = self._value("payload") or None
        if payload and not Path(payload).expanduser().is_file():
            raise ValueError(f"payload file {payload} does not exist")
        endpoint = self.query_one("#endpoint", Select).value
        return BurstPreset(
            requests=requests,
            concurrency=concurrency,
            max_tokens=max_tokens,
            rate=rate,
            endpoint=str(endpoint),
            prompt=self._value("prompt") or None,
            payload=payload,
        )

    def _fire(self) -> None:
        try:
            preset = self._build()
        except ValueError as exc:
            self.query_one("#form-error", Static).update(str(exc))
            return
        self.dismiss(preset)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self._fire()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self._fire()

    def action_cancel(self) -> None:
        self.dismiss(None)


class ShareScreen(ModalScreen[None]):
    """The public URL and, once, the key that opens it."""

    DEFAULT_CSS = _MODAL_CSS.format(name="ShareScreen")
    BINDINGS = [Binding("escape,q,enter", "dismiss", "Close")]

    def __init__(self, lines: list[str]) -> None:
        super().__init__()
        self.lines = lines

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("[b]Shared[/b]  (the tunnel closes when vllm-top quits)")
            yield Static("\n".join(self.lines), markup=False)
            yield Label("[dim]enter or escape closes this[/dim]")
