"""Is the client, not the server, the bottleneck?

A Python asyncio client spends ~40-60 us of CPU per streamed chunk; near a full core its event
loop falls behind and every timing it takes is inflated. This watches event-loop lag (how late a
short sleep wakes up) and the process's CPU time, and says so when either is too high.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

from loadgen.stats import ClientHealth, percentile

TICK_S = 0.02
CPU_BOUND_FRACTION = 0.7  # of one core
LAG_BOUND_MS = 20.0  # p99 lag of a 20 ms tick


class SelfWatch:
    def __init__(self) -> None:
        self._lags_ms: list[float] = []
        self._task: asyncio.Task[None] | None = None
        self._cpu0 = 0.0
        self._wall0 = 0.0

    def start(self) -> None:
        self._cpu0 = time.process_time()
        self._wall0 = time.perf_counter()
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            before = time.perf_counter()
            await asyncio.sleep(TICK_S)
            self._lags_ms.append(max(0.0, (time.perf_counter() - before - TICK_S) * 1000.0))

    async def stop(self) -> ClientHealth:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        wall = max(time.perf_counter() - self._wall0, 1e-9)
        cpu = (time.process_time() - self._cpu0) / wall
        lags = sorted(self._lags_ms) or [0.0]
        p99 = percentile(lags, 99)
        reasons = []
        if cpu >= CPU_BOUND_FRACTION:
            reasons.append(f"client used {cpu:.0%} of a core")
        if p99 >= LAG_BOUND_MS:
            if cpu < CPU_BOUND_FRACTION / 2:
                # Late wake-ups without work of our own: other processes took the CPU.
                reasons.append(
                    f"event loop woke up to {p99:.0f} ms late (p99) while using only "
                    f"{cpu:.0%} of a core: the machine is short of CPU (server on the same cores?)"
                )
            else:
                reasons.append(f"event-loop lag p99 {p99:.0f} ms")
        return ClientHealth(
            cpu_fraction=cpu,
            loop_lag_p99_ms=p99,
            loop_lag_max_ms=lags[-1],
            bound=bool(reasons),
            reason="; ".join(reasons) or None,
        )
