"""What the load side of the cockpit shows, as plain frozen data from pure functions: the charts
(client and server TTFT, throughput, burst marks), a running burst's progress, a finished burst's
figures and its row in the burst table. Like tui.view_models, the widgets' only source."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from engine.metrics_history import MetricsHistory
from loadgen.live import Progress
from loadgen.search import Probe, SearchResult
from loadgen.stats import Summary
from loadgen.window import Burst, client_token_rate_series, client_ttft_series
from tui.format import ms

Series = list[tuple[float, float]]


# ---- charts ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChartData:
    now: float
    window_s: float
    server_ttft_p50: Series  # ms
    server_ttft_p95: Series
    client_ttft_p50: Series
    client_ttft_p95: Series
    prompt_tps: Series
    generation_tps: Series
    client_tps: Series
    burst_marks: Sequence[float]  # times of burst starts and ends

    @property
    def flat(self) -> bool:
        """Nothing on the charts but zero throughput: drawing it again would draw the same."""
        lo = self.now - self.window_s
        return not (
            self.server_ttft_p50
            or self.server_ttft_p95
            or self.client_ttft_p50
            or self.client_ttft_p95
            or any(v for series in (self.prompt_tps, self.generation_tps, self.client_tps)
                   for _, v in series)
            or any(lo <= t <= self.now for t in self.burst_marks)
        )  # fmt: skip


def chart_data(
    history: MetricsHistory, bursts: Sequence[Burst], now: float, window_s: float
) -> ChartData:
    client_p50, client_p95 = client_ttft_series(bursts, now - window_s)
    return ChartData(
        now=now,
        window_s=window_s,
        server_ttft_p50=[(t, v * 1000) for t, v in history.quantile_series("ttft", 0.5, window_s)],
        server_ttft_p95=[(t, v * 1000) for t, v in history.quantile_series("ttft", 0.95, window_s)],
        client_ttft_p50=client_p50,
        client_ttft_p95=client_p95,
        prompt_tps=history.rate_series("prompt_tokens", window_s),
        generation_tps=history.rate_series("generation_tokens", window_s),
        client_tps=client_token_rate_series(bursts, now - window_s, now),
        burst_marks=[t for b in bursts for t in (b.t0, b.end) if t is not None],
    )


# ---- load --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BurstProgressView:
    label: str
    done: int
    total: int | None
    ok: int
    text: str  # "100/100  ok 98  failed 2  TTFT p50 203 ms  1,414 tok/s"


def progress_view(label: str, progress: Progress | None, total: int | None) -> BurstProgressView:
    done, ok = (progress.done, progress.ok) if progress is not None else (0, 0)
    ttft = progress.ttft_p50_ms if progress is not None else None
    rate = progress.output_token_rate if progress is not None else 0.0
    return BurstProgressView(
        label=label,
        done=done,
        total=total,
        ok=ok,
        text=f"{done}/{total or '?'}  ok {ok}  failed {done - ok}  "
        f"TTFT p50 {ms(ttft)}  {rate:,.0f} tok/s",
    )


@dataclass(frozen=True)
class BurstResultView:
    label: str
    clean: bool  # no request failed
    figures: str  # "100 ok, 0 failed  11.25 req/s  ..."
    cancelled: bool
    first_error: str | None
    client_bound: str | None  # why the client, not the server, was the bottleneck
    requests: int
    row: tuple[str, ...]  # the burst table's cells, after its number


def result_view(label: str, s: Summary) -> BurstResultView:
    figures = (
        f"{s.succeeded} ok, {s.failed} failed  {s.request_throughput:.2f} req/s  "
        f"{s.output_token_throughput:,.0f} tok/s  TTFT p50 {ms(s.ttft.p50)} "
        f"p99 {ms(s.ttft.p99)}  TPOT p50 {ms(s.tpot.p50)}  E2E p50 {ms(s.e2e.p50)}"
    )
    if s.retried:
        figures += f"  ({s.retried} retried)"
    if s.slo is not None:
        figures += f"  SLO met by {s.slo.attainment:.0%}"
    return BurstResultView(
        label=label,
        clean=s.failed == 0,
        figures=figures,
        cancelled=s.cancelled,
        first_error=next(iter(s.errors), None),
        client_bound=s.client.reason if s.client is not None and s.client.bound else None,
        requests=s.requests,
        row=(
            label,
            f"{s.success_rate:.0%}",
            f"{s.request_throughput:.2f}",
            f"{s.output_token_throughput:,.0f}",
            ms(s.ttft.p50),
            ms(s.ttft.p99),
            ms(s.tpot.p50),
        ),
    )


def preparing_view(label: str, done: int, total: int) -> BurstProgressView:
    return BurstProgressView(label, done, total, 0, f"preparing prompts {done}/{total}")


# ---- the search --------------------------------------------------------------------------------


@dataclass(frozen=True)
class SearchView:
    title: str  # "find-max concurrency, SLO ttft <= 1 s for 90%"
    probes: str  # "1 pass  2 pass  4 fail  3 pass": each probe as it was decided
    answer: str | None  # None while it runs
    failed: bool  # it could not run, or it found no load that meets the SLO


def search_view(
    title: str, probes: Sequence[Probe], result: SearchResult | None, error: str | None
) -> SearchView:
    marks = "  ".join(f"{p.load:g} {p.decision} ({p.attainment:.0%})" for p in probes)
    if error is not None:
        return SearchView(title, marks, f"not run: {error}", failed=True)
    if result is None:
        return SearchView(title, marks or "first probe running", None, failed=False)
    unit = "" if result.dimension == "concurrency" else " req/s"
    if result.answer is None:
        return SearchView(title, marks, f"no load met it: {result.stopped}", failed=True)
    at_least = "at least " if result.at_least else ""
    answer = f"answer: {at_least}{result.answer:g}{unit} ({result.stopped})"
    return SearchView(title, marks, answer, failed=False)
