"""Latency targets (SLOs), and how many requests met them.

`--slo ttft=1s,tpot=50ms,itl=200ms,e2e=10s` (any subset; `ms` or `s`). A request meets them when
it succeeded and each figure it has is within its target, as vLLM's `--goodput` and guidellm's
goodput define it: TTFT (send to first token), TPOT ((E2E - TTFT) / (output tokens - 1)), E2E
(send to last token) and, here also, ITL as the longest gap between two of its tokens (a stall).
A failed request misses. Attainment is the fraction that met them; goodput is those requests
per second of the run.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from loadgen.config import ConfigError
from loadgen.record import RequestRecord

_TARGET = re.compile(r"^(ttft|tpot|itl|e2e)=(\d+(?:\.\d+)?)(ms|s)$")
Z_95 = 1.959964  # two-sided 95%


@dataclass(frozen=True)
class Slo:
    ttft_ms: float | None = None
    tpot_ms: float | None = None
    itl_ms: float | None = None
    e2e_ms: float | None = None

    @classmethod
    def parse(cls, text: str) -> Slo:
        targets: dict[str, float] = {}
        for part in (p.strip() for p in text.split(",")):
            m = _TARGET.match(part.replace(" ", ""))
            if not m:
                raise ConfigError(
                    f"--slo takes targets like ttft=1s,tpot=50ms (ttft, tpot, itl, e2e; "
                    f"ms or s), not {part!r}"
                )
            name, value, unit = m.groups()
            if name in targets:
                raise ConfigError(f"--slo gives {name} twice")
            targets[name] = float(value) * (1000.0 if unit == "s" else 1.0)
        return cls(**{f"{k}_ms": v for k, v in targets.items()})

    def met(self, r: RequestRecord) -> bool:
        if not r.ok:
            return False
        checks = (
            (self.ttft_ms, r.ttft),
            (self.tpot_ms, r.tpot),
            (self.e2e_ms, r.e2e),
            (self.itl_ms, max(r.itl) if r.itl else None),
        )
        # A figure a request does not have (no TPOT for a 1-token answer) cannot be missed.
        return all(t is None or v is None or v * 1000.0 <= t for t, v in checks)

    def describe(self) -> str:
        return ", ".join(f"{k} <= {_ms(v)}" for k, v in self.targets().items())

    def targets(self) -> dict[str, float]:
        return {
            name: value
            for name, value in (
                ("ttft", self.ttft_ms),
                ("tpot", self.tpot_ms),
                ("itl", self.itl_ms),
                ("e2e", self.e2e_ms),
            )
            if value is not None
        }


def _ms(value: float) -> str:
    return f"{value / 1000:g}s" if value >= 1000 else f"{value:g}ms"


def wilson(successes: int, n: int, z: float = Z_95) -> tuple[float, float]:
    """The Wilson score interval of a proportion (sound at 0 and n, unlike the normal one)."""
    if n == 0:
        return 0.0, 1.0
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    lo = 0.0 if successes == 0 else max(0.0, centre - half)
    hi = 1.0 if successes == n else min(1.0, centre + half)
    return lo, hi


@dataclass(frozen=True)
class SloResult:
    slo: Slo
    requests: int
    met: int
    goodput: float  # requests that met the targets, per second of the run

    @property
    def attainment(self) -> float:
        return self.met / self.requests if self.requests else 0.0

    @property
    def interval(self) -> tuple[float, float]:
        return wilson(self.met, self.requests)

    def to_json(self) -> dict[str, Any]:
        lo, hi = self.interval
        return {
            "targets": {f"{k}_ms": v for k, v in self.slo.targets().items()},
            "attainment": self.attainment,
            "goodput": self.goodput,
            "met": self.met,
            "requests": self.requests,
            "attainment_interval_95": [lo, hi],
        }


def judge(slo: Slo, records: Sequence[RequestRecord], duration_s: float) -> SloResult:
    """Records cut off by a cancel are neither met nor missed: they are not counted."""
    counted = [r for r in records if r.error_kind != "cancelled"]
    met = sum(1 for r in counted if slo.met(r))
    return SloResult(slo, len(counted), met, met / duration_s if duration_s > 0 else 0.0)
