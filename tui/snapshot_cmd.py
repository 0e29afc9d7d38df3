"""`vllm-top snapshot --url URL [--api-key KEY] --json`: one look, as one JSON object."""

from __future__ import annotations

import argparse
import json
import os

from engine.snapshot import take_snapshot

EXIT_OK = 0
EXIT_UNREACHABLE = 2


def run_snapshot(args: argparse.Namespace) -> int:
    api_key = args.api_key or os.environ.get("OPENAI_API_KEY") or None
    snap = take_snapshot(args.url, api_key=api_key, timeout=args.timeout)
    print(json.dumps(snap, indent=2 if args.pretty else None, ensure_ascii=False))
    return EXIT_UNREACHABLE if snap["state"] == "unreachable" else EXIT_OK
