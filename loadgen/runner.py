"""Run a load: burst, rate (constant or Poisson), duration-bound, with an optional concurrency cap.

Every request records when the schedule intended to send it and when it really went out, so a
client that queues (concurrency cap, slow dispatch) shows it instead of hiding it in TTFT.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import math
import random
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any

from engine.http import get
from loadgen.client import Client, error_message, send_request
from loadgen.config import ConfigError, LoadConfig
from loadgen.record import RequestRecord
from loadgen.selfwatch import SelfWatch
from loadgen.stats import ClientHealth

RecordSink = Callable[[RequestRecord], None]
MAX_WARM_CONNECTIONS = 4096  # every stream of the run starts on an open connection


class UnreachableError(ConfigError):
    """The server cannot be used at all (down, wrong URL, wrong key): exit code 2."""


@dataclass
class RunResult:
    records: list[RequestRecord]
    client: ClientHealth
    cancelled: bool


def unit_numbers(config: LoadConfig) -> Iterator[int]:
    """The units (requests, or conversations) this process sends: every one when it works
    alone, else every `workers`-th from its shard on (bodies and indices stay global)."""
    if config.units is not None:
        return iter(range(config.shard, config.units, config.processes))
    return itertools.count(config.shard, config.processes)


def arrival_offsets(config: LoadConfig) -> Iterator[float]:
    """Intended send times in seconds from the start of this process's units: all at 0 for a
    burst. Split over W processes, a constant rate keeps its global schedule (unit i at i/R)
    and Poisson arrivals become W independent streams of R/W, whose sum is Poisson at R."""
    if config.rate is None:
        return itertools.repeat(0.0)
    if config.arrival == "constant":
        return (i / config.rate for i in unit_numbers(config))
    rng = random.Random(config.seed if config.processes == 1 else f"{config.seed}/{config.shard}")
    rate = config.rate / config.processes
    return itertools.accumulate((rng.expovariate(rate) for _ in itertools.count()), initial=0.0)


def resolve_model(config: LoadConfig) -> LoadConfig:
    """Check the server answers and take the model from /v1/models when none was given.
    Blocking (a thread or a command line, before the run)."""
    url = config.base_url + "/v1/models"
    answer = get(url, config.api_key, timeout=config.connect_timeout + 10)
    if answer.status is None:
        raise UnreachableError(f"cannot reach {config.base_url}: {answer.error}")
    if answer.status == 401:
        hint = "wrong --api-key" if config.api_key else "the server needs --api-key"
        raise UnreachableError(f"{url} answered 401 Unauthorized: {hint}")
    if answer.status != 200:
        text = answer.body.decode("utf-8", errors="replace")
        raise UnreachableError(f"{url}: {error_message(answer.status, text)}")
    if config.model is not None:
        return config
    data = answer.json()
    try:
        model = str(data["data"][0]["id"])
    except (KeyError, IndexError, TypeError):
        raise UnreachableError(
            f"{url} did not list any model: not an OpenAI-compatible server? (give --model)"
        ) from None
    return replace(config, model=model)


def _connections_wanted(config: LoadConfig) -> int:
    """The connections the run will need first, opened before the clock starts."""
    wanted = config.concurrency or math.ceil((config.rate or 1) / config.processes)
    if config.requests is not None:
        wanted = min(wanted, config.requests)
    return max(1, min(wanted, MAX_WARM_CONNECTIONS))


async def run_load(
    config: LoadConfig,
    on_record: RecordSink | None = None,
    cancel: asyncio.Event | None = None,
    clock: Callable[[], float] = time.perf_counter,
    warm: bool = True,
    on_start: Callable[[float], None] | None = None,
    keep_records: bool = True,
    ready: Callable[[], Awaitable[None]] | None = None,
) -> RunResult:
    """Run the load; every finished request goes to `on_record`. keep_records=False: the
    result's records are empty (a caller that streams them elsewhere keeps memory flat).
    ready: awaited once the connections are open, before the clock starts (a start barrier
    between the processes of one run)."""
    records: list[RequestRecord] = []

    def finished(record: RequestRecord) -> None:
        if keep_records:
            records.append(record)
        if on_record is not None:
            on_record(record)

    async with Client(config) as http:
        if warm:
            await http.warm(_connections_wanted(config))
        if ready is not None:
            await ready()
        watch = SelfWatch()
        watch.start()
        t0 = clock()
        if on_start is not None:
            # time.monotonic() is one clock for every process of the machine: a caller in
            # another process can place this run's times on its own time axis.
            on_start(time.monotonic() - (clock() - t0))
        main = asyncio.create_task(_drive(http, t0, clock, finished))
        cancelled = False
        if cancel is not None:
            waiter = asyncio.create_task(cancel.wait())
            await asyncio.wait({main, waiter}, return_when=asyncio.FIRST_COMPLETED)
            if not main.done():
                cancelled = True
                main.cancel()
            waiter.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await main
        client = await watch.stop()
    records.sort(key=lambda r: r.index)
    return RunResult(records, client, cancelled)


async def _drive(
    client: Client,
    t0: float,
    clock: Callable[[], float],
    finished: RecordSink,
) -> None:
    config = client.config
    slots = asyncio.Semaphore(config.concurrency) if config.concurrency else None
    deadline = None if config.duration is None else config.duration
    in_flight: set[asyncio.Task[None]] = set()

    async def send(record: RequestRecord, body: dict[str, Any] | None = None) -> str:
        """Send one request, record it; the reply's text when it was asked for (turns)."""
        reply: list[str] | None = [] if body is not None else None
        try:
            await send_request(client, record, t0, clock, body=body, reply=reply)
        except asyncio.CancelledError:
            record.error_kind = "cancelled"
            record.error = "run cancelled"
            record.end = clock() - t0
            finished(record)
            raise
        finished(record)
        return "".join(reply or ())

    async def one(index: int, intended: float) -> None:
        await send(RequestRecord(index=index, intended=intended))

    async def conversation(number: int, intended: float) -> None:
        """A user's turns, one after the other: each sees the conversation so far. A
        concurrency slot is a user in the conversation, thinking included."""
        assert config.plan is not None and config.workload is not None
        turns = config.plan.conversations[number % len(config.plan.conversations)]
        history: list[dict[str, str]] = []
        for turn_number, turn in enumerate(turns):
            index = number * config.turns + turn_number
            if config.requests is not None and index >= config.requests:
                return
            record = RequestRecord(index=index, intended=intended)
            record.conversation, record.turn = number, turn_number
            reply = await send(record, config.turn_body(turn, history))
            if not record.ok:
                return  # the conversation cannot go on without its answer
            history += [{"role": "user", "content": turn.text}]
            history += [{"role": "assistant", "content": reply}]
            if config.workload.think_time and turn_number + 1 < len(turns):
                await asyncio.sleep(config.workload.think_time)
            intended = clock() - t0

    unit = conversation if config.turns > 1 else one
    try:
        if config.rate is None and config.duration is not None:
            await _closed_loop(config, t0, clock, unit)
            return
        # The plan streams: the next request is made only when it is due and, under a
        # concurrency cap, only once a slot is free, so at most C requests exist at a time
        # whatever the run's length (a task per request made up front cost ~110 MB/s and
        # blocked the loop, cancel included, for as long as it took).
        for count, (index, offset) in enumerate(
            zip(unit_numbers(config), arrival_offsets(config), strict=False)
        ):
            if deadline is not None and offset >= deadline:
                break
            delay = t0 + offset - clock()
            if delay > 0:
                await asyncio.sleep(delay)
            if slots is not None:
                await slots.acquire()  # queued requests were never sent: not part of the run
            elif count % 64 == 63:
                await asyncio.sleep(0)  # an uncapped burst: let the first ones go out
            task = asyncio.create_task(unit(index, offset))
            in_flight.add(task)
            task.add_done_callback(in_flight.discard)
            if slots is not None:
                task.add_done_callback(lambda _: slots.release())
        if in_flight:
            await asyncio.gather(*in_flight, return_exceptions=True)
    except asyncio.CancelledError:
        for task in in_flight:
            task.cancel()
        await asyncio.gather(*in_flight, return_exceptions=True)
        raise


async def _closed_loop(
    config: LoadConfig,
    t0: float,
    clock: Callable[[], float],
    one: Callable[[int, float], Any],
) -> None:
    """C users, each sending its next request (or conversation) as soon as the last one ends,
    until the deadline."""
    assert config.duration is not None and config.concurrency is not None
    numbers = unit_numbers(config)

    async def user() -> None:
        while True:
            now = clock() - t0
            if now >= config.duration:  # type: ignore[operator]
                return
            index = next(numbers, None)
            if index is None:
                return
            await one(index, now)

    users = [asyncio.create_task(user()) for _ in range(config.concurrency)]
    try:
        await asyncio.gather(*users)
    except asyncio.CancelledError:
        for u in users:
            u.cancel()
        await asyncio.gather(*users, return_exceptions=True)
        raise
