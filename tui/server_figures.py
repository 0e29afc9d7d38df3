"""What the cockpit knows of the server over HTTP, kept on the UI thread from the watcher's
reports: the /metrics history (a new one for every new server: a restart starts its counters
again), why /metrics is unknown, the log's stats line, and who the server is."""

from __future__ import annotations

from dataclasses import dataclass

from engine.metrics_history import MetricsHistory
from engine.statsline import StatsLine
from engine.watcher import WatchReport


@dataclass(frozen=True)
class Identity:
    """What /version and /v1/models said of the server."""

    version: str | None = None
    max_model_len: int | None = None


class ServerFigures:
    def __init__(self, retain_s: float) -> None:
        """retain_s: how far back the history goes (the longest chart and its step)."""
        self.retain_s = retain_s
        self.history = MetricsHistory(retain_s=retain_s)
        self.metrics_error: str | None = None
        self.stats_line: StatsLine | None = None  # the newest periodic stats line
        self.identity = Identity()
        self._server: int | None = None  # which server the history is of

    def take(self, report: WatchReport) -> bool:
        """Keep what a watch round found; True when the server's identity just arrived."""
        if report.server != self._server:
            self._server = report.server
            self.history = MetricsHistory(retain_s=self.retain_s)
            self.identity = Identity()
        self.metrics_error = report.metrics_error
        self.stats_line = report.stats_line
        if report.sample is not None:
            self.history.add(report.sample)
        if report.identity is None:
            return False
        self.identity = Identity(report.identity.version, report.identity.max_model_len)
        return True
