"""GPU readings from where clusters already publish them: NVIDIA's dcgm-exporter and
nvitop-exporter, both Prometheus text. A reading an exporter does not publish is None.

dcgm-exporter (names from its default counters file): DCGM_FI_DEV_FB_USED / _FB_FREE /
_FB_RESERVED in MiB, DCGM_FI_DEV_GPU_UTIL in %, DCGM_FI_DEV_POWER_USAGE in W,
DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION in mJ, DCGM_FI_DEV_GPU_TEMP in C; labels gpu, UUID,
modelName, Hostname. nvitop-exporter: gpu_memory_used_MiB, gpu_memory_total_MiB,
gpu_utilization_Percentage, gpu_power_usage_W, gpu_power_limit_W, gpu_temperature_C (the unit
is part of the name as prometheus_client writes it); labels hostname, index, devicename, uuid.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from engine.gpu import GpuSample
from engine.http import get

MIB = 1024 * 1024

# field -> (family names, scale to the GpuSample unit); the first name found wins.
_DCGM: dict[str, tuple[str, ...]] = {
    "used_mib": ("DCGM_FI_DEV_FB_USED",),
    "free_mib": ("DCGM_FI_DEV_FB_FREE",),
    "reserved_mib": ("DCGM_FI_DEV_FB_RESERVED",),
    "util": ("DCGM_FI_DEV_GPU_UTIL",),
    "power_w": ("DCGM_FI_DEV_POWER_USAGE",),
    "energy_mj": ("DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION",),
    "temp_c": ("DCGM_FI_DEV_GPU_TEMP",),
}
_NVITOP: dict[str, tuple[str, ...]] = {
    "used_mib": ("gpu_memory_used_MiB", "gpu_memory_used"),
    "total_mib": ("gpu_memory_total_MiB", "gpu_memory_total"),
    "util": ("gpu_utilization_Percentage", "gpu_utilization"),
    "power_w": ("gpu_power_usage_W", "gpu_power_usage"),
    "power_limit_w": ("gpu_power_limit_W", "gpu_power_limit"),
    "temp_c": ("gpu_temperature_C", "gpu_temperature"),
}


@dataclass(frozen=True)
class ExportedGpus:
    """What one exporter page said: its GPUs by host, and which exporter it was."""

    exporter: str | None  # "dcgm-exporter", "nvitop-exporter", "nvml" (this machine), or None
    gpus: tuple[tuple[str | None, GpuSample], ...] = field(default=())  # (hostname, sample)

    def to_json(self) -> list[dict[str, Any]]:
        return [{"host": host, **gpu.to_json()} for host, gpu in self.gpus]


def parse_exported_gpus(text: str) -> ExportedGpus:
    """Raises ValueError on text that is not Prometheus exposition."""
    values: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            # By family: the parser names a counter's sample `<name>_total` even where the
            # exporter wrote no such suffix (DCGM's energy counter).
            values.setdefault(family.name, []).append((sample.labels, sample.value))
    if any(name.startswith("DCGM_FI_") for name in values):
        return ExportedGpus("dcgm-exporter", _gpus(values, _DCGM, "gpu", "Hostname", "modelName"))
    if any(names[0] in values or names[1] in values for names in _NVITOP.values()):
        return ExportedGpus(
            "nvitop-exporter", _gpus(values, _NVITOP, "index", "hostname", "devicename")
        )
    return ExportedGpus(None)


def _gpus(
    values: dict[str, list[tuple[dict[str, str], float]]],
    names: dict[str, tuple[str, ...]],
    index_label: str,
    host_label: str,
    model_label: str,
) -> tuple[tuple[str | None, GpuSample], ...]:
    # One GPU is one (host, index); every reading of it is gathered under that key.
    found: dict[tuple[str | None, int], dict[str, Any]] = {}
    for fld, family_names in names.items():
        series = next((values[n] for n in family_names if n in values), [])
        for labels, value in series:
            try:
                index = int(labels.get(index_label, "0"))
            except ValueError:
                continue  # a MIG instance or a label we cannot place: not a whole GPU
            gpu = found.setdefault((labels.get(host_label), index), {})
            gpu[fld] = value
            gpu.setdefault("name", labels.get(model_label))
    out = []
    for (host, index), r in sorted(found.items(), key=lambda kv: (kv[0][0] or "", kv[0][1])):
        used = r.get("used_mib")
        total = r.get("total_mib")
        if total is None and used is not None and "free_mib" in r:
            total = used + r["free_mib"] + r.get("reserved_mib", 0.0)
        out.append(
            (
                host,
                GpuSample(
                    index=index,
                    name=r.get("name"),
                    memory_used_bytes=_bytes(used),
                    memory_total_bytes=_bytes(total),
                    utilization_percent=_round(r.get("util")),
                    temperature_c=_round(r.get("temp_c")),
                    power_w=r.get("power_w"),
                    power_limit_w=r.get("power_limit_w"),
                    processes=(),
                    energy_mj=_round(r.get("energy_mj")),
                ),
            )
        )
    return tuple(out)


def _bytes(mib: float | None) -> int | None:
    return None if mib is None else round(mib * MIB)


def _round(value: float | None) -> int | None:
    return None if value is None else round(value)


class ExporterError(Exception):
    """The exporter gave nothing usable; the message says why in a few words."""


def scrape_exported_gpus(url: str, timeout: float = 5.0) -> ExportedGpus:
    if not url.startswith(("http://", "https://")):
        url = "http://" + url
    answer = get(url, timeout=timeout)
    if answer.status is None:
        raise ExporterError(f"GPU metrics: cannot reach {url}: {answer.error}")
    if answer.status != 200:
        raise ExporterError(f"GPU metrics: {url} answered HTTP {answer.status}")
    try:
        found = parse_exported_gpus(answer.body.decode("utf-8", errors="replace"))
    except (ValueError, KeyError, IndexError):
        raise ExporterError(f"GPU metrics: {url} is not Prometheus text") from None
    if found.exporter is None:
        raise ExporterError(f"GPU metrics: {url} has no dcgm-exporter or nvitop-exporter series")
    return found
