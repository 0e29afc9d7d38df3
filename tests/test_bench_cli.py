"""`vllm-top bench` as a user runs it: report on stdout, JSON and CSV files, exit codes."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import free_port
from tests.test_cli_errors import assert_usage_error
from tests.test_loadgen_truth import start_truth_server

VLLM_TOP = [sys.executable, "-m", "tui.cli", "bench"]
SCHEMA = {
    "config", "requests", "succeeded", "failed", "success_rate", "duration_s",
    "request_throughput", "output_token_throughput", "total_token_throughput",
    "prompt_tokens", "output_tokens", "ttft_ms", "tpot_ms", "itl_ms", "e2e_ms",
    "status_codes", "errors",
}  # fmt: skip
STATS = {"mean", "min", "max", "p50", "p90", "p95", "p99"}


def bench(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*VLLM_TOP, *args], capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    proc, base = start_truth_server("--ttft", "0.05", "--itl", "0.005", "--tokens", "10")
    yield base + "/v1"
    proc.terminate()
    proc.wait(10)


def test_report_json_and_csv(url: str, tmp_path: Path) -> None:
    out_json, out_csv = tmp_path / "r.json", tmp_path / "r.csv"
    done = bench("--url", url, "-n", "12", "-c", "4", "--max-tokens", "10",
                 "--json", str(out_json), "--csv", str(out_csv))  # fmt: skip
    assert done.returncode == 0, done.stderr
    for section in ("Success rate:", "Request throughput:", "TTFT", "TPOT", "ITL", "E2E",
                    "Status codes:", "Errors:"):  # fmt: skip
        assert section in done.stdout
    assert "100.0%" in done.stdout
    data = json.loads(out_json.read_text())
    assert set(data) >= SCHEMA
    for key in ("ttft_ms", "tpot_ms", "itl_ms", "e2e_ms"):
        assert set(data[key]) == STATS
    assert data["requests"] == 12 and data["succeeded"] == 12 and data["success_rate"] == 1.0
    assert data["output_tokens"] == 120 and data["status_codes"] == {"200": 12}
    assert 50 <= data["ttft_ms"]["p50"] <= 80
    rows = list(csv.DictReader(out_csv.open()))
    assert len(rows) == 12 and {r["status"] for r in rows} == {"200"}
    assert all(float(r["ttft_ms"]) >= 50 for r in rows)


def test_sweep_writes_one_object_per_concurrency(url: str, tmp_path: Path) -> None:
    out_json = tmp_path / "sweep.json"
    done = bench("--url", url, "-n", "8", "--sweep", "1,4", "--json", str(out_json), "-q")
    assert done.returncode == 0, done.stderr
    data = json.loads(out_json.read_text())
    assert [d["config"]["concurrency"] for d in data] == [1, 4]
    assert data[1]["request_throughput"] > data[0]["request_throughput"] * 2
    assert "highest req/s" in done.stdout


def test_min_success_sets_exit_code_1(url: str) -> None:
    done = bench("--url", url, "-n", "4", "-c", "2", "--prompt", "#status=503",
                 "--min-success", "0.9", "-q")  # fmt: skip
    assert done.returncode == 1
    assert "HTTP 503: programmed failure 503" in done.stdout
    assert "below --min-success" in done.stderr


def test_payload_file_with_a_list_of_bodies(url: str, tmp_path: Path) -> None:
    payload = tmp_path / "payload.json"
    payload.write_text(json.dumps([
        {"model": "truth-model", "messages": [{"role": "user", "content": "用中文回答"}],
         "max_tokens": 6},
        {"model": "truth-model", "messages": [{"role": "user", "content": "short"}],
         "max_tokens": 4},
    ], ensure_ascii=False))  # fmt: skip
    out_json = tmp_path / "p.json"
    done = bench("--url", url, "--payload", str(payload), "-n", "4", "--json", str(out_json))
    assert done.returncode == 0, done.stderr
    data = json.loads(out_json.read_text())
    # The file's own max_tokens is kept when --max-tokens is not given.
    assert data["succeeded"] == 4 and data["output_tokens"] == 2 * 6 + 2 * 4


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["-n", "0"], ["positive"]),
        (["-c", "-3"], ["positive"]),
        (["--rate", "0"], ["greater than 0"]),
        (["--sweep", "1,x"], ["--sweep"]),
        (["--min-success", "1.5"], ["fraction"]),
        (["--endpoint", "embeddings"], ["invalid choice"]),
    ],
)
def test_bad_arguments(url: str, args: list[str], words: list[str]) -> None:
    assert_usage_error(bench("--url", url, *args), *words)


def test_missing_and_broken_payload_files(url: str, tmp_path: Path) -> None:
    assert_usage_error(
        bench("--url", url, "--payload", str(tmp_path / "nope.json")), "does not exist"
    )
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    assert_usage_error(bench("--url", url, "--payload", str(broken)), "is not JSON")


def test_unreachable_server_is_exit_2_in_one_line() -> None:
    assert_usage_error(bench("--url", f"http://127.0.0.1:{free_port()}/v1"), "cannot reach")


def test_wrong_api_key_is_exit_2_in_one_line() -> None:
    proc, base = start_truth_server("--api-key", "sesame")
    try:
        assert_usage_error(bench("--url", base, "--api-key", "nope"), "401", "wrong --api-key")
        assert_usage_error(bench("--url", base), "401", "needs --api-key")
    finally:
        proc.terminate()
        proc.wait(10)


def test_an_api_key_echoed_by_the_server_is_masked_in_every_output(tmp_path: Path) -> None:
    key = "sk-secret-4242424242"
    proc, base = start_truth_server("--api-key", key)
    try:
        done = bench(
            "--url", base, "--api-key", key, "-n", "3", "-c", "1", "--prompt", "x #echo-auth",
            "--json", str(tmp_path / "r.json"), "--csv", str(tmp_path / "r.csv"),
        )  # fmt: skip
    finally:
        proc.terminate()
        proc.wait(10)
    assert done.returncode == 0, done.stderr
    outputs = {
        "report": done.stdout,
        "stderr": done.stderr,
        "json": (tmp_path / "r.json").read_text(),
        "csv": (tmp_path / "r.csv").read_text(),
    }
    for name, text in outputs.items():
        assert key not in text, name
    # The error is still there, masked: what failed is not hidden.
    assert "bad request from Bearer ***" in outputs["report"]
    assert json.loads(outputs["json"])["errors"] == {
        "http: HTTP 400: bad request from Bearer ***": 3
    }
