"""`vllm-top serve --demo --headless` as a user runs it: the installed command, a real vLLM."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import pytest

from tests.helpers import free_port

pytestmark = pytest.mark.vllm


def _vllm_top() -> str:
    # The console script installed beside this interpreter (the venv may not be on PATH).
    beside = Path(sys.executable).parent / "vllm-top"
    path = str(beside) if beside.exists() else shutil.which("vllm-top")
    assert path, "the vllm-top console script is not installed"
    return path


def _env(tmp_path: Path) -> dict[str, str]:
    # A user with a fresh home: the demo model is built into this cache.
    return {
        **os.environ,
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
        "XDG_STATE_HOME": str(tmp_path / "state"),
    }


def test_demo_comes_up_answers_and_ctrl_c_leaves_nothing(tmp_path: Path) -> None:
    port = free_port()
    proc = subprocess.Popen(
        [_vllm_top(), "serve", "--demo", "--headless", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(tmp_path),
    )
    lines: list[str] = []
    ready = threading.Event()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line.rstrip("\n"))
            if "ready" in line and f"http://127.0.0.1:{port}/v1" in line:
                ready.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    started = time.monotonic()
    try:
        assert ready.wait(180), "\n".join(lines[-30:])
        elapsed = time.monotonic() - started
        assert elapsed < 120, f"ready after {elapsed:.0f}s"
        tree = psutil.Process(proc.pid).children(recursive=True)
        assert any("vllm.entrypoints" in " ".join(p.cmdline()) for p in tree)
        phases = [ln for ln in lines if ln.startswith("[vllm-top] phase:")]
        assert any("loading weights" in ln for ln in phases)
        assert any("sizing KV cache" in ln for ln in phases)
        # The server log is streamed too.
        assert any("KV cache size: 2,048 tokens" in ln for ln in lines)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    reader.join(10)
    assert any("vLLM stopped" in ln for ln in lines)
    gone = [p for p in tree if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    assert not gone, gone
    # The demo model was built into the user's cache on the way.
    assert (tmp_path / "cache" / "vllm-top" / "demo-model-v1" / "model.safetensors").exists()


def test_a_server_that_fails_to_start_exits_1_with_the_cause(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            _vllm_top(),
            "serve",
            "--demo",
            "--headless",
            "--port",
            str(free_port()),
            "--",
            "--max-model-len",
            "not-a-length",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env=_env(tmp_path),
    )
    assert done.returncode == 1, done.stderr[-2000:]
    errors = done.stderr.strip().splitlines()
    assert errors[0].startswith("vllm-top: vLLM failed before it was ready: vLLM exited with code")
    assert "max-model-len" in errors[0] or "not-a-length" in errors[0], errors[0]
    assert "Traceback" not in done.stderr
    assert errors[1].startswith("vllm-top: full log:")
