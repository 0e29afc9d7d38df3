"""Which layout a terminal gets: everything from 120x36 up (short of 48 lines, the log and the
burst table give the charts their lines); below that, panels or charts (`c` swaps them); plain
ASCII where the terminal has no Unicode. The rules are classes on the screen (cockpit.tcss)."""

from __future__ import annotations

import os
import sys

from textual.screen import Screen

from tui.format import terminal_lacks_unicode

COMPACT_WIDTH = 120
COMPACT_HEIGHT = 36
SHORT_HEIGHT = 48


def apply_layout(screen: Screen[object], width: int, height: int) -> None:
    compact = width < COMPACT_WIDTH or height < COMPACT_HEIGHT
    screen.set_class(compact, "compact")
    screen.set_class(not compact and height < SHORT_HEIGHT, "short")


def wants_ascii(configured: bool | None) -> bool:
    """The config's `ascii`, or, unset, whether the locale and the terminal lack Unicode."""
    if configured is not None:
        return configured
    return terminal_lacks_unicode(dict(os.environ), getattr(sys.__stdout__, "encoding", None))
