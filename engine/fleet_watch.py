"""Watch every server of a fleet at once: one thread per endpoint, so one that hangs (a scrape
can take its whole timeout) never holds back the rows of the others.

Each round of an endpoint is the single-server watcher's own round (state from /health,
/metrics, identity) plus, where the fleet file names one, its node's GPU exporter.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from engine.fleet_file import FleetMember
from engine.gpu import Nvml
from engine.gpu_exporters import ExportedGpus, ExporterError, scrape_exported_gpus
from engine.node_watch import NODE_INTERVAL_S, NodesReport, NodeWatch
from engine.session import AttachedSession
from engine.urls import is_local
from engine.watcher import ServerWatcher, WatchReport

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FleetReport:
    member: FleetMember
    report: WatchReport
    detail: str | None  # why the server is not simply up (silence, a death), else None
    model: str | None  # the served model, once /v1/models said it
    gpus: ExportedGpus | None  # None: no exporter named, or it failed (gpu_error says why)
    gpu_error: str | None


class FleetWatcher:
    def __init__(
        self,
        members: Sequence[FleetMember],
        on_report: Callable[[FleetReport | NodesReport], object] = lambda _report: None,
        interval: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        scrape_timeout: float = 5.0,
    ) -> None:
        self.members = list(members)
        self.sessions = {
            m.name: AttachedSession(m.base_url, api_key=m.api_key, clock=clock)
            for m in self.members
        }
        self._watchers = {
            m.name: ServerWatcher(
                self.sessions[m.name],
                on_report=lambda _r: None,  # rounds are driven here, not by its own thread
                interval=interval,
                clock=clock,
                scrape_timeout=scrape_timeout,
            )
            for m in self.members
        }
        self._on_report = on_report
        self._interval = interval
        self._scrape_timeout = scrape_timeout
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._nodes: NodeWatch | None = None
        self._nvml: Nvml | None = None  # for endpoints on this machine, opened when needed
        self._nvml_lock = threading.Lock()

    def set_listener(self, on_report: Callable[[FleetReport | NodesReport], object]) -> None:
        """Who is told each round (the cockpit sets itself before starting the watcher)."""
        self._on_report = on_report

    def observe_nodes(self, address: str, interval: float = NODE_INTERVAL_S) -> None:
        """Also watch every node of the Ray cluster at `address` (engine.node_watch): its
        rounds go to the listener too, as NodesReport."""
        self._nodes = NodeWatch(address, lambda report: self._on_report(report), interval)

    @property
    def watches_nodes(self) -> bool:
        return self._nodes is not None

    def start(self) -> None:
        if self._nodes is not None:
            self._nodes.start()
        for member in self.members:
            thread = threading.Thread(
                target=self._run, args=(member,), name=f"vllm-top-fleet-{member.name}", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()
        with self._nvml_lock:
            if self._nvml is not None:
                self._nvml.close()
        if self._nodes is not None:
            self._nodes.stop()

    def watch_once(self, member: FleetMember) -> FleetReport:
        report = self._watchers[member.name].watch_once()
        gpus = error = None
        if member.gpu_metrics_url is not None:
            try:
                gpus = scrape_exported_gpus(member.gpu_metrics_url, self._scrape_timeout)
            except ExporterError as exc:
                error = str(exc)
        elif is_local(member.base_url):  # this machine's own GPUs, as the dashboard reads them
            gpus, error = self._local_gpus()
        session = self.sessions[member.name]
        return FleetReport(member, report, session.detail, session.model, gpus, error)

    def _local_gpus(self) -> tuple[ExportedGpus | None, str | None]:
        with self._nvml_lock:
            if self._nvml is None:
                self._nvml = Nvml()
            if not self._nvml.available:
                return None, self._nvml.reason
            found = tuple((socket.gethostname(), g) for g in self._nvml.sample())
        return ExportedGpus("nvml", found), None

    def _run(self, member: FleetMember) -> None:
        while not self._stop.is_set():
            try:
                report = self.watch_once(member)
            except Exception:  # a bug here must not end the watching of this endpoint
                log.exception("a fleet watch round of %s failed", member.name)
            else:
                if not self._stop.is_set():
                    self._on_report(report)
            self._stop.wait(self._interval)
