"""A load tester must not report its own connection races as server failures.

A server with a short keep-alive (0.3 s) closes idle connections while the client's event loop
stalls (1 s, as it does on 2 cores shared with vLLM); the late-close proxy in between lets the
client take those connections as if open. Each request on one of them dies unread; it is sent
once more on a new connection and counted as retried. The server's own count proves that no
request reached it twice and none was lost.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest

from engine.http import get_json
from engine.launch import LaunchSpec
from loadgen.config import LoadConfig
from loadgen.report import render_report
from loadgen.runner import run_load
from loadgen.stats import summarize
from tests.late_close_proxy import LateCloseProxy
from tests.test_loadgen_truth import start_truth_server

REQUESTS, CONCURRENCY = 16, 8


@pytest.fixture
def short_keepalive() -> Iterator[tuple[str, LateCloseProxy]]:
    proc, url = start_truth_server(
        "--keepalive", "0.3", "--ttft", "0.01", "--itl", "0.001", "--tokens", "4"
    )
    proxy = LateCloseProxy(int(url.rsplit(":", 1)[1]))
    proxy.start()
    yield url, proxy
    proxy.close()
    proc.terminate()
    proc.wait(10)


def test_a_closed_kept_alive_connection_is_retried_once_and_never_twice(
    short_keepalive: tuple[str, LateCloseProxy],
) -> None:
    url, proxy = short_keepalive
    config = LoadConfig(
        proxy.url, requests=REQUESTS, concurrency=CONCURRENCY, max_tokens=4, model="truth-model"
    )

    def stall(_t0: float) -> None:
        time.sleep(1.0)  # the client's loop, stalled past the server's keep-alive

    get_json(url + "/truth/stats")  # start the server's count from here
    result = asyncio.run(run_load(config, on_start=stall))
    summary = summarize(config, result.records)
    assert (summary.succeeded, summary.failed) == (REQUESTS, 0), summary.errors
    # The warmed connections were all stale; nothing else was retried.
    assert proxy.swallowed == CONCURRENCY
    assert summary.retried == CONCURRENCY
    assert sum(r.retried for r in result.records) == CONCURRENCY
    _, stats = get_json(url + "/truth/stats")
    assert stats["requests"] == REQUESTS  # each arrived once: none twice, none lost
    assert summary.to_json()["retried"] == CONCURRENCY
    assert "Retried:             8 requests" in render_report(summary)


def test_a_supervised_vllm_keeps_connections_longer_than_any_client(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(LaunchSpec.KEEPALIVE_ENV, raising=False)
    assert LaunchSpec(model="m").child_env()[LaunchSpec.KEEPALIVE_ENV] == "60"
    monkeypatch.setenv(LaunchSpec.KEEPALIVE_ENV, "7")  # the user's own choice stands
    assert LaunchSpec(model="m").child_env()[LaunchSpec.KEEPALIVE_ENV] == "7"
