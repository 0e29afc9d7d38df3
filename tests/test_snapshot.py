"""`vllm-top snapshot`: unreachable, not-vLLM, and the real demo server under a burst."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
import time
from typing import Any

import pytest

from engine.metrics import scrape
from engine.metrics_history import MetricsHistory
from engine.snapshot import take_snapshot
from engine.supervisor import Supervisor
from loadgen.config import LoadConfig
from loadgen.runner import resolve_model, run_load
from loadgen.stats import summarize
from tests.helpers import free_port
from tests.test_loadgen_truth import start_truth_server

KEYS = {
    "url", "state", "version", "models", "kv_cache", "requests", "preemptions_total",
    "prefix_cache_hit_rate", "engines", "gpus",
}  # fmt: skip


def snapshot_cli(*args: str) -> tuple[int, dict[str, Any]]:
    done = subprocess.run(
        [sys.executable, "-m", "tui.cli", "snapshot", "--json", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )
    return done.returncode, json.loads(done.stdout)


def test_unreachable_server_is_exit_2_and_nulls() -> None:
    code, snap = snapshot_cli("--url", f"http://127.0.0.1:{free_port()}/v1")
    assert code == 2
    assert set(snap) >= KEYS
    assert snap["state"] == "unreachable"
    assert snap["version"] is None and snap["models"] is None
    assert snap["kv_cache"] == {
        "usage": None, "used_tokens": None, "capacity_tokens": None, "max_concurrency": None,
    }  # fmt: skip
    assert snap["requests"] == {"running": None, "waiting": None}


def test_a_server_that_is_not_vllm() -> None:
    proc, url = start_truth_server()
    try:
        # Something answers HTTP there, but its /health is not vLLM's (404).
        code, snap = snapshot_cli("--url", url + "/not-vllm")
    finally:
        proc.terminate()
        proc.wait(10)
    assert code == 2
    assert snap["state"] == "unreachable"
    assert "not a vLLM server" in str(snap["detail"])


@pytest.mark.vllm
def test_snapshot_of_the_demo_matches_what_it_logged(demo_server: Supervisor) -> None:
    code, snap = snapshot_cli("--url", demo_server.base_url + "/v1")
    assert code == 0
    assert snap["state"] == "ready"
    assert snap["version"] == demo_server.tracker.facts.version
    assert snap["models"] == ["vllm-top-demo"]
    kv = snap["kv_cache"]
    assert isinstance(kv, dict)
    # The startup summary (from the log) and /metrics agree on the KV cache size.
    assert kv["capacity_tokens"] == demo_server.tracker.facts.kv_cache_tokens == 2048
    assert kv["max_concurrency"] == demo_server.tracker.facts.max_concurrency
    assert [e["engine"] for e in snap["engines"]] == ["0"]
    assert snap["gpus"] == [] or snap["gpu_status"] == "ok"


@pytest.mark.vllm
def test_a_burst_moves_the_counters_and_fills_the_kv_cache(demo_server: Supervisor) -> None:
    history = MetricsHistory()
    history.add(scrape(demo_server.base_url, time.monotonic()))
    stop = threading.Event()

    def watch() -> None:
        while not stop.wait(0.1):
            history.add(scrape(demo_server.base_url, time.monotonic()))

    watcher = threading.Thread(target=watch)
    watcher.start()
    # Requests already submitted keep the server busy however late this client wakes up (this
    # VM stalls every process during CPU bursts): 20 in flight, 256 tokens each, stay on the
    # server long enough for the 16-block cache to fill. With 10 short requests the client
    # sometimes could not keep them coming, and the server, rightly, reported itself idle.
    config = resolve_model(
        LoadConfig(
            demo_server.base_url, requests=60, concurrency=20, max_tokens=256, ignore_eos=True
        )
    )
    started = time.monotonic()
    try:
        result = asyncio.run(run_load(config))
    finally:
        ended = time.monotonic()
        stop.set()
        watcher.join()
    history.add(scrape(demo_server.base_url, time.monotonic()))
    summary = summarize(config, result.records)
    window = history.latest.at - next(iter(history)).at + 1  # type: ignore[union-attr]
    # Every generated token the client counted is in the server's counter, and no more.
    assert history.increase("generation_tokens", window) == summary.output_tokens
    # 20 streams of ~280 tokens need 60 blocks of 128; the demo has 16: it fills and preempts.
    during = [s for s in history if started <= s.at <= ended]
    peak = max((s.kv_usage or 0.0 for s in during), default=0.0)
    assert len(during) >= 3, f"only {len(during)} scrapes during a {ended - started:.1f}s burst"
    assert peak >= 0.75, [(round(s.at - started, 2), s.kv_usage) for s in during]
    grown = history.increase("preemptions", window)
    assert grown is not None and grown > 0
    assert max(s.total("waiting") or 0 for s in history) > 0
    # Server-side TTFT over the burst, from histogram bucket deltas.
    server_p50 = history.quantile("ttft", 0.5, window)
    assert server_p50 is not None and summary.ttft.p99 is not None
    assert 0 < server_p50 * 1000 <= summary.ttft.p99 * 1.5
    snap = take_snapshot(demo_server.base_url)
    assert snap["preemptions_total"] is not None and snap["preemptions_total"] >= grown
