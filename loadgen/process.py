"""Run a load in its own process and stream what happens back to the caller.

The caller (the dashboard, or `vllm-top bench` drawing its progress bar) never shares an event
loop or a GIL with the requests it times. Finished requests arrive in batches every 100 ms;
a run can be cancelled, and in-flight requests are then recorded as cancelled.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import multiprocessing as mp
import queue
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from multiprocessing.synchronize import Event as MpEvent
from typing import Any

from loadgen.config import LoadConfig
from loadgen.record import RequestRecord
from loadgen.runner import run_load
from loadgen.stats import ClientHealth

BATCH_INTERVAL_S = 0.1


@dataclass(frozen=True)
class RunStarted:
    t0_monotonic: float  # the run's time 0 on time.monotonic(), shared by all processes


@dataclass(frozen=True)
class RecordsBatch:
    records: list[RequestRecord]


@dataclass(frozen=True)
class RunFinished:
    client: ClientHealth
    cancelled: bool


@dataclass(frozen=True)
class RunFailed:
    error: str


LoadMessage = RunStarted | RecordsBatch | RunFinished | RunFailed


def _child(config: LoadConfig, out: mp.Queue[LoadMessage], cancel_flag: MpEvent) -> None:
    runner: Callable[[Coroutine[Any, Any, None]], None] = asyncio.run
    with contextlib.suppress(ImportError):
        import uvloop  # comes with vLLM; ~20% less client CPU per chunk when present

        runner = uvloop.run
    try:
        runner(_child_main(config, out, cancel_flag))
    except Exception as exc:  # report, don't die silently: the caller is waiting
        out.put(RunFailed(f"{type(exc).__name__}: {exc}"))


async def _child_main(config: LoadConfig, out: mp.Queue[LoadMessage], flag: MpEvent) -> None:
    pending: list[RequestRecord] = []
    cancel = asyncio.Event()

    async def pump() -> None:
        while True:
            await asyncio.sleep(BATCH_INTERVAL_S)
            if flag.is_set():
                cancel.set()
            if pending:
                out.put(RecordsBatch(pending.copy()))
                pending.clear()

    # Everything allocated so far lives for the whole run: keep the collector off it.
    gc.freeze()
    pumping = asyncio.create_task(pump())
    result = await run_load(
        config,
        on_record=pending.append,
        cancel=cancel,
        on_start=lambda t0: out.put(RunStarted(t0)),
    )
    pumping.cancel()
    if pending:
        out.put(RecordsBatch(pending.copy()))
    out.put(RunFinished(result.client, result.cancelled))


class LoadProcess:
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
        self._queue: mp.Queue[LoadMessage] = ctx.Queue()
        self._cancel = ctx.Event()
        self._proc = ctx.Process(
            target=_child, args=(config, self._queue, self._cancel), daemon=True, name="loadgen"
        )
        self.records: list[RequestRecord] = []
        self.t0_monotonic: float | None = None
        self.finished: RunFinished | None = None
        self.failed: RunFailed | None = None

    def start(self) -> None:
        self._proc.start()

    def cancel(self) -> None:
        self._cancel.set()

    @property
    def done(self) -> bool:
        return self.finished is not None or self.failed is not None

    def poll(self, timeout: float = 0.0) -> list[LoadMessage]:
        """Messages that arrived, waiting up to `timeout` for the first one."""
        got: list[LoadMessage] = []
        try:
            got.append(self._queue.get(timeout=timeout) if timeout else self._queue.get_nowait())
            while True:
                got.append(self._queue.get_nowait())
        except queue.Empty:
            pass
        for msg in got:
            self._take(msg)
        if not got and not self.done and not self._proc.is_alive():
            # The queue's feeder may deliver the last messages just after the exit.
            with contextlib.suppress(queue.Empty):
                while True:
                    msg = self._queue.get(timeout=0.5)
                    got.append(msg)
                    self._take(msg)
            if not self.done:
                self.failed = RunFailed(f"load process exited with code {self._proc.exitcode}")
        return got

    def _take(self, msg: LoadMessage) -> None:
        if isinstance(msg, RunStarted):
            self.t0_monotonic = msg.t0_monotonic
        elif isinstance(msg, RecordsBatch):
            self.records.extend(msg.records)
        elif isinstance(msg, RunFinished):
            self.finished = msg
        else:
            self.failed = msg

    def join(self, timeout: float | None = None) -> None:
        self._proc.join(timeout)
        if self._proc.is_alive():
            self._proc.kill()
            self._proc.join()
