"""The load's workers as Ray actors, for load from several machines.

Ray is how vLLM itself spans nodes, so a cluster serving vLLM across machines usually has it.
The same plan as local worker processes (loadgen.process.shard_configs) is placed on the
cluster's nodes, one actor per node by default; each actor runs loadgen.runner.run_load on its
own event loop, measures its own requests' durations on its own clock (TTFT, ITL and E2E need
no clock shared between machines), waits at one start barrier and streams raw records back to
this process, which merges them (loadgen.merge). Times on the run's axis (sent, end) take each
actor's time 0 as the barrier's release, so they agree across nodes to within that release's
delivery (milliseconds on a LAN). A node lost mid-run: its actor's unreturned requests are
counted as lost and the run finishes with the rest.

`ray` is an optional extra (`pip install "vllm-top[cluster]"`); this module imports it only
when a run asks for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from dataclasses import dataclass, replace
from typing import Any

from engine.ray_cluster import ClusterError, ray_module, short_error
from engine.ray_cluster import connect as join_cluster
from loadgen.config import ConfigError, LoadConfig
from loadgen.merge import Merger
from loadgen.record import RequestRecord
from loadgen.stats import ClientHealth

READY_TIMEOUT_S = 120.0  # actors placed, their connections open


def _ray() -> Any:
    try:
        return ray_module()
    except ClusterError as exc:
        raise ConfigError(str(exc)) from None


@dataclass(frozen=True)
class Placement:
    """Where the workers go: one node id per worker, and each node's name."""

    nodes: list[str]
    names: dict[str, str]


def connect(address: str) -> None:
    """Join the cluster at `address` (engine.ray_cluster.connect), as a ConfigError."""
    try:
        join_cluster(address)
    except ClusterError as exc:
        raise ConfigError(str(exc)) from None


def place(workers: int | None, per_node: int) -> Placement:
    """Alive nodes with a CPU, `per_node` workers each; `workers` caps or spreads the total
    round-robin over them."""
    ray = _ray()
    alive = [n for n in ray.nodes() if n.get("Alive") and n.get("Resources", {}).get("CPU")]
    if not alive:
        raise ConfigError("the Ray cluster has no alive node with a CPU")
    names = {n["NodeID"]: n.get("NodeManagerHostname") or n["NodeID"][:8] for n in alive}
    ids = [n["NodeID"] for n in alive]
    total = workers if workers is not None else per_node * len(ids)
    return Placement([ids[i % len(ids)] for i in range(total)], names)


Taken = tuple[list[RequestRecord], bool, tuple[ClientHealth, bool] | None, str | None]


class LoadActor:
    """One worker on one node: the load on a thread of its own, records handed over on
    `take`. (Decorated with ray.remote when placed, so this module imports without Ray.)"""

    def __init__(self, config: LoadConfig) -> None:
        self.config = config
        self._pending: list[RequestRecord] = []
        self._lock = threading.Lock()
        self._ready = threading.Event()
        self._go = threading.Event()
        self._cancel = threading.Event()
        self._started = False
        self._ended: tuple[ClientHealth, bool] | None = None
        self._error: str | None = None
        self._thread = threading.Thread(target=self._main, daemon=True, name="load")

    def where(self) -> str:
        return socket.gethostname()

    def prepare(self) -> None:
        """Open the connections and wait at the barrier; raises when it cannot."""
        self._thread.start()
        if not self._ready.wait(READY_TIMEOUT_S):
            raise TimeoutError(f"not ready after {READY_TIMEOUT_S:g} s")
        if self._error is not None:
            raise RuntimeError(self._error)

    def go(self) -> None:
        self._go.set()

    def cancel(self) -> None:
        self._cancel.set()
        self._go.set()

    def take(self) -> Taken:
        """Records since the last take, whether it started, (client, cancelled) once it
        ended, and its error."""
        with self._lock:
            batch, self._pending = self._pending, []
            return batch, self._started, self._ended, self._error

    def _keep(self, record: RequestRecord) -> None:
        with self._lock:
            self._pending.append(record)

    def _main(self) -> None:
        runner: Any = asyncio.run
        with contextlib.suppress(ImportError):
            import uvloop

            runner = uvloop.run
        try:
            runner(self._run())
        except Exception as exc:  # report, don't die silently: the driver is waiting
            self._error = f"{type(exc).__name__}: {exc}"
            self._ready.set()

    async def _run(self) -> None:
        from loadgen.runner import run_load

        cancel = asyncio.Event()

        async def watch() -> None:
            while not self._cancel.is_set():
                await asyncio.sleep(0.05)
            cancel.set()

        async def barrier() -> None:
            self._ready.set()
            await asyncio.to_thread(self._go.wait)

        def started(_: float) -> None:
            self._started = True

        watching = asyncio.create_task(watch())
        result = await run_load(
            self.config,
            on_record=self._keep,
            cancel=cancel,
            on_start=started,
            keep_records=False,
            ready=barrier,
        )
        watching.cancel()
        self._ended = (result.client, result.cancelled)


class RayWorkers:
    """The same surface as loadgen.process.LoadWorkers, with actors on a Ray cluster."""

    def __init__(self, config: LoadConfig) -> None:
        from loadgen.process import shard_configs

        assert config.ray is not None
        connect(config.ray)
        placement = place(config.workers, config.workers_per_node)
        self.config = config
        self.shards = shard_configs(replace(config, workers=len(placement.nodes)))
        self._nodes = placement.nodes[: len(self.shards)]
        where = [placement.names[n] for n in self._nodes]
        self.merged = Merger(self.shards, where)
        self._actors: list[Any] = []
        self._go_at: float | None = None

    @property
    def workers(self) -> int:
        return len(self.shards)

    def start(self) -> None:
        ray = _ray()
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        remote = ray.remote(num_cpus=0)(LoadActor)
        self._actors = [
            remote.options(
                scheduling_strategy=NodeAffinitySchedulingStrategy(node, soft=False),
                max_restarts=0,
            ).remote(shard)
            for node, shard in zip(self._nodes, self.shards, strict=True)
        ]
        ready = [actor.prepare.remote() for actor in self._actors]
        for w, ref in enumerate(ready):
            try:
                ray.get(ref, timeout=READY_TIMEOUT_S)
            except Exception as exc:  # a node that could not take its actor
                self.merged.lose(w, short_error(exc))
        for w, actor in enumerate(self._actors):
            if not self.merged.settled(w):
                actor.go.remote()
        self._go_at = time.monotonic()

    def cancel(self) -> None:
        for w, actor in enumerate(self._actors):
            if not self.merged.settled(w):
                actor.cancel.remote()

    @property
    def done(self) -> bool:
        return self.merged.done

    def poll(self, timeout: float = 0.0) -> list[Any]:
        """Take every actor's new records (waiting `timeout` first, as a queue would)."""
        ray = _ray()
        if timeout:
            time.sleep(timeout)
        merged = self.merged
        taking = {w: a.take.remote() for w, a in enumerate(self._actors) if not merged.settled(w)}
        got: list[Any] = []
        for w, ref in taking.items():
            try:
                records, started, ended, error = ray.get(ref, timeout=30)
            except Exception as exc:  # the actor or its node is gone
                self.merged.lose(w, short_error(exc))
                continue
            if started and self._go_at is not None:
                self.merged.started(w, self._go_at)  # every actor's time 0 is the barrier's
            if records:
                self.merged.batch(w, records)
                got.append(records)
            if error is not None:
                self.merged.lose(w, error)
            elif ended is not None:
                self.merged.ended(w, *ended)
        return got

    def join(self, timeout: float | None = None) -> None:
        ray = _ray()
        for actor in self._actors:
            with contextlib.suppress(Exception):
                ray.kill(actor)
