"""The most load a server takes while meeting an SLO: double the load until a probe misses the
target, then bisect between the last probe that met it and the first that did not.

Each probe runs enough requests to decide with 95% confidence: it passes when the lower end of
the Wilson interval of its attainment is within `margin` of the target, fails when the upper
end is below the target, and is otherwise run again with twice the requests (pooled), up to
`max_requests`. A probe still undecided then stops the search, and says so: it is never counted
as a pass or a fail. The search stops when the bracket is no wider than `resolution`, or at
`max_load` (the answer is then "at least"). Probes come from a callback, so the command line
and the cockpit run the same search.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Literal

from loadgen.config import ConfigError, LoadConfig
from loadgen.slo import wilson

Dimension = Literal["concurrency", "rate"]
Decision = Literal["pass", "fail", "undecided", "cancelled"]


@dataclass(frozen=True)
class Outcome:
    """What one run at a load gave: requests counted, how many met the SLO."""

    requests: int
    met: int
    cancelled: bool = False


@dataclass(frozen=True)
class Probe:
    load: float
    requests: int
    met: int
    decision: Decision

    @property
    def attainment(self) -> float:
        return self.met / self.requests if self.requests else 0.0

    @property
    def interval(self) -> tuple[float, float]:
        return wilson(self.met, self.requests)

    def to_json(self) -> dict[str, Any]:
        lo, hi = self.interval
        return {
            "load": self.load,
            "requests": self.requests,
            "met": self.met,
            "attainment": self.attainment,
            "interval": [lo, hi],
            "decision": self.decision,
        }


@dataclass(frozen=True)
class SearchResult:
    dimension: Dimension
    target: float
    resolution: float
    answer: float | None  # None: even the first probe missed
    at_least: bool  # the search stopped at max_load still passing
    probes: tuple[Probe, ...]
    stopped: str  # why it ended, in a few words

    def to_json(self) -> dict[str, Any]:
        return {
            "dimension": self.dimension,
            "answer": self.answer,
            "at_least": self.at_least,
            "target": self.target,
            "resolution": self.resolution,
            "confidence": 0.95,
            "probes": [p.to_json() for p in self.probes],
            "stopped": self.stopped,
        }


@dataclass(frozen=True)
class SearchSpec:
    dimension: Dimension
    target: float = 0.99
    start: float = 1.0
    resolution: float | None = None  # None: 1 for concurrency, 10% of the bracket for rate
    max_load: float = 1024.0
    min_requests: int = 50
    max_requests: int = 800
    margin: float = 0.02  # a pass is "at least target - margin" at 95% confidence
    waves: int = 3  # a concurrency probe runs at least this many waves of it

    def __post_init__(self) -> None:
        if not 0 < self.target < 1:
            raise ConfigError(f"--target is a fraction between 0 and 1, not {self.target}")
        if self.start <= 0 or self.max_load < self.start:
            raise ConfigError("the search needs 0 < start <= --max-load")
        if self.resolution is not None and self.resolution <= 0:
            raise ConfigError("--resolution must be greater than 0")

    def requests_for(self, load: float) -> int:
        if self.dimension == "concurrency":
            return max(self.min_requests, self.waves * math.ceil(load))
        return self.min_requests

    def narrow_enough(self, good: float, bad: float) -> bool:
        if self.resolution is not None:
            return bad - good <= self.resolution
        if self.dimension == "concurrency":
            return bad - good <= 1
        return bad - good <= 0.1 * good

    def middle(self, good: float, bad: float) -> float:
        mid = (good + bad) / 2
        return float(math.floor(mid)) if self.dimension == "concurrency" else round(mid, 3)


def probe_config(
    config: LoadConfig, dimension: Dimension, load: float, requests: int, sent: int
) -> LoadConfig:
    """A probe's run: `requests` at `load`, with prompts after the `sent` ones the earlier
    probes used (the prefix cache would serve repeats)."""
    if dimension == "concurrency":
        config = replace(config, requests=requests, concurrency=int(load), rate=None)
    else:
        config = replace(config, requests=requests, rate=load)
    if config.plan is not None:
        config = replace(config, plan=config.plan.rotated(sent))
    return config


def decide(met: int, requests: int, target: float, margin: float) -> Decision:
    lo, hi = wilson(met, requests)
    if lo >= target - margin:
        return "pass"
    if hi < target:
        return "fail"
    return "undecided"


def find_max(
    spec: SearchSpec,
    run: Callable[[float, int], Outcome],
    on_probe: Callable[[Probe], None] | None = None,
) -> SearchResult:
    """`run(load, requests)` runs one probe's worth of requests at that load."""
    probes: list[Probe] = []
    good: float | None = None  # the highest load that met the target
    bad: float | None = None  # the lowest load that did not

    def probe(load: float) -> Decision:
        requests = spec.requests_for(load)
        total = met = 0
        decision: Decision = "undecided"
        while decision == "undecided" and total < spec.max_requests:
            outcome = run(load, min(requests, spec.max_requests - total))
            total, met = total + outcome.requests, met + outcome.met
            if outcome.cancelled:
                decision = "cancelled"
                break
            decision = decide(met, total, spec.target, spec.margin)
            requests = total  # twice as many, pooled, if it cannot decide yet
        done = Probe(load, total, met, decision)
        probes.append(done)
        if on_probe is not None:
            on_probe(done)
        return decision

    load = spec.start
    stopped = ""
    while True:
        decision = probe(load)
        if decision in ("undecided", "cancelled"):
            stopped = (
                "cancelled"
                if decision == "cancelled"
                else f"undecided at {load:g} after {spec.max_requests} requests"
            )
            break
        if decision == "pass":
            good = load
        else:
            bad = load
        if bad is None:
            if load >= spec.max_load:
                stopped = f"still meeting the target at --max-load {spec.max_load:g}"
                break
            load = min(load * 2, spec.max_load)
            continue
        if good is None:
            stopped = f"the lowest load, {bad:g}, already misses the target"
            break
        if spec.narrow_enough(good, bad):
            stopped = f"bracket {good:g}-{bad:g} within the resolution"
            break
        load = spec.middle(good, bad)
        if load <= good:  # integers: nothing left between them
            stopped = f"bracket {good:g}-{bad:g} within the resolution"
            break
    at_least = bad is None and good is not None and good >= spec.max_load
    return SearchResult(
        dimension=spec.dimension,
        target=spec.target,
        resolution=spec.resolution
        if spec.resolution is not None
        else (1.0 if spec.dimension == "concurrency" else 0.1),
        answer=good,
        at_least=at_least,
        probes=tuple(probes),
        stopped=stopped,
    )


def render_search(result: SearchResult) -> str:
    unit = "" if result.dimension == "concurrency" else " req/s"
    if result.answer is None:
        answer = "none: " + result.stopped
    else:
        answer = f"{'at least ' if result.at_least else ''}{result.answer:g}{unit}"
    lines = [
        " find-max ".center(78, "="),
        f"Most {result.dimension} meeting the SLO for {result.target:.0%} of requests: {answer}",
        f"Stopped:             {result.stopped}",
        "",
        f"{result.dimension:>12}{'requests':>10}{'met':>8}{'attainment':>12}{'95% interval':>18}"
        f"{'decision':>11}",
    ]
    for p in result.probes:
        lo, hi = p.interval
        lines.append(
            f"{p.load:>12g}{p.requests:>10}{p.met:>8}{p.attainment:>12.1%}"
            f"{f'{lo:.1%}-{hi:.1%}':>18}{p.decision:>11}"
        )
    lines.append("=" * 78)
    return "\n".join(lines)
