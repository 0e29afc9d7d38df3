"""How the chunks per second the client takes grow with its worker processes.

    python -m bench.client_scaling [--workers 1,2] [--client-cpus 0] [--server-cpus 1]
                                   [--servers 1] [--streams 256] [--itl 0.002]

Step servers (bench/step_server.py, or `--server truth`: tests/truth_server.py; `--servers`
processes sharing one port) pinned to `--server-cpus` stream one token per chunk every `itl`
seconds to `--streams` streams: an
offered load of streams / itl chunks per second, meant to be more than one client core can
take. The load runs with W worker processes pinned to `--client-cpus`, and the table shows
the chunks per second delivered, each worker's CPU and whether the run was CLIENT-BOUND. On
a machine with the cores to spare, give the client and the servers disjoint sets large enough
(e.g. --client-cpus 0-7 --server-cpus 8-15 --servers 8 --workers 1,2,4,8); a run that is
server-bound (the servers' cores full) says nothing about the client.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import psutil

from bench.step_server import SERVERS
from loadgen.config import LoadConfig
from loadgen.live import LiveRun
from loadgen.process import LoadWorkers

ROOT = Path(__file__).parent.parent
TOKENS = 200


def _cpus(text: str) -> set[int]:
    out: set[int] = set()
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        out.update(range(int(lo), int(hi or lo) + 1))
    return out


def measure(url: str, workers: int, streams: int, client_cpus: set[int]) -> str:
    config = LoadConfig(
        url,
        requests=streams * 2,
        concurrency=streams,
        max_tokens=TOKENS,
        ignore_eos=True,
        model="truth-model",
        workers=workers,
    )
    run = LiveRun(config)
    run.start()
    load = run._load
    assert isinstance(load, LoadWorkers)
    for pid in load.pids:
        if pid is not None:
            psutil.Process(pid).cpu_affinity(sorted(client_cpus))
    for _ in run.follow(poll_s=0.2):
        pass
    s = run.finish()
    cpus = " ".join(
        f"{sh.client.cpu_fraction:.0%}" for sh in s.shares if sh.client is not None
    ) or (f"{s.client.cpu_fraction:.0%}" if s.client else "-")
    bound = "CLIENT-BOUND" if s.client is not None and s.client.bound else "no"
    return (
        f"{workers:>7} {s.succeeded:>6} {s.output_tokens / s.duration_s:>14,.0f} "
        f"{s.ttft.p50 or 0:>10.1f} ms  {cpus:<16} {bound}"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workers", default="1,2")
    parser.add_argument("--client-cpus", default="0")
    parser.add_argument("--server-cpus", default="1")
    parser.add_argument("--servers", type=int, default=1)
    parser.add_argument("--streams", type=int, default=256)
    parser.add_argument("--itl", type=float, default=0.002)
    parser.add_argument("--port", type=int, default=8979)
    parser.add_argument("--server", choices=SERVERS, default="step")
    args = parser.parse_args()
    client_cpus, server_cpus = _cpus(args.client_cpus), _cpus(args.server_cpus)
    os.sched_setaffinity(0, client_cpus)
    servers = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                SERVERS[args.server],
                "--port",
                str(args.port),
                "--ttft",
                "0.05",
                "--itl",
                str(args.itl),
                "--tokens",
                str(TOKENS),
                "--reuse-port",
            ],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            preexec_fn=lambda: os.sched_setaffinity(0, server_cpus),
        )
        for _ in range(args.servers)
    ]
    time.sleep(2)
    offered = args.streams / args.itl
    print(
        f"{args.streams} streams, a token per chunk every {args.itl * 1000:g} ms "
        f"(offered {offered:,.0f} chunks/s), {TOKENS} tokens each; client on CPUs "
        f"{sorted(client_cpus)}, {args.servers} server process(es) on CPUs {sorted(server_cpus)}\n"
    )
    print(f"{'workers':>7} {'ok':>6} {'chunks/s':>14} {'TTFT p50':>13}  {'worker CPU':<16} bound")
    try:
        for w in [int(x) for x in args.workers.split(",")]:
            print(measure(f"http://127.0.0.1:{args.port}", w, args.streams, client_cpus))
    finally:
        for server in servers:
            server.terminate()
            server.wait(10)


if __name__ == "__main__":
    main()
