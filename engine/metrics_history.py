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
    def __init__(self, retain_s: float = 330.0, max_samples: int = 4000) -> None:
        """Samples older than `retain_s` are dropped (one is kept as the anchor of the oldest
        window): nothing asks further back than the longest chart plus its step. A count cap
        alone kept an hour of samples, about 16 KiB each, for nothing (found by bench/soak.py:
        +113 MiB of RSS over an hour)."""
        self._samples: deque[MetricsSample] = deque(maxlen=max_samples)
        self.retain_s = retain_s

    def add(self, sample: MetricsSample) -> None:
        samples = self._samples
        samples.append(sample)
        cutoff = sample.at - self.retain_s
        while len(samples) > 1 and samples[1].at <= cutoff:
            samples.popleft()

    def __len__(self) -> int:
        return len(self._samples)

    def __iter__(self) -> Iterator[MetricsSample]:
        return iter(self._samples)

    @property
    def latest(self) -> MetricsSample | None:
        return self._samples[-1] if self._samples else None

    def of_engine(self, engine: str, window_s: float) -> MetricsHistory:
        """The last `window_s` of one engine's series, with the same arithmetic as the whole."""
        part = MetricsHistory(self.retain_s)
        for sample in self._window(window_s):
            part.add(sample.only(engine))
        return part

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
        return _increase(self._window(window_s), counter)

    def rate(self, counter: str, window_s: float) -> float | None:
        """Per second over the window (None until two samples span some time)."""
        samples = self._window(window_s)
        grown = _increase(samples, counter)
        span = samples[-1].at - samples[0].at if samples else 0.0
        return grown / span if grown is not None and span > 0 else None

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
        hists = [s.histogram(name) for s in samples]  # merged over engines once per sample
        start = samples[-1].at - span_s if samples else 0.0
        points = []
        base = 0  # the newest sample at least step_s older than sample i (else the oldest)
        for i, sample in enumerate(samples):
            while base + 1 < i and samples[base + 1].at <= sample.at - step_s:
                base += 1
            now, old = hists[i], hists[base]
            if i == 0 or sample.at < start or now is None or old is None:
                continue
            if now.count == old.count:
                continue  # nothing observed in the step: no percentile (an idle server)
            value = now.minus(old).quantile(q)
            if value is not None:
                points.append((sample.at, value))
        return points


def _increase(samples: list[MetricsSample], counter: str) -> float | None:
    known = [v for s in samples if (v := s.total(counter)) is not None]
    if len(known) < 2:
        return None
    # A value lower than the one before is a restarted server counting again from 0.
    return sum(
        after - before if after >= before else after for before, after in itertools.pairwise(known)
    )
