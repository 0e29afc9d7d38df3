"""The dashboard's budget: first frame, idle CPU, and a log flood.

    python -m bench.dashboard_budget --url http://127.0.0.1:8000   # a running server to attach to
    python -m bench.dashboard_budget --url ... --flood-seconds 60 --idle-seconds 60
    python -m bench.dashboard_budget --fleet fleet.toml            # the fleet screen's idle CPU

1. First frame: `vllm-top attach URL` in a pseudo-terminal (80x24); seconds from exec until
   the status line is painted. Median of 5.
2. Idle CPU: the same, left alone for --idle-seconds at the default refresh; CPU seconds of
   the vllm-top process divided by wall seconds.
3. Log flood: the dashboard supervising a process that prints 5,000 lines/s for
   --flood-seconds (a stand-in server: the log path is the same whatever prints). A 20 ms
   timer on the UI's event loop measures how late each tick runs (a late tick is a late
   frame); RSS is sampled every second.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import pty
import select
import statistics
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import psutil

VLLM_TOP = str(Path(sys.executable).parent / "vllm-top")


def _spawn_in_pty(args: list[str]) -> tuple[int, int]:
    pid, fd = pty.fork()
    if pid == 0:  # child
        os.environ["TERM"] = "xterm-256color"
        os.environ["COLUMNS"], os.environ["LINES"] = "80", "24"
        os.execv(args[0], args)
    import fcntl
    import struct
    import termios

    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    return pid, fd


def _read_until(fd: int, needle: bytes, timeout: float) -> bool:
    seen = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.05)
        if ready:
            try:
                seen += os.read(fd, 65536)
            except OSError:
                return False
            if needle in seen:
                return True
    return False


def _drain(fd: int, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.1)
        if ready:
            try:
                os.read(fd, 65536)
            except OSError:
                return


def _stop(pid: int, fd: int) -> None:
    os.write(fd, b"q")
    _drain(fd, 2.0)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, 9)
    os.waitpid(pid, 0)
    os.close(fd)


def first_frame(url: str, runs: int = 5) -> list[float]:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        pid, fd = _spawn_in_pty([VLLM_TOP, "attach", url])
        if not _read_until(fd, b"READY", 10.0) and not _read_until(fd, b"\xe2\x97\x8f", 1):
            raise SystemExit("no first frame within 10 s")
        times.append(time.perf_counter() - t0)
        _stop(pid, fd)
    return times


def idle_cpu(attach_args: list[str], seconds: float, drawn: bytes = b"READY") -> float:
    pid, fd = _spawn_in_pty([VLLM_TOP, "attach", *attach_args])
    _read_until(fd, drawn, 10.0)
    _drain(fd, 3.0)  # settle after start-up
    proc = psutil.Process(pid)
    cpu0 = sum(proc.cpu_times()[:2])
    t0 = time.monotonic()
    _drain(fd, seconds)
    cpu = sum(proc.cpu_times()[:2]) - cpu0
    wall = time.monotonic() - t0
    _stop(pid, fd)
    return cpu / wall


FLOOD = """
import sys, time
rate, seconds = {rate}, {seconds}
start = time.monotonic()
n = 0
while time.monotonic() - start < seconds:
    target = int((time.monotonic() - start) * rate)
    while n < target:
        print("(APIServer pid=1) INFO 11-21 10:00:00 [loggers.py:335] flood", n, "x" * 60)
        n += 1
    sys.stdout.flush()
    time.sleep(0.01)
print(f"flood done: {{n}} lines", flush=True)
time.sleep(3600)
"""


async def log_flood(rate: int, seconds: float) -> dict[str, float]:
    from engine.launch import LaunchSpec
    from engine.session import SupervisedSession
    from tui.app import CockpitApp
    from tui.commands.dashboard_config import UiConfig

    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "flood.py"
        script.write_text(
            f"#!{sys.executable}\n" + textwrap.dedent(FLOOD.format(rate=rate, seconds=seconds))
        )
        script.chmod(0o755)
        session = SupervisedSession(
            LaunchSpec(model="unused", python=str(script), port=1), log_dir=Path(tmp) / "logs"
        )
        app = CockpitApp(session, UiConfig())
        late: list[float] = []
        rss: list[int] = []
        me = psutil.Process()
        async with app.run_test(size=(160, 48)) as pilot:
            start = time.monotonic()
            last_rss = start
            while time.monotonic() - start < seconds + 1:
                t = time.perf_counter()
                await asyncio.sleep(0.02)
                late.append((time.perf_counter() - t - 0.02) * 1000)
                if time.monotonic() - last_rss >= 1:
                    rss.append(me.memory_info().rss)
                    last_rss = time.monotonic()
            await pilot.pause(0.5)
            total = session.supervisor.buffer.total
            session.stop(2)
    late.sort()
    return {
        "lines": float(total),
        "late_p50_ms": late[len(late) // 2],
        "late_p99_ms": late[int(len(late) * 0.99)],
        "late_max_ms": late[-1],
        "rss_start_mib": rss[0] / 2**20,
        "rss_end_mib": rss[-1] / 2**20,
        "rss_max_mib": max(rss) / 2**20,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", help="a running vLLM server to attach to")
    parser.add_argument(
        "--fleet", metavar="FILE", help="instead: only the idle CPU of `attach --fleet FILE`"
    )
    parser.add_argument("--idle-seconds", type=float, default=60)
    parser.add_argument("--flood-seconds", type=float, default=60)
    parser.add_argument("--flood-rate", type=int, default=5000)
    args = parser.parse_args()
    if args.fleet:
        cpu = idle_cpu(["--fleet", args.fleet], args.idle_seconds, drawn=b"fleet")
        print(f"fleet screen idle CPU: {cpu:.1%} of one core over {args.idle_seconds:.0f} s")
        return
    if not args.url:
        parser.error("--url or --fleet is needed")
    frames = first_frame(args.url)
    print(
        f"first frame: median {statistics.median(frames):.2f} s, max {max(frames):.2f} s (5 runs)"
    )
    cpu = idle_cpu([args.url], args.idle_seconds)
    print(f"idle CPU: {cpu:.1%} of one core over {args.idle_seconds:.0f} s (attached, refresh 1 s)")
    flood = asyncio.run(log_flood(args.flood_rate, args.flood_seconds))
    print(
        f"log flood: {flood['lines']:,.0f} lines in {args.flood_seconds:.0f} s "
        f"({args.flood_rate:,}/s); UI loop late p50 {flood['late_p50_ms']:.1f} ms, "
        f"p99 {flood['late_p99_ms']:.1f} ms, max {flood['late_max_ms']:.0f} ms; RSS "
        f"{flood['rss_start_mib']:.0f} -> {flood['rss_end_mib']:.0f} MiB "
        f"(max {flood['rss_max_mib']:.0f})"
    )


if __name__ == "__main__":
    main()
