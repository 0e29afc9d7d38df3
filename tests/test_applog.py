"""vllm-top's own log: what was swallowed elsewhere leaves a trace, masked like every output."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.applog import setup
from engine.gpu import Nvml
from engine.launch import LaunchSpec
from engine.redact import Redactor
from engine.supervisor import Supervisor
from tests.helpers import free_port

KEY = "sk-known-key-0123456789"


@pytest.fixture
def own_log(tmp_path: Path) -> Iterator[Path]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    path = setup(Redactor([KEY]), debug=False, path=tmp_path / "vllm-top.log")
    yield path
    for handler in root.handlers:
        if handler not in handlers:
            root.removeHandler(handler)
            handler.close()
    root.setLevel(level)


def test_messages_and_tracebacks_are_masked(own_log: Path) -> None:
    log = logging.getLogger("engine.test")
    log.info("sending Bearer %s", KEY)
    try:
        raise RuntimeError(f"server said: bad key {KEY}")
    except RuntimeError:
        log.exception("a failure")
    text = own_log.read_text()
    assert KEY not in text
    assert "sending Bearer ***" in text and "RuntimeError: server said: bad key ***" in text


def test_an_nvml_call_that_keeps_failing_is_logged_once(own_log: Path) -> None:
    nvml = Nvml()

    def nvmlDeviceGetPowerUsage(handle: object) -> int:
        raise OSError("Not Supported")

    for _ in range(5):
        assert nvml._try(nvmlDeviceGetPowerUsage, None) is None  # unknown, never 0
    lines = [ln for ln in own_log.read_text().splitlines() if "nvmlDeviceGetPowerUsage" in ln]
    assert len(lines) == 1 and "Not Supported" in lines[0]


def test_a_failing_listener_leaves_its_traceback(own_log: Path, tmp_path: Path) -> None:
    script = tmp_path / "server.py"
    script.write_text(f"#!{sys.executable}\nprint('hello', flush=True)\n")
    script.chmod(0o755)

    def broken(event: object) -> None:
        raise ValueError("listener bug")

    sup = Supervisor(
        LaunchSpec(model="m", python=str(script), port=free_port()),
        log_dir=tmp_path / "logs",
        listener=broken,
    )
    sup.start()
    assert sup.wait_exit(20) is not None  # the supervisor survived its listener
    text = own_log.read_text()
    assert "the supervisor's listener failed" in text and "ValueError: listener bug" in text


def test_the_command_line_writes_its_own_log(tmp_path: Path) -> None:
    env = {**os.environ, "XDG_STATE_HOME": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-m", "tui.cli", "snapshot", "--json", "--debug", "--url",
         f"http://127.0.0.1:{free_port()}", "--api-key", KEY],
        capture_output=True, text=True, env=env, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2
    text = (tmp_path / "vllm-top" / "vllm-top.log").read_text()
    assert "vllm-top started" in text and "NVML" in text and KEY not in text
