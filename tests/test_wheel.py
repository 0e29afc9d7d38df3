"""What users install: the built wheel in a fresh virtual environment (no `-e`, as `pip install
.`, pipx and `uv tool install` do), then the installed `vllm-top attach` in a real terminal
against a server, to a screen with every panel and no traceback.

A wheel once left tui/widgets, tui/screens and the stylesheet out; an editable install could not
see it, and `import tui.app` failed for every user.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

from bench.terminal import tmux, wait_screen
from tests.helpers import FIXTURES
from tests.test_loadgen_truth import ROOT, start_truth_server

pytestmark = [
    pytest.mark.install,
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed"),
]


def _build_wheel(out: Path) -> Path:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(out), str(ROOT)],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    [wheel] = out.glob("vllm_top-*.whl")
    return wheel


def test_the_installed_wheel_opens_the_dashboard(tmp_path: Path) -> None:
    wheel = _build_wheel(tmp_path / "dist")
    names = set(zipfile.ZipFile(wheel).namelist())
    for needed in ("tui/app.py", "tui/cockpit.tcss", "tui/widgets/log_panel.py",
                   "tui/screens/modals.py", "tui/commands/headless.py",
                   "engine/demo/corpus.txt", "engine/reaper.py", "loadgen/live.py",
                   "loadgen/words.txt"):  # fmt: skip
        assert needed in names, needed
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    installed = subprocess.run(
        [str(python), "-m", "pip", "install", "-q", str(wheel)],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert installed.returncode == 0, installed.stderr[-2000:]
    vllm_top = env_dir / "bin" / "vllm-top"
    # Run from elsewhere: nothing of the checkout may be on the path.
    clean = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    clean["XDG_STATE_HOME"] = str(tmp_path / "state")
    version = subprocess.run(
        [str(vllm_top), "--version"], capture_output=True, text=True, cwd=tmp_path, env=clean
    )
    assert version.stdout.strip() == "vllm-top 0.1.0", version.stderr
    where = subprocess.run(
        [str(python), "-c", "import tui.app, engine; print(engine.__file__)"],
        capture_output=True, text=True, cwd=tmp_path, env=clean,
    )  # fmt: skip
    assert where.returncode == 0, where.stderr
    assert str(env_dir) in where.stdout  # the installed copy, not the checkout

    server, url = start_truth_server("--metrics", str(FIXTURES / "metrics-vllm-0.32-cpu-busy.txt"))
    session = f"vllm-top-wheel-{os.getpid()}"
    exports = " ".join(f"{k}={v}" for k, v in clean.items() if k.startswith("XDG_"))
    command = f"cd {tmp_path} && env {exports} {vllm_top} attach {url}; echo EXIT-CODE $?"
    # A terminal first, then the command typed into it, as a person does (a pane's size can
    # still be settling when a command given to new-session starts).
    tmux("new-session", "-d", "-s", session, "-x", "160", "-y", "48", "sh")
    try:
        tmux("send-keys", "-t", session, command, "Enter")
        screen = wait_screen(session, r"/ 2,048 tok", 60)
        for panel in ("● READY", "Startup", "KV cache & scheduler", "Device", "TTFT",
                      "Throughput", "Load", "Log", "attached"):  # fmt: skip
            assert panel in screen, screen
        assert "Traceback" not in screen
        tmux("send-keys", "-t", session, "q")
        wait_screen(session, r"EXIT-CODE 0", 30)
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)
        server.terminate()
        server.wait(10)
