"""The server's side of a run, from its /metrics over the run's window.

Latencies from histogram deltas (what was observed between the sample before the run and the
sample after it, merged over engines): TTFT, time waiting in vLLM's queue, prefill, decode,
inter-token latency and E2E, each as mean and percentiles (interpolated within buckets, as
Prometheus does, but never above what the mean allows; the minimum and maximum are unknown).
Peaks of KV-cache use and of the queue from the samples in between (so a peak shorter than the
sampling interval can be missed).
Counters: preemptions, prompt and generation tokens, prefix-cache hits. A series the server
does not expose is None, never 0.

The TTFT breakdown puts the client's mean TTFT beside the server's queue and prefill means:
what is left is the frontend, the network and the client itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from engine.metrics import Histogram, MetricsSample

LATENCIES = ("ttft", "queue", "prefill", "decode", "itl", "e2e")
CLIENT_SHARE_BOUND = 0.3  # over this share of TTFT outside the server, the client is suspect


@dataclass(frozen=True)
class HistStats:
    count: int
    mean_ms: float | None
    p50_ms: float | None
    p90_ms: float | None
    p95_ms: float | None
    p99_ms: float | None

    @classmethod
    def of(cls, h: Histogram) -> HistStats | None:
        if h.count <= 0:
            return None

        mean = h.sum / h.count

        def q(x: float) -> float | None:
            # Interpolating within a bucket puts half of a bucket's observations at its middle:
            # a queue that took 1 ms, all in the 0-300 ms bucket, would read p50 150 ms. No
            # latency is negative, so no more than 1-x of them exceed mean/(1-x) (Markov's
            # bound): the estimate is never above it.
            v = h.quantile(x)
            return None if v is None else min(v, mean / (1 - x)) * 1000.0

        return cls(round(h.count), mean * 1000.0, q(0.5), q(0.9), q(0.95), q(0.99))

    def to_json(self) -> dict[str, float | None]:
        return {
            "mean": self.mean_ms,
            "min": None,
            "max": None,
            "p50": self.p50_ms,
            "p90": self.p90_ms,
            "p95": self.p95_ms,
            "p99": self.p99_ms,
        }


@dataclass(frozen=True)
class ServerSide:
    samples: int
    latencies: dict[str, HistStats | None]  # by LATENCIES name; None: not exposed / not observed
    kv_peak: float | None  # 0..1
    kv_peak_tokens: int | None
    preemptions: int | None
    waiting_peak: int | None
    prefix_cache_hit_rate: float | None  # hits / queries over the run, in tokens
    prompt_tokens: int | None
    generation_tokens: int | None
    energy_j: float | None
    energy_note: str | None  # why energy is unknown

    def energy_per_output_token(self) -> float | None:
        if self.energy_j is None or not self.generation_tokens:
            return None
        return self.energy_j / self.generation_tokens

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            f"{name}_ms": (s.to_json() if s is not None else None)
            for name, s in self.latencies.items()
        }
        out |= {
            "kv_peak": self.kv_peak,
            "kv_peak_tokens": self.kv_peak_tokens,
            "preemptions": self.preemptions,
            "waiting_peak": self.waiting_peak,
            "prefix_cache_hit_rate": self.prefix_cache_hit_rate,
            "prompt_tokens": self.prompt_tokens,
            "generation_tokens": self.generation_tokens,
            "energy_j": self.energy_j,
            "energy_j_per_output_token": self.energy_per_output_token(),
            "energy_note": self.energy_note,
            "samples": self.samples,
        }
        return out


def _delta(first: MetricsSample, last: MetricsSample, counter: str) -> int | None:
    a, b = first.total(counter), last.total(counter)
    if a is None or b is None:
        return None
    return round(b - a if b >= a else b)  # lower: the server restarted and counts from 0


def server_side(
    samples: Sequence[MetricsSample],
    energy_j: float | None = None,
    energy_note: str | None = None,
) -> ServerSide | None:
    """The run's window is from the first sample to the last; None with fewer than two."""
    vllm = [s for s in samples if s.has_vllm_series]
    if len(vllm) < 2:
        return None
    first, last = vllm[0], vllm[-1]
    latencies: dict[str, HistStats | None] = {}
    for name in LATENCIES:
        a, b = first.histogram(name), last.histogram(name)
        latencies[name] = HistStats.of(b.minus(a)) if a is not None and b is not None else None
    peaks = [s for s in vllm if s.kv_usage is not None]
    peak = max(peaks, key=lambda s: s.kv_usage or 0.0, default=None)
    waiting = [w for s in vllm if (w := s.total("waiting")) is not None]
    queries, hits = _delta(first, last, "prefix_queries"), _delta(first, last, "prefix_hits")
    return ServerSide(
        samples=len(vllm),
        latencies=latencies,
        kv_peak=peak.kv_usage if peak is not None else None,
        kv_peak_tokens=peak.kv_used_tokens if peak is not None else None,
        preemptions=_delta(first, last, "preemptions"),
        waiting_peak=round(max(waiting)) if waiting else None,
        prefix_cache_hit_rate=(hits or 0) / queries if queries else None,
        prompt_tokens=_delta(first, last, "prompt_tokens"),
        generation_tokens=_delta(first, last, "generation_tokens"),
        energy_j=energy_j,
        energy_note=energy_note,
    )


@dataclass(frozen=True)
class TtftBreakdown:
    client_ms: float  # the client's mean TTFT
    queue_ms: float  # waiting in vLLM's queue (mean)
    prefill_ms: float  # prefill (mean)

    @property
    def outside_ms(self) -> float:
        """The frontend (tokenising, scheduling), the network and the client itself."""
        return max(0.0, self.client_ms - self.queue_ms - self.prefill_ms)

    @property
    def outside_share(self) -> float:
        return self.outside_ms / self.client_ms if self.client_ms > 0 else 0.0

    def to_json(self) -> dict[str, float]:
        return {
            "client_ttft_mean_ms": self.client_ms,
            "server_queue_mean_ms": self.queue_ms,
            "server_prefill_mean_ms": self.prefill_ms,
            "client_and_network_ms": self.outside_ms,
            "client_and_network_share": self.outside_share,
        }

    def describe(self) -> str:
        return (
            f"TTFT {self.client_ms:,.1f} ms = queue {self.queue_ms:,.1f} + prefill "
            f"{self.prefill_ms:,.1f} + frontend, network and client {self.outside_ms:,.1f} "
            f"({self.outside_share:.0%})"
        )


def ttft_breakdown(client_ttft_mean_ms: float | None, server: ServerSide) -> TtftBreakdown | None:
    queue, prefill = server.latencies.get("queue"), server.latencies.get("prefill")
    if client_ttft_mean_ms is None or queue is None or prefill is None:
        return None
    if queue.mean_ms is None or prefill.mean_ms is None:
        return None
    return TtftBreakdown(client_ttft_mean_ms, queue.mean_ms, prefill.mean_ms)
