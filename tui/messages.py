"""What threads and workers tell the app. They never touch the app's attributes or its widgets:
they post one of these, and the app's handlers (on the UI thread) do the rest."""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message

from engine.events import SupervisorEvent
from engine.fleet_watch import FleetReport
from engine.node_watch import NodesReport
from engine.share import Share
from engine.watcher import WatchReport
from loadgen.fleet_load import FleetOutcome
from loadgen.live import Progress
from loadgen.search import Probe, SearchResult
from loadgen.stats import Summary
from tui.commands.dashboard_config import BurstPreset


@dataclass
class ServerWatched(Message):
    """A round of the server watcher: state, /metrics, identity, the log's stats line."""

    report: WatchReport
    session: object = None  # whose round it is: the fleet's Enter changes the server shown


@dataclass
class FleetBurstFinished(Message):
    """A burst across the fleet ended: a summary per endpoint and one for the whole."""

    outcome: FleetOutcome


@dataclass
class NodesWatched(Message):
    """A round of the Ray cluster's node observers."""

    report: NodesReport

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, NodesWatched)


@dataclass
class FleetWatched(Message):
    """A round of one fleet endpoint's watcher."""

    report: FleetReport

    def can_replace(self, message: Message) -> bool:
        # A slow frame keeps only the newest round of each endpoint.
        return isinstance(message, FleetWatched) and (message.report.member == self.report.member)


@dataclass
class ServerEventArrived(Message):
    """The supervisor's news: a state, a phase, an exit (log lines are pulled, not sent)."""

    event: SupervisorEvent


class LoadNews(Message):
    """What the load's workers say: the app hands every one to tui.load_desk."""


@dataclass
class BurstProgress(LoadNews):
    label: str
    progress: Progress

    def can_replace(self, message: Message) -> bool:
        # Only the newest progress matters: a slow frame never queues stale ones.
        return isinstance(message, BurstProgress)


@dataclass
class BurstPreparing(LoadNews):
    """A workload's prompts being made by the server (/tokenize), before the clock starts."""

    label: str
    done: int
    total: int

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, BurstPreparing)


@dataclass
class BurstFinished(LoadNews):
    label: str
    progress: Progress | None  # every record, on the run's clock; None if it never started
    summary: Summary | None
    error: str | None  # why it did not run, or why its load process failed


@dataclass
class ProbeStarted(LoadNews):
    """A probe of the search begins: its burst's label and what it fires."""

    label: str
    preset: BurstPreset


@dataclass
class SearchProbed(LoadNews):
    """A probe of the search was decided."""

    probe: Probe


@dataclass
class SearchFinished(LoadNews):
    result: SearchResult | None
    error: str | None  # why it could not run


@dataclass
class ServerRelaunched(LoadNews):
    """An A/B run's restart returned: the new server is starting (or could not be started)."""

    error: str | None


@dataclass
class ShareOpened(Message):
    share: Share
    key_is_new: bool  # generated for it: shown once


@dataclass
class ShareFailed(Message):
    reason: str
