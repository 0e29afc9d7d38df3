"""Sample the GPUs and the vLLM process tree on a background thread.

Callers read `latest` and never wait: NVML calls can take tens of milliseconds, and a UI frame
must not. Histories are fixed-size and stamped with the injected clock.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from engine.gpu import GpuSample, Nvml
from engine.node_watch import NodesReport, NodeWatch
from engine.proctree import ProcessTreeSampler, TreeSample


@dataclass(frozen=True)
class DeviceSample:
    at: float
    gpu_available: bool
    gpu_reason: str | None  # why there is no GPU reading ("no GPU: ...")
    gpus: tuple[GpuSample, ...]
    tree: TreeSample | None  # None: no process to watch (attached) or it is gone
    nodes: NodesReport | None = None  # with a Ray cluster watched: its nodes' newest round


NOTHING_TO_SAMPLE_S = 5.0


class DeviceSampler:
    def __init__(
        self,
        root_pid: Callable[[], int | None] = lambda: None,
        interval: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        history: int = 600,
        nvml: Nvml | None = None,
        nodes: NodeWatch | None = None,
    ) -> None:
        """nodes: the Ray cluster's nodes too (`serve --ray`), read from its own thread."""
        self._root_pid = root_pid
        self._nodes = nodes
        self._interval = interval
        self._clock = clock
        self._nvml = nvml if nvml is not None else Nvml()
        self._tree: ProcessTreeSampler | None = None
        self.history: deque[DeviceSample] = deque(maxlen=history)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def latest(self) -> DeviceSample | None:
        return self.history[-1] if self.history else None

    def sample_once(self) -> DeviceSample:
        gpus = self._nvml.sample()
        gpu_by_pid = {p.pid: p.used_bytes for g in gpus for p in g.processes}
        pid = self._root_pid()
        if pid is None:
            self._tree = None
        elif self._tree is None or self._tree.root_pid != pid:
            self._tree = ProcessTreeSampler(pid)
        tree = self._tree.sample(gpu_by_pid) if self._tree is not None else None
        sample = DeviceSample(
            at=self._clock(),
            gpu_available=self._nvml.available,
            gpu_reason=self._nvml.reason,
            gpus=tuple(gpus),
            tree=tree,
            nodes=self._nodes.latest if self._nodes is not None else None,
        )
        self.history.append(sample)
        return sample

    def start(self) -> None:
        if self._nodes is not None:
            self._nodes.start()
        self._thread = threading.Thread(target=self._run, name="vllm-top-device", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            sample = self.sample_once()
            # No GPU to read and no process to watch (attached, on a CPU box): nothing will
            # change but the arrival of a process, which a slower look still finds.
            idle = not sample.gpu_available and sample.tree is None and self._nodes is None
            self._stop.wait(max(self._interval, NOTHING_TO_SAMPLE_S) if idle else self._interval)

    def stop(self) -> None:
        self._stop.set()
        if self._nodes is not None:
            self._nodes.stop()
        if self._thread is not None:
            self._thread.join(5)
        self._nvml.close()
