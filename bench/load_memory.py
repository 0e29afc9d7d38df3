"""Memory and responsiveness of the load engine against the length of the run.

    python -m bench.load_memory [--sizes 10000,100000,1000000] [--concurrency 256]

A truth server (tests/truth_server.py: 10 ms to the first token, then 1 ms per token, 4 tokens)
takes N requests at concurrency C from one load process, followed as `vllm-top bench` and the
cockpit follow it (loadgen.live.LiveRun). For each N: how soon the first answer came back
after the run was started, the wall time and rate, the peak resident memory of the load
process and of the process that follows it (psutil, sampled every 100 ms), and whether the
counts are exact (every request succeeded, tokens = N x 4 from the server's usage).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

import psutil

from loadgen.config import LoadConfig
from loadgen.live import LiveRun
from loadgen.process import LoadWorkers

ROOT = Path(__file__).parent.parent
TOKENS = 4


def measure(url: str, n: int, concurrency: int) -> str:
    config = LoadConfig(
        url, requests=n, concurrency=concurrency, max_tokens=TOKENS, model="truth-model"
    )
    run = LiveRun(config)
    me = psutil.Process()
    started = time.monotonic()
    run.start()
    load = run._load
    assert isinstance(load, LoadWorkers)
    workers = [psutil.Process(pid) for pid in load.pids if pid is not None]
    first: float | None = None
    peak_load = peak_me = 0
    for progress in run.follow(poll_s=0.1):
        if first is None and progress.done:
            first = time.monotonic() - started
        peak_load = max(peak_load, sum(_rss(p) for p in workers))
        peak_me = max(peak_me, me.memory_info().rss)
    summary = run.finish()
    wall = time.monotonic() - started
    exact = summary.succeeded == n and summary.output_tokens == n * TOKENS
    return (
        f"{n:>10,} {first or 0:>9.2f} s {wall:>8.1f} s {n / wall:>8,.0f} "
        f"{peak_load / 2**20:>10.0f} MB {peak_me / 2**20:>10.0f} MB  "
        f"{'yes' if exact else f'NO: {summary.succeeded:,} ok, {summary.output_tokens:,} tokens'}"
    )


def _rss(proc: psutil.Process) -> int:
    try:
        return int(proc.memory_info().rss)
    except psutil.Error:
        return 0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--concurrency", type=int, default=256)
    parser.add_argument("--port", type=int, default=8978)
    args = parser.parse_args()
    url = f"http://127.0.0.1:{args.port}"
    server = subprocess.Popen(
        [sys.executable, "-m", "tests.truth_server", "--port", str(args.port), "--ttft", "0.01",
         "--itl", "0.001", "--tokens", str(TOKENS), "--keepalive", "60"],
        cwd=ROOT, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    time.sleep(2)
    print(f"concurrency {args.concurrency}, {TOKENS} tokens per request, one load process\n")
    print(
        f"{'requests':>10} {'first answer':>11} {'wall':>10} {'req/s':>8} "
        f"{'load process':>13} {'follower':>13}  exact counts"
    )
    try:
        for n in [int(x) for x in args.sizes.split(",")]:
            print(measure(url, n, args.concurrency), flush=True)
    finally:
        server.terminate()
        server.wait(10)


if __name__ == "__main__":
    main()
