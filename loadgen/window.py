"""Rolling figures over the last few seconds of a running load (for live displays)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from loadgen.record import RequestRecord
from loadgen.stats import percentile


@dataclass(frozen=True)
class WindowFigures:
    completed: int
    failed: int
    request_rate: float  # completed per second in the window
    output_token_rate: float
    ttft_p50_ms: float | None
    ttft_p95_ms: float | None


ARRIVAL_SLACK_S = 2.0  # how far out of end-time order records may arrive (batches, workers)


def rolling(
    records: Sequence[RequestRecord], now: float | None = None, window_s: float = 10.0
) -> WindowFigures:
    """Figures of the requests that ended in (now - window_s, now]; times as in the records,
    which arrive in about the order they ended (`now`: the last end seen). Only the tail is
    read, so a live display costs the same after a million requests as after ten."""
    recent: list[RequestRecord] = []
    latest = now
    if latest is None:
        tail = (r.end for r in records[-256:] if r.end is not None)
        latest = max(tail, default=0.0)
    start = latest - window_s
    for i in range(len(records) - 1, -1, -1):
        r = records[i]
        if r.end is None:
            continue
        if r.end < start - ARRIVAL_SLACK_S:
            break
        if start < r.end <= latest:
            recent.append(r)
    now = latest
    ok = [r for r in recent if r.ok]
    span = min(window_s, now) if now > 0 else window_s
    ttfts = sorted(t * 1000.0 for r in ok if (t := r.ttft) is not None)
    return WindowFigures(
        completed=len(ok),
        failed=len(recent) - len(ok),
        request_rate=len(ok) / span if span > 0 else 0.0,
        output_token_rate=sum(r.output_tokens or 0 for r in ok) / span if span > 0 else 0.0,
        ttft_p50_ms=percentile(ttfts, 50) if ttfts else None,
        ttft_p95_ms=percentile(ttfts, 95) if ttfts else None,
    )


@dataclass(frozen=True)
class Burst:
    """A finished or running burst placed on the caller's clock (time.monotonic())."""

    t0: float
    records: Sequence[RequestRecord]
    end: float | None = None


def client_ttft_series(
    bursts: Sequence[Burst], since: float, bucket_s: float = 2.0
) -> tuple[list[tuple[float, float]], list[tuple[float, float]]]:
    """(p50, p95) of client TTFT in ms, per bucket of first-token time, from `since` on."""
    buckets: dict[int, list[float]] = {}
    for burst in bursts:
        for r in burst.records:
            if r.ok and r.first_token is not None and (t := r.ttft) is not None:
                at = burst.t0 + r.first_token
                if at >= since:
                    buckets.setdefault(int(at // bucket_s), []).append(t * 1000.0)
    p50, p95 = [], []
    for key in sorted(buckets):
        values = sorted(buckets[key])
        at = (key + 0.5) * bucket_s
        p50.append((at, percentile(values, 50)))
        p95.append((at, percentile(values, 95)))
    return p50, p95


def client_token_rate_series(
    bursts: Sequence[Burst], since: float, now: float, bucket_s: float = 1.0
) -> list[tuple[float, float]]:
    """Output tokens/s measured by the client, each request's tokens spread over its stream."""
    if now <= since:
        return []
    first_key = int(since // bucket_s)
    counts = [0.0] * (int(now // bucket_s) - first_key + 1)
    for burst in bursts:
        for r in burst.records:
            if not r.ok or r.first_token is None or r.last_token is None or not r.output_tokens:
                continue
            start, end = burst.t0 + r.first_token, burst.t0 + r.last_token
            if end < since:
                continue
            span = max(end - start, 1e-6)
            per_s = r.output_tokens / span
            t = max(start, since)
            while t < end and t <= now:
                key = int(t // bucket_s)
                step = min(end, (key + 1) * bucket_s) - t
                index = key - first_key
                if 0 <= index < len(counts):
                    counts[index] += per_s * step
                t += step
    return [((first_key + i + 0.5) * bucket_s, c / bucket_s) for i, c in enumerate(counts)]
