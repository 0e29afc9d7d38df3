"""vLLM's periodic stats log line: a fallback when /metrics has no vllm:* series.

0.32: "Engine 000: Avg prompt throughput: 1049.6 tokens/s, Avg generation throughput: 1915.7
tokens/s, Running: 11 reqs, Waiting: 7 reqs, CPU KV cache usage: 100.0%, Prefix cache hit
rate: 0.0%" (optional parts: Deferred, Preemptions, Corrupted, other hit rates).
V0: "Avg prompt throughput: ..., Running: 2 reqs, Swapped: 0 reqs, Pending: 1 reqs,
GPU KV cache usage: 3.4%, CPU KV cache usage: 0.0%."
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_HEAD = re.compile(
    r"(?:Engine (?P<engine>\d+): |(?P<agg>\d+) Engines Aggregated: )?"
    r"Avg prompt throughput: (?P<prompt>[\d.]+) tokens/s, "
    r"Avg generation throughput: (?P<gen>[\d.]+) tokens/s"
)
_FIELDS = {
    "running": re.compile(r"Running: (\d+) reqs"),
    "waiting": re.compile(r"(?:Waiting|Pending): (\d+) reqs"),
    "preemptions": re.compile(r"Preemptions: (\d+)"),
}
_KV = re.compile(r"(?:GPU|CPU|XPU|TPU|NPU)? ?KV cache usage: ([\d.]+)%")
_PREFIX = re.compile(r"(?<!External )(?<!MM )Prefix cache hit rate: ([\d.]+)%")


@dataclass(frozen=True)
class StatsLine:
    engine: str
    prompt_tokens_per_s: float
    generation_tokens_per_s: float
    running: int | None
    waiting: int | None
    preemptions: int | None  # only printed when non-zero, and not by every release
    kv_usage: float | None  # 0..1
    prefix_hit_rate: float | None  # 0..1


def parse_stats_line(line: str) -> StatsLine | None:
    head = _HEAD.search(line)
    if head is None:
        return None
    found = {k: int(m[1]) if (m := rx.search(line)) else None for k, rx in _FIELDS.items()}
    kv = _KV.search(line)
    prefix = _PREFIX.search(line)
    return StatsLine(
        engine=str(int(head["engine"])) if head["engine"] else "all" if head["agg"] else "0",
        prompt_tokens_per_s=float(head["prompt"]),
        generation_tokens_per_s=float(head["gen"]),
        running=found["running"],
        waiting=found["waiting"],
        preemptions=found["preemptions"],
        kv_usage=float(kv[1]) / 100 if kv else None,
        prefix_hit_rate=float(prefix[1]) / 100 if prefix else None,
    )
