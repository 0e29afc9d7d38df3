"""CPU, memory and GPU memory of the supervised vLLM process tree (psutil + NVML's pids)."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import psutil


@dataclass(frozen=True)
class ProcInfo:
    pid: int
    role: str  # APIServer, VLLM::EngineCore, VLLM::Worker_TP0, ...
    cpu_percent: float | None  # of one core; None on the first sample of a process
    rss_bytes: int | None
    gpu_bytes: int | None  # None: NVML does not know this process


@dataclass(frozen=True)
class TreeSample:
    processes: tuple[ProcInfo, ...]

    @property
    def cpu_percent(self) -> float | None:
        known = [p.cpu_percent for p in self.processes if p.cpu_percent is not None]
        return sum(known) if known else None

    @property
    def rss_bytes(self) -> int:
        return sum(p.rss_bytes or 0 for p in self.processes)

    @property
    def gpu_bytes(self) -> int | None:
        known = [p.gpu_bytes for p in self.processes if p.gpu_bytes is not None]
        return sum(known) if known else None


def _role(proc: psutil.Process, is_root: bool) -> str:
    with contextlib.suppress(psutil.Error, IndexError):
        first = proc.cmdline()[0]
        if first.startswith("VLLM::"):  # vLLM renames its children with setproctitle
            return first
    return "APIServer" if is_root else proc.name()


class ProcessTreeSampler:
    """Keeps psutil.Process objects between samples: cpu_percent needs the previous reading."""

    def __init__(self, root_pid: int) -> None:
        self.root_pid = root_pid
        self._procs: dict[int, psutil.Process] = {}
        self._seen: set[int] = set()

    def sample(self, gpu_bytes_by_pid: dict[int, int | None] | None = None) -> TreeSample | None:
        try:
            root = psutil.Process(self.root_pid)
            tree = [root, *root.children(recursive=True)]
        except psutil.Error:
            return None
        gpu = gpu_bytes_by_pid or {}
        infos = []
        for fresh in tree:
            proc = self._procs.setdefault(fresh.pid, fresh)
            try:
                with proc.oneshot():
                    first = proc.pid not in self._seen
                    cpu = proc.cpu_percent(None)
                    infos.append(
                        ProcInfo(
                            pid=proc.pid,
                            role=_role(proc, proc.pid == self.root_pid),
                            cpu_percent=None if first else cpu,
                            rss_bytes=proc.memory_info().rss,
                            gpu_bytes=gpu.get(proc.pid),
                        )
                    )
                    self._seen.add(proc.pid)
            except psutil.Error:
                self._procs.pop(fresh.pid, None)
        alive = {p.pid for p in tree}
        for pid in list(self._procs):
            if pid not in alive:
                del self._procs[pid]
                self._seen.discard(pid)
        return TreeSample(tuple(infos))
