from __future__ import annotations

import math

import pytest

from engine.metrics import EngineMetrics, Histogram, MetricsSample
from engine.metrics_history import MetricsHistory


def sample(at: float, generated: float, ttft_counts: tuple[float, float] = (0, 0)) -> MetricsSample:
    fast, total = ttft_counts
    hist = Histogram(((0.1, fast), (1.0, total), (math.inf, total)), 0.0, total)
    engine = EngineMetrics("0", {"generation_tokens": generated}, {"ttft": hist})
    return MetricsSample(at=at, engines={"0": engine}, has_vllm_series=True)


def test_rate_over_a_window() -> None:
    h = MetricsHistory()
    for t, value in [(0, 0), (1, 100), (2, 300), (3, 600)]:
        h.add(sample(t, value))
    assert h.rate("generation_tokens", 10) == pytest.approx(200.0)
    # The last 1 s: from the sample at t=2 to t=3.
    assert h.rate("generation_tokens", 1) == pytest.approx(300.0)
    assert h.increase("generation_tokens", 10) == 600


def test_rate_survives_a_counter_reset() -> None:
    h = MetricsHistory()
    for t, value in [(0, 1000), (1, 1100), (2, 50), (3, 150)]:  # restarted between 1 and 2
        h.add(sample(t, value))
    assert h.increase("generation_tokens", 10) == 100 + 50 + 100
    assert h.rate("generation_tokens", 10) == pytest.approx(250 / 3)


def test_unknown_until_two_samples_and_for_absent_counters() -> None:
    h = MetricsHistory()
    assert h.rate("generation_tokens", 10) is None
    h.add(sample(0, 5))
    assert h.rate("generation_tokens", 10) is None
    h.add(sample(1, 10))
    assert h.rate("preemptions", 10) is None


def test_server_side_percentile_from_bucket_deltas() -> None:
    h = MetricsHistory()
    h.add(sample(-10, 0, (0, 0)))
    h.add(sample(0, 0, (100, 100)))  # 100 fast ones, 20-30 s ago
    h.add(sample(10, 0, (100, 100)))
    h.add(sample(20, 0, (100, 120)))  # in the last 10 s: 20 new, all between 0.1 and 1.0 s
    p50 = h.quantile("ttft", 0.5, window_s=10)
    assert p50 is not None and 0.1 < p50 <= 1.0
    # Over the whole history the fast ones dominate.
    whole = h.quantile("ttft", 0.5, window_s=100)
    assert whole is not None and whole <= 0.1


def test_history_is_bounded() -> None:
    h = MetricsHistory(max_samples=5)
    for t in range(50):
        h.add(sample(t, t))
    assert len(h) == 5 and h.latest is not None and h.latest.at == 49


def test_history_keeps_only_what_the_longest_window_needs() -> None:
    """An hour at 4 samples a second, kept 330 s: memory stays flat, every window still works."""
    h = MetricsHistory(retain_s=330)
    for i in range(4 * 3600):
        h.add(sample(i / 4, i * 10))
    assert len(h) <= 4 * 330 + 2
    oldest = next(iter(h)).at
    assert 3599.75 - 330 - 0.25 <= oldest <= 3599.75 - 330  # one anchor at or before the edge
    assert h.rate("generation_tokens", 300) == pytest.approx(40.0)
    assert h.increase("generation_tokens", 330) == pytest.approx(330 * 40, rel=0.01)


def test_quantile_series_looks_back_one_step_from_each_sample() -> None:
    h = MetricsHistory()
    # One sample a second; 10 fast observations a second for 20 s, then 10 slow a second.
    fast = total = 0.0
    for t in range(41):
        if t <= 20:
            fast += 10
        total += 10
        h.add(sample(float(t), 0, (fast, total)))
    series = dict(h.quantile_series("ttft", 0.5, span_s=40, step_s=10))
    assert 0.0 not in series  # the first sample has nothing before it
    assert series[15.0] <= 0.1  # 5-15 s: all fast
    assert series[40.0] > 0.1  # 30-40 s: all slow
    assert sorted(series) == [float(t) for t in range(1, 41)]
    # With a 5 s look-back the switch shows 5 s earlier than with 10 s.
    short = dict(h.quantile_series("ttft", 0.5, span_s=40, step_s=5))
    # At 24 s: the last 10 s hold 60 fast and 40 slow, the last 5 s 10 fast and 40 slow.
    assert short[24.0] > 0.1 and series[24.0] <= 0.1


def test_histograms_with_different_edges_merge_at_every_edge() -> None:
    a = Histogram(((0.1, 2.0), (1.0, 5.0), (math.inf, 6.0)), 3.0, 6.0)
    b = Histogram(((0.5, 1.0), (math.inf, 4.0)), 2.0, 4.0)
    merged = a.merged(b)
    assert merged.buckets == ((0.1, 2.0), (0.5, 3.0), (1.0, 6.0), (math.inf, 10.0))
    assert merged.count == 10 and a.merged(a).buckets[-1] == (math.inf, 12.0)
