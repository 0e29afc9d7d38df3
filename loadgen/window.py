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


def rolling(records: Sequence[RequestRecord], now: float, window_s: float = 10.0) -> WindowFigures:
    """Figures of the requests that ended in (now - window_s, now]; times as in the records."""
    start = now - window_s
    recent = [r for r in records if r.end is not None and start < r.end <= now]
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
