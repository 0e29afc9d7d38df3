"""Did a change help? Two or more `vllm-top bench --json` results side by side.

Figures are named `<metric>_<stat>` after the JSON (`ttft_p50`, `ttft_p99`, `tpot_p50`,
`itl_p99`, `e2e_p95`, ...), plus `request_throughput`, `output_throughput`, `success_rate`,
`slo_attainment` and `goodput`. The first file is the baseline. A change is within noise when
it is smaller than twice the larger coefficient of variation of the two (when both were run
with `--repeat`), else than a stated threshold (5% by default); otherwise it is better or
worse, as the figure's direction says. `--fail-on ttft_p99=+10%,output_throughput=-5%` names
the regressions that make the command exit 1.
"""

from __future__ import annotations

import json
import math
import re
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from loadgen.config import ConfigError

METRICS = ("ttft", "tpot", "itl", "e2e", "queue_delay")
STATS = ("mean", "min", "max", "p50", "p90", "p95", "p99")
SCALARS = {
    "request_throughput": ("request_throughput", "higher"),
    "output_throughput": ("output_token_throughput", "higher"),
    "total_throughput": ("total_token_throughput", "higher"),
    "success_rate": ("success_rate", "higher"),
}
DEFAULT_THRESHOLD = 0.05
Verdict = Literal["better", "worse", "within noise", "unknown"]


def figure_names() -> list[str]:
    names = [f"{m}_{s}" for m in METRICS for s in STATS]
    return names + list(SCALARS) + ["slo_attainment", "goodput"]


def lower_is_better(name: str) -> bool:
    return name.split("_")[0] in {m.split("_")[0] for m in METRICS}


def figure(data: dict[str, Any], name: str) -> float | None:
    """A figure of one run's JSON object; None when the run did not measure it."""
    if name in SCALARS:
        value = data.get(SCALARS[name][0])
    elif name == "slo_attainment":
        value = (data.get("slo") or {}).get("attainment")
    elif name == "goodput":
        value = (data.get("slo") or {}).get("goodput")
    else:
        metric, _, stat = name.rpartition("_")
        value = (data.get(f"{metric}_ms") or {}).get(stat)
    return float(value) if isinstance(value, int | float) else None


@dataclass(frozen=True)
class Result:
    """One file: its figures (the mean over its runs, with --repeat) and their spread."""

    name: str
    data: dict[str, Any]

    @property
    def runs(self) -> list[dict[str, Any]]:
        runs = self.data.get("runs")
        return runs if isinstance(runs, list) and runs else [self.data]

    def value(self, name: str) -> float | None:
        values = [v for run in self.runs if (v := figure(run, name)) is not None]
        return statistics.fmean(values) if values else None

    def cv(self, name: str) -> float | None:
        values = [v for run in self.runs if (v := figure(run, name)) is not None]
        if len(values) < 2:
            return None
        mean = statistics.fmean(values)
        return statistics.stdev(values) / abs(mean) if mean else None


def load_result(path: Path) -> Result:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path} does not exist") from None
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path} is not a vllm-top bench JSON file: {exc}") from None
    if isinstance(data, list):
        raise ConfigError(f"{path} holds a sweep (one object per concurrency): compare one run")
    if not isinstance(data, dict) or ("ttft_ms" not in data and "runs" not in data):
        raise ConfigError(f"{path} is not a vllm-top bench JSON file (no ttft_ms)")
    return Result(path.name, data)


@dataclass(frozen=True)
class Row:
    figure: str
    baseline: float | None
    other: float | None
    change: float | None  # relative, other vs baseline
    band: float  # what counts as noise, relative
    verdict: Verdict


def compare(
    baseline: Result, other: Result, names: Sequence[str], threshold: float = DEFAULT_THRESHOLD
) -> list[Row]:
    rows = []
    for name in names:
        a, b = baseline.value(name), other.value(name)
        cvs = [c for c in (baseline.cv(name), other.cv(name)) if c is not None]
        band = 2 * max(cvs) if len(cvs) == 2 else threshold
        if a is None or b is None or a == 0:
            rows.append(Row(name, a, b, None, band, "unknown"))
            continue
        change = (b - a) / abs(a)
        if abs(change) <= band:
            verdict: Verdict = "within noise"
        else:
            improved = change < 0 if lower_is_better(name) else change > 0
            verdict = "better" if improved else "worse"
        rows.append(Row(name, a, b, change, band, verdict))
    return rows


_RULE = re.compile(r"^([a-z_0-9]+)=([+-])(\d+(?:\.\d+)?)%$")


@dataclass(frozen=True)
class FailRule:
    figure: str
    limit: float  # signed, relative: +0.10 fails on a rise above 10%, -0.05 on a fall below

    def broken_by(self, row: Row) -> bool:
        if row.change is None:
            return False
        return row.change > self.limit if self.limit >= 0 else row.change < self.limit

    def describe(self) -> str:
        return f"{self.figure}={self.limit:+.0%}"


def parse_fail_on(text: str) -> list[FailRule]:
    known = set(figure_names())
    rules = []
    for part in (p.strip() for p in text.split(",") if p.strip()):
        m = _RULE.match(part.replace(" ", ""))
        if not m:
            raise ConfigError(
                f"--fail-on takes rules like ttft_p99=+10%,output_throughput=-5%, not {part!r}"
            )
        name, sign, amount = m.groups()
        if name not in known:
            raise ConfigError(
                f"--fail-on: unknown figure {name!r} (e.g. ttft_p99, output_throughput)"
            )
        rules.append(FailRule(name, float(amount) / 100 * (1 if sign == "+" else -1)))
    if not rules:
        raise ConfigError("--fail-on needs at least one rule, e.g. ttft_p99=+10%")
    return rules


HEADLINE = (
    "ttft_p50", "ttft_p99", "tpot_p50", "tpot_p99", "itl_p99", "e2e_p50", "e2e_p99",
    "request_throughput", "output_throughput", "success_rate", "slo_attainment", "goodput",
)  # fmt: skip


def render_compare(baseline: Result, others: Sequence[tuple[Result, list[Row]]]) -> str:
    lines = [" compare ".center(78, "=")]
    for other, rows in others:
        lines.append(f"{baseline.name}  ->  {other.name}")
        lines.append(f"{'figure':<20}{'baseline':>12}{'this':>12}{'change':>10}  verdict")
        for r in rows:
            if r.baseline is None and r.other is None:
                continue
            change = "-" if r.change is None else f"{r.change:+.1%}"
            lines.append(
                f"{r.figure:<20}{_fmt(r.baseline):>12}{_fmt(r.other):>12}{change:>10}  "
                f"{r.verdict}"
                + (f" (noise band {r.band:.0%})" if r.verdict == "within noise" else "")
            )
        lines.append("")
    lines.append("=" * 78)
    return "\n".join(lines)


def _fmt(v: float | None) -> str:
    if v is None or math.isnan(v):
        return "-"
    return f"{v:,.3f}" if abs(v) < 10 else f"{v:,.1f}"
