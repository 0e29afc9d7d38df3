"""`vllm-top bench` with SLOs, the search, repeats and `compare`, against servers whose timings
are known (tests/truth_server.py); bad input is one line, exit 2, and nothing is sent."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.http import get_json
from tests.test_bench_cli import bench
from tests.test_cli_errors import assert_usage_error, run_cli
from tests.test_loadgen_truth import start_truth_server


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    proc, base = start_truth_server("--ttft", "0.05", "--itl", "0.002", "--tokens", "8")
    yield base
    proc.terminate()
    proc.wait(10)


def received(url: str) -> int:
    _, stats = get_json(url + "/truth/stats")
    return int(stats["requests"])


def test_slo_attainment_and_goodput(url: str, tmp_path: Path) -> None:
    """Every other request fails (HTTP 500): attainment is a half, goodput that per second."""
    payload = tmp_path / "p.json"
    payload.write_text(json.dumps([
        {"messages": [{"role": "user", "content": "fine"}]},
        {"messages": [{"role": "user", "content": "bad #status=500"}]},
    ]))  # fmt: skip
    out = tmp_path / "r.json"
    done = bench("--url", url, "-n", "20", "-c", "4", "--payload", str(payload),
                 "--slo", "ttft=1s,e2e=2s", "--json", str(out), "-q")  # fmt: skip
    assert done.returncode == 0, done.stderr
    data = json.loads(out.read_text())
    slo = data["slo"]
    assert slo["targets"] == {"ttft_ms": 1000.0, "e2e_ms": 2000.0}
    assert (slo["met"], slo["requests"], slo["attainment"]) == (10, 20, 0.5)
    assert slo["goodput"] == pytest.approx(10 / data["duration_s"])
    assert "Attainment:          50.0% (10 of 20 met them" in done.stdout
    strict = bench(
        "--url", url, "-n", "8", "-c", "4", "--slo", "ttft=10ms", "--json", str(out), "-q"
    )
    assert strict.returncode == 0 and json.loads(out.read_text())["slo"]["attainment"] == 0.0


def test_find_max_brackets_the_known_answer(tmp_path: Path) -> None:
    """TTFT = 50 ms + 10 ms per request in progress: a 505 ms target holds up to 45."""
    proc, base = start_truth_server(
        "--ttft", "0.05", "--ttft-per-request", "0.01", "--itl", "0.001", "--tokens", "4"
    )
    try:
        out = tmp_path / "s.json"
        done = bench("--url", base, "--find-max", "concurrency", "--slo", "ttft=505ms",
                     "--target", "0.9", "--max-tokens", "4", "--json", str(out), "-q")  # fmt: skip
    finally:
        proc.terminate()
        proc.wait(10)
    assert done.returncode == 0, done.stderr[-2000:]
    found = json.loads(out.read_text())["find_max"]
    assert found["dimension"] == "concurrency" and found["target"] == 0.9
    assert found["answer"] in (44, 45), found  # within the resolution of 1
    probes = found["probes"]
    assert [p["load"] for p in probes][:6] == [1, 2, 4, 8, 16, 32]
    assert {p["decision"] for p in probes} <= {"pass", "fail"}
    assert all(set(p) >= {"load", "requests", "attainment", "interval", "decision"} for p in probes)
    assert "Most concurrency meeting the SLO for 90% of requests:" in done.stdout


def test_repeat_gives_runs_and_their_spread(url: str, tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    done = bench("--url", url, "-n", "12", "-c", "4", "--repeat", "3", "--json", str(out), "-q")
    assert done.returncode == 0, done.stderr
    data = json.loads(out.read_text())
    assert len(data["runs"]) == 3
    assert {"mean", "std", "cv"} == set(data["spread"]["ttft_p50"])
    assert " 3 runs " in done.stdout


def _result(path: Path, ttft: float) -> None:
    figures = {"ttft_ms": {"p50": ttft, "p99": ttft * 1.2}, "output_token_throughput": 1000.0}
    path.write_text(json.dumps(figures))


def test_compare_verdicts_and_exit_codes(tmp_path: Path) -> None:
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    _result(a, 100.0)
    _result(b, 130.0)
    done = run_cli("compare", str(a), str(b))
    assert done.returncode == 0, done.stderr
    assert "ttft_p99" in done.stdout and "+30.0%" in done.stdout and "worse" in done.stdout
    failing = run_cli("compare", str(a), str(b), "--fail-on", "ttft_p99=+10%")
    assert failing.returncode == 1
    assert "regression: b.json: ttft_p99 changed +30.0% (limit ttft_p99=+10%)" in failing.stderr
    fine = run_cli("compare", str(a), str(b), "--fail-on", "output_throughput=-5%")
    assert fine.returncode == 0
    assert_usage_error(run_cli("compare", str(a), str(b), "--fail-on", "ttft_p99>10"), "rules like")
    assert_usage_error(
        run_cli("compare", str(a), str(b), "--fail-on", "speed=+1%"), "unknown figure"
    )
    assert_usage_error(run_cli("compare", str(a), str(tmp_path / "none.json")), "does not exist")


def test_without_tokenize_lengths_are_estimated_and_said_so(url: str, tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    done = bench("--url", url, "-n", "6", "-c", "3", "--input-len", "40", "--output-len", "5",
                 "--json", str(out), "-q")  # fmt: skip
    assert done.returncode == 0, done.stderr
    data = json.loads(out.read_text())
    assert data["workload"]["lengths_exact"] is False and data["workload"]["output_forced"]
    assert data["output_tokens"] == 6 * 5  # ignore_eos with max_tokens
    assert "APPROXIMATE" in done.stdout and "forced (ignore_eos with max_tokens)" in done.stdout


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--input-len", "0"], ["--input-len", "positive"]),
        (["--input-len", "x:y"], ["--input-len", "range"]),
        (["--input-len", "10", "--prefix-len", "10"], ["leaves nothing"]),
        (["--turns", "2", "--endpoint", "completions", "--input-len", "8"], ["chat endpoint"]),
        (["--slo", "ttft=soon"], ["--slo"]),
        (["--find-max", "concurrency"], ["needs --slo"]),
        (["--dataset", "/nonexistent.json"], ["does not exist"]),
    ],
)
def test_bad_workloads_are_one_line_and_send_nothing(
    url: str, args: list[str], words: list[str]
) -> None:
    received(url)  # start counting here
    assert_usage_error(bench("--url", url, *args), *words)
    assert received(url) == 0


def test_a_dataset_of_another_shape_or_empty_sends_nothing(url: str, tmp_path: Path) -> None:
    received(url)
    other, empty = tmp_path / "o.json", tmp_path / "e.jsonl"
    other.write_text(json.dumps([{"text": "not a conversation"}]))
    empty.write_text("\n")
    assert_usage_error(bench("--url", url, "--dataset", str(other)), "no conversation")
    assert_usage_error(bench("--url", url, "--dataset", str(empty)), "is empty")
    assert received(url) == 0


def test_a_server_without_metrics_has_no_server_side_and_says_why(url: str, tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    done = bench("--url", url, "-n", "8", "-c", "4", "--json", str(out), "-q")
    assert done.returncode == 0
    data = json.loads(out.read_text())
    assert data["server"] is None and "HTTP 404" in data["server_note"]
    assert "unknown: /metrics answered HTTP 404" in done.stdout
    assert data["delivered"]["requested_concurrency"] == 4
