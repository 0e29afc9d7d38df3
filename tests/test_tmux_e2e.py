"""The installed `vllm-top` in a real terminal (tmux, 80x24) against the real demo server:
fire a burst with `b`, read the screen, quit with `q`, and check that no vLLM is left."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import psutil
import pytest

from bench.terminal import tmux, vllm_processes, wait_screen
from engine.supervisor import Supervisor
from tests.helpers import free_port
from tests.test_headless_cli import _env, _vllm_top

pytestmark = [
    pytest.mark.vllm,
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed"),
]


def test_burst_from_the_keyboard_in_a_real_terminal(tmp_path: Path) -> None:
    port = free_port()
    session = f"vllm-top-e2e-{os.getpid()}"
    env = _env(tmp_path)
    exports = " ".join(f"{k}={v}" for k, v in env.items() if k.startswith("XDG_"))
    command = (
        f"env {exports} {_vllm_top()} serve --demo --port {port}; echo EXIT-CODE $?; sleep 300"
    )
    tmux("new-session", "-d", "-s", session, "-x", "80", "-y", "24", command)
    try:
        wait_screen(session, r"● READY", 240)
        servers = vllm_processes(port)
        assert servers, "the dashboard did not start vLLM"
        # The whole tree: API server, engine core, worker.
        tree = [p for s in servers for p in (s, *s.children(recursive=True))]
        tmux("send-keys", "-t", session, "b")
        text = wait_screen(session, r"✓ 100 req, c=10, 128 tok: \d+ ok", 240)
        # The report's figures are on the screen: throughput and TTFT. The Load panel is the
        # right half at 80 columns and wraps wherever its figures' lengths fall: read it as one
        # paragraph.
        load = " ".join(
            line[40:].strip("│╭╮╰╯─ ") for line in text.splitlines()[2:] if len(line) > 40
        )
        assert re.search(r"[\d.]+ req/s", load), load
        assert re.search(r"[\d,]+ tok/s", load), load
        assert re.search(r"TTFT p50 [\d.,]+ ms", load), load
        assert re.search(r"│ 1\s+100\b.*\d+\.\d+", text), text  # the burst's row in the history
        tmux("send-keys", "-t", session, "q")
        wait_screen(session, r"EXIT-CODE 0", 60)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and vllm_processes(port):
            time.sleep(0.5)
        assert vllm_processes(port) == []
        assert not [p for p in tree if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)
        for p in vllm_processes(port):
            p.kill()


def test_the_fleet_in_a_real_terminal(tmp_path: Path, demo_server: Supervisor) -> None:
    """`vllm-top attach --fleet FILE` over the real demo, a truth server serving a real
    two-engine capture and a port where nothing answers: rows, Enter into the demo's dashboard,
    a burst there, Esc back to the fleet, q."""
    from tests.helpers import FIXTURES
    from tests.test_loadgen_truth import start_truth_server

    truth, truth_url = start_truth_server(
        "--metrics", str(FIXTURES / "metrics-vllm-0.32-cpu-dp2-busy.txt")
    )
    fleet = tmp_path / "fleet.toml"
    fleet.write_text(
        f'[[endpoint]]\nname = "demo"\nurl = "{demo_server.base_url}/v1"\n\n'
        f'[[endpoint]]\nname = "pair"\nurl = "{truth_url}"\n\n'
        f'[[endpoint]]\nname = "down"\nurl = "http://127.0.0.1:{free_port()}"\n'
    )
    session = f"vllm-top-fleet-{os.getpid()}"
    env = _env(tmp_path)
    exports = " ".join(f"{k}={v}" for k, v in env.items() if k.startswith("XDG_"))
    command = f"env {exports} {_vllm_top()} attach --fleet {fleet}; echo EXIT-CODE $?; sleep 300"
    tmux("new-session", "-d", "-s", session, "-x", "100", "-y", "30", command)
    try:
        text = wait_screen(session, r"(?s)demo\s+ready.*down\s+no answer.*pair\s+ready", 60)
        assert re.search(r"└ 1\s+▲ busiest", text), text  # the two-engine capture's engines
        tmux("send-keys", "-t", session, "Enter")  # the first row: demo
        wait_screen(session, r"● READY\s+vllm-top-demo", 30)
        tmux("send-keys", "-t", session, "b")
        wait_screen(session, r"✓ 100 req, c=10, 128 tok: \d+ ok", 240)
        tmux("send-keys", "-t", session, "Escape")
        wait_screen(session, r"vllm-top fleet: 3 endpoints", 30)
        tmux("send-keys", "-t", session, "q")
        wait_screen(session, r"EXIT-CODE 0", 60)
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)
        truth.terminate()
        truth.wait(10)
