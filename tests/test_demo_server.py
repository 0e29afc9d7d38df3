"""The supervisor against a real vLLM serving the demo model."""

from __future__ import annotations

import json
import os
import urllib.request
from typing import Any

import psutil
import pytest

from engine.demo import DEMO_MODEL_NAME
from engine.events import ServerState
from engine.health import Health, probe_health
from engine.startup import Phase
from engine.supervisor import Supervisor

pytestmark = pytest.mark.vllm


def _post(url: str, body: dict[str, Any]) -> dict[str, Any]:
    req = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(req, timeout=60) as resp:
        result: dict[str, Any] = json.load(resp)
        return result


def test_a_completion_comes_back(demo_server: Supervisor) -> None:
    out = _post(
        demo_server.base_url + "/v1/completions",
        {"model": DEMO_MODEL_NAME, "prompt": "The KV cache", "max_tokens": 16, "ignore_eos": True},
    )
    assert out["usage"]["completion_tokens"] == 16
    assert isinstance(out["choices"][0]["text"], str)


def test_the_chat_template_serves_a_chinese_conversation(demo_server: Supervisor) -> None:
    out = _post(
        demo_server.base_url + "/v1/chat/completions",
        {
            "model": DEMO_MODEL_NAME,
            "messages": [{"role": "user", "content": "你好, 请介绍一下你自己"}],
            "max_tokens": 8,
        },
    )
    assert out["choices"][0]["message"]["role"] == "assistant"
    assert out["usage"]["prompt_tokens"] > 5


def test_state_phases_and_health(demo_server: Supervisor) -> None:
    assert demo_server.state is ServerState.READY
    assert probe_health(demo_server.base_url) == (Health.READY, 200)
    entered = demo_server.tracker.entered_at
    assert demo_server.tracker.phase is Phase.READY
    order = [entered[p] for p in Phase]
    assert order == sorted(order)
    # The long phase on CPU is the warm-up; loading a 3 MB model is quick.
    assert entered[Phase.READY] - entered[Phase.LAUNCHING] < 180


def test_startup_facts_match_what_the_server_logged(demo_server: Supervisor) -> None:
    facts = demo_server.tracker.facts
    # 16 blocks of 128 tokens: the demo's deliberately small KV cache.
    assert facts.kv_cache_tokens == 2048
    assert facts.max_concurrency == 2.0
    assert facts.init_engine_s is not None and facts.init_engine_s > 0
    assert facts.version is not None
    assert facts.url is not None and facts.url.endswith(f":{demo_server.spec.port}")


def test_the_log_file_holds_every_line_the_buffer_saw(demo_server: Supervisor) -> None:
    assert demo_server.log_path is not None
    in_memory = demo_server.buffer.tail(len(demo_server.buffer))
    on_disk = demo_server.log_path.read_text(encoding="utf-8").splitlines()
    # Line N of the file is the line with sequence number N: nothing skipped, nothing doubled.
    assert len(on_disk) >= demo_server.buffer.total
    assert [on_disk[ln.seq] for ln in in_memory] == [ln.text for ln in in_memory]
    assert any("Starting vLLM server on" in line for line in on_disk)
    assert any("Application startup complete" in line for line in on_disk)


def test_the_process_tree_is_the_server_engine_core_and_worker(demo_server: Supervisor) -> None:
    assert demo_server.pid is not None
    leader = psutil.Process(demo_server.pid)
    assert "vllm.entrypoints.openai.api_server" in " ".join(leader.cmdline())
    children = leader.children(recursive=True)
    names = " ".join(" ".join(c.cmdline()) for c in children)
    assert "VLLM::EngineCore" in names
    # The server runs in its own session, so a Ctrl-C at our terminal is ours to handle.
    assert os.getsid(leader.pid) == leader.pid
