"""Summaries with the same definitions as vLLM's own benchmark (vllm bench serve).

TTFT: send to first token-bearing chunk. TPOT: (E2E - TTFT) / (output tokens - 1) per request.
ITL: every gap between token-bearing chunks, pooled over requests. E2E: send to last token.
Throughput: over the run's duration, first send to last completion (the drain is inside).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from loadgen.config import LoadConfig
from loadgen.record import RequestRecord
from loadgen.steady import Delivered, delivered, steady_window

if TYPE_CHECKING:
    from loadgen.merge import WorkerShare
    from loadgen.server_side import ServerSide
    from loadgen.slo import Slo, SloResult


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default method)."""
    if not sorted_values:
        raise ValueError("no values")
    pos = (len(sorted_values) - 1) * q / 100.0
    lo = math.floor(pos)
    hi = math.ceil(pos)
    if lo == hi:
        return sorted_values[lo]
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo)


@dataclass(frozen=True)
class Distribution:
    """In milliseconds; every field None when there were no samples."""

    count: int
    mean: float | None
    min: float | None
    max: float | None
    p50: float | None
    p90: float | None
    p95: float | None
    p99: float | None

    @classmethod
    def of_seconds(cls, values: Iterable[float]) -> Distribution:
        ms = sorted(v * 1000.0 for v in values)
        if not ms:
            return cls(0, None, None, None, None, None, None, None)
        return cls(
            count=len(ms),
            mean=sum(ms) / len(ms),
            min=ms[0],
            max=ms[-1],
            p50=percentile(ms, 50),
            p90=percentile(ms, 90),
            p95=percentile(ms, 95),
            p99=percentile(ms, 99),
        )

    def to_json(self) -> dict[str, float | None]:
        d = asdict(self)
        del d["count"]
        return d


@dataclass(frozen=True)
class Steady:
    """Figures over the window where at least 95% of the concurrency cap was in flight."""

    start_s: float
    window_s: float
    requests: int
    request_throughput: float
    output_token_throughput: float
    ttft: Distribution
    tpot: Distribution
    itl: Distribution
    e2e: Distribution

    def to_json(self) -> dict[str, Any]:
        return {
            "start_s": self.start_s,
            "window_s": self.window_s,
            "requests": self.requests,
            "request_throughput": self.request_throughput,
            "output_token_throughput": self.output_token_throughput,
            "ttft_ms": self.ttft.to_json(),
            "tpot_ms": self.tpot.to_json(),
            "itl_ms": self.itl.to_json(),
            "e2e_ms": self.e2e.to_json(),
        }


@dataclass(frozen=True)
class TurnFigures:
    turn: int  # 1-based
    requests: int
    succeeded: int
    prompt_tokens_mean: float | None
    ttft: Distribution

    def to_json(self) -> dict[str, Any]:
        return {
            "turn": self.turn,
            "requests": self.requests,
            "succeeded": self.succeeded,
            "prompt_tokens_mean": self.prompt_tokens_mean,
            "ttft_ms": self.ttft.to_json(),
        }


@dataclass(frozen=True)
class ClientHealth:
    """Whether the load generator itself kept up (see loadgen/selfwatch.py)."""

    cpu_fraction: float  # of one core, over the run
    loop_lag_p99_ms: float
    loop_lag_max_ms: float
    bound: bool
    reason: str | None


@dataclass(frozen=True)
class Summary:
    config: LoadConfig
    requests: int
    succeeded: int
    failed: int
    duration_s: float
    prompt_tokens: int
    output_tokens: int
    tokens_exact: bool
    ttft: Distribution
    tpot: Distribution
    itl: Distribution
    e2e: Distribution
    queue_delay: Distribution
    status_codes: dict[str, int]
    errors: dict[str, int]
    client: ClientHealth | None
    cancelled: bool = False
    cancelled_in_flight: int = 0  # requests cut off by a cancel: neither success nor failure
    retried: int = 0  # sent again on a new connection after a kept-alive one died unread
    slo: SloResult | None = None
    steady: Steady | None = None
    delivered: Delivered | None = None
    per_turn: tuple[TurnFigures, ...] = ()
    lengths_exact: bool | None = None  # prompt lengths as the server counts them (a workload)
    server: ServerSide | None = None  # attached after the run, from /metrics
    server_note: str | None = None  # why there is no server side
    shares: tuple[WorkerShare, ...] = ()  # each worker's part, when the load was split

    @property
    def workers(self) -> int:
        return max(1, len(self.shares))

    @property
    def lost(self) -> int:
        """Requests a dead worker never returned: neither success nor failure."""
        return sum(s.lost or 0 for s in self.shares)

    @property
    def worker_losses(self) -> tuple[str, ...]:
        return tuple(s.describe_loss() for s in self.shares if s.error is not None)

    @property
    def success_rate(self) -> float:
        return self.succeeded / self.requests if self.requests else 0.0

    @property
    def request_throughput(self) -> float:
        return self.succeeded / self.duration_s if self.duration_s > 0 else 0.0

    @property
    def output_token_throughput(self) -> float:
        return self.output_tokens / self.duration_s if self.duration_s > 0 else 0.0

    @property
    def total_token_throughput(self) -> float:
        total = self.prompt_tokens + self.output_tokens
        return total / self.duration_s if self.duration_s > 0 else 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "config": self.config.to_json(),
            "requests": self.requests,
            "succeeded": self.succeeded,
            "failed": self.failed,
            "success_rate": self.success_rate,
            "duration_s": self.duration_s,
            "request_throughput": self.request_throughput,
            "output_token_throughput": self.output_token_throughput,
            "total_token_throughput": self.total_token_throughput,
            "prompt_tokens": self.prompt_tokens,
            "output_tokens": self.output_tokens,
            "tokens_exact": self.tokens_exact,
            "ttft_ms": self.ttft.to_json(),
            "tpot_ms": self.tpot.to_json(),
            "itl_ms": self.itl.to_json(),
            "e2e_ms": self.e2e.to_json(),
            "queue_delay_ms": self.queue_delay.to_json(),
            "status_codes": self.status_codes,
            "errors": self.errors,
            "client": asdict(self.client) if self.client else None,
            "cancelled": self.cancelled,
            "cancelled_in_flight": self.cancelled_in_flight,
            "retried": self.retried,
            "workers": self.workers,
            **({"shares": [s.to_json() for s in self.shares]} if self.workers > 1 else {}),
            "lost": self.lost,
            "workload": self.config.workload.to_json(self.lengths_exact)
            if self.config.workload is not None and self.config.workload.shaped
            else None,
            **({"slo": self.slo.to_json()} if self.slo is not None else {}),
            "server": self._server_json(),
            **({"server_note": self.server_note} if self.server is None else {}),
            "steady_state": self.steady.to_json() if self.steady is not None else None,
            "delivered": self.delivered.to_json() if self.delivered is not None else None,
            **({"per_turn": [t.to_json() for t in self.per_turn]} if self.per_turn else {}),
        }

    def _server_json(self) -> dict[str, Any] | None:
        if self.server is None:
            return None
        from loadgen.server_side import ttft_breakdown

        out = self.server.to_json()
        breakdown = ttft_breakdown(self.ttft.mean, self.server)
        out["ttft_breakdown"] = breakdown.to_json() if breakdown is not None else None
        return out


def summarize(
    config: LoadConfig,
    records: Sequence[RequestRecord],
    client: ClientHealth | None = None,
    cancelled: bool = False,
    slo: Slo | None = None,
    lengths_exact: bool | None = None,
) -> Summary:
    cut_off = [r for r in records if r.error_kind == "cancelled"]
    records = [r for r in records if r.error_kind != "cancelled"]
    ok = [r for r in records if r.ok]
    sent = [r.sent for r in records]
    ends = [r.end for r in records if r.end is not None]
    duration = (max(ends) - min(sent)) if sent and ends else 0.0
    codes = Counter("error" if r.status is None else str(r.status) for r in records)
    errors = Counter(f"{r.error_kind}: {r.error}" for r in records if not r.ok)
    judged = None
    if slo is not None:
        from loadgen.slo import judge

        judged = judge(slo, records, duration)
    return Summary(
        config=config,
        requests=len(records),
        succeeded=len(ok),
        failed=len(records) - len(ok),
        duration_s=duration,
        prompt_tokens=sum(r.prompt_tokens or 0 for r in ok),
        output_tokens=sum(r.output_tokens or 0 for r in ok),
        tokens_exact=all(r.tokens_exact for r in ok),
        ttft=Distribution.of_seconds(t for r in ok if (t := r.ttft) is not None),
        tpot=Distribution.of_seconds(t for r in ok if (t := r.tpot) is not None),
        itl=Distribution.of_seconds(g for r in ok for g in r.itl),
        e2e=Distribution.of_seconds(t for r in ok if (t := r.e2e) is not None),
        queue_delay=Distribution.of_seconds(r.queue_delay for r in records),
        status_codes=dict(codes.most_common()),
        errors=dict(errors.most_common()),
        client=client,
        cancelled=cancelled,
        cancelled_in_flight=len(cut_off),
        retried=sum(r.retried for r in records),
        slo=judged,
        steady=_steady(records, config.concurrency if config.turns == 1 else None),
        delivered=delivered(records, config.concurrency, config.rate),
        per_turn=_per_turn(records) if config.turns > 1 else (),
        lengths_exact=lengths_exact,
    )


def _steady(records: Sequence[RequestRecord], cap: int | None) -> Steady | None:
    window = steady_window(records, cap)
    if window is None:
        return None
    ok = [r for r in window.requests if r.ok]
    length = window.length_s
    return Steady(
        start_s=window.start_s,
        window_s=length,
        requests=len(window.requests),
        request_throughput=window.completed / length,
        output_token_throughput=window.output_tokens / length,
        ttft=Distribution.of_seconds(t for r in ok if (t := r.ttft) is not None),
        tpot=Distribution.of_seconds(t for r in ok if (t := r.tpot) is not None),
        itl=Distribution.of_seconds(g for r in ok for g in r.itl),
        e2e=Distribution.of_seconds(t for r in ok if (t := r.e2e) is not None),
    )


def _per_turn(records: Sequence[RequestRecord]) -> tuple[TurnFigures, ...]:
    turns = sorted({r.turn for r in records if r.turn is not None})
    figures = []
    for turn in turns:
        mine = [r for r in records if r.turn == turn]
        ok = [r for r in mine if r.ok]
        prompts = [r.prompt_tokens for r in ok if r.prompt_tokens is not None]
        figures.append(
            TurnFigures(
                turn=turn + 1,
                requests=len(mine),
                succeeded=len(ok),
                prompt_tokens_mean=sum(prompts) / len(prompts) if prompts else None,
                ttft=Distribution.of_seconds(t for r in ok if (t := r.ttft) is not None),
            )
        )
    return tuple(figures)
