"""The server's own record of a run: /metrics scraped once before it, every half second during
it and once after it, on a thread; and the GPUs' energy counters read at both ends when the
server runs on this machine (NVML sees only local GPUs: a remote server's energy is unknown).

`vllm-top bench` records every run with it, and the cockpit every burst and every probe of a
search (the watcher's history is scraped once a second and keeps only the panels' series).
"""

from __future__ import annotations

import ipaddress
import logging
import socket
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field

from engine.gpu import Nvml
from engine.metrics import MetricsReader, MetricsSample, ScrapeError, scrape

log = logging.getLogger(__name__)

INTERVAL_S = 0.5


@dataclass(frozen=True)
class Energy:
    """Joules the GPUs used over the run, or why that is unknown."""

    joules: float | None
    why_unknown: str | None = None


@dataclass
class Recording:
    samples: list[MetricsSample] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # scrapes that failed, with why
    energy: Energy = Energy(None, "not measured")


def is_local(base_url: str) -> bool:
    host = urllib.parse.urlsplit(base_url).hostname or ""
    try:
        address = ipaddress.ip_address(socket.gethostbyname(host))
    except (OSError, ValueError):
        return False
    if address.is_loopback:
        return True
    try:
        mine = {i[4][0] for i in socket.getaddrinfo(socket.gethostname(), None)}
    except OSError:
        return False
    return str(address) in mine


class MetricsRecorder:
    def __init__(
        self,
        base_url: str,
        interval: float = INTERVAL_S,
        clock: Callable[[], float] = time.monotonic,
        nvml: Nvml | None = None,
    ) -> None:
        self._base = base_url
        self._interval = interval
        self._clock = clock
        self._nvml = nvml
        self._reader = MetricsReader()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.recording = Recording()
        self._energy_start: int | None = None

    def start(self) -> None:
        """The first sample now (before the run), then one every interval."""
        self._energy_start = self._read_energy()
        self._scrape()
        self._thread = threading.Thread(target=self._run, name="vllm-top-record", daemon=True)
        self._thread.start()

    def stop(self) -> Recording:
        """The last sample now (after the run); what was recorded."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(15)
        self._scrape()
        end = self._read_energy()
        if self._energy_start is not None and end is not None:
            self.recording.energy = Energy((end - self._energy_start) / 1000.0)
        return self.recording

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self._scrape()

    def _scrape(self) -> None:
        try:
            self.recording.samples.append(
                scrape(self._base, self._clock(), timeout=10.0, reader=self._reader)
            )
        except ScrapeError as exc:
            self.recording.errors.append(str(exc))

    def _read_energy(self) -> int | None:
        """Millijoules of every GPU of this machine together, or None (and why, kept)."""
        if not is_local(self._base):
            self.recording.energy = Energy(None, "the server is not on this machine")
            return None
        nvml = self._nvml or Nvml()
        if not nvml.available:
            self.recording.energy = Energy(None, nvml.reason or "no GPU")
            return None
        readings = [g.energy_mj for g in nvml.sample()]
        if not readings or any(r is None for r in readings):
            self.recording.energy = Energy(None, "the GPUs give no energy counter (pre-Volta?)")
            return None
        return sum(r for r in readings if r is not None)
