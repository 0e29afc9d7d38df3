"""The dashboard attached to servers that answer garbage: panels say "unknown" and why, a burst
ends with its failures counted, and nothing crashes (no worker fails, `q` still quits)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import pytest
from textual.message import Message
from textual.widgets import Static
from textual.worker import Worker, WorkerState

from engine.events import ServerState
from engine.session import AttachedSession
from tests.helpers import free_port, wait_until
from tests.test_app_pilot import wait_for
from tests.test_loadgen_truth import ROOT, _listening
from tui.app import CockpitApp
from tui.commands.dashboard_config import BurstPreset, UiConfig
from tui.messages import BurstFinished


@pytest.fixture
def garbage(request: pytest.FixtureRequest) -> Iterator[str]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.garbage_server", "--port", str(port), "--mode",
         request.param],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    assert wait_until(lambda: _listening(port), 20), "garbage server did not start"
    yield f"http://127.0.0.1:{port}"
    proc.terminate()
    proc.wait(10)


# mode -> (state, what the status or KV panel must say, what the burst must end with)
CASES = {
    "not-vllm": (ServerState.UNKNOWN, "/health answered HTTP 404: not a vLLM server?", None),
    "html": (
        ServerState.READY,
        "unknown: /metrics answered an HTML page, not Prometheus text",
        "did not list any model: not an OpenAI-compatible server?",
    ),
    "garbage": (ServerState.READY, "unknown: /metrics is not Prometheus text", "bad_sse"),
    "error-pages": (ServerState.READY, "unknown: /metrics answered HTTP 502", "HTTP 502"),
}


@pytest.mark.parametrize("garbage", list(CASES), indirect=True)
async def test_a_server_answering_garbage_degrades_to_unknown(
    garbage: str, request: pytest.FixtureRequest
) -> None:
    mode = request.node.callspec.params["garbage"]
    state, reason, burst_outcome = CASES[mode]
    messages: list[Message] = []
    burst = BurstPreset(requests=5, concurrency=2, max_tokens=8)
    app = CockpitApp(AttachedSession(garbage), UiConfig(refresh_interval=0.3, default_burst=burst))
    async with app.run_test(size=(160, 48), message_hook=messages.append) as pilot:
        assert await wait_for(pilot, lambda: app.session.state is state, 15)

        def panels() -> str:
            return str(app.query_one("#status", Static).render()) + str(
                app.query_one("#kv-text", Static).render()
            )

        assert await wait_for(pilot, lambda: reason in panels(), 15), panels()
        await pilot.press("b")
        if burst_outcome is None:
            await pilot.pause(1.0)
            assert not [m for m in messages if isinstance(m, BurstFinished)]  # not ready: none
        else:
            assert await wait_for(
                pilot, lambda: any(isinstance(m, BurstFinished) for m in messages), 30
            )
            [done] = [m for m in messages if isinstance(m, BurstFinished)]
            if done.summary is not None:  # the burst ran: every request failed, and why
                assert done.summary.failed == 5 and done.summary.succeeded == 0
                assert any(burst_outcome in error for error in done.summary.errors), done.summary
            else:  # refused before sending: the reason in one line
                assert done.error is not None and burst_outcome in done.error, done.error
        failed_workers = [
            m
            for m in messages
            if isinstance(m, Worker.StateChanged) and m.state is WorkerState.ERROR
        ]
        assert failed_workers == []
        await pilot.press("q")
    assert app.return_code == 0
