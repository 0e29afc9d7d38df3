"""A/B's account of what changed between two starts, and the search's line in the load panel."""

from __future__ import annotations

from engine.startup import Phase, StartupTracker
from loadgen.compare import Result
from loadgen.search import Probe, SearchResult
from tui.comparisons import StartupRecord, changed_args, render_ab
from tui.load_views import search_view


def test_changed_args_names_each_option_once() -> None:
    before = ("--max-model-len", "1024", "--enforce-eager", "--block-size=128", "--dtype", "auto")
    after = (
        "--max-model-len=2048",
        "--block-size",
        "128",
        "--max-num-seqs",
        "8",
        "--dtype",
        "auto",
    )
    assert changed_args(before, after) == [
        "--max-model-len 1024 -> 2048",
        "removed --enforce-eager",
        "added --max-num-seqs 8",
    ]
    assert changed_args(before, before) == []
    assert changed_args(("--x", "-1"), ("--x", "-2")) == ["--x -1 -> -2"]  # negative values


def test_startup_record_and_the_ab_text() -> None:
    now = [0.0]
    tracker = StartupTracker(clock=lambda: now[0])
    for t, phase in [
        (10.0, Phase.LOADING_WEIGHTS),
        (12.0, Phase.API_STARTING),
        (30.0, Phase.READY),
    ]:
        now[0] = t
        tracker.advance(phase)
    record = StartupRecord.of(tracker)
    assert record.ready_s == 30.0
    assert dict(record.phases)["loading weights"] == 2.0
    assert StartupRecord.of(None).ready_s is None
    figures = {"ttft_ms": {"p50": 100.0}, "output_token_throughput": 50.0}
    text = render_ab(
        Result("before", figures),
        Result("after", {**figures, "ttft_ms": {"p50": 150.0}}),
        ["added --enforce-eager"],
        (record, StartupRecord(None, ())),
    )
    assert "changed: added --enforce-eager" in text
    assert "start-up to ready" in text and "30.0s" in text
    assert "ttft_p50" in text and "+50.0%" in text and "worse" in text


def test_search_view_says_the_answer_or_why_there_is_none() -> None:
    probes = [Probe(1, 50, 50, "pass"), Probe(2, 50, 10, "fail")]
    running = search_view("find-max", probes[:1], None, None)
    assert running.answer is None and running.probes == "1 pass (100%)"
    found = SearchResult("concurrency", 0.9, 1.0, 1.0, False, tuple(probes), "bracket 1-2")
    assert search_view("t", probes, found, None).answer == "answer: 1 (bracket 1-2)"
    none = SearchResult("rate", 0.9, 0.1, None, False, tuple(probes[1:]), "the lowest misses")
    view = search_view("t", probes[1:], none, None)
    assert view.failed and view.answer == "no load met it: the lowest misses"
    assert search_view("t", [], None, "no model").answer == "not run: no model"
