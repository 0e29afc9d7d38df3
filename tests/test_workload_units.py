"""Workloads, SLOs, steady state, the search and compare, on data whose answers are known."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from loadgen.compare import Result, compare, parse_fail_on
from loadgen.config import ConfigError, LoadConfig
from loadgen.record import RequestRecord
from loadgen.search import Outcome, SearchSpec, decide, find_max
from loadgen.slo import Slo, judge, wilson
from loadgen.stats import summarize
from loadgen.steady import delivered, steady_window
from loadgen.workload import Span, Workload, load_dataset


def record(i: int, sent: float, ttft: float, e2e: float, tokens: int = 10) -> RequestRecord:
    gap = (e2e - ttft) / (tokens - 1)
    return RequestRecord(
        index=i, intended=sent, sent=sent, first_token=sent + ttft, last_token=sent + e2e,
        end=sent + e2e, itl=[gap] * (tokens - 1), chunks=tokens, output_tokens=tokens, status=200,
    )  # fmt: skip


def test_lengths_are_a_number_or_a_range() -> None:
    assert Span.parse("512", "--input-len") == Span(512, 512)
    assert str(Span.parse("512:2048", "--input-len")) == "512:2048"
    for bad in ("0", "x", "10:5", "-3", "1:"):
        with pytest.raises(ConfigError, match="--input-len"):
            Span.parse(bad, "--input-len")


def test_workload_rules_say_what_is_wrong() -> None:
    with pytest.raises(ConfigError, match="not both"):
        Workload(input_len=Span(10, 10), dataset=Path("x.json"))
    with pytest.raises(ConfigError, match="leaves nothing"):
        Workload(input_len=Span(100, 100), prefix_len=100)
    with pytest.raises(ConfigError, match="needs the chat endpoint"):
        LoadConfig("http://h:1", endpoint="completions", workload=Workload(turns=3))
    assert Workload(input_len=Span(10, 20), prefix_len=5, turns=2).describe() == (
        "in 10:20, prefix 5, 2 turns"
    )


def test_datasets_in_sharegpt_and_messages_shapes(tmp_path: Path) -> None:
    sharegpt = tmp_path / "s.json"
    sharegpt.write_text(json.dumps([
        {"conversations": [{"from": "human", "value": "hi"}, {"from": "gpt", "value": "hello"},
                           {"from": "human", "value": "more"}]},
        {"conversations": [{"from": "gpt", "value": "no user turn"}]},
    ]))  # fmt: skip
    [entry] = load_dataset(sharegpt)
    assert entry.user_turns == ("hi", "more") and entry.first_reply == "hello"
    lines = tmp_path / "m.jsonl"
    lines.write_text(
        json.dumps({"messages": [{"role": "user", "content": "a"}, {"role": "assistant",
                                                                     "content": "b"}]}) + "\n"
    )  # fmt: skip
    assert load_dataset(lines)[0].user_turns == ("a",)
    (tmp_path / "empty.json").write_text("")
    (tmp_path / "other.json").write_text(json.dumps([{"prompt": "x"}]))
    for name, words in [("nope.json", "does not exist"), ("empty.json", "is empty"),
                        ("other.json", "no conversation")]:  # fmt: skip
        with pytest.raises(ConfigError, match=words):
            load_dataset(tmp_path / name)


def test_slo_parse_attainment_and_goodput() -> None:
    slo = Slo.parse("ttft=200ms,e2e=1s")
    assert slo.targets() == {"ttft": 200.0, "e2e": 1000.0}
    for bad in ("ttft=fast", "speed=1s", "ttft=1s,ttft=2s", ""):
        with pytest.raises(ConfigError, match="--slo"):
            Slo.parse(bad)
    fast, slow = record(0, 0.0, 0.1, 0.5), record(1, 0.0, 0.3, 0.5)
    failed = RequestRecord(index=2, intended=0.0, sent=0.0, end=0.1, status=500, error_kind="http")
    result = judge(slo, [fast, slow, failed], duration_s=2.0)
    assert (result.met, result.requests) == (1, 3)
    assert result.attainment == pytest.approx(1 / 3) and result.goodput == 0.5
    assert Slo.parse("itl=50ms").met(fast)  # gaps of 44 ms
    assert not Slo.parse("itl=40ms").met(fast)


def test_wilson_interval_and_decisions() -> None:
    lo, hi = wilson(50, 50)
    assert 0.92 < lo < 0.93 and hi == 1.0
    assert decide(50, 50, target=0.9, margin=0.02) == "pass"
    assert decide(0, 50, target=0.9, margin=0.02) == "fail"
    assert decide(45, 50, target=0.9, margin=0.02) == "undecided"


def test_the_search_brackets_a_known_answer() -> None:
    result = find_max(SearchSpec("concurrency", target=0.9), lambda c, n: Outcome(n, n * (c <= 45)))
    assert result.answer == 45 and not result.at_least
    assert [p.load for p in result.probes][:7] == [1, 2, 4, 8, 16, 32, 64]
    assert all(p.decision == ("pass" if p.load <= 45 else "fail") for p in result.probes)
    assert result.to_json()["probes"][0]["interval"][1] == 1.0
    rate = find_max(SearchSpec("rate", target=0.9), lambda r, n: Outcome(n, n * (r <= 10)))
    assert rate.answer is not None and 9 <= rate.answer <= 10


def test_a_search_that_cannot_decide_says_so() -> None:
    """Attainment right at the target: no number of requests can tell; never silently decided."""
    spec = SearchSpec("concurrency", target=0.9, max_requests=200)
    result = find_max(spec, lambda c, n: Outcome(n, round(n * 0.9)))
    assert result.probes[-1].decision == "undecided" and result.answer is None
    assert result.stopped.startswith("undecided at 1")
    low = find_max(SearchSpec("concurrency", target=0.9), lambda c, n: Outcome(n, 0))
    assert low.answer is None and "already misses" in low.stopped
    high = find_max(SearchSpec("concurrency", target=0.9, max_load=8), lambda c, n: Outcome(n, n))
    assert high.answer == 8 and high.at_least


def test_steady_state_leaves_out_ramp_and_drain() -> None:
    """Concurrency 4: requests of 1 s, one sent every 0.25 s for 20 s: 4 in flight from t=0.75."""
    records = [record(i, i * 0.25, 0.1, 1.0) for i in range(80)]
    window = steady_window(records, cap=4)
    assert window is not None
    assert window.start_s == pytest.approx(0.75) and window.end_s == pytest.approx(20.0)
    summary = summarize(LoadConfig("http://h:1", concurrency=4, requests=80), records)
    assert summary.steady is not None and summary.steady.request_throughput == pytest.approx(
        4.0, rel=0.05
    )
    d = delivered(records, concurrency=4, rate=None)
    assert d is not None and d.achieved_concurrency == pytest.approx(3.96, abs=0.1) and not d.off
    starved = delivered(records, concurrency=8, rate=None)
    assert starved is not None and starved.off and "held" in (starved.reason or "")


def _result(
    name: str, ttft_p99: float, throughput: float, runs: list[float] | None = None
) -> Result:
    data = {"ttft_ms": {"p99": ttft_p99}, "output_token_throughput": throughput}
    if runs:
        data["runs"] = [
            {"ttft_ms": {"p99": v}, "output_token_throughput": throughput} for v in runs
        ]
    return Result(name, data)


def test_compare_verdicts_and_fail_rules() -> None:
    base = _result("a", 100.0, 1000.0)
    rows = {
        r.figure: r
        for r in compare(base, _result("b", 120.0, 1020.0), ["ttft_p99", "output_throughput"])
    }
    assert rows["ttft_p99"].verdict == "worse" and rows["ttft_p99"].change == pytest.approx(0.2)
    assert rows["output_throughput"].verdict == "within noise"
    noisy = compare(
        _result("a", 100.0, 1.0, [80, 100, 120]),
        _result("b", 115.0, 1.0, [95, 115, 135]),
        ["ttft_p99"],
    )
    assert noisy[0].verdict == "within noise"  # the runs' own spread is wider than the change
    [rule] = parse_fail_on("ttft_p99=+10%")
    assert rule.broken_by(rows["ttft_p99"])
    assert not parse_fail_on("output_throughput=-5%")[0].broken_by(rows["output_throughput"])
    for bad, words in [("ttft_p99=10%", "rules like"), ("speed_p99=+1%", "unknown figure")]:
        with pytest.raises(ConfigError, match=words):
            parse_fail_on(bad)


def test_server_percentiles_stay_within_what_the_mean_allows() -> None:
    """40 queue waits of about 1 ms, all in vLLM's first bucket (0-300 ms): interpolation alone
    reads p50 150 ms; no more than half of them can exceed twice the mean."""
    from engine.metrics import Histogram
    from loadgen.server_side import HistStats

    first_bucket = Histogram(((0.3, 40.0), (0.5, 40.0), (float("inf"), 40.0)), 0.04, 40.0)
    stats = HistStats.of(first_bucket)
    assert stats is not None and stats.mean_ms == pytest.approx(1.0)
    assert stats.p50_ms == pytest.approx(2.0) and stats.p99_ms == pytest.approx(100.0)
    spread = Histogram(((0.1, 10.0), (0.3, 20.0), (float("inf"), 20.0)), 3.0, 20.0)
    wide = HistStats.of(spread)
    assert wide is not None and wide.p50_ms == pytest.approx(100.0)  # interpolation, unbounded
