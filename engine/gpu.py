"""One thin layer over NVML (nvidia-ml-py). Every reading may be unavailable: it is then None,
shown as "unknown", never an exception and never 0. No NVML at all (no driver, no GPU, as on a
CPU-only box) is a state with its reason, not an error."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

T = TypeVar("T")
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class GpuProcess:
    pid: int
    used_bytes: int | None


@dataclass(frozen=True)
class GpuSample:
    index: int
    name: str | None
    memory_used_bytes: int | None
    memory_total_bytes: int | None
    utilization_percent: int | None
    temperature_c: int | None
    power_w: float | None
    power_limit_w: float | None
    processes: tuple[GpuProcess, ...]
    energy_mj: int | None = None  # energy used since the driver loaded (Volta and newer)

    def to_json(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "name": self.name,
            "memory_used_bytes": self.memory_used_bytes,
            "memory_total_bytes": self.memory_total_bytes,
            "utilization_percent": self.utilization_percent,
            "temperature_c": self.temperature_c,
            "power_w": self.power_w,
            "power_limit_w": self.power_limit_w,
            "processes": [{"pid": p.pid, "used_bytes": p.used_bytes} for p in self.processes],
            "energy_mj": self.energy_mj,
        }


class Nvml:
    """NVML if it can be had. `available` False comes with `reason` ("no GPU: ...")."""

    def __init__(self) -> None:
        self.available = False
        self.reason: str | None = None
        self._nvml: Any = None
        self._failing: set[str] = set()  # NVML calls that failed: each is logged once
        try:
            import pynvml

            pynvml.nvmlInit()
        except ImportError:
            self.reason = "no GPU: nvidia-ml-py is not installed"
        except Exception as exc:  # pynvml.NVMLError and its many subclasses, OSError
            self.reason = f"no GPU: NVML unavailable ({_nvml_reason(exc)})"
        else:
            self._nvml = pynvml
            self.available = True
        log.info("NVML: %s", "available" if self.available else self.reason)

    def _try(self, fn: Callable[..., T], *args: Any) -> T | None:
        try:
            return fn(*args)
        except Exception as exc:  # NVML_ERROR_NOT_SUPPORTED, NO_PERMISSION, GPU_IS_LOST, ...
            name = getattr(fn, "__name__", repr(fn))
            if name not in self._failing:  # every second, forever: once is enough to know
                self._failing.add(name)
                log.warning("NVML %s failed: %s (shown as unknown)", name, exc)
            return None

    def sample(self) -> list[GpuSample]:
        if not self.available:
            return []
        nv = self._nvml
        count = self._try(nv.nvmlDeviceGetCount) or 0
        gpus = []
        for index in range(count):
            handle = self._try(nv.nvmlDeviceGetHandleByIndex, index)
            if handle is None:
                continue
            mem = self._try(nv.nvmlDeviceGetMemoryInfo, handle)
            util = self._try(nv.nvmlDeviceGetUtilizationRates, handle)
            power_mw = self._try(nv.nvmlDeviceGetPowerUsage, handle)
            limit_mw = self._try(nv.nvmlDeviceGetEnforcedPowerLimit, handle)
            procs = self._try(nv.nvmlDeviceGetComputeRunningProcesses, handle) or []
            name = self._try(nv.nvmlDeviceGetName, handle)
            gpus.append(
                GpuSample(
                    index=index,
                    name=name.decode() if isinstance(name, bytes) else name,
                    memory_used_bytes=int(mem.used) if mem is not None else None,
                    memory_total_bytes=int(mem.total) if mem is not None else None,
                    utilization_percent=int(util.gpu) if util is not None else None,
                    temperature_c=self._try(
                        nv.nvmlDeviceGetTemperature, handle, nv.NVML_TEMPERATURE_GPU
                    ),
                    power_w=power_mw / 1000.0 if power_mw is not None else None,
                    power_limit_w=limit_mw / 1000.0 if limit_mw is not None else None,
                    processes=tuple(GpuProcess(int(p.pid), _used(p.usedGpuMemory)) for p in procs),
                    energy_mj=self._try(nv.nvmlDeviceGetTotalEnergyConsumption, handle),
                )
            )
        return gpus

    def close(self) -> None:
        if self.available:
            with contextlib.suppress(Exception):
                self._nvml.nvmlShutdown()
            self.available = False


def _used(value: Any) -> int | None:
    # NVML reports "not available" as None in nvidia-ml-py, or as a huge sentinel in old ones.
    if value is None or value >= 2**63:
        return None
    return int(value)


def _nvml_reason(exc: Exception) -> str:
    text = str(exc) or type(exc).__name__
    return text.replace("NVML Shared Library Not Found", "driver library not found")
