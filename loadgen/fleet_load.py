"""One burst across a fleet: the same load at every endpoint at once, each run by its own load
process(es) (loadgen.live), with one summary per endpoint and one for the whole.

The whole is the endpoints' raw records on one time axis (each run's time 0 moved onto the
earliest one's): its latencies are percentiles of every request, its throughput the fleet's
tokens over the span in which any endpoint was loaded, so concurrent endpoints add up.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace

from loadgen.config import ConfigError, LoadConfig
from loadgen.live import LiveRun, LoadFailed, Progress
from loadgen.record import RequestRecord
from loadgen.runner import resolve_model
from loadgen.stats import Summary, summarize


@dataclass(frozen=True)
class EndpointOutcome:
    name: str
    summary: Summary | None
    error: str | None  # why this endpoint has no summary (it could not be loaded)


@dataclass(frozen=True)
class FleetOutcome:
    endpoints: tuple[EndpointOutcome, ...]
    whole: Summary | None  # None when no endpoint ran

    def report_lines(self) -> list[str]:
        """A line per endpoint and one for the whole (the cockpit's burst table's columns)."""
        head = ("ok", 9), ("req/s", 7), ("tok/s", 8), ("TTFT p50", 9), ("TTFT p99", 9)
        lines = [f"{'endpoint':<20} " + " ".join(f"{t:>{w}}" for t, w in head)]
        rows = [(e.name, e.summary, e.error) for e in self.endpoints]
        rows.append(("whole fleet", self.whole, None if self.whole else "nothing ran"))
        for name, s, error in rows:
            if s is None:
                lines.append(f"{name:<20} {error}")
                continue
            lines.append(
                f"{name:<20} {f'{s.succeeded}/{s.requests}':>9} {s.request_throughput:>7.1f}"
                f" {s.output_token_throughput:>8.1f} {_ms(s.ttft.p50):>9} {_ms(s.ttft.p99):>9}"
            )
        return lines


def _ms(value_ms: float | None) -> str:
    return "?" if value_ms is None else f"{value_ms:,.0f} ms"


def run_across(
    configs: Mapping[str, LoadConfig],
    cancel: threading.Event,
    on_progress: Callable[[str, Progress], object] = lambda _name, _p: None,
    poll_s: float = 0.05,
) -> FleetOutcome:
    """Start every endpoint's run, follow them all until each ends (or `cancel` is set)."""
    runs: dict[str, LiveRun] = {}
    errors: dict[str, str] = {}
    for name, config in configs.items():
        try:
            run = LiveRun(config)
            run.start(resolve_model(config))
        except ConfigError as exc:
            errors[name] = str(exc)
            continue
        runs[name] = run
    following: dict[str, Iterator[Progress]] = {n: r.follow(poll_s) for n, r in runs.items()}
    while following:
        for name in list(following):
            if cancel.is_set():
                runs[name].cancel()
            progress = next(following[name], None)
            if progress is None:
                del following[name]
            else:
                on_progress(name, progress)
    summaries: dict[str, Summary] = {}
    for name, run in runs.items():
        try:
            summaries[name] = run.finish()
        except LoadFailed as exc:
            errors[name] = str(exc)
    outcomes = tuple(
        EndpointOutcome(name, summaries.get(name), errors.get(name)) for name in configs
    )
    return FleetOutcome(outcomes, _whole(runs, summaries))


def _whole(runs: Mapping[str, LiveRun], summaries: Mapping[str, Summary]) -> Summary | None:
    starts = {n: t0 for n, r in runs.items() if n in summaries and (t0 := _t0(r)) is not None}
    if not starts:
        return None
    first = min(starts.values())
    records: list[RequestRecord] = []
    for name, t0 in starts.items():
        for record in runs[name].records:
            moved = replace(record)
            moved.shift(t0 - first)
            records.append(moved)
    some = summaries[next(iter(starts))]
    config = replace(some.config, base_url="(the whole fleet)", requests=len(records))
    return summarize(config, records, None, any(s.cancelled for s in summaries.values()))


def _t0(run: LiveRun) -> float | None:
    return run.progress().t0_monotonic
