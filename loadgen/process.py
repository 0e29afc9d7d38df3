"""Run a load in worker processes and stream what happens back to the caller.

The caller (the dashboard, or `vllm-top bench` drawing its progress bar) never shares an event
loop or a GIL with the requests it times. One plan is split between `config.workers` processes
(loadgen.runner.unit_numbers): each opens its connections, waits at one start barrier, then
sends its share. Finished requests come back raw, in batches every 100 ms, and are merged onto
one time axis. A run can be cancelled (in-flight requests are then recorded as cancelled); a
worker that dies is reported, the requests it had not returned are counted as lost, and the
others go on.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import math
import multiprocessing as mp
import multiprocessing.connection as mp_connection
import os
import queue
import signal
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, replace
from multiprocessing.synchronize import Event as MpEvent
from typing import Any

from loadgen.config import LoadConfig
from loadgen.merge import Merger
from loadgen.record import RequestRecord
from loadgen.runner import run_load
from loadgen.stats import ClientHealth

BATCH_INTERVAL_S = 0.1


@dataclass(frozen=True)
class Ready:
    worker: int  # connections open, waiting at the barrier


@dataclass(frozen=True)
class RunStarted:
    worker: int
    t0_monotonic: float  # this worker's time 0 on time.monotonic(), shared by all processes


@dataclass(frozen=True)
class RecordsBatch:
    worker: int
    records: list[RequestRecord]


@dataclass(frozen=True)
class RunFinished:
    worker: int
    client: ClientHealth
    cancelled: bool


@dataclass(frozen=True)
class RunFailed:
    worker: int
    error: str


LoadMessage = Ready | RunStarted | RecordsBatch | RunFinished | RunFailed


STREAMS_PER_WORKER = 128  # past this, one core's event loop delays chunks (bench.client_overhead)


def auto_workers(config: LoadConfig, cores: int | None = None) -> int:
    """Workers for a run when none were asked for: one per 128 streams in flight, leaving
    a core for everything else (the server, when it runs here; the dashboard)."""
    if cores is None:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1
    streams = config.concurrency or math.ceil(config.rate or 1)  # ~1 s per request at a rate
    return max(1, min(cores - 1, math.ceil(streams / STREAMS_PER_WORKER)))


def shard_configs(config: LoadConfig) -> list[LoadConfig]:
    """The plan split between its workers: each takes every W-th unit and its part of the
    concurrency (never more workers than concurrency slots or units)."""
    workers = config.workers or auto_workers(config)
    if config.concurrency is not None:
        workers = min(workers, config.concurrency)
    if config.units is not None:
        workers = min(workers, config.units)
    workers = max(1, workers)
    shards = []
    for w in range(workers):
        cap = config.concurrency
        if cap is not None:
            cap = cap // workers + (1 if w < cap % workers else 0)
        shards.append(replace(config, workers=workers, shard=w, concurrency=cap))
    return shards


def _child(config: LoadConfig, out: mp.Queue[LoadMessage], cancel: MpEvent, go: MpEvent) -> None:
    # Ctrl-C in a terminal reaches the whole process group: the caller decides what it means
    # (it cancels the run through `cancel`), so the worker must not die of it.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    runner: Callable[[Coroutine[Any, Any, None]], None] = asyncio.run
    with contextlib.suppress(ImportError):
        import uvloop  # ~20% less client CPU per chunk

        runner = uvloop.run
    try:
        runner(_child_main(config, out, cancel, go))
    except Exception as exc:  # report, don't die silently: the caller is waiting
        out.put(RunFailed(config.shard, f"{type(exc).__name__}: {exc}"))


async def _child_main(
    config: LoadConfig, out: mp.Queue[LoadMessage], flag: MpEvent, go: MpEvent
) -> None:
    me = config.shard
    pending: list[RequestRecord] = []
    cancel = asyncio.Event()

    async def pump() -> None:
        while True:
            await asyncio.sleep(BATCH_INTERVAL_S)
            if flag.is_set():
                cancel.set()
            if pending:
                out.put(RecordsBatch(me, pending.copy()))
                pending.clear()

    async def barrier() -> None:
        out.put(Ready(me))
        await asyncio.to_thread(go.wait)

    # Everything allocated so far lives for the whole run: keep the collector off it.
    gc.freeze()
    pumping = asyncio.create_task(pump())
    result = await run_load(
        config,
        on_record=pending.append,
        cancel=cancel,
        on_start=lambda t0: out.put(RunStarted(me, t0)),
        keep_records=False,
        ready=barrier,
    )
    pumping.cancel()
    if pending:
        out.put(RecordsBatch(me, pending.copy()))
    out.put(RunFinished(me, result.client, result.cancelled))


class LoadWorkers:
    @staticmethod
    def prepare() -> None:
        """Start multiprocessing's resource tracker now, while sys.stderr is the real one.

        The tracker hands sys.stderr's file descriptor to its helper process; inside a Textual
        app sys.stderr is a capture object without one, and the first start would fail with
        "bad value(s) in fds_to_keep". Call this before the UI takes over the terminal.
        """
        from multiprocessing import resource_tracker

        resource_tracker.ensure_running()

    def __init__(self, config: LoadConfig) -> None:
        ctx = mp.get_context("spawn")  # no fork of a threaded UI process
        self.config = config
        self.shards = shard_configs(config)
        # A queue each: a queue's writers share a lock, and a worker killed while holding it
        # would silence every other worker for good.
        self._queues: list[mp.Queue[LoadMessage]] = [ctx.Queue() for _ in self.shards]
        self._cancel = ctx.Event()
        self._go = ctx.Event()
        self._procs = [
            ctx.Process(
                target=_child,
                args=(shard, self._queues[shard.shard], self._cancel, self._go),
                daemon=True,
                name=f"loadgen-{shard.shard + 1}",
            )
            for shard in self.shards
        ]
        self.merged = Merger(self.shards, ["this machine"] * len(self.shards))
        self._ready: set[int] = set()

    @property
    def workers(self) -> int:
        return len(self.shards)

    @property
    def pids(self) -> list[int | None]:
        return [p.pid for p in self._procs]

    def start(self) -> None:
        for proc in self._procs:
            proc.start()

    def cancel(self) -> None:
        self._cancel.set()
        self._go.set()  # a worker still at the barrier starts, sees the cancel, stops

    @property
    def done(self) -> bool:
        return self.merged.done

    def poll(self, timeout: float = 0.0) -> list[LoadMessage]:
        """Messages that arrived, waiting up to `timeout` for the first one."""
        got = self._drain()
        if not got and timeout:
            # Each queue's reading end, to wait on all of them at once.
            readers = [q._reader for q in self._queues]  # type: ignore[attr-defined]
            mp_connection.wait(readers, timeout)
            got = self._drain()
        if not got and not self.done:
            self._notice_dead()
        lost = {share.worker for share in self.merged.losses}
        if not self._go.is_set() and len(self._ready | lost) == len(self.shards):
            self._go.set()
        return got

    def _drain(self, only: int | None = None, wait: float = 0.0) -> list[LoadMessage]:
        got: list[LoadMessage] = []
        for w, q in enumerate(self._queues):
            if only is not None and w != only:
                continue
            with contextlib.suppress(queue.Empty):
                while True:
                    msg = q.get(timeout=wait) if wait else q.get_nowait()
                    self._take(msg)
                    got.append(msg)
        return got

    def _notice_dead(self) -> None:
        merged = self.merged
        dead = [w for w, p in enumerate(self._procs) if not p.is_alive() and not merged.settled(w)]
        for w in dead:
            # The queue's feeder may deliver a worker's last messages just after its exit.
            self._drain(only=w, wait=0.5)
            merged.lose(w, f"exited with code {self._procs[w].exitcode}")

    def _take(self, msg: LoadMessage) -> None:
        merged = self.merged
        if isinstance(msg, Ready):
            self._ready.add(msg.worker)
        elif isinstance(msg, RunStarted):
            merged.started(msg.worker, msg.t0_monotonic)
        elif isinstance(msg, RecordsBatch):
            merged.batch(msg.worker, msg.records)
        elif isinstance(msg, RunFinished):
            merged.ended(msg.worker, msg.client, msg.cancelled)
        else:
            merged.lose(msg.worker, msg.error)

    def join(self, timeout: float | None = None) -> None:
        for proc in self._procs:
            proc.join(timeout)
            if proc.is_alive():
                proc.kill()
                proc.join()
