"""Bad input: one clear line on stderr, exit code 2, no traceback, nothing started."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import free_port

VLLM_TOP = [sys.executable, "-m", "tui.cli"]


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*VLLM_TOP, *args], capture_output=True, text=True, timeout=120, env=env)


def assert_usage_error(done: subprocess.CompletedProcess[str], *words: str) -> None:
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "Traceback" not in done.stderr
    for word in words:
        assert word in lines[0]


def test_serve_without_a_model() -> None:
    assert_usage_error(run_cli("serve", "--headless"), "MODEL", "--demo")


def test_model_and_demo_together() -> None:
    assert_usage_error(run_cli("serve", "some/model", "--demo", "--headless"), "not both")


def test_model_path_that_does_not_exist(tmp_path: Path) -> None:
    missing = str(tmp_path / "no-such-model")
    assert_usage_error(run_cli("serve", missing, "--headless"), missing, "does not exist")


def test_python_that_does_not_exist() -> None:
    done = run_cli("serve", "--demo", "--headless", "--python", "/nonexistent/python3")
    assert_usage_error(done, "no such interpreter")


def test_python_without_vllm() -> None:
    # The interpreter this venv was made from has no vLLM.
    base = os.path.join(sys.base_prefix, "bin", "python3")
    assert_usage_error(run_cli("serve", "--demo", "--headless", "--python", base), "no vllm")


def test_port_already_in_use() -> None:
    port = free_port()
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", port))
        listener.listen()
        done = run_cli("serve", "--demo", "--headless", "--port", str(port))
    assert_usage_error(done, f"port {port}", "already in use")


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["serve", "--demo", "--port", "0"], ["port 0"]),
        (["serve", "--demo", "--port", "http"], ["invalid port"]),
        (["serve", "--demo", "--startup-timeout", "-5"], ["greater than 0"]),
        (["serve", "--demo", "--no-such-flag"], ["unrecognized arguments"]),
        (["launch"], ["invalid choice"]),
    ],
)
def test_bad_flags(args: list[str], words: list[str]) -> None:
    assert_usage_error(run_cli(*args), *words)


def test_dashboard_without_a_terminal_says_so_and_starts_nothing() -> None:
    # No tty here (captured pipes): nothing is launched, the way out is named.
    assert_usage_error(
        run_cli("serve", "--demo", "--port", str(free_port())), "terminal", "--headless"
    )
    from tests.test_loadgen_truth import start_truth_server

    proc, url = start_truth_server()
    try:
        assert_usage_error(run_cli("attach", url), "terminal", "snapshot")
    finally:
        proc.terminate()


def test_attach_to_nothing_a_wrong_server_or_with_a_wrong_key() -> None:
    from tests.test_loadgen_truth import start_truth_server

    port = free_port()
    assert_usage_error(run_cli("attach", f"http://127.0.0.1:{port}/v1"), "nothing answers")
    assert_usage_error(run_cli("attach", "http://127.0.0.1:notaport"), "invalid port")
    proc, url = start_truth_server("--api-key", "sesame-open")
    try:
        # Something answers, but /health is not vLLM's.
        assert_usage_error(run_cli("attach", url + "/nothing-here"), "not a vLLM server")
        assert_usage_error(
            run_cli("attach", url, "--api-key", "wrong-key"), "refused the API key", "401"
        )
        env = {**os.environ, "OPENAI_API_KEY": "wrong-key"}
        assert_usage_error(run_cli("attach", url, env=env), "refused the API key")
    finally:
        proc.terminate()


def test_help_lists_the_serve_command() -> None:
    done = run_cli("--help")
    assert done.returncode == 0
    assert "serve" in done.stdout
