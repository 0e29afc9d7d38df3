"""The Ray cluster's nodes, observed on a thread of their own (engine.node_observers): the
fleet screen and the single-server dashboard both read the newest round, and never wait for
one. Joining the cluster is retried until it works (a server started with Ray's backend may
start the cluster after vllm-top does); until then the round says why there is none."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from engine.node_observers import NodeObservers, NodeReport
from engine.ray_cluster import ClusterError, connect

log = logging.getLogger(__name__)
NODE_INTERVAL_S = 2.0


@dataclass(frozen=True)
class NodesReport:
    """A round of the node observers: one report per node, or why there are none."""

    nodes: tuple[NodeReport, ...]
    error: str | None


class NodeWatch:
    def __init__(
        self,
        address: str,
        on_report: Callable[[NodesReport], object] = lambda _report: None,
        interval: float = NODE_INTERVAL_S,
    ) -> None:
        self.address = address
        self.on_report = on_report
        self.latest: NodesReport | None = None
        self._interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="vllm-top-nodes", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _tell(self, report: NodesReport) -> None:
        self.latest = report
        if not self._stop.is_set():
            self.on_report(report)

    def _run(self) -> None:
        observers: NodeObservers | None = None
        try:
            while not self._stop.is_set():
                try:
                    if observers is None:
                        connect(self.address)
                        observers = NodeObservers()
                    self._tell(NodesReport(tuple(observers.observe()), None))
                except ClusterError as exc:
                    self._tell(NodesReport((), str(exc)))
                except Exception as exc:  # the cluster itself went away: say so, keep trying
                    log.exception("observing the Ray cluster failed")
                    self._tell(NodesReport((), f"the Ray cluster does not answer: {exc}"))
                self._stop.wait(self._interval)
        finally:
            if observers is not None:
                observers.close()
