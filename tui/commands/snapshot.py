"""`vllm-top snapshot --url URL [--api-key KEY] --json`: one look, as one JSON object; exit 2
when nothing usable answers (unreachable, or hung)."""

from __future__ import annotations

import argparse
import json

from engine.snapshot import take_snapshot
from tui.commands.settings import api_key_from

EXIT_OK = 0
EXIT_UNREACHABLE = 2


def run_snapshot(args: argparse.Namespace) -> int:
    snap = take_snapshot(args.url, api_key=api_key_from(args), timeout=args.timeout)
    print(json.dumps(snap, indent=2 if args.pretty else None, ensure_ascii=False))
    # A hung server is as unusable to a script as a missing one.
    return EXIT_UNREACHABLE if snap["state"] in ("unreachable", "unresponsive") else EXIT_OK
