"""Two bursts side by side, as `vllm-top compare` shows two bench results; and an A/B run's
comparison, which also names the vLLM arguments that changed between them and shows both
start-ups (a flag that slows start-up shows there, not in the burst)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from engine.startup import Phase, StartupTracker
from loadgen.compare import HEADLINE, Result, compare, render_compare
from loadgen.stats import Summary
from tui.format import duration


def burst_result(number: int, label: str, summary: Summary) -> Result:
    return Result(f"#{number} {label}", summary.to_json())


def render_bursts(baseline: Result, other: Result) -> str:
    return render_compare(baseline, [(other, compare(baseline, other, HEADLINE))])


@dataclass(frozen=True)
class StartupRecord:
    """How long one start took to be ready, phase by phase."""

    ready_s: float | None  # None: it never became ready
    phases: tuple[tuple[str, float], ...]

    @classmethod
    def of(cls, tracker: StartupTracker | None) -> StartupRecord:
        if tracker is None:
            return cls(None, ())
        durations = tracker.durations()
        ready_at = tracker.entered_at.get(Phase.READY)
        phases = tuple((p.label, s) for p, s in sorted(durations.items()) if p is not Phase.READY)
        return cls(None if ready_at is None else ready_at - tracker.started_at, phases)


def _options(args: Sequence[str]) -> dict[str, tuple[str, ...]]:
    """`--name value...` and `--name=value` alike: the values of each option, in order."""
    out: dict[str, tuple[str, ...]] = {}
    name = ""  # values before any option
    for token in args:
        if token.startswith("-") and not _is_number(token):
            name, eq, value = token.partition("=")
            out[name] = (value,) if eq else ()
        else:
            out[name] = (*out.get(name, ()), token)
    return out


def _is_number(token: str) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True


def changed_args(before: Sequence[str], after: Sequence[str]) -> list[str]:
    """What an A/B run changed, one entry per option: "--max-num-seqs 4 -> 8", "added
    --enforce-eager", "removed --kv-cache-dtype fp8"."""
    a, b = _options(before), _options(after)
    changes = []
    for name in dict.fromkeys([*a, *b]):
        shown = name or "(positional)"
        if name not in b:
            changes.append(f"removed {' '.join([shown, *a[name]])}")
        elif name not in a:
            changes.append(f"added {' '.join([shown, *b[name]])}")
        elif a[name] != b[name]:
            changes.append(
                f"{shown} {' '.join(a[name]) or '(on)'} -> {' '.join(b[name]) or '(on)'}"
            )
    return changes


def render_ab(
    before: Result,
    after: Result,
    changes: Sequence[str],
    startups: tuple[StartupRecord, StartupRecord],
) -> str:
    first, second = startups
    lines = [
        " A/B ".center(78, "="),
        "changed: " + ("; ".join(changes) if changes else "nothing (the same arguments again)"),
        f"{'start-up to ready':<28}{duration(first.ready_s):>12}{duration(second.ready_s):>12}",
    ]
    b_phases = dict(second.phases)
    for name in dict.fromkeys([p for p, _ in first.phases] + list(b_phases)):
        a_s, b_s = dict(first.phases).get(name), b_phases.get(name)
        lines.append(f"  {name:<26}{duration(a_s):>12}{duration(b_s):>12}")
    return "\n".join(lines) + "\n" + render_bursts(before, after)
