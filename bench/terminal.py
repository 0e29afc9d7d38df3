"""Driving the installed vllm-top in a real terminal (tmux), as a person would: shared by the
end-to-end tests and the soak benchmark."""

from __future__ import annotations

import os
import re
import subprocess
import time

import psutil


def tmux(*args: str) -> str:
    # An explicit environment without COLUMNS and LINES: a library may have set them at the C
    # level (80 and 24 under pytest, invisible in os.environ yet inherited), and a tmux server
    # started with them hands them to every pane, where they override the pane's real size.
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    return subprocess.run(
        ["tmux", *args], capture_output=True, text=True, check=True, env=env
    ).stdout


def screen(session: str) -> str:
    return tmux("capture-pane", "-t", session, "-p")


def wait_screen(session: str, pattern: str, timeout: float) -> str:
    """The screen once `pattern` shows on it; AssertionError with the screen if it never does."""
    deadline = time.monotonic() + timeout
    text = ""
    while time.monotonic() < deadline:
        text = screen(session)
        if re.search(pattern, text):
            return text
        time.sleep(0.5)
    raise AssertionError(f"{pattern!r} never appeared; the screen was:\n{text}")


def vllm_processes(port: int) -> list[psutil.Process]:
    """vLLM API servers listening on `port` (the process table, not our bookkeeping)."""
    found = []
    for p in psutil.process_iter(["cmdline"]):
        cmd = " ".join(p.info["cmdline"] or [])
        if "vllm.entrypoints" in cmd and f"--port {port}" in cmd:
            found.append(p)
    return found
