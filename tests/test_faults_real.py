"""Faults made to really happen to a real vLLM under the dashboard (Textual's Pilot).

- The engine core is SIGKILLed in the middle of a burst: the dashboard sees it within a second,
  shows the exit code, the cause and the last errors, counts the burst's failures, and `r`
  brings a new server up.
- The server dies at start-up because its KV cache does not fit in memory.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import psutil
import pytest
from textual.message import Message

from engine.demo import demo_launch_spec
from engine.events import ExitEvent, ServerState, StateEvent, SupervisorEvent
from engine.launch import LaunchSpec
from engine.session import SupervisedSession
from tests.helpers import free_port
from tests.test_app_pilot import wait_for
from tui.app import CockpitApp
from tui.commands.dashboard_config import BurstPreset, UiConfig
from tui.messages import BurstFinished

pytestmark = pytest.mark.vllm


def _engine_core(server_pid: int) -> psutil.Process:
    for child in psutil.Process(server_pid).children(recursive=True):
        if "EngineCore" in " ".join(child.cmdline()):
            return child
    raise AssertionError("no engine core process under the API server")


def _gone(processes: list[psutil.Process]) -> bool:
    return not [p for p in processes if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]


def _recording(session: SupervisedSession) -> list[tuple[SupervisorEvent, float]]:
    """Record the supervisor's events with their arrival time, then pass them on to the app."""
    seen: list[tuple[SupervisorEvent, float]] = []
    app_listener = session.listener
    assert app_listener is not None

    def listener(event: SupervisorEvent) -> None:
        seen.append((event, time.monotonic()))
        app_listener(event)

    session.listener = listener
    return seen


async def test_engine_core_killed_mid_burst(demo_model_dir: Path, tmp_path: Path) -> None:
    spec = demo_launch_spec(sys.executable, demo_model_dir, port=free_port())
    session = SupervisedSession(spec, log_dir=tmp_path / "logs")
    # Long enough to be killed in the middle of: 400 requests of 256 tokens each, no early EOS.
    body = tmp_path / "body.json"
    body.write_text(
        json.dumps({"messages": [{"role": "user", "content": "Hi"}], "ignore_eos": True})
    )
    burst = BurstPreset(requests=400, concurrency=20, max_tokens=256, payload=str(body))
    app = CockpitApp(session, UiConfig(refresh_interval=0.5, default_burst=burst))
    seen = _recording(session)
    messages: list[Message] = []
    trees: list[psutil.Process] = []
    try:
        async with app.run_test(size=(160, 48), message_hook=messages.append) as pilot:
            assert await wait_for(pilot, lambda: session.state is ServerState.READY, 300)
            first_pid = session.pid
            assert first_pid is not None
            trees += [psutil.Process(first_pid), *psutil.Process(first_pid).children(True)]

            # A hung API server (SIGSTOP: alive, socket open, /health never answered) is named
            # within 5 s, a burst is not fired at it, and SIGCONT makes it ready again by itself.
            api = psutil.Process(first_pid)
            api.suspend()
            stopped_at = time.monotonic()
            try:
                assert await wait_for(pilot, lambda: session.state is ServerState.UNRESPONSIVE, 10)
                [hung] = [
                    t
                    for e, t in seen
                    if isinstance(e, StateEvent) and e.state is ServerState.UNRESPONSIVE
                ]
                assert hung - stopped_at < 5.0, hung - stopped_at
                await pilot.pause(0.6)
                status = str(app.query_one("#status").render())
                assert "UNRESPONSIVE" in status and "no answer to /health for" in status
                await pilot.press("b")
                assert any("unresponsive, not ready" in n.message for n in app._notifications)
                assert not app.bursts_ctl.running
            finally:
                api.resume()
            assert await wait_for(pilot, lambda: session.state is ServerState.READY, 30)

            await pilot.press("b")

            def ok_so_far() -> int:
                return (
                    sum(r.ok for r in app.bursts_ctl.bursts[-1].records)
                    if app.bursts_ctl.bursts
                    else 0
                )

            assert await wait_for(pilot, lambda: ok_so_far() >= 3, 180)
            # Taken before the kill: afterwards the burst may well have ended.
            finished = [m for m in messages if isinstance(m, BurstFinished)]
            engine = _engine_core(first_pid)
            killed_at = time.monotonic()
            engine.kill()

            assert await wait_for(pilot, lambda: session.state is not ServerState.READY, 10)
            noticed = [
                t
                for e, t in seen
                if t >= killed_at
                and (isinstance(e, ExitEvent) or (isinstance(e, StateEvent) and e.state in (
                    ServerState.DEAD, ServerState.EXITED)))
            ]  # fmt: skip
            assert noticed and noticed[0] - killed_at < 1.0, noticed[0] - killed_at

            # The burst in flight ends with its failures counted; the cockpit keeps running.
            assert await wait_for(
                pilot, lambda: bool([m for m in messages if isinstance(m, BurstFinished)]), 120
            )
            [done] = [m for m in messages if isinstance(m, BurstFinished)]
            assert done.error is None and done.summary is not None
            assert done.summary.succeeded >= 3 and done.summary.failed > 0
            assert done.summary.succeeded + done.summary.failed == 400
            assert "failed" in str(app.query_one("#load-status").render())

            # vLLM's API server shuts itself down after its engine died: the status says how.
            assert await wait_for(pilot, lambda: session.state is ServerState.EXITED, 60)
            await pilot.pause(0.5)
            status = str(app.query_one("#status").render())
            assert "EXITED" in status
            assert "vLLM exited with code" in status
            assert "engine core process died without an error of its own" in status
            assert "EngineDeadError" in status  # one of the last distinct error lines
            assert "r restarts" in status

            await pilot.press("r")
            assert await wait_for(pilot, lambda: session.state is ServerState.READY, 300)
            assert session.pid is not None and session.pid != first_pid
            trees += [psutil.Process(session.pid), *psutil.Process(session.pid).children(True)]
            await pilot.pause(1.5)
            status = str(app.query_one("#status").render())
            assert "READY" in status and "exited" not in status
            await pilot.press("q")
        assert finished == []  # nothing had finished before the kill
    finally:
        session.stop(10)
    assert _gone(trees)


async def test_a_server_that_runs_out_of_memory_at_start(
    demo_model_dir: Path, tmp_path: Path
) -> None:
    """Ask the CPU backend for a 100 TB KV cache: vLLM fails while sizing it, and says why."""
    spec = LaunchSpec(
        model=str(demo_model_dir),
        python=sys.executable,
        port=free_port(),
        extra_args=("--max-model-len", "1024", "--block-size", "128", "--enforce-eager"),
        env={"VLLM_CPU_KVCACHE_SPACE": "100000"},
    )
    session = SupervisedSession(spec, log_dir=tmp_path / "logs")
    app = CockpitApp(session, UiConfig(refresh_interval=0.5))
    try:
        async with app.run_test(size=(160, 48)) as pilot:
            assert await wait_for(pilot, lambda: session.state is ServerState.EXITED, 300)
            await pilot.pause(0.5)
            status = str(app.query_one("#status").render())
            assert "EXITED" in status
            assert "vLLM exited with code 1" in status
            assert "less than requested memory for kv" in status  # the cause, from the worker
            assert "Engine core initialization failed" in status  # among the last errors
            await pilot.press("q")
    finally:
        session.stop(5)
