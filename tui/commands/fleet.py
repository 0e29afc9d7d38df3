"""Which endpoints a command watches: one URL (the single-server dashboard), several URLs or a
fleet file (the fleet). Bad input is a UsageError: one line, exit code 2."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from engine.fleet_file import FleetFileError, FleetMember, members_from_urls, read_fleet_file
from tui.commands.errors import UsageError


def fleet_members(
    urls: Sequence[str], fleet_file: str | None, api_key: str | None, always: bool = False
) -> list[FleetMember] | None:
    """None for exactly one URL and no file (unless `always`): the single-server case."""
    if fleet_file and urls:
        raise UsageError("give URLs or --fleet FILE, not both")
    if not fleet_file and not urls:
        raise UsageError("give a server URL (or several, or --fleet FILE)")
    if not fleet_file and len(urls) == 1 and not always:
        return None
    try:
        if fleet_file:
            return read_fleet_file(Path(fleet_file))
        return members_from_urls(urls, api_key)
    except FleetFileError as exc:
        raise UsageError(str(exc)) from None


def check_ray() -> None:
    """--ray without the cluster extra: one line saying how to install it."""
    from engine.ray_cluster import ClusterError, ray_module

    try:
        ray_module()
    except ClusterError as exc:
        raise UsageError(str(exc)) from None
