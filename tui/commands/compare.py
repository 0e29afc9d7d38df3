"""`vllm-top compare A.json B.json [more]`: runs side by side, a verdict per figure, and
`--fail-on` regressions that exit 1 (for CI pipelines). Exit 2 for a file that is not a bench
result, or a malformed rule."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from loadgen.compare import (
    DEFAULT_THRESHOLD,
    HEADLINE,
    compare,
    load_result,
    parse_fail_on,
    render_compare,
)
from loadgen.config import ConfigError
from tui.commands.errors import UsageError

EXIT_OK = 0
EXIT_REGRESSED = 1


def run_compare(args: argparse.Namespace) -> int:
    try:
        rules = parse_fail_on(args.fail_on) if args.fail_on else []
        results = [load_result(Path(p)) for p in args.files]
    except ConfigError as exc:
        raise UsageError(str(exc)) from None
    if len(results) < 2:
        raise UsageError("compare needs two result files or more (the first is the baseline)")
    threshold = args.threshold if args.threshold is not None else DEFAULT_THRESHOLD
    names = list(dict.fromkeys([*HEADLINE, *(r.figure for r in rules)]))
    baseline, others = results[0], results[1:]
    table = [(other, compare(baseline, other, names, threshold)) for other in others]
    print(render_compare(baseline, table))
    broken = [
        f"{other.name}: {row.figure} changed {row.change:+.1%} (limit {rule.describe()})"
        for other, rows in table
        for row in rows
        for rule in rules
        if rule.figure == row.figure and rule.broken_by(row) and row.change is not None
    ]
    for line in broken:
        print(f"vllm-top compare: regression: {line}", file=sys.stderr)
    return EXIT_REGRESSED if broken else EXIT_OK
