"""A real vllm-top losing its terminal or killed outright leaves no vLLM process behind.

Checked on the process table: the API server, its engine core and its worker, found before
the signal, must all be gone afterwards (and so must the reaper, its work done).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import psutil
import pytest

from bench.terminal import tmux, vllm_processes, wait_screen
from tests.helpers import free_port, wait_until
from tests.test_headless_cli import _env, _vllm_top

pytestmark = pytest.mark.vllm


def _tree(port: int) -> list[psutil.Process]:
    servers = vllm_processes(port)
    assert len(servers) == 1, servers
    tree = [servers[0], *servers[0].children(recursive=True)]
    names = " ".join(" ".join(p.cmdline()) for p in tree)
    assert "EngineCore" in names and "Worker" in names, names
    return tree


def _alive(processes: list[psutil.Process]) -> list[psutil.Process]:
    return [p for p in processes if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]


def _reapers_of(pid: int) -> list[psutil.Process]:
    """The watchdog that vllm-top started (engine/reaper.py, a child in its own session)."""
    return [p for p in psutil.Process(pid).children() if "reaper.py" in " ".join(p.cmdline())]


def test_sigkill_of_vllm_top_takes_the_whole_server_tree_down(tmp_path: Path) -> None:
    """Also: keys given on vLLM's command line protect /v1 and never show in our output.
    With two keys they have to stay on vLLM's command line, and vLLM prints them among its
    "non-default args" at start-up: that real line must reach our output masked."""
    port = free_port()
    keys = ("sk-first-0123456789", "sk-second-9876543210")
    proc = subprocess.Popen(
        [
            _vllm_top(),
            "serve",
            "--demo",
            "--headless",
            "--port",
            str(port),
            "--",
            "--api-key",
            *keys,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=_env(tmp_path),
    )
    try:
        assert proc.stdout is not None
        out = []
        for line in proc.stdout:
            out.append(line)
            if "[vllm-top] ready:" in line:
                break
        else:
            pytest.fail("vllm-top exited before vLLM was ready:\n" + "".join(out))
        printed = "".join(out)
        assert "'api_key': ['***']" in printed
        log = next((tmp_path / "state" / "vllm-top" / "logs").glob("*.log")).read_text()
        assert "'api_key': ['***']" in log
        for key in keys:
            assert key not in printed and key not in log
            assert _status(f"http://127.0.0.1:{port}/v1/models", key) == 200
        assert _status(f"http://127.0.0.1:{port}/v1/models", None) == 401

        tree = _tree(port)
        reapers = _reapers_of(proc.pid)
        assert reapers, "no reaper watches this server"
        proc.send_signal(signal.SIGKILL)  # no handler, no cleanup: only the kernel and the reaper
        proc.wait(5)
        assert wait_until(lambda: not _alive(tree), 30), [(p.pid, p.name()) for p in _alive(tree)]
        assert wait_until(lambda: not _alive(reapers), 15), "the reaper did not exit"
    finally:
        proc.kill()
        for p in vllm_processes(port):
            p.kill()


def _status(url: str, key: str | None) -> int:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=10):
            return 200
    except urllib.error.HTTPError as exc:
        return exc.code


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
@pytest.mark.parametrize("how", ["hang-up", "sigterm"])
def test_the_dashboard_stops_vllm_when_its_terminal_goes_or_it_is_terminated(
    tmp_path: Path, how: str
) -> None:
    """`tmux kill-session` hangs up the terminal, as a dropped SSH connection does; SIGTERM
    is what `kill` and systemd send."""
    port = free_port()
    session = f"vllm-top-{how}-{os.getpid()}"
    env = _env(tmp_path)
    exports = " ".join(f"{k}={v}" for k, v in env.items() if k.startswith("XDG_"))
    command = (
        f"env {exports} {_vllm_top()} serve --demo --port {port}; echo EXIT-CODE $?; sleep 600"
    )
    tmux("new-session", "-d", "-s", session, "-x", "120", "-y", "36", command)
    try:
        wait_screen(session, r"● READY", 300)
        tree = _tree(port)
        shell = psutil.Process(int(tmux("display-message", "-p", "-t", session, "#{pane_pid}")))
        [vllm_top] = [p for p in shell.children() if "vllm-top" in " ".join(p.cmdline())]
        started = time.monotonic()
        if how == "hang-up":
            tmux("kill-session", "-t", session)
        else:
            vllm_top.send_signal(signal.SIGTERM)
        assert wait_until(lambda: not _alive(tree), 40), [(p.pid, p.name()) for p in _alive(tree)]
        assert wait_until(lambda: not _alive([vllm_top]), 10)
        # It was stopped, not reaped: SIGTERM and vLLM's own shutdown take a few seconds.
        assert time.monotonic() - started < 40
        if how == "sigterm":  # the exit status says what ended it
            wait_screen(session, rf"EXIT-CODE {128 + signal.SIGTERM}", 10)
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)
        for p in vllm_processes(port):
            p.kill()
