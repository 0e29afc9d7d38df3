"""An hour of periodic bursts against the demo, driven from the keyboard in a real terminal.

    python -m bench.soak                       # warm-up, then 60 minutes, `b` every 60 s
    python -m bench.soak --minutes 10 --interval 30 --json soak.json

The installed `vllm-top serve --demo` runs in tmux (120x36) as a person would run it.

First a warm-up fills every store that is bounded by design: /health requests straight to
vLLM, until its access log has put more lines in the log buffer than it keeps (at a burst a
minute that alone would take 1.6 hours), then bursts back to back (`b` again as soon as no burst
runs) until the burst table is full and the longest history (the device sampler's 10 minutes)
has wrapped. Memory that grows after that is a leak, not a store filling up.

Then every --interval seconds the soak presses `b` (100 requests at concurrency 10); every 10 s
it samples the vllm-top process: RSS, threads, open file descriptors and CPU time. At the end it
presses `q` and checks that:
- vllm-top's memory is flat: the median RSS of the last quarter of the measured hour against
  the first quarter's;
- the on-disk log is complete: one `POST /v1/chat/completions` access line per request fired;
- no vLLM process is left.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import psutil

from bench.terminal import screen, tmux, vllm_processes, wait_screen
from engine.logbuffer import DEFAULT_MAX_LINES
from tui.widgets.burst_table import MAX_ROWS as BURST_TABLE_ROWS

VLLM_TOP = str(Path(sys.executable).parent / "vllm-top")
BURST_REQUESTS = 100  # what `b` fires with the default config
WARMUP_LOG_LINES = DEFAULT_MAX_LINES + 1_000
WARMUP_BURSTS = BURST_TABLE_ROWS + 5
WARMUP_MIN_S = 11 * 60  # the device sampler keeps 600 one-second samples
BURST_RUNNING = "▶"  # the load panel's mark while a burst runs


def _vllm_top_process(session: str) -> psutil.Process:
    shell = psutil.Process(int(tmux("display-message", "-p", "-t", session, "#{pane_pid}")))
    for child in shell.children(recursive=True):
        cmd = child.cmdline()
        if (len(cmd) > 1 and cmd[1].endswith("vllm-top")) or cmd[:1] == [VLLM_TOP]:
            return child
    raise SystemExit("soak: no vllm-top process in the tmux pane")


def _fill_log(port: int, requests: int, connections: int = 4) -> None:
    """`requests` access-log lines from vLLM, as fast as keep-alive connections go."""

    def one_connection(n: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        for _ in range(n):
            conn.request("GET", "/health")
            conn.getresponse().read()
        conn.close()

    with ThreadPoolExecutor(connections) as pool:
        list(pool.map(one_connection, [requests // connections + 1] * connections))


def _log_lines(home: Path) -> int:
    return _log_text(home)[1].count("\n")


def _log_text(home: Path) -> tuple[Path | None, str]:
    logs = sorted((home / "state" / "vllm-top" / "logs").glob("*.log"))
    return (logs[-1], logs[-1].read_text(errors="replace")) if logs else (None, "")


def _completions(home: Path) -> int:
    return len(re.findall(r'"POST /v1/chat/completions HTTP/1\.1" 200', _log_text(home)[1]))


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--interval", type=float, default=60.0, help="seconds between bursts")
    parser.add_argument("--json", help="write the samples and verdicts here")
    parser.add_argument(
        "--no-warmup", action="store_true", help="measure from the start (buffers still filling)"
    )
    args = parser.parse_args()
    if shutil.which("tmux") is None:
        raise SystemExit("soak: needs tmux")

    home = Path(tempfile.mkdtemp(prefix="vllm-top-soak-"))
    port = _free_port()
    session = f"vllm-top-soak-{os.getpid()}"
    # Only the state (logs) goes to a scratch home; caches stay where they are. An empty
    # XDG_CACHE_HOME would make vLLM put its compile cache in ./vllm.
    env = f"XDG_STATE_HOME={home / 'state'}"
    command = f"env {env} {VLLM_TOP} serve --demo --port {port}; echo EXIT-CODE $?; sleep 600"
    tmux("new-session", "-d", "-s", session, "-x", "120", "-y", "36", command)
    samples: list[dict[str, Any]] = []
    bursts = 0
    try:
        wait_screen(session, r"● READY", 600)
        proc = _vllm_top_process(session)
        warmup_started = time.monotonic()

        def sample(phase: str, t_s: float) -> None:
            with proc.oneshot():
                times = proc.cpu_times()
                samples.append(
                    {
                        "phase": phase,
                        "t_s": round(t_s, 1),
                        "rss_mib": proc.memory_info().rss / 2**20,
                        "threads": proc.num_threads(),
                        "fds": proc.num_fds(),
                        "cpu_s": times.user + times.system,
                        "bursts": bursts,
                    }
                )

        next_sample = warmup_started
        if not args.no_warmup:
            _fill_log(port, WARMUP_LOG_LINES)
        phase = "measured" if args.no_warmup else "warmup"
        phase_started = warmup_started
        warmup: dict[str, int] | None = None
        warmup_bursts = 0
        next_burst = warmup_started  # measured phase: one burst every --interval seconds
        pressed_at: float | None = None  # `b` sent, its burst not yet seen running
        end = float("inf")
        while time.monotonic() < end:
            now = time.monotonic()
            if now >= next_sample:
                sample(phase, now - phase_started)
                next_sample += 10
            running = BURST_RUNNING in screen(session)
            if pressed_at is not None and (running or now - pressed_at > 10):
                # Counted once it shows: a `b` pressed while a burst runs is refused by design.
                bursts += running
                pressed_at = None
            idle = not running and pressed_at is None
            if phase == "warmup" and idle:
                # The log is read only once the cheap conditions hold (it is megabytes).
                if (
                    bursts >= WARMUP_BURSTS
                    and now - warmup_started >= WARMUP_MIN_S
                    and (log_lines := _log_lines(home)) >= WARMUP_LOG_LINES
                ):
                    warmup = {
                        "seconds": round(now - warmup_started),
                        "bursts": bursts,
                        "log_lines": log_lines,
                    }
                    print(f"warm-up: {warmup}", flush=True)
                    warmup_bursts = bursts
                    phase, phase_started = "measured", now
                    next_sample = next_burst = now
                    end = now + args.minutes * 60
                    continue
                tmux("send-keys", "-t", session, "b")  # back to back
                pressed_at = now
            elif phase == "measured" and idle and now >= next_burst:
                if end == float("inf"):
                    end = now + args.minutes * 60  # --no-warmup
                tmux("send-keys", "-t", session, "b")
                pressed_at = now
                next_burst += args.interval
            time.sleep(0.5)
        # Let the last burst finish before quitting: its requests reach the log file.
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and _completions(home) < bursts * BURST_REQUESTS:
            time.sleep(1)
        tmux("send-keys", "-t", session, "q")
        wait_screen(session, r"EXIT-CODE \d+", 120)
        exit_line = re.search(r"EXIT-CODE (\d+)", screen(session))
        exit_code = int(exit_line.group(1)) if exit_line else -1
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and vllm_processes(port):
        time.sleep(0.5)
    leftovers = [p.pid for p in vllm_processes(port)]
    for p in vllm_processes(port):
        p.kill()

    log_file, text = _log_text(home)
    completions = _completions(home)
    log_lines = text.count("\n")

    # Flat memory: compare the first and last quarters of the measured samples. Without a
    # warm-up, skip those before the first burst has finished (it loads aiohttp, the report
    # code and chart fonts).
    measured = [s for s in samples if s["phase"] == "measured"]
    skip = min(args.interval, 60) if args.no_warmup else 0
    warm = [s for s in measured if s["t_s"] >= skip]
    quarter = max(1, len(warm) // 4)
    first = statistics.median(s["rss_mib"] for s in warm[:quarter]) if warm else 0.0
    last = statistics.median(s["rss_mib"] for s in warm[-quarter:]) if warm else 0.0
    wall = measured[-1]["t_s"] - measured[0]["t_s"] if len(measured) > 1 else 0.0
    cpu = measured[-1]["cpu_s"] - measured[0]["cpu_s"] if len(measured) > 1 else 0.0
    result = {
        "minutes": args.minutes,
        "warmup": warmup,
        "bursts": bursts,
        "measured_bursts": bursts - warmup_bursts,
        "requests_fired": bursts * BURST_REQUESTS,
        "completion_access_lines": completions,
        "log_lines": log_lines,
        "log_file": str(log_file) if log_file else None,
        "rss_first_quarter_mib": round(first, 1),
        "rss_last_quarter_mib": round(last, 1),
        "rss_max_mib": round(max((s["rss_mib"] for s in measured), default=0.0), 1),
        "threads_first_last": [measured[0]["threads"], measured[-1]["threads"]] if measured else [],
        "fds_first_last": [measured[0]["fds"], measured[-1]["fds"]] if measured else [],
        "cpu_fraction": round(cpu / wall, 4) if wall else None,
        "exit_code": exit_code,
        "vllm_left": leftovers,
        "samples": samples,
    }
    every = max(1, len(samples) // 16)
    print("  phase     t (min)  bursts  RSS MiB  threads  fds")
    for s in samples[::every] + samples[-1:]:
        print(
            f"  {s['phase']:8}  {s['t_s'] / 60:7.1f}  {s['bursts']:6.0f}  {s['rss_mib']:7.1f}"
            f"  {s['threads']:7.0f}  {s['fds']:4.0f}"
        )
    summary = {k: v for k, v in result.items() if k != "samples"}
    print(json.dumps(summary, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))
    ok = (
        completions == bursts * BURST_REQUESTS
        and exit_code == 0
        and not leftovers
        and last <= first * 1.10 + 2
    )
    print("soak:", "PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
