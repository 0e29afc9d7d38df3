"""`vllm-top bench`: a load run from the command line, with the dashboard's load engine.

The load runs in its own process (loadgen.process); this process only draws a progress bar on
stderr and prints the report on stdout. Exit 0; 1 when the success rate is below
--min-success; 2 for bad arguments or a server that cannot be used.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

from loadgen.config import DEFAULT_PROMPT, ConfigError, LoadConfig, load_payloads
from loadgen.live import LiveRun, LoadFailed
from loadgen.record import RequestRecord
from loadgen.report import render_report, render_sweep, write_csv
from loadgen.runner import resolve_model
from loadgen.stats import Summary
from tui.commands.errors import UsageError
from tui.commands.settings import api_key_from

EXIT_OK = 0
EXIT_BELOW_MIN_SUCCESS = 1


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
    api_key = api_key_from(args)
    config = LoadConfig(
        base_url=args.url,
        endpoint=args.endpoint,
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
        api_key=api_key,
        ignore_eos=args.ignore_eos,
        stall_timeout=args.stall_timeout,
        seed=args.seed,
        prompt=args.prompt or DEFAULT_PROMPT,
    )
    return config, sweep


def _parse_sweep(text: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise ConfigError(f"--sweep takes concurrencies like 1,2,4,8, not {text!r}") from None
    if not values or any(v <= 0 for v in values):
        raise ConfigError(f"--sweep concurrencies must be positive, not {text!r}")
    return values


def run_bench(args: argparse.Namespace) -> int:
    if not 0.0 <= args.min_success <= 1.0:
        raise UsageError(f"--min-success is a fraction between 0 and 1, not {args.min_success}")
    try:
        config, sweep = build_config(args)
        config = resolve_model(config)
    except ConfigError as exc:
        raise UsageError(str(exc)) from None
    configs = [replace(config, concurrency=c) for c in sweep] if sweep else [config]
    summaries: list[Summary] = []
    interrupted = False
    for i, cfg in enumerate(configs):
        records, summary, interrupted = _run_one(cfg, args, step=(i + 1, len(configs)))
        summaries.append(summary)
        title = f"vllm-top bench {i + 1}/{len(configs)}" if len(configs) > 1 else "vllm-top bench"
        print(render_report(summary, title=title), flush=True)
        if args.csv:
            path = Path(args.csv)
            if len(configs) > 1:
                path = path.with_name(f"{path.stem}-c{cfg.concurrency}{path.suffix}")
            write_csv(path, records)
        if interrupted:
            break
    if len(summaries) > 1:
        print(render_sweep(summaries))
    if args.json:
        data = [s.to_json() for s in summaries] if sweep else summaries[0].to_json()
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


def _run_one(
    config: LoadConfig, args: argparse.Namespace, step: tuple[int, int]
) -> tuple[list[RequestRecord], Summary, bool]:
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    run = LiveRun(config)
    run.start()
    total = config.requests
    label = f"[{step[0]}/{step[1]}] c={config.concurrency}" if step[1] > 1 else "load"
    interrupted = False
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}" if total else "{task.completed} done"),
        TextColumn("{task.fields[live]}"),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
        disable=args.quiet,
    ) as bar:
        task = bar.add_task(label, total=total, live="")
        while True:
            try:
                for p in run.follow(poll_s=0.1):
                    ttft = "-" if p.ttft_p50_ms is None else f"{p.ttft_p50_ms:,.0f} ms"
                    bar.update(
                        task,
                        completed=p.done,
                        live=f"ok {p.ok} fail {p.done - p.ok}  TTFT p50 {ttft}  "
                        f"{p.output_token_rate:,.0f} tok/s",
                    )
                break
            except KeyboardInterrupt:  # Ctrl-C: stop sending, then report what finished
                interrupted = True
                run.cancel()
    try:
        summary = run.finish()
    except LoadFailed as exc:
        raise UsageError(f"the load process failed: {exc}") from None
    return run.records, summary, interrupted
