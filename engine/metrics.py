"""vLLM's Prometheus /metrics, parsed into typed per-engine values, across vLLM versions.

A metric that is absent is None ("unknown"), never 0: `--disable-log-stats` removes every vllm:*
series, and old and new releases name things differently (each field lists its names, newest
first). With data parallelism every engine has its own `engine` label and its own KV cache:
counts and counters add up, KV usage is the mean over engines, histograms merge bucket by bucket.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, replace

from prometheus_client.parser import text_string_to_metric_families

from engine.http import get
from engine.urls import normalize_base_url

# Field -> metric family names, newest first (prometheus_client strips a counter's _total).
GAUGES: dict[str, tuple[str, ...]] = {
    "running": ("vllm:num_requests_running",),
    "waiting": ("vllm:num_requests_waiting",),
    "kv_usage": ("vllm:kv_cache_usage_perc", "vllm:gpu_cache_usage_perc"),
    "prefix_hit_rate_gauge": ("vllm:gpu_prefix_cache_hit_rate",),  # V0 only
}
COUNTERS: dict[str, tuple[str, ...]] = {
    "preemptions": ("vllm:num_preemptions",),
    "prompt_tokens": ("vllm:prompt_tokens",),
    "generation_tokens": ("vllm:generation_tokens",),
    "prefix_queries": ("vllm:prefix_cache_queries", "vllm:gpu_prefix_cache_queries"),
    "prefix_hits": ("vllm:prefix_cache_hits", "vllm:gpu_prefix_cache_hits"),
    "requests_finished": ("vllm:request_success",),
}
HISTOGRAMS: dict[str, tuple[str, ...]] = {
    "ttft": ("vllm:time_to_first_token_seconds",),
    "itl": ("vllm:inter_token_latency_seconds", "vllm:time_per_output_token_seconds"),
    "e2e": ("vllm:e2e_request_latency_seconds",),
    "queue": ("vllm:request_queue_time_seconds",),
    "prefill": ("vllm:request_prefill_time_seconds",),
    "decode": ("vllm:request_decode_time_seconds",),
}
CACHE_INFO = ("vllm:cache_config_info", "vllm:cache_config")
_WANTED = tuple(
    sorted({n for d in (GAUGES, COUNTERS, HISTOGRAMS) for ns in d.values() for n in ns})
    + list(CACHE_INFO)
)


_SAMPLE_LINE = re.compile(r"[a-zA-Z_:][\w:]*(?:\{.*\})? [-+]?(?:[0-9.]|NaN|Inf)")


def _relevant(text: str) -> str:
    """Only the families read here: vLLM exposes ~90, we use a dozen; parsing drops 7 -> 2.6 ms.

    Lines left out are still checked for shape, so a page that is not Prometheus text is
    still an error rather than "no vLLM series".
    """
    keep = []
    for line in text.splitlines():
        if line.startswith("#"):
            parts = line.split(" ", 3)
            if len(parts) > 2 and parts[2].startswith(_WANTED):
                keep.append(line)
        elif line.startswith(_WANTED):
            keep.append(line)
        elif line and not _SAMPLE_LINE.match(line):
            raise ValueError(f"not a Prometheus sample line: {line[:60]!r}")
    return "\n".join(keep) + "\n"


@dataclass(frozen=True)
class Histogram:
    """Cumulative buckets (upper bound, count), sorted, the last one +Inf."""

    buckets: tuple[tuple[float, float], ...]
    sum: float
    count: float

    def merged(self, other: Histogram) -> Histogram:
        """Bucket by bucket; engines of one server share their bucket edges."""
        if [le for le, _ in self.buckets] == [le for le, _ in other.buckets]:
            return Histogram(
                tuple(
                    (le, a + b) for (le, a), (_, b) in zip(self.buckets, other.buckets, strict=True)
                ),
                self.sum + other.sum,
                self.count + other.count,
            )
        # Different edges (custom buckets on one engine): count at each edge of either.
        edges = sorted({le for le, _ in self.buckets} | {le for le, _ in other.buckets})
        return Histogram(
            tuple(
                (le, _cumulative_at(self.buckets, le) + _cumulative_at(other.buckets, le))
                for le in edges
            ),
            self.sum + other.sum,
            self.count + other.count,
        )

    def minus(self, older: Histogram) -> Histogram:
        """What was observed since `older`; after a counter reset, everything since the reset."""
        if self.count < older.count:
            return self
        if len(self.buckets) == len(older.buckets):  # one server's edges: bucket by bucket
            buckets = tuple(
                (le, max(0.0, n - m))
                for (le, n), (old_le, m) in zip(self.buckets, older.buckets, strict=True)
                if le == old_le
            )
            if len(buckets) == len(self.buckets):
                return Histogram(buckets, self.sum - older.sum, self.count - older.count)
        old = dict(older.buckets)
        return Histogram(
            tuple((le, max(0.0, n - old.get(le, 0.0))) for le, n in self.buckets),
            self.sum - older.sum,
            self.count - older.count,
        )

    def quantile(self, q: float) -> float | None:
        """Prometheus's histogram_quantile: linear interpolation inside the bucket."""
        if self.count <= 0 or not self.buckets:
            return None
        rank = q * self.count
        prev_le, prev_n = 0.0, 0.0
        for le, n in self.buckets:
            if n >= rank:
                if math.isinf(le):
                    return prev_le  # the highest finite bound: all we can say
                if n == prev_n:
                    return le
                return prev_le + (le - prev_le) * (rank - prev_n) / (n - prev_n)
            prev_le, prev_n = le, n
        return prev_le


def _cumulative_at(buckets: tuple[tuple[float, float], ...], le: float) -> float:
    count = 0.0
    for edge, n in buckets:
        if edge <= le:
            count = n
        else:
            break
    return count


@dataclass(frozen=True)
class EngineMetrics:
    """One engine's series: gauges and counters by field name (see GAUGES and COUNTERS)."""

    engine: str
    values: dict[str, float] = field(default_factory=dict)
    histograms: dict[str, Histogram] = field(default_factory=dict)
    cache_info: dict[str, str] = field(default_factory=dict)

    @property
    def running(self) -> float | None:
        return self.values.get("running")

    @property
    def waiting(self) -> float | None:
        return self.values.get("waiting")

    @property
    def kv_usage(self) -> float | None:
        return self.values.get("kv_usage")

    @property
    def kv_capacity_tokens(self) -> int | None:
        info = self.cache_info
        try:
            if info.get("kv_cache_size_tokens") not in (None, "None"):
                return int(float(info["kv_cache_size_tokens"]))
            if info.get("num_gpu_blocks") not in (None, "None") and "block_size" in info:
                return int(info["num_gpu_blocks"]) * int(info["block_size"])
        except ValueError:
            pass
        return None


@dataclass(frozen=True)
class MetricsSample:
    at: float
    engines: dict[str, EngineMetrics]
    has_vllm_series: bool

    def total(self, name: str) -> float | None:
        """A gauge or counter added over engines; None when no engine reports it."""
        present = [v for e in self.engines.values() if (v := e.values.get(name)) is not None]
        return sum(present) if present else None

    def only(self, engine: str) -> MetricsSample:
        """This sample as if the server had only that engine (for per-engine rows)."""
        kept = {engine: self.engines[engine]} if engine in self.engines else {}
        return MetricsSample(self.at, kept, self.has_vllm_series)

    def histogram(self, name: str) -> Histogram | None:
        merged: Histogram | None = None
        for e in self.engines.values():
            if (h := e.histograms.get(name)) is not None:
                merged = h if merged is None else merged.merged(h)
        return merged

    @property
    def kv_usage(self) -> float | None:
        # Each engine has its own cache: the server's usage is their mean (a sum can pass 100%).
        present = [v for e in self.engines.values() if (v := e.kv_usage) is not None]
        return sum(present) / len(present) if present else None

    @property
    def kv_capacity_tokens(self) -> int | None:
        caps = [c for e in self.engines.values() if (c := e.kv_capacity_tokens) is not None]
        return sum(caps) if caps else None

    @property
    def kv_used_tokens(self) -> int | None:
        used = [
            usage * cap
            for e in self.engines.values()
            if (usage := e.kv_usage) is not None and (cap := e.kv_capacity_tokens) is not None
        ]
        return round(sum(used)) if used else None

    @property
    def prefix_cache_hit_rate(self) -> float | None:
        """Since the server started (hits / queries, in tokens); V0's own gauge otherwise."""
        queries = self.total("prefix_queries")
        if queries:
            return (self.total("prefix_hits") or 0.0) / queries
        if queries == 0:
            return None  # no lookups yet: a rate of nothing is unknown, not 0
        return self.total("prefix_hit_rate_gauge")


@dataclass
class _Acc:
    values: dict[str, float] = field(default_factory=dict)
    histograms: dict[str, Histogram] = field(default_factory=dict)
    cache_info: dict[str, str] = field(default_factory=dict)


Series = list[tuple[str, dict[str, str], float]]


def parse_metrics(text: str, at: float) -> MetricsSample:
    """Parse Prometheus text exposition from vLLM. Raises ValueError on malformed text."""
    return _parse_relevant(_relevant(text), at, _has_vllm(text))


def _has_vllm(text: str) -> bool:
    # Whether the server has any vLLM series at all is judged on the whole text.
    return "\nvllm:" in text or text.startswith("vllm:")


class MetricsReader:
    """Parses one server's /metrics again only when the series read here have moved.

    An idle server's text repeats every second apart from its process and GC series, and a
    parse costs ~12 ms on a 2-core VM: it was most of an idle watcher's CPU.
    """

    def __init__(self) -> None:
        self._last: tuple[str, bool, MetricsSample] | None = None

    def parse(self, text: str, at: float) -> MetricsSample:
        relevant, has_vllm = _relevant(text), _has_vllm(text)
        if self._last is not None and self._last[:2] == (relevant, has_vllm):
            return replace(self._last[2], at=at)
        sample = _parse_relevant(relevant, at, has_vllm)
        self._last = (relevant, has_vllm, sample)
        return sample


def _parse_relevant(relevant: str, at: float, has_vllm: bool) -> MetricsSample:
    by_family: dict[str, Series] = {}
    for family in text_string_to_metric_families(relevant):
        # A family split across the text (hand-joined exports) adds up rather than replacing.
        by_family.setdefault(family.name, []).extend(
            (s.name, s.labels, s.value) for s in family.samples
        )
    engines: dict[str, _Acc] = {}

    def acc(labels: dict[str, str]) -> _Acc:
        # V0 had no engine label: one engine, "0".
        return engines.setdefault(labels.get("engine", "0"), _Acc())

    def newest(names: tuple[str, ...]) -> Series:
        return next((by_family[n] for n in names if n in by_family), [])

    for fld, names in GAUGES.items():
        for _, labels, value in newest(names):
            acc(labels).values[fld] = value
    for fld, names in COUNTERS.items():
        for sample_name, labels, value in newest(names):
            if not sample_name.endswith("_created"):
                # Counters split by another label (finished_reason, ...) add up per engine.
                values = acc(labels).values
                values[fld] = values.get(fld, 0.0) + value
    for fld, names in HISTOGRAMS.items():
        for engine, hist in _histograms(newest(names)).items():
            engines.setdefault(engine, _Acc()).histograms[fld] = hist
    for _, labels, _value in newest(CACHE_INFO):
        acc(labels).cache_info = {k: v for k, v in labels.items() if k != "engine"}
    return MetricsSample(
        at=at,
        engines={
            k: EngineMetrics(k, a.values, a.histograms, a.cache_info)
            for k, a in sorted(engines.items())
        },
        has_vllm_series=has_vllm,
    )


def _histograms(series: Series) -> dict[str, Histogram]:
    buckets: dict[str, dict[float, float]] = {}
    sums: dict[str, float] = {}
    counts: dict[str, float] = {}
    for sample_name, labels, value in series:
        engine = labels.get("engine", "0")
        if sample_name.endswith("_bucket"):
            per_le = buckets.setdefault(engine, {})
            le = float(labels["le"])
            per_le[le] = per_le.get(le, 0.0) + value
        elif sample_name.endswith("_sum"):
            sums[engine] = sums.get(engine, 0.0) + value
        elif sample_name.endswith("_count"):
            counts[engine] = counts.get(engine, 0.0) + value
    return {
        engine: Histogram(tuple(sorted(b.items())), sums.get(engine, 0.0), counts.get(engine, 0.0))
        for engine, b in buckets.items()
    }


class ScrapeError(Exception):
    """The server gave no usable /metrics; the message says why in a few words."""


def scrape_text(base_url: str, timeout: float = 5.0) -> str:
    answer = get(normalize_base_url(base_url) + "/metrics", timeout=timeout)
    if answer.status is None:
        raise ScrapeError(f"cannot reach /metrics: {answer.error}")
    if answer.status != 200:
        raise ScrapeError(f"/metrics answered HTTP {answer.status}")
    if "html" in answer.content_type:
        raise ScrapeError("/metrics answered an HTML page, not Prometheus text")
    return answer.body.decode("utf-8", errors="replace")


def scrape(
    base_url: str, at: float, timeout: float = 5.0, reader: MetricsReader | None = None
) -> MetricsSample:
    text = scrape_text(base_url, timeout)
    try:
        return reader.parse(text, at) if reader is not None else parse_metrics(text, at)
    except (ValueError, KeyError, IndexError) as exc:
        raise ScrapeError(f"/metrics is not Prometheus text ({exc})") from None
