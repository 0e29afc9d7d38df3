"""Which endpoints a command watches: one URL (the single-server dashboard), several URLs or a
fleet file (the fleet). Bad input is a UsageError: one line, exit code 2."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from engine.fleet_file import FleetFileError, FleetMember, members_from_urls, read_fleet_file
from tui.commands.errors import UsageError


def fleet_members(
    urls: Sequence[str], fleet_file: str | None, api_key: str | None
) -> list[FleetMember] | None:
    """None for exactly one URL and no file: that is the single-server case."""
    if fleet_file and urls:
        raise UsageError("give URLs or --fleet FILE, not both")
    if not fleet_file and not urls:
        raise UsageError("give a server URL (or several, or --fleet FILE)")
    if not fleet_file and len(urls) == 1:
        return None
    try:
        if fleet_file:
            return read_fleet_file(Path(fleet_file))
        return members_from_urls(urls, api_key)
    except FleetFileError as exc:
        raise UsageError(str(exc)) from None
