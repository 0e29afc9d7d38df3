"""How fast vllm-top answers, and how fast the demo server comes up.

    python bench/startup.py [--help-runs 20] [--demo-runs 1]

Prints the median wall time of `vllm-top --help` and the seconds from launching
`vllm-top serve --demo --headless` to its "ready" line (then Ctrl-C). Figures go in the README.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

VLLM_TOP = str(Path(sys.executable).parent / "vllm-top")


def help_latency(runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run([VLLM_TOP, "--help"], capture_output=True, check=True)
        times.append(time.perf_counter() - t0)
    return times


def demo_ready(port: int) -> float:
    with tempfile.TemporaryDirectory() as state:
        env = {**os.environ, "XDG_STATE_HOME": state}
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            [VLLM_TOP, "serve", "--demo", "--headless", "--port", str(port)],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env=env,
        )
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.startswith("[vllm-top] ready:"):
                elapsed = time.perf_counter() - t0
                break
        else:
            raise SystemExit(f"demo never became ready (exit {proc.wait()})")
        proc.send_signal(signal.SIGINT)
        proc.stdout.read()
        proc.wait(60)
        return elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--help-runs", type=int, default=20)
    parser.add_argument("--demo-runs", type=int, default=1)
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args()
    h = help_latency(args.help_runs)
    print(
        f"vllm-top --help: median {statistics.median(h) * 1000:.0f} ms, "
        f"max {max(h) * 1000:.0f} ms over {len(h)} runs"
    )
    for i in range(args.demo_runs):
        print(f"demo ready (run {i + 1}): {demo_ready(args.port):.1f} s")


if __name__ == "__main__":
    main()
