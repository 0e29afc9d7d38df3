"""GPUs (memory bar, utilisation, temperature, power) and the vLLM processes; on the CPU backend
the CPU and memory of the vLLM process tree instead."""

from __future__ import annotations

from rich.text import Text

from tui.format import bar
from tui.view_models import DeviceView
from tui.widgets.text_panel import TextPanel


class DevicePanel(TextPanel):
    DEFAULT_CSS = "DevicePanel { height: auto; padding: 0 1; border: round $primary 50%; }"
    ascii_only = False

    def on_mount(self) -> None:
        self.border_title = "Device"

    def show(self, view: DeviceView) -> None:
        if not view.sampled:
            self.show_text(Text("sampling…", style="dim"))
            return
        text = Text()
        for gpu in view.gpus:
            text.append(f"{gpu.title}\n", style="bold")
            text.append(f" [{bar(gpu.memory_fraction, 12, self.ascii_only)}] {gpu.memory}\n")
            text.append(f" {gpu.stats}\n")
        if view.no_gpu:
            text.append(f"{view.no_gpu}\n", style="yellow")
        if view.tree is None:
            text.append("vLLM processes: not visible (attached)", style="dim")
        else:
            text.append(view.tree, style="bold")
            if view.tree_gpu:
                text.append(view.tree_gpu)
            for row in view.processes:
                text.append(f"\n{row}")
        for i, line in enumerate(view.nodes):
            text.append(f"\n{line}", style="bold" if i == 0 else "")
        self.show_text(text)
