"""A burst against the real demo vLLM: the numbers come from the server itself."""

from __future__ import annotations

import asyncio

import pytest

from engine.supervisor import Supervisor
from loadgen.config import LoadConfig
from loadgen.runner import resolve_model, run_load
from loadgen.stats import summarize

pytestmark = pytest.mark.vllm


def test_a_default_burst_against_the_demo(demo_server: Supervisor) -> None:
    config = asyncio.run(
        resolve_model(LoadConfig(demo_server.base_url + "/v1", requests=100, concurrency=10))
    )
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
    config = asyncio.run(
        resolve_model(
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
    )
    result = asyncio.run(run_load(config))
    assert all(r.ok for r in result.records), [r.error for r in result.records]
    assert all(r.output_tokens == 32 and r.tokens_exact for r in result.records)
    # 32 tokens for this text with the demo tokenizer (checked with POST /tokenize).
    assert all(r.prompt_tokens == 32 for r in result.records)
