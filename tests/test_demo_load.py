"""A burst against the real demo vLLM: the numbers come from the server itself."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from textual.message import Message

from engine.events import ServerState
from engine.session import AttachedSession
from engine.supervisor import Supervisor
from loadgen.config import LoadConfig
from loadgen.runner import resolve_model, run_load
from loadgen.stats import summarize
from tests.test_app_pilot import wait_for
from tui.app import CockpitApp
from tui.commands.dashboard_config import UiConfig
from tui.messages import BurstFinished

pytestmark = pytest.mark.vllm


def test_a_default_burst_against_the_demo(demo_server: Supervisor) -> None:
    config = resolve_model(LoadConfig(demo_server.base_url + "/v1", requests=100, concurrency=10))
    assert config.model == "vllm-top-demo"
    result = asyncio.run(run_load(config))
    s = summarize(config, result.records, result.client)
    assert s.requests == 100
    assert s.success_rate >= 0.95, s.errors
    # Token counts are the server's (stream_options.include_usage), for every request.
    assert s.tokens_exact
    ok = [r for r in result.records if r.ok]
    assert all(r.output_tokens is not None and 0 < r.output_tokens <= 128 for r in ok)
    assert s.output_tokens == sum(r.output_tokens or 0 for r in ok)
    assert s.ttft.p50 is not None and s.ttft.p50 > 0
    assert s.tpot.p50 is not None and s.itl.count > 0
    assert s.output_token_throughput > 0


def test_chinese_prompts_on_the_completions_endpoint(demo_server: Supervisor) -> None:
    config = resolve_model(
        LoadConfig(
            demo_server.base_url,
            endpoint="completions",
            prompt="天空为什么是蓝色的? Why is the sky blue?",
            requests=8,
            concurrency=4,
            max_tokens=32,
            ignore_eos=True,
        )
    )
    result = asyncio.run(run_load(config))
    assert all(r.ok for r in result.records), [r.error for r in result.records]
    assert all(r.output_tokens == 32 and r.tokens_exact for r in result.records)
    # 32 tokens for this text with the demo tokenizer (checked with POST /tokenize).
    assert all(r.prompt_tokens == 32 for r in result.records)


async def test_preset_9_ends_with_no_failure_the_server_did_not_cause(
    demo_server: Supervisor,
) -> None:
    """1,024 requests at concurrency 256 from the cockpit's `9`, client and server on 2 cores.
    It used to end with 242 failures (208 `Can not write request body`, 34 `server closed the
    connection`) that never reached vLLM: pooled connections past its 5 s keep-alive."""
    # vllm-top gives the servers it starts a keep-alive longer than any client's.
    environ = Path(f"/proc/{demo_server.pid}/environ").read_bytes().split(b"\0")
    assert b"VLLM_HTTP_TIMEOUT_KEEP_ALIVE=60" in environ
    messages: list[Message] = []
    app = CockpitApp(AttachedSession(demo_server.base_url), UiConfig(refresh_interval=1.0))
    async with app.run_test(size=(160, 48), message_hook=messages.append) as pilot:
        assert await wait_for(pilot, lambda: app.session.state is ServerState.READY, 30)
        await pilot.press("9")
        assert await wait_for(
            pilot, lambda: any(isinstance(m, BurstFinished) for m in messages), 900
        )
        [done] = [m for m in messages if isinstance(m, BurstFinished)]
        assert done.summary is not None and done.summary.requests == 1024
        # A failure the server caused has its HTTP status; the client's own races have none.
        assert done.progress is not None
        ours = [r for r in done.progress.records if not r.ok and r.status is None]
        assert ours == [], done.summary.errors
        assert done.summary.succeeded + done.summary.failed == 1024
        await pilot.press("q")
