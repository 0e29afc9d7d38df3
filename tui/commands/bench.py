"""`vllm-top bench`: a load run from the command line, with the dashboard's load engine.

A run (or a sweep of concurrencies, or `--repeat K` runs), or `--find-max` the most load that
meets an SLO. The load runs in its own process; this one draws a progress bar on stderr,
records the server's side from /metrics, and prints the report on stdout. Exit 0; 1 when the
success rate is below --min-success; 2 for bad arguments or a server that cannot be used.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from loadgen.compare import HEADLINE, figure
from loadgen.config import DEFAULT_PROMPT, ConfigError, LoadConfig, load_payloads
from loadgen.report import render_report, render_sweep, write_csv
from loadgen.runner import resolve_model
from loadgen.search import SearchSpec, find_max, render_search
from loadgen.slo import Slo
from loadgen.stats import Summary
from loadgen.workload import Span, Workload
from tui.commands.bench_run import Prober, measured_run, print_preparing, with_prompts
from tui.commands.errors import UsageError
from tui.commands.settings import api_key_from

EXIT_OK = 0
EXIT_BELOW_MIN_SUCCESS = 1


def build_workload(args: argparse.Namespace) -> Workload:
    return Workload(
        input_len=Span.parse(args.input_len, "--input-len") if args.input_len else None,
        output_len=Span.parse(args.output_len, "--output-len") if args.output_len else None,
        prefix_len=args.prefix_len,
        prefix_groups=args.prefix_groups,
        turns=args.turns,
        think_time=args.think_time,
        dataset=Path(args.dataset) if args.dataset else None,
        seed=args.seed,
    )


def build_config(args: argparse.Namespace) -> tuple[LoadConfig, list[int]]:
    payloads = load_payloads(Path(args.payload)) if args.payload else ()
    if args.payload and args.prompt:
        raise ConfigError("give --prompt or --payload, not both")
    sweep = _parse_sweep(args.sweep) if args.sweep else []
    requests = args.requests if args.requests is not None else (None if args.duration else 100)
    concurrency = args.concurrency
    if concurrency is None and args.rate is None:
        concurrency = 10
    max_tokens = args.max_tokens if args.max_tokens is not None else (None if payloads else 128)
    workload = build_workload(args)
    config = LoadConfig(
        base_url=args.url,
        endpoint=args.endpoint or ("chat" if workload.turns > 1 else None),
        model=args.model,
        requests=requests,
        concurrency=sweep[0] if sweep else concurrency,
        rate=args.rate,
        arrival=args.arrival,
        duration=args.duration,
        max_tokens=max_tokens,
        temperature=args.temperature,
        payloads=payloads,
        stream=not args.no_stream,
        api_key=api_key_from(args),
        ignore_eos=args.ignore_eos,
        stall_timeout=args.stall_timeout,
        seed=args.seed,
        prompt=args.prompt or DEFAULT_PROMPT,
        workload=workload if workload.shaped else None,
        workers=args.workers,
        ray=args.ray,
        workers_per_node=args.workers_per_node,
    )
    if config.ray is not None:
        from loadgen.ray_workers import connect

        connect(config.ray)  # a missing Ray or an unreachable cluster: one line, exit 2
    return config, sweep


def _parse_sweep(text: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise ConfigError(f"--sweep takes concurrencies like 1,2,4,8, not {text!r}") from None
    if not values or any(v <= 0 for v in values):
        raise ConfigError(f"--sweep concurrencies must be positive, not {text!r}")
    return values


def _search_spec(args: argparse.Namespace) -> SearchSpec | None:
    if not args.find_max:
        return None
    if not args.slo:
        raise ConfigError("--find-max needs --slo: the most load that meets which targets?")
    if args.sweep or args.repeat > 1 or args.duration:
        raise ConfigError("--find-max runs its own probes: no --sweep, --repeat or --duration")
    return SearchSpec(
        dimension=args.find_max,
        target=args.target,
        resolution=args.resolution,
        max_load=args.max_load,
        min_requests=args.probe_requests,
        max_requests=max(800, 16 * args.probe_requests),
    )


def run_bench(args: argparse.Namespace) -> int:
    if not 0.0 <= args.min_success <= 1.0:
        raise UsageError(f"--min-success is a fraction between 0 and 1, not {args.min_success}")
    try:
        config, sweep = build_config(args)
        slo = Slo.parse(args.slo) if args.slo else None
        spec = _search_spec(args)
        config = resolve_model(config)
        needed = config.requests or 1000
        if spec is not None:  # enough prompts for several probes before any repeats
            needed = max(needed, 4 * spec.max_requests)
        config = with_prompts(config, needed, None if args.quiet else print_preparing)
    except ConfigError as exc:
        raise UsageError(str(exc)) from None
    if spec is not None:
        assert slo is not None
        return _run_search(config, args, slo, spec)
    configs = [replace(config, concurrency=c) for c in sweep] if sweep else [config]
    summaries: list[Summary] = []
    objects: list[dict[str, Any]] = []
    interrupted = False
    sent = 0
    for i, cfg in enumerate(configs):
        runs: list[Summary] = []
        for k in range(args.repeat):
            step = f" run {k + 1}/{args.repeat}" if args.repeat > 1 else ""
            label = (f"[{i + 1}/{len(configs)}] c={cfg.concurrency}" if sweep else "load") + step
            if cfg.plan is not None:  # prompts this server has not seen in an earlier run
                cfg = replace(cfg, plan=cfg.plan.rotated(sent))
            sent += cfg.requests or 0
            m = measured_run(cfg, args, label, slo)
            runs.append(m.summary)
            title = (
                f"vllm-top bench {i + 1}/{len(configs)}" if len(configs) > 1 else "vllm-top bench"
            )
            print(render_report(m.summary, title=title + step), flush=True)
            if args.csv:
                write_csv(_csv_path(Path(args.csv), cfg, sweep, k, args.repeat), m.records)
            interrupted = m.interrupted
            if interrupted:
                break
        summaries.append(runs[-1])
        objects.append(_with_spread(runs))
        if len(runs) > 1:
            print(render_spread(runs))
        if interrupted:
            break
    if len(summaries) > 1:
        print(render_sweep(summaries))
    if args.json:
        data: Any = objects if sweep else objects[0]
        Path(args.json).write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    if interrupted:
        return 130
    if any(s.success_rate < args.min_success for s in summaries):
        worst = min(s.success_rate for s in summaries)
        print(
            f"vllm-top bench: success rate {worst:.1%} is below --min-success "
            f"{args.min_success:.1%}",
            file=sys.stderr,
        )
        return EXIT_BELOW_MIN_SUCCESS
    return EXIT_OK


def _csv_path(path: Path, cfg: LoadConfig, sweep: list[int], run: int, runs: int) -> Path:
    suffix = (f"-c{cfg.concurrency}" if sweep else "") + (f"-run{run + 1}" if runs > 1 else "")
    return path.with_name(f"{path.stem}{suffix}{path.suffix}") if suffix else path


def _with_spread(runs: list[Summary]) -> dict[str, Any]:
    """One run's object; with several, the last one's, plus every run and the spread."""
    data = runs[-1].to_json()
    if len(runs) > 1:
        data["runs"] = [r.to_json() for r in runs]
        data["spread"] = spread([r.to_json() for r in runs])
    return data


def spread(runs: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Mean, standard deviation and coefficient of variation of the headline figures."""
    out = {}
    for name in HEADLINE:
        values = [v for run in runs if (v := figure(run, name)) is not None]
        if len(values) < 2:
            continue
        mean, std = statistics.fmean(values), statistics.stdev(values)
        out[name] = {"mean": mean, "std": std, "cv": std / abs(mean) if mean else 0.0}
    return out


def render_spread(runs: list[Summary]) -> str:
    table = spread([r.to_json() for r in runs])
    lines = [
        f" {len(runs)} runs ".center(78, "="),
        f"{'figure':<22}{'mean':>14}{'std':>14}{'CV':>10}",
    ]
    for name, s in table.items():
        lines.append(f"{name:<22}{s['mean']:>14,.3f}{s['std']:>14,.3f}{s['cv']:>10.1%}")
    return "\n".join([*lines, "=" * 78])


def _run_search(config: LoadConfig, args: argparse.Namespace, slo: Slo, spec: SearchSpec) -> int:
    prober = Prober(config, args, slo)

    def said(probe: object) -> None:
        from loadgen.search import Probe

        assert isinstance(probe, Probe)
        lo, hi = probe.interval
        print(
            f"probe {args.find_max} {probe.load:g}: {probe.met}/{probe.requests} met the SLO "
            f"({probe.attainment:.1%}, 95% {lo:.1%}-{hi:.1%}): {probe.decision}",
            flush=True,
        )

    result = find_max(spec, prober, on_probe=said)
    print(render_search(result))
    if args.json:
        data = {
            "config": config.to_json(),
            "slo": {"targets": {f"{k}_ms": v for k, v in slo.targets().items()}},
            "find_max": result.to_json(),
        }
        Path(args.json).write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    return 130 if prober.interrupted else EXIT_OK
