"""The load's modal forms: a custom burst (`B`), the search (`S`), the vLLM arguments of an A/B
run (`A`), and the two bursts to compare (`M`). Each answers with what to run, or None (Esc);
what cannot run is said in one line on the form, which stays open."""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select, SelectionList, Static

from loadgen.config import ConfigError
from loadgen.search import Dimension, SearchSpec
from loadgen.slo import Slo
from tui.commands.dashboard_config import BurstPreset
from tui.screens.modals import MODAL_CSS

T = TypeVar("T")

_FORM_CSS = """
{name} Grid {{ grid-size: 4; grid-columns: 14 1fr 14 1fr; height: auto; grid-rows: 3; }}
{name} Label {{ padding: 1 0 0 0; }}
{name} .form-error {{ color: $error; height: auto; }}
"""


class FormScreen(ModalScreen[T | None], Generic[T]):
    """Labelled inputs in a grid; Enter (or the button) builds the answer, Esc cancels."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]
    TITLE = ""
    BUTTON = "Run"

    def fields(self) -> ComposeResult:
        raise NotImplementedError

    def build(self) -> T:
        """The answer; ValueError or ConfigError says in one line what is wrong."""
        raise NotImplementedError

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Label(f"[b]{self.TITLE}[/b]  (Enter runs, Esc cancels)")
            with Grid():
                yield from self.fields()
            yield Static(classes="form-error")
            yield Button(self.BUTTON, variant="primary")

    def on_mount(self) -> None:
        self.query(Input).first().focus()  # Enter submits from the first field on

    def value(self, name: str) -> str:
        return self.query_one(f"#{name}", Input).value.strip()

    def number(self, name: str, kind: type[int] | type[float], what: str) -> float:
        text = self.value(name)
        try:
            value = kind(text)
        except ValueError:
            raise ValueError(f"{what} is a number, not {text!r}") from None
        if value <= 0:
            raise ValueError(f"{what} must be greater than 0")
        return value

    def _submit(self) -> None:
        try:
            answer = self.build()
        except (ValueError, ConfigError) as exc:
            self.query_one(".form-error", Static).update(str(exc))
            return
        self.dismiss(answer)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self._submit()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self._submit()

    def action_cancel(self) -> None:
        self.dismiss(None)


def _field(name: str, label: str, value: object, hint: str = "") -> ComposeResult:
    yield Label(label)
    yield Input("" if value is None else str(value), id=name, placeholder=hint)


class BurstFormScreen(FormScreen[BurstPreset]):
    """A burst's shape and its workload, as `vllm-top bench` takes them."""

    DEFAULT_CSS = MODAL_CSS.format(name="BurstFormScreen") + _FORM_CSS.format(
        name="BurstFormScreen"
    )
    TITLE = "Custom burst"
    BUTTON = "Fire"

    def __init__(self, start: BurstPreset) -> None:
        super().__init__()
        self.start = start

    def fields(self) -> ComposeResult:
        s = self.start
        yield from _field("requests", "requests", s.requests)
        yield from _field("concurrency", "concurrency", s.concurrency)
        yield from _field("rate", "rate (req/s)", s.rate, "as fast as allowed")
        yield from _field("max_tokens", "max tokens", s.max_tokens)
        yield from _field("input_len", "input tokens", s.input_len, "N or LO:HI")
        yield from _field("output_len", "output tokens", s.output_len, "N or LO:HI (forced)")
        yield from _field("prefix_len", "shared prefix", s.prefix_len or "", "tokens")
        yield from _field("turns", "turns", s.turns)
        yield from _field("slo", "SLO", s.slo, "ttft=1s,tpot=50ms")
        yield from _field("dataset", "dataset", s.dataset, "ShareGPT JSON/JSONL")
        yield from _field("prompt", "prompt", s.prompt, "default prompt")
        yield from _field("payload", "payload file", s.payload, "JSON body")
        yield Label("endpoint")
        yield Select(
            [("chat", "chat"), ("completions", "completions")],
            value=s.endpoint,
            allow_blank=False,
            id="endpoint",
        )
        yield from _field("seed", "seed", s.seed)

    def build(self) -> BurstPreset:
        rate = self.number("rate", float, "rate") if self.value("rate") else None
        payload = self.value("payload") or None
        if payload and not Path(payload).expanduser().is_file():
            raise ValueError(f"payload file {payload} does not exist")
        try:
            seed = int(self.value("seed") or 0)
            prefix = int(self.value("prefix_len") or 0)
        except ValueError:
            raise ValueError("seed and shared prefix are whole numbers") from None
        preset = BurstPreset(
            requests=int(self.number("requests", int, "requests")),
            concurrency=int(self.number("concurrency", int, "concurrency")),
            max_tokens=int(self.number("max_tokens", int, "max tokens")),
            rate=rate,
            endpoint=str(self.query_one("#endpoint", Select).value),
            prompt=self.value("prompt") or None,
            payload=payload,
            input_len=self.value("input_len") or None,
            output_len=self.value("output_len") or None,
            prefix_len=prefix,
            turns=int(self.number("turns", int, "turns")),
            dataset=self.value("dataset") or None,
            seed=seed,
            slo=self.value("slo") or None,
        )
        workload = preset.workload()  # ConfigError: the same words as `vllm-top bench`
        if workload.dataset is not None and not workload.dataset.is_file():
            raise ValueError(f"dataset {workload.dataset} does not exist")
        if workload.turns > 1 and preset.endpoint != "chat":
            raise ValueError("multi-turn chats need the chat endpoint")
        preset.slo_spec()
        return preset


@dataclass(frozen=True)
class SearchRequest:
    spec: SearchSpec
    slo: Slo


class SearchFormScreen(FormScreen[SearchRequest]):
    """The search's SLO, target and bounds; the workload is the default burst's."""

    DEFAULT_CSS = MODAL_CSS.format(name="SearchFormScreen") + _FORM_CSS.format(
        name="SearchFormScreen"
    )
    TITLE = "Find the most load that meets an SLO"
    BUTTON = "Search"

    def __init__(self, slo: str, workload: str) -> None:
        super().__init__()
        self.slo = slo
        self.workload = workload

    def fields(self) -> ComposeResult:
        yield Label("find max")
        yield Select(
            [("concurrency", "concurrency"), ("rate (req/s)", "rate")],
            value="concurrency",
            allow_blank=False,
            id="dimension",
        )
        yield from _field("slo", "SLO", self.slo, "ttft=1s,tpot=50ms")
        yield from _field("target", "met by", "0.9", "fraction of requests")
        yield from _field("max_load", "max load", "64")
        yield from _field("min_requests", "requests/probe", "40", "at least")
        yield from _field("max_requests", "at most", "400", "per probe, pooled")
        yield Label("workload")
        yield Label(self.workload)

    def build(self) -> SearchRequest:
        slo = Slo.parse(self.value("slo"))
        rate = self.query_one("#dimension", Select).value == "rate"
        dimension: Dimension = "rate" if rate else "concurrency"
        low = int(self.number("min_requests", int, "requests per probe"))
        high = int(self.number("max_requests", int, "most requests per probe"))
        if high < low:
            raise ValueError("at most must be at least requests/probe")
        spec = SearchSpec(
            dimension=dimension,
            target=self.number("target", float, "met by"),
            max_load=self.number("max_load", float, "max load"),
            min_requests=low,
            max_requests=high,
        )
        return SearchRequest(spec, slo)


class ArgsScreen(FormScreen[tuple[str, ...]]):
    """The supervised server's vLLM arguments, editable, for an A/B run."""

    DEFAULT_CSS = MODAL_CSS.format(name="ArgsScreen") + "ArgsScreen .form-error { color: $error; }"
    TITLE = "A/B: restart vLLM with these arguments, then fire the last burst again"
    BUTTON = "Restart and fire"

    def __init__(self, args: tuple[str, ...]) -> None:
        super().__init__()
        self.args = args

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Label(f"[b]{self.TITLE}[/b]  (Enter runs, Esc cancels)")
            yield Input(shlex.join(self.args), id="args")
            yield Static(classes="form-error")
            yield Button(self.BUTTON, variant="primary")

    def build(self) -> tuple[str, ...]:
        try:
            return tuple(shlex.split(self.value("args")))
        except ValueError as exc:
            raise ValueError(f"cannot read the arguments: {exc}") from None


class PickTwoScreen(ModalScreen[tuple[int, int] | None]):
    """Mark two finished bursts (space), `c` compares them: the first marked is the baseline."""

    DEFAULT_CSS = (
        MODAL_CSS.format(name="PickTwoScreen")
        + """
    PickTwoScreen SelectionList { height: auto; max-height: 20; }
    PickTwoScreen .form-error { color: $error; height: auto; }
    """
    )
    BINDINGS = [Binding("escape", "cancel", "Cancel"), Binding("c", "compare", "Compare")]

    def __init__(self, choices: list[tuple[str, int]]) -> None:
        super().__init__()
        self.choices = choices
        self.marked: list[int] = []  # in the order they were marked

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Label("[b]Compare two bursts[/b]  (space marks, c compares, Esc cancels)")
            yield SelectionList[int](*self.choices)
            yield Static(classes="form-error")

    def on_mount(self) -> None:
        self.query_one(SelectionList).focus()

    def on_selection_list_selected_changed(self, event: SelectionList.SelectedChanged[int]) -> None:
        selected = set(event.selection_list.selected)
        self.marked = [n for n in self.marked if n in selected]
        self.marked += [n for n in event.selection_list.selected if n not in self.marked]

    def action_compare(self) -> None:
        if len(self.marked) != 2:
            self.query_one(".form-error", Static).update(
                f"mark two bursts with space ({len(self.marked)} marked)"
            )
            return
        self.dismiss((self.marked[0], self.marked[1]))

    def action_cancel(self) -> None:
        self.dismiss(None)
