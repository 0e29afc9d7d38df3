"""A signal ends the dashboard even when Textual's teardown never does.

After a hang-up Textual can wait forever writing to the lost terminal (seen once in this
suite: the main thread blocked in its writer thread's queue). The handler stops the server at
once and ends the process if the app has not returned TEARDOWN_LIMIT_S later.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent


@pytest.mark.parametrize("sig", [signal.SIGHUP, signal.SIGTERM])
def test_a_teardown_that_hangs_still_stops_the_server_and_exits(
    tmp_path: Path, sig: signal.Signals
) -> None:
    stopped = tmp_path / "stopped"
    script = tmp_path / "stuck.py"
    script.write_text(
        textwrap.dedent(
            f"""
            import threading, time
            import tui.dashboard as dashboard

            dashboard.TEARDOWN_LIMIT_S = 1.0

            class StuckApp:
                share = None
                def exit(self, code):
                    pass  # like Textual's exit, but its teardown below never ends
                def run(self):
                    print("running", flush=True)
                    threading.Event().wait()  # blocked, as on a write to a lost terminal

            def stop_server():
                open({str(stopped)!r}, "w").write("stopped")

            dashboard._run_with_signals(StuckApp(), stop_server, lambda: None)
            """
        )
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, env=env)
    assert proc.stdout is not None and proc.stdout.readline() == b"running\n"
    sent = time.monotonic()
    proc.send_signal(sig)
    assert proc.wait(15) == 128 + sig
    assert time.monotonic() - sent < 5
    assert stopped.read_text() == "stopped"
