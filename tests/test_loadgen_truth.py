"""The load generator against a server whose timings are known (tests/truth_server.py).

Tolerances are stated per assertion. The server runs in its own process; both share this
2-core machine, so the bounds allow a few milliseconds of scheduling noise, no more.
"""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from loadgen.config import LoadConfig
from loadgen.process import LoadWorkers
from loadgen.runner import RunResult, UnreachableError, resolve_model, run_load
from loadgen.stats import summarize
from tests.helpers import free_port, wait_until

TTFT = 0.150
ITL = 0.010
TOKENS = 20
ROOT = Path(__file__).parent.parent


def _listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def start_truth_server(*extra: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.truth_server", "--port", str(port), *extra],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
    )
    assert wait_until(lambda: _listening(port), 20), "truth server did not start"
    return proc, f"http://127.0.0.1:{port}"


def serve_truth(ttft: float, itl: float, tokens: int) -> Iterator[str]:
    """A module's truth server with these timings, for a fixture to yield from."""
    proc, url = start_truth_server("--ttft", str(ttft), "--itl", str(itl), "--tokens", str(tokens))
    yield url
    proc.terminate()
    proc.wait(10)


@pytest.fixture(scope="module")
def truth_url() -> Iterator[str]:
    yield from serve_truth(TTFT, ITL, TOKENS)


def run(config: LoadConfig) -> RunResult:
    return asyncio.run(run_load(resolve_model(config)))


def test_burst_timings_match_the_programmed_truth(truth_url: str) -> None:
    config = LoadConfig(truth_url + "/v1/", requests=40, concurrency=8, max_tokens=TOKENS)
    result = run(config)
    s = summarize(config, result.records, result.client)
    assert (s.succeeded, s.failed) == (40, 0)
    # Exact counts from the server's usage, not from counting chunks.
    assert s.tokens_exact and s.output_tokens == 40 * TOKENS
    assert s.ttft.p50 is not None and s.ttft.p99 is not None
    # TTFT: the role-only chat chunk arrives at once and must not count. Within +0/+25 ms.
    assert TTFT * 1000 <= s.ttft.p50 <= TTFT * 1000 + 25
    assert s.ttft.p99 <= TTFT * 1000 + 60
    # ITL and TPOT: 10 ms programmed, within 1.5 ms on the mean / median.
    assert s.itl.mean is not None and abs(s.itl.mean - ITL * 1000) <= 1.5
    assert s.tpot.p50 is not None and abs(s.tpot.p50 - ITL * 1000) <= 1.5
    assert s.itl.count == 40 * (TOKENS - 1)
    # E2E = TTFT + 19 gaps.
    expected_e2e = (TTFT + (TOKENS - 1) * ITL) * 1000
    assert s.e2e.p50 is not None and expected_e2e <= s.e2e.p50 <= expected_e2e + 30
    assert s.status_codes == {"200": 40}
    # 40 requests at 8 at a time, each ~340 ms: five waves.
    assert 5 * 0.34 <= s.duration_s <= 5 * 0.34 + 0.5
    assert s.request_throughput == pytest.approx(40 / s.duration_s)


def test_queueing_behind_the_concurrency_cap_is_measured_not_hidden(truth_url: str) -> None:
    config = LoadConfig(truth_url, requests=12, concurrency=2, max_tokens=5)
    result = run(config)
    by_index = sorted(result.records, key=lambda r: r.sent)
    # The last pair waited five rounds (~190 ms each) in our queue ...
    assert by_index[-1].queue_delay > 4 * (TTFT + 4 * ITL)
    # ... yet their TTFT is the server's, not inflated by that wait.
    assert all(TTFT <= (r.ttft or 0) <= TTFT + 0.03 for r in result.records)


def test_completions_endpoint_and_non_streaming(truth_url: str) -> None:
    config = LoadConfig(truth_url, endpoint="completions", requests=4, concurrency=4)
    result = run(replace(config, max_tokens=TOKENS))
    assert all(r.ok and r.output_tokens == TOKENS for r in result.records)
    plain = run(replace(config, stream=False, max_tokens=TOKENS))
    s = summarize(config, plain.records)
    assert s.succeeded == 4 and s.output_tokens == 4 * TOKENS
    # No stream, no first token: TTFT is unknown rather than faked from E2E.
    assert s.ttft.count == 0 and s.ttft.p50 is None
    assert s.e2e.p50 is not None and s.e2e.p50 >= (TTFT + (TOKENS - 1) * ITL) * 1000


def test_rate_mode_sends_on_schedule(truth_url: str) -> None:
    config = LoadConfig(
        truth_url, requests=20, concurrency=None, rate=20.0, arrival="constant", max_tokens=3
    )
    result = run(config)
    intended = [r.intended for r in result.records]
    assert intended == pytest.approx([i / 20.0 for i in range(20)])
    # Dispatch lag: typically under 5 ms; never more than 50 ms on a busy 2-core machine.
    lags = sorted(r.queue_delay for r in result.records)
    assert lags[len(lags) // 2] < 0.005 and lags[-1] < 0.05, lags
    assert all(r.ok for r in result.records)


def test_poisson_arrivals_are_seeded_and_average_the_rate(truth_url: str) -> None:
    from loadgen.runner import arrival_offsets

    config = LoadConfig(truth_url, requests=2000, rate=50.0, concurrency=None, seed=7)
    a = list(zip(range(2000), arrival_offsets(config), strict=False))
    b = list(zip(range(2000), arrival_offsets(config), strict=False))
    assert a == b
    mean_gap = a[-1][1] / 1999
    assert mean_gap == pytest.approx(1 / 50.0, rel=0.1)


def test_duration_bound_closed_loop(truth_url: str) -> None:
    config = LoadConfig(truth_url, requests=None, duration=1.0, concurrency=3, max_tokens=5)
    result = run(config)
    assert all(r.sent < 1.0 for r in result.records)
    # 3 users, ~190 ms per request, for 1 s: about 6 rounds.
    assert 12 <= len(result.records) <= 21
    assert all(r.ok for r in result.records)


@pytest.mark.parametrize(
    ("marker", "kind", "words"),
    [
        ("#status=500", "http", "HTTP 500: programmed failure 500"),
        ("#drop=5", None, ""),
        ("#garbage", "bad_sse", "not JSON"),
        ("#html", None, ""),
    ],
)
def test_failures_are_recorded_and_never_stop_the_run(
    truth_url: str, marker: str, kind: str | None, words: str
) -> None:
    payloads = (
        {"messages": [{"role": "user", "content": "fine"}]},
        {"messages": [{"role": "user", "content": f"bad {marker}"}]},
    )
    config = LoadConfig(truth_url, requests=6, concurrency=3, payloads=payloads, max_tokens=8)
    result = run(config)
    good = [r for r in result.records if r.index % 2 == 0]
    bad = [r for r in result.records if r.index % 2 == 1]
    assert all(r.ok for r in good)
    assert not any(r.ok for r in bad)
    if kind is not None:
        assert {r.error_kind for r in bad} == {kind}
        assert all(words in (r.error or "") for r in bad)
    s = summarize(config, result.records)
    assert s.failed == 3 and s.success_rate == 0.5
    assert sum(s.errors.values()) == 3


def test_dropped_stream_is_a_failure_with_a_reason(truth_url: str) -> None:
    config = LoadConfig(
        truth_url, requests=2, concurrency=2, prompt="cut #drop=5", max_tokens=TOKENS
    )
    result = run(config)
    assert {r.error_kind for r in result.records} <= {"dropped", "incomplete"}
    assert all(r.output_tokens == 5 for r in result.records)


def test_events_split_into_three_byte_writes_parse_exactly(truth_url: str) -> None:
    config = LoadConfig(truth_url, requests=4, concurrency=4, prompt="你好 #split", max_tokens=12)
    result = run(config)
    assert all(r.ok and r.output_tokens == 12 and r.tokens_exact for r in result.records)


def test_without_usage_counts_are_marked_approximate(truth_url: str) -> None:
    config = LoadConfig(truth_url, requests=3, concurrency=3, prompt="#nousage", max_tokens=7)
    result = run(config)
    s = summarize(config, result.records)
    assert s.succeeded == 3 and not s.tokens_exact
    assert s.output_tokens == 3 * 7  # one token per chunk on this server


def test_unreachable_server_and_wrong_key() -> None:
    with pytest.raises(UnreachableError, match="cannot reach"):
        resolve_model(LoadConfig(f"http://127.0.0.1:{free_port()}"))
    proc, url = start_truth_server("--api-key", "sesame")
    try:
        with pytest.raises(UnreachableError, match="401"):
            resolve_model(LoadConfig(url, api_key="wrong"))
        ok = resolve_model(LoadConfig(url, api_key="sesame"))
        assert ok.model == "truth-model"
        result = asyncio.run(run_load(replace(ok, requests=2, max_tokens=3)))
        assert all(r.ok for r in result.records)
    finally:
        proc.terminate()
        proc.wait(10)


def test_server_going_down_mid_run_fails_the_rest_but_finishes() -> None:
    proc, url = start_truth_server("--ttft", "0.05", "--itl", "0.05")
    config = resolve_model(LoadConfig(url, requests=30, concurrency=2, max_tokens=4))

    async def scenario() -> RunResult:
        task = asyncio.create_task(run_load(config))
        await asyncio.sleep(0.8)
        proc.kill()
        return await task

    try:
        result = asyncio.run(scenario())
    finally:
        proc.kill()
        proc.wait(10)
    assert len(result.records) == 30
    ok = [r for r in result.records if r.ok]
    failed = [r for r in result.records if not r.ok]
    assert ok and failed
    assert {r.error_kind for r in failed} <= {"connect", "disconnected", "dropped", "incomplete"}


def test_load_process_streams_records_and_can_be_cancelled(truth_url: str) -> None:
    config = resolve_model(LoadConfig(truth_url, requests=200, concurrency=2, max_tokens=TOKENS))
    load = LoadWorkers(config)
    load.start()
    assert wait_until(lambda: bool(load.poll()) and len(load.merged.records) >= 4, 30)
    load.cancel()
    assert wait_until(lambda: bool(load.poll()) or load.done, 30)
    while not load.done:
        load.poll(0.1)
    load.join(10)
    merged = load.merged
    assert merged.cancelled and merged.client is not None
    kinds = {r.error_kind for r in merged.records}
    # The two requests on the wire are recorded as cut off; the queued ones were never sent.
    assert kinds == {None, "cancelled"}
    assert sum(r.error_kind == "cancelled" for r in merged.records) == 2
    assert len(merged.records) < 200
    assert len({r.index for r in merged.records}) == len(merged.records)
    s = summarize(config, merged.records, merged.client, cancelled=True)
    assert s.failed == 0 and s.cancelled_in_flight == 2 and s.success_rate == 1.0


def test_a_connection_reset_is_a_disconnect_not_a_client_bug() -> None:
    """A server that resets the connection (RST) after reading the request."""
    import struct
    import threading

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    port = listener.getsockname()[1]
    stop = threading.Event()

    def serve() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            conn.recv(65536)
            # SO_LINGER with a zero timeout: close() sends RST instead of FIN.
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        config = LoadConfig(f"http://127.0.0.1:{port}", requests=4, concurrency=2, model="m")
        result = asyncio.run(run_load(config, warm=False))
    finally:
        stop.set()
        thread.join(2)
        listener.close()
    assert len(result.records) == 4
    assert {r.error_kind for r in result.records} == {"disconnected"}, [
        (r.error_kind, r.error) for r in result.records
    ]
    # Each went out on a new connection and the server read it: never sent again.
    assert not any(r.retried for r in result.records)
