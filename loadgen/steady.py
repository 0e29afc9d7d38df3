"""What a run delivered, and how it behaved once it was fully loaded.

Steady state: with a concurrency cap C, the longest stretch in which at least 95% of C requests
were in flight (vllm-bench's definition); figures over it leave out the ramp-up and the drain.
Delivered load: the concurrency the client held while it still had requests to send, or the
rate at which it sent them, against what was asked; more than 5% off is flagged.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from loadgen.record import RequestRecord

STEADY_THRESHOLD = 0.95
MIN_WINDOW_S = 1.0
MIN_REQUESTS = 5
HANDOFF_S = 0.05  # a slot freed and taken again within this is no dip in the load
OFF_BY = 0.05


def _in_flight(records: Sequence[RequestRecord]) -> list[tuple[float, int]]:
    """(time, requests in flight from then on), one step per instant: an end and a send at the
    same instant (a slot handed on) are no dip."""
    changes: dict[float, int] = {}
    for r in records:
        if r.end is not None:
            changes[r.sent] = changes.get(r.sent, 0) + 1
            changes[r.end] = changes.get(r.end, 0) - 1
    steps, level = [], 0
    for t in sorted(changes):
        level += changes[t]
        steps.append((t, level))
    return steps


@dataclass(frozen=True)
class SteadyWindow:
    start_s: float  # on the run's clock
    end_s: float
    requests: list[RequestRecord]  # sent and ended inside the window
    completed: int  # requests that ended inside it
    output_tokens: float  # produced inside it, each request's spread over its stream

    @property
    def length_s(self) -> float:
        return self.end_s - self.start_s


def steady_window(records: Sequence[RequestRecord], cap: int | None) -> SteadyWindow | None:
    """None without a cap, or when the run never held 95% of it long enough to say."""
    if not cap:
        return None
    need = math.ceil(STEADY_THRESHOLD * cap)
    best: tuple[float, float] | None = None
    start: float | None = None
    dropped: float | None = None  # when the level fell below `need`, within the window

    def close(at: float) -> None:
        nonlocal best, start
        if start is not None and (best is None or at - start > best[1] - best[0]):
            best = (start, at)
        start = None

    for t, level in _in_flight(records):
        if dropped is not None and t - dropped > HANDOFF_S:
            close(dropped)  # a real dip, not a slot being handed on
            dropped = None
        if level >= need:
            dropped = None
            if start is None:
                start = t
        elif start is not None and dropped is None:
            dropped = t
    if dropped is not None:
        close(dropped)
    if best is None or best[1] - best[0] < MIN_WINDOW_S:
        return None
    lo, hi = best
    inside = [r for r in records if r.end is not None and lo <= r.sent and r.end <= hi]
    if len(inside) < MIN_REQUESTS:
        return None
    completed = sum(1 for r in records if r.ok and r.end is not None and lo <= r.end <= hi)
    produced = 0.0
    for r in records:
        if not r.ok or r.first_token is None or r.last_token is None or not r.output_tokens:
            continue
        span = max(r.last_token - r.first_token, 1e-9)
        overlap = min(r.last_token, hi) - max(r.first_token, lo)
        if overlap > 0:
            produced += r.output_tokens * overlap / span
    return SteadyWindow(lo, hi, inside, completed, produced)


@dataclass(frozen=True)
class Delivered:
    requested_concurrency: int | None
    achieved_concurrency: float | None
    requested_rate: float | None
    scheduled_rate: float | None  # the arrival schedule's own rate (Poisson varies around R)
    achieved_rate: float | None
    off: bool
    reason: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "requested_concurrency": self.requested_concurrency,
            "achieved_concurrency": self.achieved_concurrency,
            "requested_rate": self.requested_rate,
            "scheduled_rate": self.scheduled_rate,
            "achieved_rate": self.achieved_rate,
            "off": self.off,
            "reason": self.reason,
        }


def delivered(
    records: Sequence[RequestRecord], concurrency: int | None, rate: float | None
) -> Delivered | None:
    sent = sorted(r.sent for r in records)
    if len(sent) < 2:
        return None
    reasons = []
    achieved_c = requested_c = None
    if concurrency and rate is None:
        # While it still had requests to send, a client at its cap holds C in flight (the
        # drain after the last send is expected); fewer than there are requests, at most.
        requested_c = min(concurrency, len(records))
        achieved_c = _mean_level(_in_flight(records), sent[0], sent[-1])
        if achieved_c is not None and achieved_c < (1 - OFF_BY) * requested_c:
            reasons.append(
                f"held {achieved_c:.1f} requests in flight of the {requested_c} asked "
                "(the client could not keep up?)"
            )
    scheduled = achieved_r = None
    if rate is not None:
        intended = sorted(r.intended for r in records)
        if intended[-1] > intended[0]:
            scheduled = (len(intended) - 1) / (intended[-1] - intended[0])
        if sent[-1] > sent[0]:
            achieved_r = (len(sent) - 1) / (sent[-1] - sent[0])
        if scheduled and achieved_r and abs(achieved_r - scheduled) > OFF_BY * scheduled:
            reasons.append(
                f"sent {achieved_r:.2f} req/s where the schedule said {scheduled:.2f} "
                "(a concurrency cap, or a client that fell behind)"
            )
    return Delivered(
        requested_c,
        achieved_c,
        rate,
        scheduled,
        achieved_r,
        bool(reasons),
        "; ".join(reasons) or None,
    )


def _mean_level(steps: list[tuple[float, int]], lo: float, hi: float) -> float | None:
    """Time-weighted mean of the in-flight count over [lo, hi]."""
    if hi <= lo:
        return None
    total, level, last = 0.0, 0, lo
    for t, new_level in steps:
        if t > hi:
            break
        if t > lo:
            total += level * (t - last)
            last = t
        level = new_level
    total += level * (hi - last)
    return total / (hi - lo)
