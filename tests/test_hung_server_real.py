"""A real vLLM that hangs: `vllm-top serve --demo --headless`, then SIGSTOP of its API server
(alive, its socket open, /health never answered), then SIGCONT.

All three ways of looking at it agree: the headless output, a dashboard attached to it and
`snapshot` say UNRESPONSIVE within 5 s, a burst is not fired at it, and it is ready again by
itself once it runs. (The supervised dashboard is checked in tests/test_faults_real.py.)
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import pytest

from engine.events import ServerState
from engine.session import AttachedSession
from tests.helpers import free_port, wait_until
from tests.test_app_pilot import wait_for
from tests.test_headless_cli import _env, _vllm_top
from tui.app import CockpitApp
from tui.commands.dashboard_config import UiConfig

pytestmark = pytest.mark.vllm


def _snapshot(url: str) -> tuple[int, dict[str, object]]:
    done = subprocess.run(
        [sys.executable, "-m", "tui.cli", "snapshot", "--json", "--url", url, "--timeout", "2"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    return done.returncode, json.loads(done.stdout)


async def test_a_hung_server_is_named_everywhere_and_recovers(tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [_vllm_top(), "serve", "--demo", "--headless", "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=_env(tmp_path),
    )  # fmt: skip
    lines: list[tuple[float, str]] = []

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append((time.monotonic(), line.rstrip("\n")))

    threading.Thread(target=read, daemon=True).start()

    def said(text: str) -> float | None:
        return next((t for t, line in lines if text in line), None)

    try:
        assert wait_until(lambda: said("[vllm-top] ready:") is not None, 240), lines[-20:]
        code, snap = _snapshot(url)
        assert code == 0 and snap["state"] == "ready"
        [api] = [p for p in psutil.Process(proc.pid).children() if "vllm" in " ".join(p.cmdline())]
        app = CockpitApp(AttachedSession(url), UiConfig(refresh_interval=0.5))
        async with app.run_test(size=(160, 48)) as pilot:
            assert await wait_for(pilot, lambda: app.session.state is ServerState.READY, 30)
            api.suspend()
            stopped_at = time.monotonic()
            try:
                assert await wait_for(
                    pilot, lambda: app.session.state is ServerState.UNRESPONSIVE, 10
                )
                attached_at = time.monotonic()
                assert wait_until(lambda: said("UNRESPONSIVE") is not None, 10), lines[-5:]
                headless_at = said("UNRESPONSIVE")
                assert headless_at is not None
                assert attached_at - stopped_at < 5.0 and headless_at - stopped_at < 5.0
                assert any("UNRESPONSIVE: no answer to /health for" in ln for _, ln in lines)
                code, snap = _snapshot(url)
                assert code == 2 and snap["state"] == "unresponsive"
                assert str(snap["detail"]).startswith("no answer to /health for")
                await pilot.pause(0.6)
                status = str(app.query_one("#status").render())
                assert "UNRESPONSIVE" in status and "no answer to /health for" in status
                await pilot.press("b")
                assert any("unresponsive, not ready" in n.message for n in app._notifications)
                assert not app.bursts_ctl.running
            finally:
                api.resume()
            assert await wait_for(pilot, lambda: app.session.state is ServerState.READY, 30)
            assert wait_until(lambda: said("answering /health again: ready") is not None, 30)
            assert _snapshot(url)[1]["state"] == "ready"
            await pilot.press("q")
        proc.send_signal(signal.SIGINT)
        assert proc.wait(60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
