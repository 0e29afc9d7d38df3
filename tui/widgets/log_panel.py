"""The server log: follow / pause, level filter, access-log noise hidden, search, jump to the
last error, save. Lines are pulled from the supervisor's bounded buffer ten times a second,
so a flood costs one batch per pull, never one message per line."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Literal

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Input, Log, Static

from tui.log_feed import LEVELS, Level, LogEntry, LogFeed

MAX_VIEW_LINES = 5000
LogKey = Literal["follow", "search", "next", "prev", "level", "access", "error", "save"]


class LogPanel(Vertical):
    DEFAULT_CSS = """
    LogPanel { border: round $primary 50%; height: 1fr; }
    LogPanel Log { height: 1fr; }
    LogPanel #log-bar { height: 1; background: $boost; color: $text-muted; }
    LogPanel #log-search { height: 3; display: none; }
    LogPanel.searching #log-search { display: block; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.feed = LogFeed(None)
        self.min_level = Level.NONE
        self.hide_access = True
        self.follow = True
        self.search_term = ""
        self._dropped = 0
        self._shown: deque[LogEntry] = deque(maxlen=MAX_VIEW_LINES)
        self._match = -1

    def compose(self) -> ComposeResult:
        yield Log(id="log-lines", max_lines=MAX_VIEW_LINES, auto_scroll=True)
        yield Input(placeholder="search the log, Enter to find", id="log-search")
        yield Static(id="log-bar")

    def on_mount(self) -> None:
        self.border_title = "Log"
        self._update_bar()

    # ---- data in --------------------------------------------------------------------------

    @property
    def unavailable(self) -> str | None:
        return self.feed.unavailable

    def attach(self, feed: LogFeed) -> None:
        self.feed = feed
        self._shown.clear()
        self._dropped = 0
        self._refill()
        self.pull()

    def _visible(self, entry: LogEntry) -> bool:
        return entry.level >= self.min_level and not (entry.noise and self.hide_access)

    def pull(self) -> int:
        """Take the lines that arrived since the last pull; return how many (shown or not)."""
        entries, dropped = self.feed.pull()
        if not entries:
            return 0
        self._dropped += dropped
        self._shown.extend(entries)
        shown = [e.text for e in entries if self._visible(e)]
        if shown:
            self.query_one(Log).write_lines(shown)
        self._update_bar()
        return len(entries)

    def _refill(self) -> None:
        log = self.query_one(Log)
        log.clear()
        if self.feed.source is None:
            log.write_line(self.feed.unavailable or "no log")
        else:
            log.write_lines(self.visible_lines())
        self._update_bar()

    def visible_lines(self) -> list[str]:
        return [e.text for e in self._shown if self._visible(e)]

    # ---- actions (bound by the app) ---------------------------------------------------------

    def press(self, key: LogKey) -> None:
        """What the app's log keys (f / n N l a e s) do here."""
        actions: dict[LogKey, Callable[[], object]] = {
            "follow": self.toggle_follow,
            "search": self.open_search,
            "next": lambda: self.find(forward=True),
            "prev": lambda: self.find(forward=False),
            "level": self.cycle_level,
            "access": self.toggle_access,
            "error": self.jump_to_last_error,
            "save": self._save_here,
        }
        actions[key]()

    def _save_here(self) -> None:
        path = self.save(Path.cwd() / f"vllm-top-log-{datetime.now():%Y%m%d-%H%M%S}.txt")
        self.notify(f"log saved to {path}")

    def toggle_follow(self) -> None:
        self.follow = not self.follow
        log = self.query_one(Log)
        log.auto_scroll = self.follow
        if self.follow:
            log.scroll_end(animate=False)
        self._update_bar()

    def cycle_level(self) -> None:
        self.min_level = LEVELS[(LEVELS.index(self.min_level) + 1) % len(LEVELS)]
        self._refill()

    def toggle_access(self) -> None:
        self.hide_access = not self.hide_access
        self._refill()

    def open_search(self) -> None:
        self.add_class("searching")
        self.query_one(Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.search_term = event.value
        self.remove_class("searching")
        self._match = -1
        self.find(forward=True)

    def find(self, forward: bool = True) -> bool:
        """Move to the next (or previous) visible line containing the search term."""
        if not self.search_term:
            return False
        lines = self.visible_lines()
        needle = self.search_term.lower()
        hits = [i for i, t in enumerate(lines) if needle in t.lower()]
        if not hits:
            self._match = -1
            self._update_bar(f"'{self.search_term}' not found")
            return False
        if forward:
            after = [i for i in hits if i > self._match]
            self._match = after[0] if after else hits[0]
        else:
            before = [i for i in hits if i < self._match]
            self._match = before[-1] if before else hits[-1]
        self._goto(self._match, f"'{self.search_term}' {hits.index(self._match) + 1}/{len(hits)}")
        return True

    def jump_to_last_error(self) -> bool:
        levels = [e.level for e in self._shown if self._visible(e)]
        errors = [i for i, lv in enumerate(levels) if lv >= Level.ERROR]
        if not errors:
            self._update_bar("no error in the log")
            return False
        self._goto(errors[-1], "last error")
        return True

    def _goto(self, index: int, note: str) -> None:
        self.follow = False
        log = self.query_one(Log)
        log.auto_scroll = False
        log.scroll_to(y=max(0, index - 2), animate=False)
        self._update_bar(f"{note} (line {index + 1}); f to follow again")

    def save(self, path: Path) -> Path:
        path.write_text("\n".join(self.visible_lines()) + "\n", encoding="utf-8")
        self._update_bar(f"saved {path}")
        return path

    def _update_bar(self, note: str = "") -> None:
        level = "all" if self.min_level is Level.NONE else f"{self.min_level.name.lower()}+"
        parts = [
            "following" if self.follow else "PAUSED",
            f"level {level}",
            "access log hidden" if self.hide_access else "access log shown",
        ]
        if self._dropped:
            parts.append(f"{self._dropped:,} lines only on disk")
        if note:
            parts.append(note)
        bar = Text(" · ".join(parts))
        if self.is_mounted:
            self.query_one("#log-bar", Static).update(bar)
