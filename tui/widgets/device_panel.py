"""GPUs (memory bar, utilisation, temperature, power) and the vLLM processes; on the CPU backend
the CPU and memory of the vLLM process tree instead."""

from __future__ import annotations

from rich.text import Text

from engine.device_sampler import DeviceSample
from tui.format import bar, gib
from tui.widgets.text_panel import TextPanel


class DevicePanel(TextPanel):
    DEFAULT_CSS = "DevicePanel { height: auto; padding: 0 1; border: round $primary 50%; }"
    ascii_only = False

    def on_mount(self) -> None:
        self.border_title = "Device"

    def show(self, sample: DeviceSample | None) -> None:
        if sample is None:
            self.show_text(Text("sampling…", style="dim"))
            return
        text = Text()
        width = 12
        for gpu in sample.gpus:
            used, total = gpu.memory_used_bytes, gpu.memory_total_bytes
            frac = used / total if used is not None and total else None
            text.append(f"GPU{gpu.index} {gpu.name or '?'}\n", style="bold")
            text.append(f" [{bar(frac, width, self.ascii_only)}] {gib(used)} / {gib(total)}\n")
            util = "?" if gpu.utilization_percent is None else f"{gpu.utilization_percent}%"
            temp = "?" if gpu.temperature_c is None else f"{gpu.temperature_c}°C"
            power = "?" if gpu.power_w is None else f"{gpu.power_w:.0f}"
            limit = "?" if gpu.power_limit_w is None else f"{gpu.power_limit_w:.0f}"
            text.append(f" util {util}  {temp}  {power}/{limit} W\n")
        if not sample.gpu_available:
            text.append(f"{sample.gpu_reason or 'no GPU'}: CPU backend\n", style="yellow")
        tree = sample.tree
        if tree is None:
            text.append("vLLM processes: not visible (attached)", style="dim")
        else:
            cpu = "?" if tree.cpu_percent is None else f"{tree.cpu_percent:.0f}%"
            text.append(f"vLLM tree: CPU {cpu}  RSS {gib(tree.rss_bytes)}", style="bold")
            if tree.gpu_bytes is not None:
                text.append(f"  GPU {gib(tree.gpu_bytes)}")
            for proc in tree.processes:
                pcpu = "?" if proc.cpu_percent is None else f"{proc.cpu_percent:.0f}%"
                gpu_mem = "" if proc.gpu_bytes is None else f" GPU {gib(proc.gpu_bytes)}"
                text.append(f"\n {proc.role[:22]:<22} {pcpu:>5} {gib(proc.rss_bytes)}{gpu_mem}")
        self.show_text(text)
