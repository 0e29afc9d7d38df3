"""One measured run of `vllm-top bench`: the load in its own process (loadgen.live) with a
progress bar on stderr, and the server's own record of it (/metrics before, during and after,
the GPUs' energy); the prompts of a workload made first; the search's probes."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import dataclass, replace

from engine.recorder import MetricsRecorder, Recording
from loadgen.config import LoadConfig
from loadgen.live import LiveRun, LoadFailed
from loadgen.prompts import ServerTokenizer, prepare
from loadgen.record import RequestRecord
from loadgen.search import Outcome, probe_config
from loadgen.server_side import server_side
from loadgen.slo import Slo
from loadgen.stats import Summary
from tui.commands.errors import UsageError


@dataclass(frozen=True)
class Measured:
    records: list[RequestRecord]
    summary: Summary
    interrupted: bool  # Ctrl-C: stop here


def with_prompts(
    config: LoadConfig, requests: int, on_progress: Callable[[int, int], None] | None = None
) -> LoadConfig:
    """A shaped workload's prompts, made (and counted) by the server before the clock starts.
    ConfigError when they cannot be made (lengths over the server's max_model_len...)."""
    workload = config.workload
    if workload is None or not workload.shaped:
        return config
    tokenizer = ServerTokenizer(config.base_url, config.model, config.api_key)
    plan = prepare(workload, requests, config.resolved_endpoint, tokenizer, on_progress)
    return replace(config, plan=plan)


def print_preparing(done: int, total: int) -> None:
    if done == total or done % 25 == 0:
        end = "\n" if done == total else ""
        print(f"\rpreparing prompts: {done}/{total}", end=end, file=sys.stderr, flush=True)


def with_server_side(summary: Summary, recording: Recording) -> Summary:
    """The run's summary with the server's record of it, or why there is none."""
    energy = recording.energy
    server = server_side(recording.samples, energy.joules, energy.why_unknown)
    note = None
    if server is None:
        note = recording.errors[-1] if recording.errors else "/metrics has no vllm:* series"
    return replace(summary, server=server, server_note=note)


def measured_run(
    config: LoadConfig, args: argparse.Namespace, label: str, slo: Slo | None
) -> Measured:
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    recorder = MetricsRecorder(config.base_url)
    recorder.start()
    run = LiveRun(config)
    run.start()
    total = config.requests
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
        summary = run.finish(slo)
    except LoadFailed as exc:
        recorder.stop()
        raise UsageError(f"the load process failed: {exc}") from None
    summary = with_server_side(summary, recorder.stop())
    return Measured(run.records, summary, interrupted)


class Prober:
    """The search's runs: each probe a measured run at its load, with prompts it has not sent
    before (the prefix cache would serve repeats)."""

    def __init__(self, config: LoadConfig, args: argparse.Namespace, slo: Slo) -> None:
        self.config = config
        self.args = args
        self.slo = slo
        self.sent = 0
        self.interrupted = False

    def __call__(self, load: float, requests: int) -> Outcome:
        cfg = probe_config(self.config, self.args.find_max, load, requests, self.sent)
        self.sent += requests
        m = measured_run(cfg, self.args, f"{self.args.find_max} {load:g}", self.slo)
        assert m.summary.slo is not None
        self.interrupted = self.interrupted or m.interrupted
        return Outcome(m.summary.slo.requests, m.summary.slo.met, cancelled=m.interrupted)
