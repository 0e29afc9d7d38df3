"""The load engine at scale against the truth server: a plan split between worker processes
and merged exactly, a worker that dies mid-run, a run of millions that starts sending at once
and stops at once (from the library and from `vllm-top bench` with Ctrl-C)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from loadgen.config import LoadConfig
from loadgen.live import LiveRun
from loadgen.merge import planned_requests
from loadgen.process import LoadWorkers, auto_workers, shard_configs
from loadgen.runner import resolve_model
from loadgen.stats import Distribution, Summary
from tests.helpers import wait_until
from tests.test_loadgen_truth import serve_truth

TTFT = 0.050
ITL = 0.005
TOKENS = 10
ROOT = Path(__file__).parent.parent


@pytest.fixture(scope="module")
def truth_url() -> Iterator[str]:
    yield from serve_truth(TTFT, ITL, TOKENS)


@pytest.mark.parametrize(
    ("requests", "turns", "workers", "concurrency"),
    [(101, 1, 4, 9), (10, 3, 3, 3), (11, 3, 2, 4), (7, 3, 4, 8), (1, 1, 2, 2)],
)
def test_each_shard_knows_its_requests_without_counting_them(
    requests: int, turns: int, workers: int, concurrency: int
) -> None:
    from loadgen.runner import unit_numbers
    from loadgen.workload import Workload

    workload = Workload(turns=turns) if turns > 1 else None
    config = LoadConfig(
        "http://x", requests=requests, concurrency=concurrency, workers=workers, workload=workload
    )
    shards = shard_configs(config)
    counted = [
        sum(min(s.turns, requests - unit * s.turns) for unit in unit_numbers(s)) for s in shards
    ]
    assert [planned_requests(s) for s in shards] == counted
    assert sum(counted) == requests


def test_the_plan_is_split_without_overlap_or_gap() -> None:
    config = LoadConfig("http://x", requests=101, concurrency=9, workers=4)
    shards = shard_configs(config)
    assert [s.concurrency for s in shards] == [3, 2, 2, 2]
    assert sum(planned_requests(s) or 0 for s in shards) == 101
    # Never more workers than slots; conversations split whole.
    assert len(shard_configs(LoadConfig("http://x", requests=5, concurrency=2, workers=8))) == 2
    assert auto_workers(LoadConfig("http://x", concurrency=10), cores=2) == 1
    assert auto_workers(LoadConfig("http://x", concurrency=512), cores=16) == 4
    assert auto_workers(LoadConfig("http://x", concurrency=512), cores=2) == 1


def _run(config: LoadConfig, kill_worker_after: int | None = None) -> tuple[LiveRun, Summary]:
    run = LiveRun(resolve_model(config))
    run.start()
    killed = False
    for progress in run.follow(poll_s=0.05):
        if kill_worker_after is not None and not killed and progress.done >= kill_worker_after:
            load = run._load
            assert isinstance(load, LoadWorkers)
            pid = load.pids[1]
            assert pid is not None
            os.kill(pid, signal.SIGKILL)
            killed = True
    return run, run.finish()


def test_two_workers_merge_into_one_exact_run(truth_url: str) -> None:
    config = LoadConfig(truth_url, requests=300, concurrency=16, max_tokens=TOKENS, workers=2)
    run, summary = _run(config)
    records = run.records
    assert summary.workers == 2
    # Every request once, with the global index its body was made from.
    assert sorted(r.index for r in records) == list(range(300))
    assert (summary.succeeded, summary.failed, summary.lost) == (300, 0, 0)
    assert summary.output_tokens == 300 * TOKENS and summary.tokens_exact
    # Percentiles are those of the merged raw samples, not a merge of per-worker figures.
    raw = Distribution.of_seconds(t for r in records if (t := r.ttft) is not None)
    assert summary.ttft == raw
    assert summary.itl.count == 300 * (TOKENS - 1)
    # One time axis: both workers started at the barrier, so the programmed TTFT holds.
    assert summary.ttft.p50 is not None and TTFT * 1000 <= summary.ttft.p50 <= TTFT * 1000 + 40
    assert min(r.sent for r in records) < 0.2
    assert summary.client is not None


def test_a_worker_killed_mid_run_is_reported_and_its_requests_counted_lost(
    truth_url: str,
) -> None:
    config = LoadConfig(truth_url, requests=400, concurrency=8, max_tokens=TOKENS, workers=2)
    run, summary = _run(config, kill_worker_after=60)
    s = summary
    assert s.workers == 2
    assert len(s.worker_losses) == 1 and "worker 2 (this machine) failed" in s.worker_losses[0]
    assert s.lost > 0
    # The other worker finished its share; nothing is counted twice or forgotten.
    assert s.succeeded + s.failed + s.lost == 400
    assert {r.index for r in run.records if r.index % 2 == 0} == set(range(0, 400, 2))


def test_a_run_of_millions_starts_at_once_and_stops_at_once(truth_url: str) -> None:
    config = resolve_model(
        LoadConfig(truth_url, requests=5_000_000, concurrency=10, max_tokens=TOKENS)
    )
    load = LoadWorkers(config)
    load.start()
    assert wait_until(lambda: bool(load.poll()) and load.merged.t0_monotonic is not None, 30)
    started = load.merged.t0_monotonic
    assert started is not None
    assert wait_until(lambda: bool(load.poll()) or bool(load.merged.records), 5)
    # The first requests finished within a second of the clock starting (each takes ~0.1 s).
    assert min(r.end or 99 for r in load.merged.records) < 1.0
    time.sleep(1.0)
    load.poll()
    asked = time.monotonic()
    load.cancel()
    while not load.done:
        load.poll(0.05)
        assert time.monotonic() - asked < 3.0, "the cancel took more than 3 s"
    stopped_in = time.monotonic() - asked
    load.join(5)
    assert stopped_in < 1.0
    assert load.merged.cancelled and load.merged.client is not None
    assert len(load.merged.records) < 1000


def test_bench_stops_on_ctrl_c_in_its_terminal_and_reports(truth_url: str) -> None:
    """Ctrl-C reaches the whole process group: the load process must leave the decision to
    `vllm-top bench`, which stops sending and reports what finished."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "tui.cli", "bench", "--url", truth_url, "-n", "3000000",
         "-c", "10", "--max-tokens", str(TOKENS), "-q"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True,
    )  # fmt: skip
    try:
        time.sleep(6)
        asked = time.monotonic()
        os.killpg(proc.pid, signal.SIGINT)
        out, err = proc.communicate(timeout=20)
        took = time.monotonic() - asked
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert "Cancelled:           yes" in out, err[-2000:]
    assert "Success rate:        100.0%" in out
    assert took < 5.0, f"bench took {took:.1f} s to stop and report"
