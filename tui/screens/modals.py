"""Modal screens: help, a report, quit confirmation, the share banner (the load's forms are in
tui.screens.load_forms)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Label, Static

MODAL_CSS = """
{name} {{ align: center middle; }}
{name} > Vertical, {name} > VerticalScroll {{
    width: 90; max-width: 95%; height: auto; max-height: 90%;
    border: thick $primary; background: $surface; padding: 1 2;
}}
"""


class HelpScreen(ModalScreen[None]):
    DEFAULT_CSS = MODAL_CSS.format(name="HelpScreen")
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
    DEFAULT_CSS = MODAL_CSS.format(name="ReportScreen")
    BINDINGS = [Binding("escape,q,R", "dismiss", "Close")]

    def __init__(self, report: str) -> None:
        super().__init__()
        self.report = report

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Static(self.report, markup=False)


class ConfirmScreen(ModalScreen[bool]):
    DEFAULT_CSS = MODAL_CSS.format(name="ConfirmScreen")
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


class ShareScreen(ModalScreen[None]):
    """The public URL and, once, the key that opens it."""

    DEFAULT_CSS = MODAL_CSS.format(name="ShareScreen")
    BINDINGS = [Binding("escape,q,enter", "dismiss", "Close")]

    def __init__(self, lines: list[str]) -> None:
        super().__init__()
        self.lines = lines

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("[b]Shared[/b]  (the tunnel closes when vllm-top quits)")
            yield Static("\n".join(self.lines), markup=False)
            yield Label("[dim]enter or escape closes this[/dim]")
