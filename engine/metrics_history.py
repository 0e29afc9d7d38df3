"""A bounded history of /metrics samples, and what can only be said over a window.

Rates come from counter deltas and survive a counter reset (a restarted server starts again at
0: the new value is the increase). Percentiles come from histogram bucket deltas, so
"server-side TTFT p95 over the last 10 s" can be drawn next to the client's own figure.
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Callable, Iterator

from engine.metrics import Histogram, MetricsSample


class MetricsHistory:
    def __init__(self, max_samples: int = 3600) -> None:
        self._samples: deque[MetricsSample] = deque(maxlen=max_samples)

    def add(self, sample: MetricsSample) -> None:
        self._samples.append(sample)

    def __len__(self) -> int:
        return len(self._samples)

    def __iter__(self) -> Iterator[MetricsSample]:
        return iter(self._samples)

    @property
    def latest(self) -> MetricsSample | None:
        return self._samples[-1] if self._samples else None

    def _window(self, window_s: float) -> list[MetricsSample]:
        if not self._samples:
            return []
        since = self._samples[-1].at - window_s
        # The newest sample at or before the window's start anchors the first delta.
        out: list[MetricsSample] = []
        for sample in reversed(self._samples):
            out.append(sample)
            if sample.at <= since:
                break
        out.reverse()
        return out

    def increase(self, counter: str, window_s: float) -> float | None:
        """How much a counter (summed over engines) grew in the window, across resets."""
        samples = self._window(window_s)
        values = [(s.at, s.total(counter)) for s in samples]
        known = [(at, v) for at, v in values if v is not None]
        if len(known) < 2:
            return None
        grown = 0.0
        for (_, before), (_, after) in itertools.pairwise(known):
            grown += after - before if after >= before else after
        return grown

    def rate(self, counter: str, window_s: float) -> float | None:
        """Per second over the window (None until two samples span some time)."""
        samples = self._window(window_s)
        grown = self.increase(counter, window_s)
        if grown is None or len(samples) < 2:
            return None
        span = samples[-1].at - samples[0].at
        return grown / span if span > 0 else None

    def histogram_window(self, name: str, window_s: float) -> Histogram | None:
        """Observations of a histogram (merged over engines) made inside the window."""
        samples = self._window(window_s)
        hists = [h for s in samples if (h := s.histogram(name)) is not None]
        if len(hists) < 2:
            return None
        total: Histogram | None = None
        for before, after in itertools.pairwise(hists):
            step = after.minus(before)
            total = step if total is None else total.merged(step)
        return total

    def quantile(self, name: str, q: float, window_s: float) -> float | None:
        hist = self.histogram_window(name, window_s)
        return None if hist is None else hist.quantile(q)

    def prefix_hit_rate(self, window_s: float) -> float | None:
        queries = self.increase("prefix_queries", window_s)
        hits = self.increase("prefix_hits", window_s)
        if not queries or hits is None:
            return None
        return hits / queries

    def series(
        self, value: Callable[[MetricsSample], float | None], window_s: float
    ) -> list[tuple[float, float | None]]:
        """(time, value) points for a chart; None where the value was unknown."""
        return [(s.at, value(s)) for s in self._window(window_s)]

    def rate_series(self, counter: str, span_s: float) -> list[tuple[float, float]]:
        """Per-second rate between consecutive samples inside the span (resets skipped)."""
        samples = self._window(span_s)
        points = []
        for before, after in itertools.pairwise(samples):
            a, b = before.total(counter), after.total(counter)
            dt = after.at - before.at
            if a is not None and b is not None and b >= a and dt > 0:
                points.append((after.at, (b - a) / dt))
        return points

    def quantile_series(
        self, name: str, q: float, span_s: float, step_s: float = 10.0
    ) -> list[tuple[float, float]]:
        """At each sample in the span, the quantile of what was observed in the `step_s` before."""
        samples = self._window(span_s + step_s)
        if not samples:
            return []
        start = samples[-1].at - span_s
        points = []
        for i, sample in enumerate(samples):
            if sample.at < start:
                continue
            now = sample.histogram(name)
            base = next(
                (s.histogram(name) for s in reversed(samples[:i]) if s.at <= sample.at - step_s),
                samples[0].histogram(name) if i else None,
            )
            if now is None or base is None:
                continue
            value = now.minus(base).quantile(q)
            if value is not None:
                points.append((sample.at, value))
        return points
