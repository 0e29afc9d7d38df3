"""`vllm-top snapshot --url URL [--api-key KEY] --json`: one look, as one JSON object; exit 2
when nothing usable answers (unreachable, or hung). Several --url or --fleet FILE: a JSON list,
one object per endpoint (with its name), exit 2 only when every endpoint is down."""

from __future__ import annotations

import argparse
import json

from engine.snapshot import take_fleet_snapshot, take_snapshot
from tui.commands.fleet import fleet_members
from tui.commands.settings import api_key_from

EXIT_OK = 0
EXIT_UNREACHABLE = 2


DOWN = ("unreachable", "unresponsive")  # a hung server is as unusable to a script as a missing one


def run_snapshot(args: argparse.Namespace) -> int:
    members = fleet_members(args.url, args.fleet, api_key_from(args))
    if members is None:
        snap = take_snapshot(args.url[0], api_key=api_key_from(args), timeout=args.timeout)
        _print(snap, args.pretty)
        return EXIT_UNREACHABLE if snap["state"] in DOWN else EXIT_OK
    snaps = take_fleet_snapshot(members, timeout=args.timeout)
    _print(snaps, args.pretty)
    # Exit 2 only when nothing at all can be watched: one live endpoint is a usable fleet.
    return EXIT_UNREACHABLE if all(s["state"] in DOWN for s in snaps) else EXIT_OK


def _print(value: object, pretty: bool) -> None:
    print(json.dumps(value, indent=2 if pretty else None, ensure_ascii=False))
