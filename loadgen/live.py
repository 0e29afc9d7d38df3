"""Drive a load process and turn what it sends back into what a person watches: progress and
rolling figures while it runs, the summary when it ends. `vllm-top bench` (a progress bar) and
the cockpit's bursts (a panel and charts) both follow a run through this one loop.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from loadgen.config import LoadConfig
from loadgen.process import LoadWorkers

if TYPE_CHECKING:
    from loadgen.ray_workers import RayWorkers
from loadgen.record import RequestRecord
from loadgen.slo import Slo
from loadgen.stats import Summary, summarize
from loadgen.window import rolling


@dataclass(frozen=True)
class Progress:
    done: int
    ok: int
    total: int | None  # None: bounded by a duration
    ttft_p50_ms: float | None  # over the last 10 s of finished requests
    output_token_rate: float  # likewise, tokens/s
    t0_monotonic: float | None  # the run's time 0 on time.monotonic() (None until it starts)
    records: Sequence[RequestRecord]  # every request finished so far (grows: read, don't keep)

    @property
    def failed(self) -> bool:
        return self.done > self.ok


class LoadFailed(Exception):
    """The load process itself failed (not a request): its error in one line."""


class LiveRun:
    """One run, followed from the thread that started it; `cancel` works from any thread."""

    def __init__(self, config: LoadConfig) -> None:
        self.config = config
        self._load: LoadWorkers | RayWorkers | None = None
        self._cancel = threading.Event()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    @property
    def started(self) -> bool:
        return self._load is not None

    def start(self, config: LoadConfig | None = None) -> None:
        """Start the load process (with `config` when the model had to be looked up first),
        unless the run was cancelled before it began."""
        if config is not None:
            self.config = config
        if not self._cancel.is_set():
            if self.config.ray is not None:
                from loadgen.ray_workers import RayWorkers

                self._load = RayWorkers(self.config)
            else:
                self._load = LoadWorkers(self.config)
            self._load.start()

    def cancel(self) -> None:
        """Stop sending; requests on the wire are recorded as cut off. Any thread may call it."""
        self._cancel.set()
        if self._load is not None:
            self._load.cancel()

    def follow(self, poll_s: float) -> Iterator[Progress]:
        """Progress after every poll until the run ends (at once if it never started)."""
        load = self._load
        while load is not None and not load.done:
            if self._cancel.is_set():
                load.cancel()
            load.poll(timeout=poll_s)
            yield self.progress()

    def progress(self) -> Progress:
        merged = self._load.merged if self._load is not None else None
        records: Sequence[RequestRecord] = merged.records if merged is not None else ()
        window = rolling(records)
        return Progress(
            done=len(records),
            ok=merged.succeeded if merged is not None else 0,
            total=self.config.requests,
            ttft_p50_ms=window.ttft_p50_ms,
            output_token_rate=window.output_token_rate,
            t0_monotonic=merged.t0_monotonic if merged is not None else None,
            records=records,
        )

    def finish(self, slo: Slo | None = None) -> Summary:
        """Wait for the process to end; the run's summary (judged against `slo`), or
        LoadFailed."""
        load = self._load
        exact = self.config.plan.lengths_exact if self.config.plan is not None else None
        if load is None:
            return summarize(self.config, [], None, cancelled=True, slo=slo, lengths_exact=exact)
        load.join(10)
        merged = load.merged
        if merged.failed is not None:
            raise LoadFailed(merged.failed)
        summary = summarize(
            self.config,
            merged.records,
            merged.client,
            merged.cancelled,
            slo=slo,
            lengths_exact=exact,
        )
        shares = tuple(merged.shares) if len(merged.shares) > 1 or merged.losses else ()
        return replace(summary, shares=shares)

    @property
    def records(self) -> list[RequestRecord]:
        return self._load.merged.records if self._load is not None else []
