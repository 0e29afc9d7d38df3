"""Every node of a Ray cluster, seen from where it runs: one small observer actor per node
samples NVML and the vLLM processes there with this package's own engine code (engine.gpu,
engine.proctree), so nodes that serve no HTTP (headless data-parallel ranks, the workers of a
tensor- or pipeline-parallel model spread over nodes) still show their GPUs and processes.

The actors need no CPU of the node's (num_cpus=0), are pinned to their node, and are asked for
one observation per round; a node that stops answering is reported lost with the reason, and
a node that joins later gets its observer on the next round. vllm-top must be installed on
every node (as vLLM is) for the actor to import this module there.
"""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import psutil

from engine.gpu import GpuSample, Nvml
from engine.proctree import ProcessTreeSampler, ProcInfo
from engine.ray_cluster import alive_nodes, ray_module, short_error

OBSERVE_TIMEOUT_S = 10.0
# Command lines of vLLM's processes: the API server (module or `vllm serve`), its renamed
# children, and the workers vLLM places on other nodes through Ray.
VLLM_MARKS = ("vllm.entrypoints", "VLLM::", "RayWorkerWrapper")


@dataclass(frozen=True)
class NodeReport:
    node_id: str
    host: str
    lost: str | None = None  # why the node stopped answering; None while it answers
    gpus: tuple[GpuSample, ...] = ()
    gpu_status: str = "unknown"  # "ok", or "no GPU: why"
    processes: tuple[ProcInfo, ...] = field(default=())  # the vLLM processes on the node
    at: float = 0.0  # the observer's own time.time() (for the age of a reading)

    def to_json(self) -> dict[str, Any]:
        return {
            "node_id": self.node_id,
            "host": self.host,
            "state": "lost" if self.lost else "ok",
            "lost": self.lost,
            "gpu_status": self.gpu_status,
            "gpus": [g.to_json() for g in self.gpus],
            "vllm_processes": [
                {"pid": p.pid, "role": p.role, "rss_bytes": p.rss_bytes, "gpu_bytes": p.gpu_bytes}
                for p in self.processes
            ],
        }


def _is_vllm(cmdline: list[str]) -> bool:
    joined = " ".join(cmdline)
    return any(mark in joined for mark in VLLM_MARKS) or (
        len(cmdline) > 1 and cmdline[0].endswith("vllm") and cmdline[1] == "serve"
    )


def vllm_roots() -> list[int]:
    """The vLLM processes of this machine whose parent is not one: each is a tree's root."""
    found: dict[int, int] = {}  # pid -> parent pid
    for proc in psutil.process_iter(["pid", "ppid", "cmdline"]):
        with contextlib.suppress(psutil.Error, TypeError):
            if _is_vllm(proc.info["cmdline"] or []):
                found[proc.info["pid"]] = proc.info["ppid"]
    return sorted(pid for pid, parent in found.items() if parent not in found)


class NodeObserver:
    """The actor: NVML and the vLLM process trees of its node. (Decorated with ray.remote
    when placed, so this module imports without Ray.)"""

    def __init__(self, node_id: str) -> None:
        self.node_id = node_id
        self._nvml = Nvml()
        self._trees: dict[int, ProcessTreeSampler] = {}

    def observe(self) -> NodeReport:
        gpus = tuple(self._nvml.sample())
        gpu_bytes = {p.pid: p.used_bytes for g in gpus for p in g.processes}
        roots = vllm_roots()
        self._trees = {pid: self._trees.get(pid) or ProcessTreeSampler(pid) for pid in roots}
        processes: list[ProcInfo] = []
        for tree in self._trees.values():
            sample = tree.sample(gpu_bytes)
            if sample is not None:
                processes.extend(sample.processes)
        return NodeReport(
            node_id=self.node_id,
            host=socket.gethostname(),
            gpus=gpus,
            gpu_status="ok" if self._nvml.available else (self._nvml.reason or "no GPU"),
            processes=tuple(processes),
            at=time.time(),
        )


class NodeObservers:
    """This process's side: places an observer on every alive node and asks each for one
    observation per `observe()`. Call connect() (engine.ray_cluster) first."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._actors: dict[str, Any] = {}
        self._hosts: dict[str, str] = {}
        self._lost: dict[str, str] = {}

    def _place_new(self) -> None:
        ray = ray_module()
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        remote = ray.remote(num_cpus=0)(NodeObserver)
        for node_id, host in alive_nodes().items():
            if node_id in self._actors:
                continue
            self._hosts[node_id] = host
            self._lost.pop(node_id, None)
            self._actors[node_id] = remote.options(
                scheduling_strategy=NodeAffinitySchedulingStrategy(node_id, soft=False),
                max_restarts=0,
            ).remote(node_id)

    def observe(self) -> list[NodeReport]:
        """One report per node ever seen, in a stable order; lost nodes stay, marked lost."""
        ray = ray_module()
        self._place_new()
        asked = {node: actor.observe.remote() for node, actor in self._actors.items()}
        reports = []
        for node, ref in asked.items():
            try:
                reports.append(ray.get(ref, timeout=OBSERVE_TIMEOUT_S))
            except Exception as exc:  # the actor or its node is gone, or it did not answer
                self._lost[node] = short_error(exc)
                del self._actors[node]
        reports += [NodeReport(n, self._hosts[n], lost=why) for n, why in self._lost.items()]
        return sorted(reports, key=lambda r: (r.host, r.node_id))

    def close(self) -> None:
        ray = ray_module()
        for actor in self._actors.values():
            with contextlib.suppress(Exception):
                ray.kill(actor)
        self._actors.clear()
