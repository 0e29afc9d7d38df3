from __future__ import annotations

from engine.statsline import parse_stats_line
from tests.helpers import FIXTURES


def test_live_032_lines() -> None:
    lines = (FIXTURES / "statslines-vllm-0.32-cpu.log").read_text().splitlines()
    parsed = [parse_stats_line(line) for line in lines]
    assert all(p is not None for p in parsed)
    busy = [p for p in parsed if p is not None and p.waiting]
    assert busy, "the capture has a line taken under load"
    b = busy[0]
    assert (b.engine, b.running, b.waiting, b.kv_usage) == ("0", 11, 7, 1.0)
    assert b.prompt_tokens_per_s == 1049.6 and b.generation_tokens_per_s == 1915.7
    assert b.prefix_hit_rate == 0.0
    # 0.32 leaves preemptions out of this line even under preemption: unknown, not 0.
    assert b.preemptions is None


def test_optional_fields_and_older_format() -> None:
    line = (
        "Engine 001: Avg prompt throughput: 12.3 tokens/s, Avg generation throughput: 40.1 "
        "tokens/s, Running: 2 reqs, Waiting: 0 reqs, Preemptions: 4, GPU KV cache usage: 3.4%, "
        "Prefix cache hit rate: 50.0%, External prefix cache hit rate: 10.0%"
    )
    p = parse_stats_line(line)
    assert p is not None
    assert (p.engine, p.preemptions, p.kv_usage, p.prefix_hit_rate) == ("1", 4, 0.034, 0.5)
    v0 = parse_stats_line(
        "INFO 05-01 10:00:00 metrics.py:351] Avg prompt throughput: 0.0 tokens/s, Avg generation "
        "throughput: 9.9 tokens/s, Running: 1 reqs, Swapped: 0 reqs, Pending: 3 reqs, GPU KV "
        "cache usage: 0.5%, CPU KV cache usage: 0.0%."
    )
    assert v0 is not None and (v0.running, v0.waiting, v0.kv_usage) == (1, 3, 0.005)
    assert parse_stats_line("Starting vLLM server on http://0.0.0.0:8000") is None
