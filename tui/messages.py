"""What threads and workers tell the app. They never touch the app's attributes or its widgets:
they post one of these, and the app's handlers (on the UI thread) do the rest."""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message

from engine.events import SupervisorEvent
from engine.share import Share
from engine.watcher import WatchReport
from loadgen.live import Progress
from loadgen.stats import Summary


@dataclass
class ServerWatched(Message):
    """A round of the server watcher: state, /metrics, identity, the log's stats line."""

    report: WatchReport


@dataclass
class ServerEventArrived(Message):
    """The supervisor's news: a state, a phase, an exit (log lines are pulled, not sent)."""

    event: SupervisorEvent


@dataclass
class BurstProgress(Message):
    label: str
    progress: Progress

    def can_replace(self, message: Message) -> bool:
        # Only the newest progress matters: a slow frame never queues stale ones.
        return isinstance(message, BurstProgress)


@dataclass
class BurstFinished(Message):
    label: str
    progress: Progress | None  # every record, on the run's clock; None if it never started
    summary: Summary | None
    error: str | None  # why it did not run, or why its load process failed


@dataclass
class ShareOpened(Message):
    share: Share
    key_is_new: bool  # generated for it: shown once


@dataclass
class ShareFailed(Message):
    reason: str
